//! The device cookie: a random token that names a browser, so the server can
//! recognise the host of a room it created, and hold a removal or a ban on
//! the browser that was removed.
//!
//! Why a cookie and not an account: joining needs no account, yet the host of
//! a room made without one must still be the host when they come back, and a
//! removed guest must not walk back in by reloading. The token is HttpOnly
//! (page scripts never see it) and stored on the server only as a SHA-256
//! hash. Someone who clears their cookies becomes a new device: that is why a
//! host can also lock the room or use the waiting room.

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::store::{hash_token, is_room_id, new_room_id};

pub const COOKIE: &str = "salon_device";

/// The hash of the request's device token (as stored in the database).
#[derive(Debug, Clone)]
pub struct Device(pub String);

/// The device token in a request's cookies, when well-formed.
pub fn token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| is_room_id(v))
}

/// Gives every request a [`Device`]; a browser without a token gets one.
pub async fn layer(secure: bool, mut req: Request, next: Next) -> Response {
    let (token, fresh) = match token(req.headers()) {
        Some(t) => (t, false),
        None => (new_room_id(), true),
    };
    req.extensions_mut().insert(Device(hash_token(&token)));
    let mut resp = next.run(req).await;
    if fresh {
        let secure = if secure { "; Secure" } else { "" };
        // About 400 days, the most browsers keep a cookie.
        let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=34560000{secure}");
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_a_well_formed_token() {
        let mut h = HeaderMap::new();
        assert_eq!(token(&h), None);
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; salon_device=AAAAAAAAAAAAAAAAAAAAAA; c=d"),
        );
        assert_eq!(token(&h).as_deref(), Some("AAAAAAAAAAAAAAAAAAAAAA"));
        h.insert(header::COOKIE, HeaderValue::from_static("salon_device=../../x"));
        assert_eq!(token(&h), None);
    }
}
