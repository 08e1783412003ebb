//! Beijing time (UTC+8, no daylight saving): WeChat and WeChat Pay date everything by it,
//! from a bill's day to a payment's expiry, a shipment's upload time and a message's.

use chrono::{FixedOffset, NaiveDate, Utc};

pub const BEIJING: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+8 is an offset"),
};

/// Today in Beijing.
pub fn today() -> NaiveDate {
    Utc::now().with_timezone(&BEIJING).date_naive()
}
