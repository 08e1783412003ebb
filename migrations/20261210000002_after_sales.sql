-- After-sales (issue 33): one row per request, kept by the `after_sales` projection from
-- the Order events (`AfterSaleRequested` … `ReturnReceived`, and the refunds that pay
-- them). The merchant's queue reads it by status, newest first.
CREATE TABLE after_sales (
    after_sale_id text PRIMARY KEY,
    order_id uuid NOT NULL,
    no bigint NOT NULL,
    kind text NOT NULL,
    status text NOT NULL,
    lines jsonb NOT NULL,
    reason text NOT NULL,
    refund_cents bigint,
    refund_no text,
    reject_reason text,
    return_express_company text,
    return_tracking_no text,
    requested_at timestamptz NOT NULL,
    received_at timestamptz,
    updated_at timestamptz NOT NULL
);

CREATE INDEX after_sales_by_order ON after_sales (order_id, no);
CREATE INDEX after_sales_queue ON after_sales (requested_at DESC, after_sale_id DESC);
CREATE INDEX after_sales_by_status ON after_sales (status, requested_at DESC, after_sale_id DESC);
CREATE INDEX after_sales_by_refund ON after_sales (order_id, refund_no) WHERE refund_no IS NOT NULL;
