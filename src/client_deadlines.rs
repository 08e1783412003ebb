//! How long a client may take to send a request: a slow client (or a slowloris attack,
//! sending a byte now and then) holds a connection, a file descriptor and a task, so it
//! is cut off. The server applies the header deadline (`server::connections`), the
//! HTTP layer the body's (`http::body_deadline`).

use std::time::Duration;

/// The deadlines of one request, counted from the moment the server waits for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientDeadlines {
    /// The request line and headers (on a kept-alive connection, from the end of the
    /// previous answer): the connection is closed past it.
    pub headers: Duration,
    /// The body, from the end of the headers: answered 408 and closed past it.
    pub body: Duration,
}

impl Default for ClientDeadlines {
    /// A mini program on a weak mobile link sends an order (a few KiB) in well under a
    /// second; these leave room for an operator's 5 MiB image upload.
    fn default() -> Self {
        Self {
            headers: Duration::from_secs(10),
            body: Duration::from_secs(30),
        }
    }
}
