-- A payment left open at WeChat Pay when its order was cancelled (by the shopper, or by
-- the payment timeout's bound while WeChat Pay did not answer) is asked about and closed
-- by the late-notice sweep: a payment found so is recorded as learned by 'cancellation'.
ALTER TABLE payment_notices DROP CONSTRAINT payment_notices_learned_by_check;
ALTER TABLE payment_notices ADD CONSTRAINT payment_notices_learned_by_check
    CHECK (learned_by IN ('notice', 'confirmation', 'late_notice', 'expiry', 'reconciliation',
                          'cancellation'));

-- Settled questions are purged with the payment notices (retention): by when they settled.
CREATE INDEX payment_prepays_settled ON payment_prepays (settled_at) WHERE settled_at IS NOT NULL;
