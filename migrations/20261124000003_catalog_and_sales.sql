-- The product catalog (GET /products): product fields and stock, one row per product.
-- product_version / stock_version: last applied sequence of each of its two streams.
CREATE TABLE product_catalog
(
    product_id      uuid    NOT NULL PRIMARY KEY,
    name            text    NOT NULL,
    description     text    NOT NULL,
    category        text    NOT NULL,
    price_cents     bigint  NOT NULL,
    on_sale         boolean NOT NULL,
    on_hand         bigint  NOT NULL,
    reserved        bigint  NOT NULL,
    available       bigint GENERATED ALWAYS AS (on_hand - reserved) STORED,
    product_version bigint  NOT NULL,
    stock_version   bigint  NOT NULL
);

CREATE INDEX product_catalog_by_category ON product_catalog (category, name, product_id);

-- Sales per UTC day.
CREATE TABLE daily_sales
(
    day           date   NOT NULL PRIMARY KEY,
    orders        bigint NOT NULL,
    paid_orders   bigint NOT NULL,
    revenue_cents bigint NOT NULL
);

-- The orders still awaiting payment, by deadline: what the payment timeout scans.
CREATE INDEX order_views_awaiting_payment ON order_views (expires_at)
    WHERE status = 'awaiting_payment';

-- Bumped each time a rebuilt copy of the projection is swapped in.
ALTER TABLE projection_checkpoints ADD COLUMN version integer NOT NULL DEFAULT 1;
