use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;

type ShopperTest = TestFramework<Shopper>;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn line(product: u128, quantity: i64, limit: Option<i64>) -> PurchaseLine {
    PurchaseLine {
        product_id: id(product),
        quantity,
        limit_per_user: limit,
    }
}

fn open(order: u128, lines: Vec<PurchaseLine>) -> ShopperCommand {
    ShopperCommand::OpenPurchase {
        order_id: id(order),
        lines,
        max_unpaid_orders: 2,
    }
}

fn opened(order: u128, lines: &[(u128, i64)]) -> ShopperEvent {
    ShopperEvent::PurchaseOpened {
        order_id: id(order),
        lines: lines.iter().map(|&(p, q)| (id(p), q)).collect(),
    }
}

#[test]
fn an_order_within_its_limits_is_opened() {
    ShopperTest::with(())
        .given_no_previous_events()
        .when(open(1, vec![line(10, 2, Some(2)), line(11, 5, None)]))
        .then_expect_events(vec![opened(1, &[(10, 2), (11, 5)])]);
}

#[test]
fn units_held_count_against_the_limit_and_every_breach_is_named() {
    ShopperTest::with(())
        .given(vec![opened(1, &[(10, 1)])])
        .when(open(
            2,
            vec![
                line(10, 1, Some(1)),
                line(11, 3, Some(2)),
                line(12, 9, None),
            ],
        ))
        .then_expect_error(ShopperError::LimitExceeded(vec![
            LimitBreach {
                product_id: id(10),
                limit: 1,
                already: 1,
                requested: 1,
            },
            LimitBreach {
                product_id: id(11),
                limit: 2,
                already: 0,
                requested: 3,
            },
        ]));
}

#[test]
fn lines_of_one_product_are_counted_together() {
    ShopperTest::with(())
        .given_no_previous_events()
        .when(open(1, vec![line(10, 1, Some(2)), line(10, 2, Some(2))]))
        .then_expect_error(ShopperError::LimitExceeded(vec![LimitBreach {
            product_id: id(10),
            limit: 2,
            already: 0,
            requested: 3,
        }]));
}

#[test]
fn paid_orders_keep_their_units_but_free_an_unpaid_slot() {
    ShopperTest::with(())
        .given(vec![
            opened(1, &[(10, 1)]),
            opened(2, &[(11, 1)]),
            ShopperEvent::PurchasePaid { order_id: id(1) },
        ])
        .when(open(3, vec![line(12, 1, None)]))
        .then_expect_events(vec![opened(3, &[(12, 1)])]);
    ShopperTest::with(())
        .given(vec![
            opened(1, &[(10, 1)]),
            ShopperEvent::PurchasePaid { order_id: id(1) },
        ])
        .when(open(2, vec![line(10, 1, Some(1))]))
        .then_expect_error(ShopperError::LimitExceeded(vec![LimitBreach {
            product_id: id(10),
            limit: 1,
            already: 1,
            requested: 1,
        }]));
}

#[test]
fn the_open_order_cap_refuses_the_next_unpaid_order() {
    ShopperTest::with(())
        .given(vec![opened(1, &[(10, 1)]), opened(2, &[(11, 1)])])
        .when(open(3, vec![line(12, 1, None)]))
        .then_expect_error(ShopperError::TooManyUnpaid { max: 2 });
}

#[test]
fn a_released_order_gives_its_units_and_its_slot_back() {
    ShopperTest::with(())
        .given(vec![
            opened(1, &[(10, 1)]),
            opened(2, &[(11, 1)]),
            ShopperEvent::PurchaseReleased {
                order_id: id(1),
                lines: vec![(id(10), 1)],
            },
        ])
        .when(open(3, vec![line(10, 1, Some(1))]))
        .then_expect_events(vec![opened(3, &[(10, 1)])]);
}

#[test]
fn the_state_forgets_products_no_longer_held() {
    let mut shopper = Shopper::default();
    shopper.apply(opened(1, &[(10, 2)]));
    shopper.apply(ShopperEvent::PurchaseReleased {
        order_id: id(1),
        lines: vec![(id(10), 2)],
    });
    assert_eq!(shopper, Shopper::default());
}

#[test]
fn a_release_gives_back_the_lines_the_order_opened_with() {
    ShopperTest::with(())
        .given(vec![opened(1, &[(10, 2), (11, 1)])])
        .when(ShopperCommand::ReleasePurchase { order_id: id(1) })
        .then_expect_events(vec![ShopperEvent::PurchaseReleased {
            order_id: id(1),
            lines: vec![(id(10), 2), (id(11), 1)],
        }]);
}

#[test]
fn orders_it_does_not_hold_unpaid_change_nothing() {
    // An order placed before limits existed, or one already paid or released.
    let history = vec![
        opened(1, &[(10, 1)]),
        ShopperEvent::PurchasePaid { order_id: id(1) },
    ];
    for command in [
        ShopperCommand::PayPurchase { order_id: id(1) },
        ShopperCommand::ReleasePurchase { order_id: id(1) },
        ShopperCommand::PayPurchase { order_id: id(2) },
        ShopperCommand::ReleasePurchase { order_id: id(2) },
    ] {
        ShopperTest::with(())
            .given(history.clone())
            .when(command)
            .then_expect_events(vec![]);
    }
}
