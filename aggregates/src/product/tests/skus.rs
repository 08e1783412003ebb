//! Products with specs and their SKUs.

use super::*;

fn sku(n: u128, size: &str, price_cents: i64) -> NewSku {
    NewSku {
        id: Uuid::from_u128(n),
        spec: [("size".to_owned(), size.to_owned())].into(),
        price_cents,
        code: format!("TS-{size}"),
        image: None,
    }
}

fn sizes() -> Vec<Spec> {
    vec![Spec {
        name: "size".into(),
        values: vec!["S".into(), "M".into(), "L".into()],
    }]
}

fn t_shirt(skus: Vec<NewSku>) -> NewProduct {
    NewProduct {
        name: "T-shirt".into(),
        description: String::new(),
        category: "clothes".into(),
        price_cents: 0,
        limit_per_user: Some(2),
        specs: sizes(),
        skus,
    }
}

fn added(n: u128, size: &str, price_cents: i64, specs: Vec<Spec>) -> ProductEvent {
    ProductEvent::SkuAdded {
        sku_id: Uuid::from_u128(n),
        spec: [("size".to_owned(), size.to_owned())].into(),
        price_cents,
        code: format!("TS-{size}"),
        image: None,
        specs,
    }
}

fn created_t_shirt() -> Vec<ProductEvent> {
    vec![
        ProductEvent::ProductCreated {
            name: "T-shirt".into(),
            description: String::new(),
            category: "clothes".into(),
            price_cents: 5_900,
            limit_per_user: Some(2),
        },
        added(1, "S", 5_900, sizes()),
        added(2, "M", 6_900, sizes()),
    ]
}

fn product_of(events: Vec<ProductEvent>) -> Product {
    let mut product = Product::default();
    for event in events {
        product.apply(event);
    }
    product
}

#[test]
fn a_product_with_specs_is_created_with_each_sku_priced_from_the_lowest() {
    ProductTest::with(())
        .given_no_previous_events()
        .when(ProductCommand::CreateProduct(t_shirt(vec![
            sku(1, "S", 5_900),
            sku(2, "M", 6_900),
        ])))
        .then_expect_events(created_t_shirt());
    let product = product_of(created_t_shirt());
    assert_eq!(product.price_cents, 5_900);
    assert_eq!(product.only_sku(Uuid::from_u128(9)), None);
    assert_eq!(product.skus(Uuid::from_u128(9)).len(), 2);
}

#[test]
fn a_product_without_specs_is_its_one_sku() {
    let id = Uuid::from_u128(9);
    let product = product_of(vec![created()]);
    assert_eq!(product.only_sku(id), Some(id));
    let only = product.sku(id, id).expect("its one SKU");
    assert_eq!((only.price_cents, only.on_sale), (4_800, true));
    assert!(only.spec.is_empty());
    assert_eq!(product.sku(id, Uuid::from_u128(1)), None);
}

#[test]
fn every_sku_problem_is_named_by_its_place() {
    let mut no_size = sku(3, "M", -1);
    no_size.spec = [("colour".to_owned(), "red".to_owned())].into();
    ProductTest::with(())
        .given_no_previous_events()
        .when(ProductCommand::CreateProduct(t_shirt(vec![
            sku(1, "S", 5_900),
            sku(2, "S", 6_900),
            no_size,
            sku(4, "XL", 1),
        ])))
        .then_expect_error(ProductError::Invalid(vec![
            FieldError::new(
                "skus[1].spec",
                "is already the combination of SKU 00000000-0000-0000-0000-000000000001",
            ),
            FieldError::new("skus[2].spec", "must give one value for each spec: size"),
            FieldError::new("skus[2].price_cents", "must be ≥ 0"),
            FieldError::new(
                "skus[2].spec.colour",
                "red is not one of the values its spec lists",
            ),
            FieldError::new(
                "skus[3].spec.size",
                "XL is not one of the values its spec lists",
            ),
        ]));
}

#[test]
fn specs_without_skus_and_skus_without_specs_are_refused() {
    let mut no_skus = t_shirt(Vec::new());
    no_skus.price_cents = 100;
    ProductTest::with(())
        .given_no_previous_events()
        .when(ProductCommand::CreateProduct(no_skus))
        .then_expect_error(ProductError::Invalid(vec![FieldError::new(
            "skus",
            "must hold 1 to 200 SKUs when the product has specs",
        )]));
    let mut no_specs = t_shirt(vec![sku(1, "S", 1)]);
    no_specs.specs = Vec::new();
    ProductTest::with(())
        .given_no_previous_events()
        .when(ProductCommand::CreateProduct(no_specs))
        .then_expect_error(ProductError::Invalid(vec![FieldError::new(
            "specs",
            "must name 1 to 3 specs when the product has SKUs",
        )]));
}

