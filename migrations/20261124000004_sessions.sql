-- Login sessions: one row per login, behind a refresh token. Security state, not
-- business history: rotation and revocation must take effect at once and survive
-- restarts, and nothing is ever rebuilt from it.
--   generation:   bumped at each refresh; the token carries it, so a token of an older
--                 generation is a rotated one being reused, which revokes the session.
--   refresh_hash: SHA-256 of the current refresh token's secret; the secret itself is
--                 never stored.
CREATE TABLE sessions
(
    session_id     uuid        NOT NULL PRIMARY KEY,
    user_id        text        NOT NULL,
    role           text        NOT NULL,
    generation     integer     NOT NULL,
    refresh_hash   bytea       NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    refreshed_at   timestamptz,
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    revoked_reason text
);

CREATE INDEX sessions_by_user ON sessions (user_id);
