//! Where a request was addressed: the host for the Origin check, and the
//! base of every absolute link Salon writes.
//!
//! Why this is not just the `Host` header: under TLS, browsers speak HTTP/2,
//! and HTTP/2 carries the host in the `:authority` pseudo-header, which
//! hyper presents as the request URI's authority; browsers send no `Host`
//! there. HTTP/1.1 sends `Host` with an origin-form URI (no authority). So
//! the request's host is the URI's authority when it has one, else `Host`,
//! and a browser's Origin may match either.
//!
//! Behind a reverse proxy the host Salon sees may not be the one people use
//! (a proxy that rewrites `Host`, a LAN address, another port): the operator
//! then names the public address with `--public-url`. It is the base of
//! every absolute link (the `.ics` invitation, share links) and an accepted
//! Origin. `X-Forwarded-*` headers are not trusted: any client could send them.

use axum::extract::Request;
use axum::http::{header, HeaderMap, Uri};
use axum::middleware::Next;
use axum::response::Response;

use crate::config::PublicUrl;

/// The host (and port) the request was addressed to: HTTP/2's `:authority`,
/// else HTTP/1.1's `Host`.
pub fn request_host<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Option<&'a str> {
    uri.authority()
        .map(|a| a.as_str())
        .or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()))
}

/// Whether a browser request comes from Salon's own pages: no `Origin` (not a
/// browser's cross-site request), the public URL, or the very host the
/// request was addressed to (URI authority or `Host`), over http or https.
pub fn same_origin(uri: &Uri, headers: &HeaderMap, public: Option<&PublicUrl>) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if public.is_some_and(|p| p.origin().eq_ignore_ascii_case(origin)) {
        return true;
    }
    let Some(authority) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let uri_host = uri.authority().map(|a| a.as_str());
    [uri_host, host]
        .into_iter()
        .flatten()
        .any(|h| !h.is_empty() && authority.eq_ignore_ascii_case(h))
}

/// `scheme://host[:port]` that links given to people start with
/// (a request extension, set by [`layer`]).
#[derive(Debug, Clone)]
pub struct BaseUrl(pub String);

impl BaseUrl {
    /// The absolute URL of `path` (which starts with `/`).
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

/// The base URL of a request: `--public-url` when set, else the scheme
/// Salon serves and the host the request was addressed to (only characters
/// a host and port may have, so a forged header cannot inject anything).
pub fn base_url(public: Option<&PublicUrl>, tls: bool, uri: &Uri, headers: &HeaderMap) -> BaseUrl {
    if let Some(p) = public {
        return BaseUrl(p.origin().to_string());
    }
    let host = request_host(uri, headers)
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || ".:-[]".contains(c)))
        .unwrap_or("localhost");
    let scheme = if tls { "https" } else { "http" };
    BaseUrl(format!("{scheme}://{host}"))
}

/// Gives every request its [`BaseUrl`].
pub async fn layer(public: Option<PublicUrl>, tls: bool, mut req: Request, next: Next) -> Response {
    let base = base_url(public.as_ref(), tls, req.uri(), req.headers());
    req.extensions_mut().insert(base);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn h1(host: &str, origin: Option<&'static str>) -> (Uri, HeaderMap) {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).expect("header"));
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_static(o));
        }
        (Uri::from_static("/api/rooms"), h)
    }

    /// HTTP/2 as hyper presents it: the authority in the URI, no Host.
    fn h2(authority: &'static str, origin: Option<&'static str>) -> (Uri, HeaderMap) {
        let mut h = HeaderMap::new();
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_static(o));
        }
        let uri: Uri = format!("https://{authority}/api/rooms").parse().expect("uri");
        (uri, h)
    }

    #[test]
    fn origin_rules_over_http1_and_http2() {
        let (u, h) = h1("salon.example:8080", None);
        assert!(same_origin(&u, &h, None), "no Origin: not a browser cross-site request");
        let (u, h) = h1("salon.example:8080", Some("http://salon.example:8080"));
        assert!(same_origin(&u, &h, None));
        let (u, h) = h1("salon.example:8080", Some("https://evil.example"));
        assert!(!same_origin(&u, &h, None));
        let (u, h) = h1("salon.example:8080", Some("null"));
        assert!(!same_origin(&u, &h, None));

        let (u, h) = h2("192.168.1.5:8080", Some("https://192.168.1.5:8080"));
        assert!(same_origin(&u, &h, None), "HTTP/2: the :authority is the host");
        let (u, h) = h2("192.168.1.5:8080", Some("https://evil.example"));
        assert!(!same_origin(&u, &h, None));
    }

    #[test]
    fn public_url_is_an_accepted_origin_and_the_base_of_links() {
        let public = PublicUrl::parse("https://salon.example").expect("valid");
        let (u, h) = h1("127.0.0.1:8080", Some("https://salon.example"));
        assert!(!same_origin(&u, &h, None));
        assert!(same_origin(&u, &h, Some(&public)));
        let (u, h) = h1("127.0.0.1:8080", Some("https://evil.example"));
        assert!(!same_origin(&u, &h, Some(&public)));
        assert_eq!(
            base_url(Some(&public), false, &u, &h).join("/r/x"),
            "https://salon.example/r/x"
        );
    }

    #[test]
    fn base_url_without_public_url() {
        let (u, h) = h1("salon.example:8080", None);
        assert_eq!(base_url(None, false, &u, &h).0, "http://salon.example:8080");
        let (u, h) = h2("10.0.0.2:8443", None);
        assert_eq!(base_url(None, true, &u, &h).0, "https://10.0.0.2:8443");
        let (u, h) = h1("evil\"><script>", None);
        assert_eq!(base_url(None, true, &u, &h).0, "https://localhost");
    }
}
