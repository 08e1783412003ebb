-- The mini-program platform (issue 31): WeChat's access token shared by every process,
-- the calls ordo makes to WeChat because of events (shipping uploads, subscribe
-- messages), the delivery companies WeChat knows, and dev mode's simulated platform.

-- One row per mini program: the token every process uses, and who is refreshing it (a
-- lease, so that two processes never both fetch one: the fetches are counted per day).
CREATE TABLE wechat_access_tokens (
    app_id           text PRIMARY KEY,
    access_token     text,
    expires_at       timestamptz,
    fetched_at       timestamptz,
    -- A process refreshing it holds the lease until then.
    refreshing_until timestamptz,
    refreshing_by    text
);

-- The outbox of calls to WeChat caused by events: written by the feed's subscribers in
-- the same transaction as their checkpoint (a crash between an event and its call loses
-- nothing), sent by the deliverers of every process (claimed, so one sends each).
CREATE TABLE platform_calls (
    id              bigserial PRIMARY KEY,
    -- 'shipping_upload' or 'subscribe_message'
    kind            text        NOT NULL,
    -- What makes a call unique: a repeat of its event never adds a second one.
    key             text        NOT NULL,
    order_id        uuid,
    -- What the call needs beyond the log (e.g. which message).
    payload         jsonb       NOT NULL DEFAULT '{}',
    -- pending, done, failed (permanently: not retried), skipped (nothing to send)
    state           text        NOT NULL DEFAULT 'pending',
    -- A correction makes the call due again: revision counts them.
    revision        integer     NOT NULL DEFAULT 1,
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    -- When the event was written: how long the call took after it.
    event_at        timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- A deliverer sending it now holds it until then (a crash frees it then).
    claimed_until   timestamptz,
    done_at         timestamptz,
    UNIQUE (kind, key)
);
CREATE INDEX platform_calls_due ON platform_calls (next_attempt_at) WHERE state = 'pending';
CREATE INDEX platform_calls_failed ON platform_calls (kind, created_at) WHERE state = 'failed';
CREATE INDEX platform_calls_of_order ON platform_calls (order_id);
-- Made calls are purged with the payment notices (retention), by when they were made.
CREATE INDEX platform_calls_done ON platform_calls (done_at) WHERE done_at IS NOT NULL;

-- WeChat's delivery companies (get_delivery_list): the ids `ship` accepts. Filled from
-- the list bundled with ordo, refreshed from WeChat.
CREATE TABLE delivery_companies (
    delivery_id   text PRIMARY KEY,
    delivery_name text NOT NULL,
    refreshed_at  timestamptz NOT NULL DEFAULT now()
);

-- The subscribe messages each shopper accepted (wx.requestSubscribeMessage): each
-- acceptance allows one message of that template.
CREATE TABLE message_acceptances (
    user_id     text    NOT NULL,
    template_id text    NOT NULL,
    remaining   integer NOT NULL CHECK (remaining >= 0),
    accepted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, template_id)
);

-- Dev mode's simulated WeChat platform: every call it received and what it answered.
CREATE TABLE dev_wechat_calls (
    id          bigserial PRIMARY KEY,
    api         text        NOT NULL,
    request     jsonb       NOT NULL,
    errcode     integer     NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dev_wechat_calls_received ON dev_wechat_calls (received_at);
