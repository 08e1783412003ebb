//! Shipping with WeChat's delivery ids and logistics types, and the one correction.

use super::*;

fn ship_with(details: ShipmentDetails) -> OrderCommand {
    OrderCommand::ShipOrder {
        details,
        shipped_at: at(50),
    }
}

fn corrected(tracking_no: &str) -> OrderEvent {
    OrderEvent::ShipmentCorrected {
        carrier: "SF".into(),
        tracking_no: tracking_no.into(),
        express_company: Some("SF".into()),
        logistics_type: LogisticsType::Express,
        corrected_at: at(50),
    }
}

#[test]
fn a_shipped_orders_other_tracking_number_corrects_it() {
    OrderTest::with(())
        .given(vec![placed(), paid(), shipped()])
        .when(ship_with(by_express("SF", "SF2")))
        .then_expect_events(vec![corrected("SF2")]);
}

#[test]
fn the_same_shipment_again_changes_nothing() {
    OrderTest::with(())
        .given(vec![placed(), paid(), shipped()])
        .when(ship())
        .then_expect_events(vec![]);
}

#[test]
fn a_second_correction_is_refused_as_wechat_refuses_it() {
    OrderTest::with(())
        .given(vec![placed(), paid(), shipped(), corrected("SF2")])
        .when(ship_with(by_express("SF", "SF3")))
        .then_expect_error(OrderError::ShipmentCorrected);
}

#[test]
fn an_express_shipment_names_its_delivery_id_and_tracking_number() {
    OrderTest::with(())
        .given(vec![placed(), paid()])
        .when(ship_with(ShipmentDetails {
            express_company: None,
            tracking_no: String::new(),
            ..by_express("SF", "")
        }))
        .then_expect_error(OrderError::Invalid(vec![
            FieldError::new("tracking_no", "must not be empty"),
            FieldError::new("express_company", "must not be empty"),
        ]));
}

#[test]
fn goods_collected_by_the_shopper_ship_without_a_tracking_number() {
    let pickup = ShipmentDetails {
        carrier: "self pickup".into(),
        tracking_no: String::new(),
        express_company: None,
        logistics_type: LogisticsType::SelfPickup,
    };
    OrderTest::with(())
        .given(vec![placed(), paid()])
        .when(ship_with(pickup))
        .then_expect_events(vec![OrderEvent::OrderShipped {
            carrier: "self pickup".into(),
            tracking_no: String::new(),
            shipped_at: at(50),
            express_company: None,
            logistics_type: LogisticsType::SelfPickup,
        }]);
}

#[test]
fn an_unpaid_order_cannot_be_corrected_into_shipping() {
    OrderTest::with(())
        .given(vec![placed()])
        .when(ship())
        .then_expect_error(OrderError::InvalidTransition {
            status: OrderStatus::AwaitingPayment,
            action: "ship",
        });
}
