-- The payments read model (issue 30): every payment and refund the log records, by day,
-- what the daily reconciliation compares with WeChat Pay's bill. Rebuilt from the events
-- like every read model.
CREATE TABLE payment_ledger (
    -- 'payment' or 'refund'
    kind           text        NOT NULL,
    -- A payment's WeChat Pay transaction id; a refund's number (out_refund_no).
    reference      text        NOT NULL,
    order_id       uuid        NOT NULL,
    -- The payment (for a refund: the payment it gives back).
    transaction_id text        NOT NULL,
    amount_cents   bigint      NOT NULL,
    -- When it was paid, or the refund asked for.
    at             timestamptz NOT NULL,
    -- payment: 'taken' or 'refund_due'; refund: 'requested', 'succeeded', 'failed',
    -- 'abnormal'
    state          text        NOT NULL,
    PRIMARY KEY (kind, reference)
);
CREATE INDEX payment_ledger_by_time ON payment_ledger (at);
