-- The daily reconciliation with WeChat Pay's bill (issue 30): one report per day, kept
-- with every difference; a run again replaces the day's report.
CREATE TABLE reconciliations (
    day         date        PRIMARY KEY,
    -- 'queued' (asked for, not run yet), 'matched', 'differences' or 'failed'
    state       text        NOT NULL,
    -- {payments, refunds, total_cents, refunded_cents} of each side
    wechat      jsonb       NOT NULL DEFAULT '{}',
    ordo        jsonb       NOT NULL DEFAULT '{}',
    matched     bigint      NOT NULL DEFAULT 0,
    -- Why a run failed (a bill refused, WeChat Pay unreachable).
    error       text,
    asked_at    timestamptz NOT NULL DEFAULT now(),
    ran_at      timestamptz,
    runs        integer     NOT NULL DEFAULT 0
);

CREATE TABLE reconciliation_differences (
    day          date   NOT NULL REFERENCES reconciliations (day) ON DELETE CASCADE,
    position     integer NOT NULL,
    kind         text   NOT NULL,
    out_trade_no text   NOT NULL,
    order_id     uuid,
    wechat_cents bigint,
    ordo_cents   bigint,
    detail       text   NOT NULL,
    PRIMARY KEY (day, position)
);
