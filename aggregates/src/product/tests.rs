use cqrs_es::test::TestFramework;

use super::*;
use crate::FieldError;

type ProductTest = TestFramework<Product>;

fn tea() -> NewProduct {
    NewProduct {
        name: "Oolong tea".into(),
        description: "250 g".into(),
        category: "tea".into(),
        price_cents: 4_800,
        limit_per_user: None,
        specs: Vec::new(),
        skus: Vec::new(),
    }
}

fn created() -> ProductEvent {
    ProductEvent::ProductCreated {
        name: "Oolong tea".into(),
        description: "250 g".into(),
        category: "tea".into(),
        price_cents: 4_800,
        limit_per_user: None,
    }
}

#[test]
fn creating_a_product_records_its_fields() {
    ProductTest::with(())
        .given_no_previous_events()
        .when(ProductCommand::CreateProduct(tea()))
        .then_expect_events(vec![created()]);
}

#[test]
fn creating_a_product_twice_is_refused() {
    ProductTest::with(())
        .given(vec![created()])
        .when(ProductCommand::CreateProduct(tea()))
        .then_expect_error(ProductError::AlreadyExists);
}

#[test]
fn every_invalid_field_is_named() {
    ProductTest::with(())
        .given_no_previous_events()
        .when(ProductCommand::CreateProduct(NewProduct {
            name: " ".into(),
            description: String::new(),
            category: "x".repeat(51),
            price_cents: -1,
            limit_per_user: Some(0),
            specs: Vec::new(),
            skus: Vec::new(),
        }))
        .then_expect_error(ProductError::Invalid(vec![
            FieldError::new("name", "must not be empty"),
            FieldError::new("category", "must be at most 50 characters"),
            FieldError::new("price_cents", "must be ≥ 0"),
            FieldError::new("limit_per_user", "must be ≥ 1, or null for no limit"),
        ]));
}

#[test]
fn an_update_keeps_the_fields_it_does_not_change() {
    ProductTest::with(())
        .given(vec![created()])
        .when(ProductCommand::UpdateProduct(ProductChanges {
            price_cents: Some(5_200),
            on_sale: Some(false),
            ..Default::default()
        }))
        .then_expect_events(vec![ProductEvent::ProductUpdated {
            name: "Oolong tea".into(),
            description: "250 g".into(),
            category: "tea".into(),
            price_cents: 5_200,
            on_sale: false,
            limit_per_user: None,
        }]);
}

#[test]
fn updating_a_product_that_does_not_exist_is_refused() {
    ProductTest::with(())
        .given_no_previous_events()
        .when(ProductCommand::UpdateProduct(ProductChanges::default()))
        .then_expect_error(ProductError::NotFound);
}

#[test]
fn a_control_character_in_any_text_field_is_named_on_create_and_on_update() {
    for (field, c, code) in [
        ("name", '\u{0}', "0000"),
        ("description", '\u{0}', "0000"),
        ("category", '\u{7}', "0007"),
    ] {
        let text = format!("tea{c}");
        let mut new = tea();
        let mut changes = ProductChanges::default();
        match field {
            "name" => (new.name, changes.name) = (text.clone(), Some(text)),
            "description" => (new.description, changes.description) = (text.clone(), Some(text)),
            _ => (new.category, changes.category) = (text.clone(), Some(text)),
        }
        let refused = ProductError::Invalid(vec![FieldError::new(
            field,
            format!("must not contain control characters (U+{code} at character 4)"),
        )]);
        ProductTest::with(())
            .given_no_previous_events()
            .when(ProductCommand::CreateProduct(new))
            .then_expect_error(refused.clone());
        ProductTest::with(())
            .given(vec![created()])
            .when(ProductCommand::UpdateProduct(changes))
            .then_expect_error(refused);
    }
}

#[test]
fn a_description_may_span_lines_but_a_name_or_category_may_not() {
    ProductTest::with(())
        .given_no_previous_events()
        .when(ProductCommand::CreateProduct(NewProduct {
            name: "Oolong\ttea".into(),
            description: "250 g\n\tloose leaf".into(),
            category: "tea\r\n".into(),
            price_cents: 4_800,
            limit_per_user: None,
            specs: Vec::new(),
            skus: Vec::new(),
        }))
        .then_expect_error(ProductError::Invalid(vec![
            FieldError::new(
                "name",
                "must not contain line breaks or tabs (U+0009 at character 7)",
            ),
            FieldError::new(
                "category",
                "must not contain line breaks or tabs (U+000D at character 4)",
            ),
        ]));
    ProductTest::with(())
        .given(vec![created()])
        .when(ProductCommand::UpdateProduct(ProductChanges {
            description: Some("250 g\r\n\tloose leaf 🍃".into()),
            ..Default::default()
        }))
        .then_expect_events(vec![ProductEvent::ProductUpdated {
            name: "Oolong tea".into(),
            description: "250 g\r\n\tloose leaf 🍃".into(),
            category: "tea".into(),
            price_cents: 4_800,
            on_sale: true,
            limit_per_user: None,
        }]);
}

