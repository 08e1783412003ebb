-- Daily sales net of refunds (issue 33): the money of an order's payment given back is
-- counted on the day it was refunded, beside the day's revenue.
ALTER TABLE daily_sales ADD COLUMN refunded_cents bigint NOT NULL DEFAULT 0;
ALTER TABLE daily_sales ADD COLUMN net_cents bigint GENERATED ALWAYS AS (revenue_cents - refunded_cents) STORED;

-- The refunds already made: each refunded order's payment, on its refund's (UTC) day.
INSERT INTO daily_sales AS d (day, orders, paid_orders, revenue_cents, refunded_cents)
SELECT (refunded_at AT TIME ZONE 'UTC')::date, 0, 0, 0, sum(total_cents)
  FROM order_views
 WHERE refunded_at IS NOT NULL
 GROUP BY 1
ON CONFLICT (day) DO UPDATE SET refunded_cents = d.refunded_cents + excluded.refunded_cents;
