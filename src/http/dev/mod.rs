//! Dev mode's simulators (`/api/v1/dev/...`): what WeChat Pay would send, sent by ordo
//! to itself.

mod payments;

pub use payments::router;
