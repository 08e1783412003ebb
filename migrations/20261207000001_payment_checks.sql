-- Payments ordo opened at WeChat Pay (issue 30): a row is written before each prepay call,
-- so whenever WeChat Pay may hold a payment for an order, ordo knows to ask about it — when
-- its notice is late, and before the payment timeout cancels the order.
CREATE TABLE payment_prepays (
    order_id      uuid PRIMARY KEY,
    -- The first prepay: a notice is late from a few minutes after it.
    prepaid_at    timestamptz NOT NULL DEFAULT now(),
    -- When ordo last asked WeChat Pay, and how many times (the asking backs off).
    checked_at    timestamptz,
    checks        integer NOT NULL DEFAULT 0,
    -- Paid, or closed at WeChat Pay: nothing left to ask.
    settled_at    timestamptz
);
CREATE INDEX payment_prepays_open ON payment_prepays (prepaid_at) WHERE settled_at IS NULL;

-- How ordo learned of a payment: WeChat Pay's notice, or by asking (the shopper's
-- confirmation, the late-notice sweep, the check before an expiry, the reconciliation).
ALTER TABLE payment_notices
    ADD COLUMN learned_by text NOT NULL DEFAULT 'notice'
        CHECK (learned_by IN ('notice', 'confirmation', 'late_notice', 'expiry', 'reconciliation'));
