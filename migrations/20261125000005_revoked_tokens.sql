-- Operator tokens (from `ordo token`) belong to no session; `ordo token revoke <id>`
-- lists one here to refuse it before it expires. A row is purged once every token
-- with its id has expired anyway.
CREATE TABLE revoked_tokens
(
    token_id   text        NOT NULL PRIMARY KEY,
    reason     text        NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at);
