use cqrs_es::test::TestFramework;

use super::*;

type ProductTest = TestFramework<Product>;

fn tea() -> NewProduct {
    NewProduct {
        name: "Oolong tea".into(),
        description: "250 g".into(),
        category: "tea".into(),
        price_cents: 4_800,
    }
}

fn created() -> ProductEvent {
    ProductEvent::ProductCreated {
        name: "Oolong tea".into(),
        description: "250 g".into(),
        category: "tea".into(),
        price_cents: 4_800,
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
        }))
        .then_expect_error(ProductError::Invalid(vec![
            FieldError::new("name", "must not be empty"),
            FieldError::new("category", "must be at most 50 characters"),
            FieldError::new("price_cents", "must be ≥ 0"),
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
        }]);
}

#[test]
fn updating_a_product_that_does_not_exist_is_refused() {
    ProductTest::with(())
        .given_no_previous_events()
        .when(ProductCommand::UpdateProduct(ProductChanges::default()))
        .then_expect_error(ProductError::NotFound);
}
