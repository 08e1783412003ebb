//! The client's request id, kept only when it is fit to copy into logs and into every
//! event the request writes: 1 to 128 visible ASCII characters. Anything else (longer,
//! spaces, non-ASCII) is dropped here, and the request-id layer gives the request a new
//! one, which the answer's `x-request-id` carries back.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

/// The header carrying the request id (set by the request-id layer when absent).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest request id kept from a client.
pub const MAX_REQUEST_ID_CHARS: usize = 128;

/// Drops a request id a client sent that is not fit to keep.
pub async fn accept(mut request: Request, next: Next) -> Response {
    let fit = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .is_none_or(|value| is_fit(value.as_bytes()));
    if !fit {
        request.headers_mut().remove(REQUEST_ID_HEADER);
    }
    next.run(request).await
}

fn is_fit(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_CHARS).contains(&id.len()) && id.iter().all(u8::is_ascii_graphic)
}

#[cfg(test)]
mod tests {
    use super::is_fit;

    #[test]
    fn only_short_visible_ascii_ids_are_kept() {
        assert!(is_fit(b"req-1"));
        assert!(is_fit(&[b'a'; 128]));
        assert!(!is_fit(&[b'a'; 129]));
        assert!(!is_fit(b""));
        assert!(!is_fit(b"has space"));
        assert!(!is_fit("caf\u{e9}".as_bytes()));
    }
}
