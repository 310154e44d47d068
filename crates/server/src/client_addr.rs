//! The client's address: the one key every per-address limit uses (login,
//! room creation, WebSocket sessions, tray streams).
//!
//! Why a module of its own: behind a reverse proxy every TCP peer is the
//! proxy, so per-address limits would become one limit for the whole server.
//! The proxy tells us the real client in `Forwarded` (RFC 7239) or
//! `X-Forwarded-For`; but anyone can send those headers, so they are read
//! only when the TCP peer is a configured trusted proxy (`--trusted-proxy`),
//! and never otherwise. The chain is walked from the right (the hop nearest
//! to us) and the first address that is not itself a trusted proxy is the
//! client: a client cannot forge its way past the last trusted hop.
//!
//! The middleware [`layer`] computes it once per request and puts
//! [`ClientAddr`] in the request's extensions.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// The address a request comes from, after trusted proxies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

/// Most hops read from forwarding headers (a longer chain is cut there).
const MAX_HOPS: usize = 16;

/// The client address of a request from TCP peer `peer`.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(&canonical(*ip)));
    if !is_trusted(&peer) {
        return canonical(peer);
    }
    // `Forwarded` wins when present (it is the standard); else X-Forwarded-For.
    let mut chain = forwarded_for(headers);
    if chain.is_empty() {
        chain = x_forwarded_for(headers);
    }
    let mut client = canonical(peer);
    for hop in chain.iter().rev().take(MAX_HOPS) {
        match hop {
            Some(ip) => {
                client = canonical(*ip);
                if !is_trusted(&client) {
                    break;
                }
            }
            // An obfuscated or unparsable hop: stop at the last trusted one.
            None => break,
        }
    }
    client
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `for=` values of every `Forwarded` header, in order (None: not an IP).
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all(header::FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                k.trim().eq_ignore_ascii_case("for").then(|| parse_node(v.trim()))
            })
        })
        .collect()
}

/// A `Forwarded` node: `1.2.3.4`, `"1.2.3.4:80"`, `"[2001:db8::1]:80"`, `_hidden`, `unknown`.
fn parse_node(v: &str) -> Option<IpAddr> {
    let v = v.trim_matches('"');
    if let Some(rest) = v.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    v.parse::<IpAddr>()
        .ok()
        .or_else(|| v.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| parse_node(s.trim()))
        .collect()
}

/// Puts [`ClientAddr`] in the request's extensions. Without a socket (the
/// router driven by `oneshot` in unit tests) the peer is `0.0.0.0`.
pub async fn layer(trusted: std::sync::Arc<Vec<IpNet>>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(a)| a.ip());
    let ip = client_ip(peer, req.headers(), &trusted);
    req.extensions_mut().insert(ClientAddr(ip));
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn headers_are_ignored_from_untrusted_peers() {
        let h = headers(&[("x-forwarded-for", "9.9.9.9"), ("forwarded", "for=8.8.8.8")]);
        assert_eq!(client_ip(ip("203.0.113.7"), &h, &[]), ip("203.0.113.7"));
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        assert_eq!(client_ip(ip("203.0.113.7"), &h, &trusted), ip("203.0.113.7"));
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 198.51.100.4, 10.0.0.2")]);
        // The client may prepend anything; the first untrusted from the right counts.
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted), ip("198.51.100.4"));
        let h = headers(&[("forwarded", "for=1.1.1.1, for=\"[2001:db8::7]:443\";proto=https")]);
        assert_eq!(client_ip(ip("::1"), &h, &trusted), ip("2001:db8::7"));
        // Forwarded wins over X-Forwarded-For.
        let h = headers(&[
            ("forwarded", "for=192.0.2.60;by=10.0.0.1"),
            ("x-forwarded-for", "7.7.7.7"),
        ]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted), ip("192.0.2.60"));
        // No header: the proxy itself.
        assert_eq!(client_ip(ip("10.0.0.1"), &HeaderMap::new(), &trusted), ip("10.0.0.1"));
        // A hidden hop stops the walk at the last trusted address.
        let h = headers(&[("forwarded", "for=192.0.2.1, for=_hidden")]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted), ip("10.0.0.1"));
        // Garbage does not panic.
        let h = headers(&[
            ("x-forwarded-for", "[[[, ,,:::"),
            ("forwarded", "for=\"[::1"),
            ("forwarded", ";;=="),
        ]);
        let _ = client_ip(ip("10.0.0.1"), &h, &trusted);
    }

    #[test]
    fn mapped_ipv4_is_ipv4() {
        assert_eq!(
            client_ip(ip("::ffff:127.0.0.2"), &HeaderMap::new(), &[]),
            ip("127.0.0.2")
        );
    }
}
