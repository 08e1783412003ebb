//! What wraps every request: who the client is (behind trusted proxies), its request id,
//! rate limits, deadlines for reading the body and for answering, the idempotency guard,
//! the guard of dev-only paths, and a caller's writes remembered for a read replica.

pub mod body_deadline;
pub mod client_address;
pub mod deadline;
pub mod dev_only;
pub mod idempotency;
pub mod rate_limit;
pub mod read_your_writes;
pub mod request_id;
