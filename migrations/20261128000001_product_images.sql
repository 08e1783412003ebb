-- Product images (issue 17): each product's media keys, cover first. Products created
-- before images existed have none.
ALTER TABLE product_catalog ADD COLUMN images jsonb NOT NULL DEFAULT '[]';
