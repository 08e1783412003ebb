//! Where an order is in its lifecycle, and why a cancelled one was cancelled.

use serde::{Deserialize, Serialize};

/// Where an order is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    AwaitingPayment,
    Paid,
    Shipped,
    Completed,
    Cancelled,
    /// Its payment is being refunded.
    Refunding,
    /// Its payment was refunded.
    Refunded,
}

impl OrderStatus {
    /// Every status, in the order an order goes through them.
    pub const ALL: [Self; 7] = [
        Self::AwaitingPayment,
        Self::Paid,
        Self::Shipped,
        Self::Completed,
        Self::Cancelled,
        Self::Refunding,
        Self::Refunded,
    ];

    /// Every status's name, as the API uses them (a filter accepts exactly these).
    pub const NAMES: [&'static str; 7] = {
        let mut names = [""; 7];
        let mut n = 0;
        while n < names.len() {
            names[n] = Self::ALL[n].as_str();
            n += 1;
        }
        names
    };

    /// The name the API uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingPayment => "awaiting_payment",
            Self::Paid => "paid",
            Self::Shipped => "shipped",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Refunding => "refunding",
            Self::Refunded => "refunded",
        }
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an order was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    ByUser,
    PaymentTimeout,
}

impl CancelReason {
    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ByUser => "by_user",
            Self::PaymentTimeout => "payment_timeout",
        }
    }
}