#[test]
fn a_sku_added_later_may_bring_a_new_value() {
    let mut with_xl = sizes();
    with_xl[0].values.push("XL".into());
    ProductTest::with(())
        .given(created_t_shirt())
        .when(ProductCommand::AddSku(sku(3, "XL", 7_900)))
        .then_expect_events(vec![added(3, "XL", 7_900, with_xl)]);
}

#[test]
fn the_same_combination_twice_is_refused() {
    ProductTest::with(())
        .given(created_t_shirt())
        .when(ProductCommand::AddSku(sku(3, "M", 7_900)))
        .then_expect_error(ProductError::Invalid(vec![FieldError::new(
            "sku.spec",
            "is already the combination of SKU 00000000-0000-0000-0000-000000000002",
        )]));
}

#[test]
fn a_product_without_specs_takes_no_sku() {
    ProductTest::with(())
        .given(vec![created()])
        .when(ProductCommand::AddSku(sku(3, "M", 7_900)))
        .then_expect_error(ProductError::Invalid(vec![FieldError::new(
            "spec",
            "the product has no specs: it sells one SKU, itself",
        )]));
}

#[test]
fn a_sku_is_taken_off_sale_and_repriced_and_the_lowest_price_follows() {
    let change = |on_sale, price_cents| ProductCommand::ChangeSku {
        product_id: Uuid::from_u128(9),
        sku_id: Uuid::from_u128(1),
        changes: SkuChanges {
            price_cents,
            on_sale,
            image: None,
        },
    };
    ProductTest::with(())
        .given(created_t_shirt())
        .when(change(Some(false), Some(4_900)))
        .then_expect_events(vec![ProductEvent::SkuChanged {
            sku_id: Uuid::from_u128(1),
            price_cents: 4_900,
            on_sale: false,
            image: None,
        }]);
    let mut events = created_t_shirt();
    events.push(ProductEvent::SkuChanged {
        sku_id: Uuid::from_u128(1),
        price_cents: 4_900,
        on_sale: false,
        image: None,
    });
    // The SKU off sale no longer sets the price shoppers see first.
    assert_eq!(product_of(events.clone()).price_cents, 6_900);
    ProductTest::with(())
        .given(events)
        .when(change(Some(false), None))
        .then_expect_events(vec![]);
}

#[test]
fn a_sku_picture_is_one_of_the_product_images() {
    let mut events = created_t_shirt();
    events.push(ProductEvent::ProductImageAdded {
        key: "a.jpg".into(),
        images: vec!["a.jpg".into()],
    });
    let picture = |key: &str| ProductCommand::ChangeSku {
        product_id: Uuid::from_u128(9),
        sku_id: Uuid::from_u128(2),
        changes: SkuChanges {
            image: Some(Some(key.to_owned())),
            ..SkuChanges::default()
        },
    };
    ProductTest::with(())
        .given(events.clone())
        .when(picture("b.jpg"))
        .then_expect_error(ProductError::Invalid(vec![FieldError::new(
            "image",
            "must be one of the product's images",
        )]));
    ProductTest::with(())
        .given(events)
        .when(picture("a.jpg"))
        .then_expect_events(vec![ProductEvent::SkuChanged {
            sku_id: Uuid::from_u128(2),
            price_cents: 6_900,
            on_sale: true,
            image: Some("a.jpg".into()),
        }]);
}

#[test]
fn the_one_sku_of_a_product_without_specs_changes_the_product() {
    let id = Uuid::from_u128(9);
    ProductTest::with(())
        .given(vec![created()])
        .when(ProductCommand::ChangeSku {
            product_id: id,
            sku_id: id,
            changes: SkuChanges {
                price_cents: Some(5_000),
                ..SkuChanges::default()
            },
        })
        .then_expect_events(vec![ProductEvent::ProductUpdated {
            name: "Oolong tea".into(),
            description: "250 g".into(),
            category: "tea".into(),
            price_cents: 5_000,
            on_sale: true,
            limit_per_user: None,
        }]);
    ProductTest::with(())
        .given(vec![created()])
        .when(ProductCommand::ChangeSku {
            product_id: id,
            sku_id: Uuid::from_u128(1),
            changes: SkuChanges::default(),
        })
        .then_expect_error(ProductError::SkuNotFound);
}

#[test]
fn a_product_with_specs_is_priced_per_sku() {
    ProductTest::with(())
        .given(created_t_shirt())
        .when(ProductCommand::UpdateProduct(ProductChanges {
            price_cents: Some(1),
            ..ProductChanges::default()
        }))
        .then_expect_error(ProductError::Invalid(vec![FieldError::new(
            "price_cents",
            "the product sells in SKUs: set each SKU's price",
        )]));
}
