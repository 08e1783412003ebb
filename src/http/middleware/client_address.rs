//! Who is on the other end: the TCP peer, or, when the peer is one of the reverse proxies
//! the operator trusts (`ORDO_TRUSTED_PROXIES`), the address that proxy says it serves
//! (`X-Forwarded-For`). Rate limits, logs and the events' metadata use it, so behind a
//! proxy each shopper has their own allowance instead of all sharing the proxy's.
//!
//! `X-Forwarded-For` is a list each proxy appends to: anyone can write its left part, so
//! it is read from the right, skipping trusted proxies; the first address that is not
//! one is the client. From an untrusted peer the header is ignored: it could say anything.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use crate::state::AppState;

/// The client's address, as [`resolve`] found it (a request extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

const FORWARDED_FOR: &str = "x-forwarded-for";

/// Middleware: puts the request's [`ClientAddress`] in its extensions.
pub async fn resolve(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        let client = client_address(peer.ip(), request.headers(), &state.trusted_proxies);
        request.extensions_mut().insert(ClientAddress(client));
    }
    next.run(request).await
}

/// The client behind `peer`: `peer` itself unless it is a trusted proxy.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |address: &IpAddr| trusted.iter().any(|net| net.contains(address));
    if !is_trusted(&peer) {
        return peer;
    }
    // Every header line, in order, as one list.
    let hops: Vec<&str> = headers
        .get_all(FORWARDED_FOR)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut nearest = peer;
    for hop in hops.iter().rev() {
        // What cannot be read ends the walk: the nearest trusted hop is all we know.
        let Ok(address) = hop.parse::<IpAddr>() else {
            return nearest;
        };
        if !is_trusted(&address) {
            return address;
        }
        nearest = address;
    }
    nearest
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                FORWARDED_FOR,
                HeaderValue::from_str(value).expect("a value"),
            );
        }
        headers
    }

    fn proxies() -> Vec<IpNet> {
        vec![
            "10.0.0.0/8".parse().expect("cidr"),
            "192.0.2.7/32".parse().expect("address"),
        ]
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let headers = forwarded(&["203.0.113.9"]);
        assert_eq!(
            client_address(ip("198.51.100.1"), &headers, &proxies()),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_address(ip("10.0.0.1"), &headers, &[]),
            ip("10.0.0.1"),
            "no trusted proxies: the header is never believed"
        );
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        // The shopper forged the left part; the proxies appended the real hops.
        let headers = forwarded(&["1.2.3.4, 203.0.113.9", "192.0.2.7"]);
        assert_eq!(
            client_address(ip("10.1.2.3"), &headers, &proxies()),
            ip("203.0.113.9")
        );
        let ipv6 = forwarded(&["2001:db8::1"]);
        assert_eq!(
            client_address(ip("10.1.2.3"), &ipv6, &proxies()),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn without_a_readable_hop_the_nearest_trusted_one_is_the_client() {
        assert_eq!(
            client_address(ip("10.1.2.3"), &HeaderMap::new(), &proxies()),
            ip("10.1.2.3")
        );
        let garbage = forwarded(&["unknown, 192.0.2.7"]);
        assert_eq!(
            client_address(ip("10.1.2.3"), &garbage, &proxies()),
            ip("192.0.2.7")
        );
        let all_trusted = forwarded(&["10.9.9.9"]);
        assert_eq!(
            client_address(ip("10.1.2.3"), &all_trusted, &proxies()),
            ip("10.9.9.9")
        );
    }
}
