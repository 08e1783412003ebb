-- Refunds (issue 17).

-- Each refund of an order, by its number (out_refund_no): {payment_id, amount_cents, kind,
-- reason, status, requested_at, settled_at, provider_refund_id, failure}.
ALTER TABLE order_views
    ADD COLUMN refunds jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN refunded_at timestamptz,
    -- Whether a refund waits for WeChat Pay's answer: the refund follow-up's query.
    ADD COLUMN refund_pending boolean NOT NULL
        GENERATED ALWAYS AS (jsonb_path_exists(refunds, '$.* ? (@.status == "requested")')) STORED;

CREATE INDEX order_views_refund_pending ON order_views (order_id) WHERE refund_pending;

-- Refund notices are recorded beside payment notices.
ALTER TABLE payment_notices
    ADD COLUMN kind text NOT NULL DEFAULT 'payment' CHECK (kind IN ('payment', 'refund')),
    ADD COLUMN refund_no text;

-- The stock moves of an order, refunds' returns among them: the history's query by order.
DROP INDEX events_stock_by_order;
CREATE INDEX events_stock_by_order ON events ((coalesce(
        payload -> 'StockReserved' ->> 'order_id',
        payload -> 'StockReleased' ->> 'order_id',
        payload -> 'StockSold' ->> 'order_id',
        payload -> 'StockReturned' ->> 'order_id')))
    WHERE aggregate_type = 'Stock';
