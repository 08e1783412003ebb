-- Dev mode's simulated WeChat Pay (issue 30): the payments and refunds it took, kept as
-- WeChat Pay keeps them, from which it answers ordo's queries, closes and refunds over
-- HTTP. Outside dev mode these tables stay empty.
CREATE TABLE dev_wechat_pay_trades (
    out_trade_no   text PRIMARY KEY,
    openid         text NOT NULL,
    description    text NOT NULL,
    total_cents    bigint NOT NULL,
    -- NOTPAY, SUCCESS, CLOSED, REFUND (as WeChat Pay's trade_state)
    trade_state    text NOT NULL,
    transaction_id text UNIQUE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    success_time   timestamptz
);

CREATE TABLE dev_wechat_pay_refunds (
    out_refund_no  text PRIMARY KEY,
    out_trade_no   text NOT NULL,
    transaction_id text NOT NULL,
    refund_id      text NOT NULL UNIQUE,
    refund_cents   bigint NOT NULL,
    total_cents    bigint NOT NULL,
    -- PROCESSING, SUCCESS (as WeChat Pay's refund status)
    status         text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    success_time   timestamptz
);
CREATE INDEX dev_wechat_pay_refunds_of_trade ON dev_wechat_pay_refunds (out_trade_no);