#[test]
fn a_purchase_limit_is_set_kept_and_removed_by_updates() {
    let limited = |limit| ProductEvent::ProductUpdated {
        name: "Oolong tea".into(),
        description: "250 g".into(),
        category: "tea".into(),
        price_cents: 4_800,
        on_sale: true,
        limit_per_user: limit,
    };
    ProductTest::with(())
        .given(vec![created()])
        .when(ProductCommand::UpdateProduct(ProductChanges {
            limit_per_user: Some(Some(2)),
            ..Default::default()
        }))
        .then_expect_events(vec![limited(Some(2))]);
    ProductTest::with(())
        .given(vec![created(), limited(Some(2))])
        .when(ProductCommand::UpdateProduct(ProductChanges {
            price_cents: Some(4_800),
            ..Default::default()
        }))
        .then_expect_events(vec![limited(Some(2))]);
    ProductTest::with(())
        .given(vec![created(), limited(Some(2))])
        .when(ProductCommand::UpdateProduct(ProductChanges {
            limit_per_user: Some(None),
            ..Default::default()
        }))
        .then_expect_events(vec![limited(None)]);
    ProductTest::with(())
        .given(vec![created()])
        .when(ProductCommand::UpdateProduct(ProductChanges {
            limit_per_user: Some(Some(-5)),
            ..Default::default()
        }))
        .then_expect_error(ProductError::Invalid(vec![FieldError::new(
            "limit_per_user",
            "must be ≥ 1, or null for no limit",
        )]));
}

#[test]
fn events_without_a_limit_are_written_and_read_as_before_limits_existed() {
    let json = serde_json::to_value(created()).expect("serialize");
    assert_eq!(
        json,
        serde_json::json!({"ProductCreated": {
            "name": "Oolong tea", "description": "250 g", "category": "tea", "price_cents": 4800
        }})
    );
    let read: ProductEvent = serde_json::from_value(json).expect("deserialize");
    assert_eq!(read, created());
}

fn added(key: &str, images: &[&str]) -> ProductEvent {
    ProductEvent::ProductImageAdded {
        key: key.into(),
        images: images.iter().map(|&k| k.to_owned()).collect(),
    }
}

fn add(key: &str) -> ProductCommand {
    ProductCommand::AddImage { key: key.into() }
}

#[test]
fn images_are_added_in_order_and_each_event_carries_the_whole_list() {
    ProductTest::with(())
        .given(vec![created(), added("a.jpg", &["a.jpg"])])
        .when(add("b.png"))
        .then_expect_events(vec![added("b.png", &["a.jpg", "b.png"])]);
}

#[test]
fn adding_an_image_the_product_shows_already_changes_nothing() {
    ProductTest::with(())
        .given(vec![created(), added("a.jpg", &["a.jpg"])])
        .when(add("a.jpg"))
        .then_expect_events(vec![]);
}

#[test]
fn a_product_shows_at_most_nine_images() {
    let keys: Vec<String> = (0..MAX_IMAGES).map(|i| format!("{i}.jpg")).collect();
    let mut history = vec![created()];
    for i in 0..MAX_IMAGES {
        let so_far: Vec<&str> = keys[..=i].iter().map(String::as_str).collect();
        history.push(added(&keys[i], &so_far));
    }
    ProductTest::with(())
        .given(history)
        .when(add("one-more.jpg"))
        .then_expect_error(ProductError::TooManyImages { max: MAX_IMAGES });
}

#[test]
fn removing_an_image_keeps_the_order_of_the_rest_and_the_next_becomes_the_cover() {
    let mut product = Product::default();
    for event in [
        created(),
        added("a.jpg", &["a.jpg"]),
        added("b.png", &["a.jpg", "b.png"]),
        ProductEvent::ProductImageRemoved {
            key: "a.jpg".into(),
            images: vec!["b.png".into()],
        },
    ] {
        product.apply(event);
    }
    assert_eq!(product.cover(), Some("b.png"));
    ProductTest::with(())
        .given(vec![created(), added("a.jpg", &["a.jpg"])])
        .when(ProductCommand::RemoveImage {
            key: "a.jpg".into(),
        })
        .then_expect_events(vec![ProductEvent::ProductImageRemoved {
            key: "a.jpg".into(),
            images: vec![],
        }]);
}

#[test]
fn removing_an_image_the_product_does_not_show_is_refused() {
    ProductTest::with(())
        .given(vec![created(), added("a.jpg", &["a.jpg"])])
        .when(ProductCommand::RemoveImage {
            key: "b.png".into(),
        })
        .then_expect_error(ProductError::ImageNotFound);
}

#[test]
fn images_of_a_product_that_does_not_exist_are_refused() {
    ProductTest::with(())
        .given_no_previous_events()
        .when(add("a.jpg"))
        .then_expect_error(ProductError::NotFound);
}

#[test]
fn a_key_with_a_control_character_is_refused() {
    ProductTest::with(())
        .given(vec![created()])
        .when(add("a\u{0}.jpg"))
        .then_expect_error(ProductError::Invalid(vec![FieldError::new(
            "key",
            "must not contain control characters (U+0000 at character 2)",
        )]));
}

mod skus;
