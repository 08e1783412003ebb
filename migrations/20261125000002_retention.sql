-- Retention: the indexes the purge (src/retention.rs) walks, so that finding a batch of
-- expired rows reads only those rows, however large the table has grown. Without them
-- each batch would scan the whole table. The events have no such index: they are never
-- purged.

-- Idempotency keys replay for 24 hours from their claim; older ones are deleted.
CREATE INDEX idempotency_keys_by_created_at ON idempotency_keys (created_at);

-- A session ended at the first of its expiry and its revocation (least() skips a NULL
-- revoked_at); ended ones are deleted after a grace period. The purge's predicate is
-- this very expression, which is what lets it use the index.
CREATE INDEX sessions_by_end ON sessions (least(expires_at, revoked_at));

-- Payment notices are deleted after their retention period. The outcome index leads with
-- the outcome, so it cannot find the oldest notices of every outcome at once.
CREATE INDEX payment_notices_by_received_at ON payment_notices (received_at);
