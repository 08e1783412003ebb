-- Payments: what the order views show of them, and every payment notice received.

-- The WeChat Pay transaction that paid the order, and payments it could not take (it was
-- cancelled, or paid already) whose money must go back: [{payment_id, amount_cents, reason}].
ALTER TABLE order_views
    ADD COLUMN payment_id text,
    ADD COLUMN refunds_due jsonb NOT NULL DEFAULT '[]';

-- Operators list the orders owing a refund.
CREATE INDEX order_views_refunds_due ON order_views (created_at)
    WHERE refunds_due <> '[]'::jsonb;

-- Every payment notice (WeChat Pay callback) and what ordo made of it: accepted (the order
-- paid), duplicate (known already, nothing changed), refund_required (the order could not
-- take the payment) or refused (forged, tampered, stale or mismatched: the reason says
-- which). Refused notices are how operators see an attack or a misconfiguration.
CREATE TABLE payment_notices (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at     timestamptz NOT NULL DEFAULT now(),
    outcome         text NOT NULL
        CHECK (outcome IN ('accepted', 'duplicate', 'refund_required', 'refused')),
    reason          text,
    notice_id       text,
    transaction_id  text,
    order_id        uuid,
    amount_cents    bigint,
    request_id      text
);

CREATE INDEX payment_notices_outcome ON payment_notices (outcome, received_at DESC);
CREATE INDEX payment_notices_order ON payment_notices (order_id) WHERE order_id IS NOT NULL;
