use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;
use crate::FieldError;

type StockTest = TestFramework<Stock>;

fn order(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn added(quantity: i64) -> StockEvent {
    StockEvent::StockAdded {
        quantity,
        reason: "delivery".into(),
    }
}

fn reserved(n: u128, quantity: i64) -> StockEvent {
    StockEvent::StockReserved {
        order_id: order(n),
        quantity,
    }
}

#[test]
fn restocking_adds_units() {
    StockTest::with(())
        .given(vec![added(5)])
        .when(StockCommand::AddStock {
            quantity: 3,
            reason: "delivery".into(),
        })
        .then_expect_events(vec![added(3)]);
}

#[test]
fn restocking_needs_a_positive_quantity() {
    StockTest::with(())
        .given_no_previous_events()
        .when(StockCommand::AddStock {
            quantity: 0,
            reason: "nothing".into(),
        })
        .then_expect_error(StockError::NonPositiveQuantity);
}

#[test]
fn one_adjustment_moves_at_most_a_billion_units() {
    for command in [
        StockCommand::AddStock {
            quantity: MAX_ADJUSTMENT + 1,
            reason: "a typo".into(),
        },
        StockCommand::WriteOffStock {
            quantity: MAX_ADJUSTMENT + 1,
            reason: "a typo".into(),
        },
    ] {
        StockTest::with(())
            .given(vec![added(MAX_ADJUSTMENT), added(MAX_ADJUSTMENT)])
            .when(command)
            .then_expect_error(StockError::AdjustmentTooLarge {
                max: MAX_ADJUSTMENT,
            });
    }
    StockTest::with(())
        .given_no_previous_events()
        .when(StockCommand::AddStock {
            quantity: MAX_ADJUSTMENT,
            reason: "a big delivery".into(),
        })
        .then_expect_events(vec![StockEvent::StockAdded {
            quantity: MAX_ADJUSTMENT,
            reason: "a big delivery".into(),
        }]);
}

#[test]
fn restocking_past_the_largest_count_is_refused() {
    StockTest::with(())
        .given(vec![added(i64::MAX)])
        .when(StockCommand::AddStock {
            quantity: 1,
            reason: "overflow".into(),
        })
        .then_expect_error(StockError::TooMuchStock);
}

#[test]
fn reserving_within_what_is_available_reserves() {
    StockTest::with(())
        .given(vec![added(5), reserved(1, 3)])
        .when(StockCommand::ReserveStock {
            order_id: order(2),
            quantity: 2,
        })
        .then_expect_events(vec![reserved(2, 2)]);
}

#[test]
fn reserving_more_than_is_available_is_refused() {
    StockTest::with(())
        .given(vec![added(5), reserved(1, 3)])
        .when(StockCommand::ReserveStock {
            order_id: order(2),
            quantity: 3,
        })
        .then_expect_error(StockError::InsufficientStock {
            requested: 3,
            available: 2,
        });
}

#[test]
fn releasing_gives_the_orders_units_back() {
    StockTest::with(())
        .given(vec![added(5), reserved(1, 3)])
        .when(StockCommand::ReleaseStock {
            order_id: order(1),
            quantity: 3,
        })
        .then_expect_events(vec![StockEvent::StockReleased {
            order_id: order(1),
            quantity: 3,
        }]);
}

#[test]
fn releasing_more_than_is_reserved_is_refused() {
    StockTest::with(())
        .given(vec![
            added(5),
            reserved(1, 3),
            StockEvent::StockReleased {
                order_id: order(1),
                quantity: 3,
            },
        ])
        .when(StockCommand::ReleaseStock {
            order_id: order(1),
            quantity: 3,
        })
        .then_expect_error(StockError::BeyondReserved {
            requested: 3,
            reserved: 0,
        });
}

#[test]
fn selling_takes_the_reserved_units_off_hand() {
    let events = StockTest::with(())
        .given(vec![added(5), reserved(1, 3)])
        .when(StockCommand::SellStock {
            order_id: order(1),
            quantity: 3,
        })
        .inspect_result()
        .expect("sold");
    assert_eq!(
        events,
        vec![StockEvent::StockSold {
            order_id: order(1),
            quantity: 3
        }]
    );
    let mut stock = Stock::default();
    for event in [added(5), reserved(1, 3)].into_iter().chain(events) {
        stock.apply(event);
    }
    assert_eq!(
        (stock.on_hand(), stock.reserved(), stock.available()),
        (2, 0, 2)
    );
}

#[test]
fn selling_without_a_reservation_is_refused() {
    StockTest::with(())
        .given(vec![added(5)])
        .when(StockCommand::SellStock {
            order_id: order(9),
            quantity: 1,
        })
        .then_expect_error(StockError::BeyondReserved {
            requested: 1,
            reserved: 0,
        });
}

#[test]
fn a_stock_with_many_open_reservations_is_as_small_as_a_new_one() {
    let mut stock = Stock::default();
    stock.apply(added(1_000_000));
    for n in 0..100_000 {
        stock.apply(reserved(n, 2));
    }
    assert_eq!((stock.reserved(), stock.available()), (200_000, 800_000));
    // What a decision clones and a snapshot writes: two numbers, whatever the history.
    assert_eq!(std::mem::size_of::<Stock>(), 16);
    assert_eq!(
        serde_json::to_string(&stock).expect("snapshot"),
        r#"{"on_hand":1000000,"reserved":200000}"#
    );
}

#[test]
fn writing_off_unreserved_units_is_allowed() {
    StockTest::with(())
        .given(vec![added(5), reserved(1, 3)])
        .when(StockCommand::WriteOffStock {
            quantity: 2,
            reason: "damaged".into(),
        })
        .then_expect_events(vec![StockEvent::StockWrittenOff {
            quantity: 2,
            reason: "damaged".into(),
        }]);
}

#[test]
fn writing_off_into_reserved_units_is_refused() {
    StockTest::with(())
        .given(vec![added(5), reserved(1, 3)])
        .when(StockCommand::WriteOffStock {
            quantity: 3,
            reason: "damaged".into(),
        })
        .then_expect_error(StockError::WriteOffBelowReserved {
            requested: 3,
            available: 2,
        });
}

#[test]
fn available_never_goes_below_zero_whatever_the_command_sequence() {
    // Every command against every reachable state: whatever is accepted keeps the invariant.
    let commands = |n: u128| {
        vec![
            StockCommand::AddStock {
                quantity: 2,
                reason: "r".into(),
            },
            StockCommand::WriteOffStock {
                quantity: 1,
                reason: "w".into(),
            },
            StockCommand::WriteOffStock {
                quantity: 3,
                reason: "w".into(),
            },
            StockCommand::ReserveStock {
                order_id: order(n),
                quantity: 2,
            },
            StockCommand::ReserveStock {
                order_id: order(n + 1),
                quantity: 1,
            },
            StockCommand::ReleaseStock {
                order_id: order(n),
                quantity: 2,
            },
            StockCommand::SellStock {
                order_id: order(n + 1),
                quantity: 1,
            },
        ]
    };
    let mut history: Vec<StockEvent> = Vec::new();
    for round in 0..40u128 {
        for (i, command) in commands(round % 3).into_iter().enumerate() {
            if (round as usize + i).is_multiple_of(3) {
                continue;
            }
            if let Ok(events) = StockTest::with(())
                .given(history.clone())
                .when(command)
                .inspect_result()
            {
                history.extend(events);
            }
            let mut stock = Stock::default();
            for event in history.clone() {
                stock.apply(event);
            }
            assert!(stock.available() >= 0, "{stock:?}");
            assert!(stock.reserved() >= 0 && stock.on_hand() >= stock.reserved());
        }
    }
}

#[test]
fn a_reason_with_a_control_character_moves_no_stock() {
    for command in [
        StockCommand::AddStock {
            quantity: 3,
            reason: "delivery\u{0}".into(),
        },
        StockCommand::WriteOffStock {
            quantity: 1,
            reason: "delivery\u{0}".into(),
        },
    ] {
        StockTest::with(())
            .given(vec![added(5)])
            .when(command)
            .then_expect_error(StockError::Invalid(vec![FieldError::new(
                "reason",
                "must not contain control characters (U+0000 at character 9)",
            )]));
    }
}

#[test]
fn a_reason_is_one_line_of_at_most_200_characters_and_may_be_empty() {
    for (reason, problem) in [
        (
            "broken\nbox".to_owned(),
            Some("must not contain line breaks or tabs (U+000A at character 7)"),
        ),
        ("x".repeat(201), Some("must be at most 200 characters")),
        ("x".repeat(200), None),
        (String::new(), None),
    ] {
        let test = StockTest::with(())
            .given(vec![added(5)])
            .when(StockCommand::WriteOffStock {
                quantity: 1,
                reason: reason.clone(),
            });
        match problem {
            Some(message) => test.then_expect_error(StockError::Invalid(vec![FieldError::new(
                "reason", message,
            )])),
            None => test.then_expect_events(vec![StockEvent::StockWrittenOff {
                quantity: 1,
                reason,
            }]),
        }
    }
}

#[test]
fn a_refunded_order_s_units_come_back_on_hand() {
    let order_id = Uuid::from_u128(7);
    StockTest::with(())
        .given(vec![
            StockEvent::StockAdded {
                quantity: 5,
                reason: String::new(),
            },
            StockEvent::StockReserved {
                order_id,
                quantity: 2,
            },
            StockEvent::StockSold {
                order_id,
                quantity: 2,
            },
        ])
        .when(StockCommand::ReturnStock {
            order_id,
            quantity: 2,
        })
        .then_expect_events(vec![StockEvent::StockReturned {
            order_id,
            quantity: 2,
        }]);
    StockTest::with(())
        .given_no_previous_events()
        .when(StockCommand::ReturnStock {
            order_id,
            quantity: 0,
        })
        .then_expect_error(StockError::NonPositiveQuantity);
}
