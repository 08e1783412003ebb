-- Products with specs sell in SKUs (issue 32).

-- The catalog row of a product with specs carries its SKUs' price range (lowest in
-- price_cents) and stock totals; a product without specs is its one SKU.
ALTER TABLE product_catalog ADD COLUMN price_max_cents bigint;
UPDATE product_catalog SET price_max_cents = price_cents;
ALTER TABLE product_catalog ALTER COLUMN price_max_cents SET NOT NULL;
ALTER TABLE product_catalog ADD COLUMN specs jsonb NOT NULL DEFAULT '[]';

-- One row per SKU of a product with specs. position: the product stream's sequence of
-- its SkuAdded (the picker's order); product_version / stock_version: the last applied
-- sequence of the product's stream and of the SKU's stock stream.
CREATE TABLE product_skus
(
    sku_id          uuid    NOT NULL PRIMARY KEY,
    product_id      uuid    NOT NULL,
    position        bigint  NOT NULL,
    spec            jsonb   NOT NULL,
    code            text    NOT NULL,
    price_cents     bigint  NOT NULL,
    on_sale         boolean NOT NULL,
    image           text,
    on_hand         bigint  NOT NULL,
    reserved        bigint  NOT NULL,
    available       bigint GENERATED ALWAYS AS (on_hand - reserved) STORED,
    product_version bigint  NOT NULL,
    stock_version   bigint  NOT NULL
);

CREATE INDEX product_skus_by_product ON product_skus (product_id, position);

-- Order lines name their SKU (OrderPlaced version 3); a line placed before names its
-- product's one SKU, whose id is the product's. The rows already projected say so too,
-- so that they equal what a rebuild writes.
UPDATE order_views
   SET lines = (SELECT jsonb_agg(CASE WHEN line ? 'sku_id' THEN line
                                      ELSE line || jsonb_build_object('sku_id', line -> 'product_id')
                                 END ORDER BY n)
                  FROM jsonb_array_elements(lines) WITH ORDINALITY AS l(line, n))
 WHERE jsonb_typeof(lines) = 'array' AND jsonb_array_length(lines) > 0
   AND EXISTS (SELECT 1 FROM jsonb_array_elements(lines) AS l(line) WHERE NOT line ? 'sku_id');
