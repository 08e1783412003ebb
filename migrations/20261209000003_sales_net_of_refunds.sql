-- Daily sales net of refunds (issue 33): the money of an order's payment given back is
-- counted on the day it was refunded, beside the day's revenue.
ALTER TABLE daily_sales ADD COLUMN refunded_cents bigint NOT NULL DEFAULT 0;
ALTER TABLE daily_sales ADD COLUMN net_cents bigint GENERATED ALWAYS AS (revenue_cents - refunded_cents) STORED;

-- The refunds already in the log are counted by replaying the projection from the feed's
-- start (its counters are rebuilt from the events, as a rebuild would): a backfill from
-- the order views would follow another projection's checkpoint, counting a refund twice
-- or not at all.
DELETE FROM daily_sales;
UPDATE projection_checkpoints SET transaction_id = '0', global_position = 0
 WHERE projection = 'daily_sales';
