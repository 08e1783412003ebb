//! Slow clients are cut off: one that sends its headers a byte at a time, one that sends
//! nothing, and one that sends a (keyed) body slowly, while other clients are served.
//! The deadlines are short here (1 s for headers, 2 s for a body) to keep the tests
//! quick; the server's are 10 s and 30 s unless set.

use std::time::Duration;

use ordo::client_deadlines::ClientDeadlines;
use ordo::state::AppSettings;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;

use crate::support::{Client, TestApp, address, fresh_database, start};

/// Long enough for any deadline above to pass several times over; a connection still
/// open then was never cut off.
const PATIENCE: Duration = Duration::from_secs(20);

async fn app_with_short_deadlines() -> TestApp {
    let (pool, _) = fresh_database().await;
    let settings = AppSettings {
        dev_mode: true,
        client_deadlines: ClientDeadlines {
            headers: Duration::from_secs(1),
            body: Duration::from_secs(2),
        },
        ..AppSettings::default()
    };
    start(pool, settings).await
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// Writes `bytes` one every 250 ms, stopping quietly once the server has hung up.
async fn trickle(mut writer: OwnedWriteHalf, bytes: Vec<u8>) {
    for byte in bytes {
        if writer.write_all(&[byte]).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Then stall, the connection open, as a slowloris client does.
    std::future::pending::<()>().await;
}

/// Everything the server sends until it closes the connection (an error, such as a
/// reset, ends it too); `None` if it is still open after [`PATIENCE`].
async fn until_closed(reader: &mut tokio::net::tcp::OwnedReadHalf) -> Option<String> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buffer = [0u8; 4096];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&received).into_owned())
}

/// `/healthz` on a connection of its own: this server closes a kept-alive connection idle
/// for its header deadline (1 s), so a pooled one may be closing as the request goes out.
async fn healthz(app: &TestApp) -> StatusCode {
    let unpooled = ordo::tls::http_client()
        .pool_max_idle_per_host(0)
        .build()
        .expect("an HTTP client");
    Client::at(unpooled, app.address.clone())
        .get("/healthz")
        .await
        .status
}

#[tokio::test]
async fn a_client_sending_its_headers_a_byte_at_a_time_is_cut_off_while_others_are_served() {
    let app = app_with_short_deadlines().await;
    let (mut reader, writer) = connect(&app).await.into_split();
    let headers = b"GET /healthz HTTP/1.1\r\nHost: ordo\r\nX-Slow: one byte at a time\r\n".to_vec();
    let slowloris = tokio::spawn(trickle(writer, headers));

    assert_eq!(healthz(&app).await, StatusCode::OK, "others are served");
    let answer = until_closed(&mut reader).await;
    slowloris.abort();

    let answer = answer.expect("the slow client's connection was never closed");
    assert!(!answer.contains("200 OK"), "{answer}");
    assert_eq!(healthz(&app).await, StatusCode::OK, "and still are");
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed() {
    let app = app_with_short_deadlines().await;
    let (mut reader, _writer) = connect(&app).await.into_split();

    let answer = until_closed(&mut reader).await;

    assert!(answer.is_some(), "the idle connection was never closed");
    assert_eq!(healthz(&app).await, StatusCode::OK);
}

#[tokio::test]
async fn a_keyed_order_whose_body_comes_too_slowly_is_answered_408_and_places_nothing() {
    let app = app_with_short_deadlines().await;
    let tea = app.admin().create_product("Tea", 100, 10).await;
    let shopper = app.user("slow-shopper");
    let body = serde_json::json!({
        "lines": [{"product_id": tea, "quantity": 1}],
        "address": address(),
    })
    .to_string();
    let (mut reader, mut writer) = connect(&app).await.into_split();
    // Written by hand on a socket: the point is a body that never arrives.
    let head = format!(
        "POST /api/v1/orders HTTP/1.1\r\nHost: ordo\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nIdempotency-Key: slow-order\r\n\
         Content-Length: {}\r\n\r\n",
        shopper.token(),
        body.len()
    );
    writer.write_all(head.as_bytes()).await.expect("headers");
    // A few bytes of the body, slowly, then nothing more.
    let slow_body = tokio::spawn(trickle(writer, body.as_bytes()[..4].to_vec()));

    let answer = until_closed(&mut reader).await;
    slow_body.abort();

    let answer = answer.expect("the slow body's connection was never closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":40800"), "{answer}");
    assert_eq!(app.count_events("OrderPlaced").await, 0, "nothing placed");
    // The key was not taken by the request that never arrived: sent whole, it places
    // the order.
    let placed = shopper
        .post_keyed(
            "/api/v1/orders",
            "slow-order",
            &serde_json::from_str(&body).expect("json"),
        )
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.body);
}
