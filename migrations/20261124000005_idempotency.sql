-- Idempotency-Key: the first answer to a (user, key), replayed to retries for 24 hours.
--   request_hash: SHA-256 of the request; the same key with another body is refused.
--   status/answer: NULL while the first request is still running.
CREATE TABLE idempotency_keys
(
    user_id      text        NOT NULL,
    key          text        NOT NULL,
    request_hash bytea       NOT NULL,
    status       smallint,
    answer       jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);

-- Finds what a request carrying a key already wrote, when its answer was never stored
-- (the server stopped between the write and the answer).
CREATE INDEX events_by_idempotency_key ON events ((metadata ->> 'idempotency_key'))
    WHERE metadata ->> 'idempotency_key' IS NOT NULL;
