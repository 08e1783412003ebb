-- A product's purchase limit per shopper (null: none), shown on GET /products. Products
-- created before limits existed have none, as their events say.
ALTER TABLE product_catalog ADD COLUMN limit_per_user bigint;
