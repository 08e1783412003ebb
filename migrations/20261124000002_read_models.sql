-- Projection bookkeeping: a failed projection stops with its error visible here, never
-- skipping the event it could not apply.
ALTER TABLE projection_checkpoints
    ADD COLUMN state text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'failed')),
    ADD COLUMN error text;

-- Order detail and each user's order list (GET /orders/{id}, GET /orders).
-- `version` is the last applied sequence of the order's stream: applying an event again
-- changes nothing.
CREATE TABLE order_views
(
    order_id      uuid        NOT NULL PRIMARY KEY,
    user_id       text        NOT NULL,
    status        text        NOT NULL,
    lines         jsonb       NOT NULL,
    total_cents   bigint      NOT NULL,
    address       jsonb       NOT NULL,
    remark        text        NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    paid_at       timestamptz,
    cancelled_at  timestamptz,
    cancel_reason text,
    carrier       text,
    tracking_no   text,
    shipped_at    timestamptz,
    completed_at  timestamptz,
    version       bigint      NOT NULL
);

CREATE INDEX order_views_by_user ON order_views (user_id, created_at DESC, order_id);
CREATE INDEX order_views_by_user_status ON order_views (user_id, status, created_at DESC, order_id);
