use super::OrderStatus;
use crate::FieldError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("the order has already been placed")]
    AlreadyPlaced,
    #[error("the order does not exist")]
    NotFound,
    #[error("cannot {action} an order that is {status}")]
    InvalidTransition {
        status: OrderStatus,
        action: &'static str,
    },
    #[error("the order is not due to expire before {expires_at}")]
    NotExpired {
        expires_at: chrono::DateTime<chrono::Utc>,
    },
    #[error("payment of {paid} does not match the order total of {expected}")]
    AmountMismatch { expected: i64, paid: i64 },
    #[error("a refund of this order is in progress; its answer has not come yet")]
    RefundInProgress,
    #[error("nothing to refund: the order is {status} and holds no payment to give back")]
    NothingToRefund { status: OrderStatus },
    #[error(
        "refunds of a payment never add up to more than it: {asked} asked, {left} left to refund"
    )]
    RefundExceedsPayment { asked: i64, left: i64 },
    #[error("WeChat Pay takes at most {max} refunds of one payment")]
    TooManyRefunds { max: usize },
    #[error("the order has no after-sale {0}")]
    UnknownAfterSale(u32),
    #[error("after-sale {no} is {} already", stage.describe())]
    AfterSaleDecided {
        no: u32,
        stage: super::AfterSaleStage,
    },
    #[error("returns of this order could be asked until {closed_at}")]
    ReturnWindowClosed {
        closed_at: chrono::DateTime<chrono::Utc>,
    },
    #[error("an order takes at most {max} after-sale requests")]
    TooManyAfterSales { max: usize },
    #[error("after-sale {no} is open: approve or reject it first")]
    AfterSaleOpen { no: u32 },
    #[error("the order has no refund {0}")]
    UnknownRefund(String),
    #[error("refund {refund_no} returns another payment than transaction {transaction_id}")]
    TransactionMismatch {
        refund_no: String,
        transaction_id: String,
    },
    #[error("invalid order: {}", crate::describe(.0))]
    Invalid(Vec<FieldError>),
    #[error(
        "the shipment was corrected once already: WeChat takes one correction of a payment's \
         shipping, so a further one is made on WeChat's merchant platform"
    )]
    ShipmentCorrected,
}
