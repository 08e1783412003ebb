//! Reading requests: JSON bodies, query parameters and paging, whole numbers, who the
//! caller is and what their writes record.

pub mod as_of;
pub mod caller;
pub mod json;
pub mod order_status;
pub mod paging;
pub mod params;
pub mod recorded;
pub mod whole_number;
