-- Refunds WeChat Pay reports stuck (ABNORMAL, issue 28): the refund stays requested and the
-- order refunding, and operators see it among the orders owing a refund until WeChat Pay's
-- final word comes.
ALTER TABLE order_views
    ADD COLUMN refund_attention boolean NOT NULL
        GENERATED ALWAYS AS (jsonb_path_exists(refunds,
            '$.* ? (@.status == "requested" && exists(@.abnormal) && @.abnormal != null)')) STORED;

-- The operators' list: payments owed back, or refunds stuck.
CREATE INDEX order_views_refunds_owed ON order_views (created_at)
    WHERE refunds_due <> '[]'::jsonb OR refund_attention;
