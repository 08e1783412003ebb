-- The idempotency index without the Shopper's rows: a Shopper event is only ever written
-- with its order's, in one append under the same key, so the order's row finds that
-- write (`written_with_key` skips Shopper rows too). One index entry fewer per keyed order.
DROP INDEX events_by_idempotency_key;
CREATE INDEX events_by_idempotency_key ON events ((metadata ->> 'idempotency_key'))
    WHERE metadata ->> 'idempotency_key' IS NOT NULL AND aggregate_type <> 'Shopper';
