-- Partial refunds: each refund in an order's view names what the payment took in all
-- (`payment_cents`, WeChat Pay's `amount.total`). Refunds written before were of whole
-- payments, so it is their amount — what a replay of their (upcast) events writes.
UPDATE order_views
   SET refunds = (SELECT jsonb_object_agg(r.key, r.value || jsonb_build_object(
                             'payment_cents', r.value -> 'amount_cents'))
                    FROM jsonb_each(refunds) r)
 WHERE refunds <> '{}'::jsonb
   AND EXISTS (SELECT 1 FROM jsonb_each(refunds) r WHERE NOT r.value ? 'payment_cents');
