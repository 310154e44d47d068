//! Connection limits and revocation for long-lived connections: WebSocket
//! sessions and the tray's Server-Sent Events streams.
//!
//! Why: one global cap (2048 sessions) lets one address take every place
//! with sockets that never say `hello`. So each long-lived connection also
//! takes a place under its client address ([`crate::client_addr`]) and, when
//! signed in, under its account; the place is given back when the
//! connection ends (the [`Slot`] is dropped). Deadlines and liveness in
//! `ws.rs` make idle places come back on their own.
//!
//! Revocation: each connection of a signed-in account registers in [`Live`]
//! with the hash of its session token. Logging out cancels that token's
//! connections, changing the password cancels the account's other ones,
//! deleting the account cancels all of them. The connection selects on
//! [`Place::revoked`] and ends.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use tokio_util::sync::CancellationToken;

use super::AppError;

/// WebSocket sessions per client address (a household or office behind one
/// NAT, or a load test, stays well under it).
pub const WS_PER_ADDR: usize = 256;
/// WebSocket sessions per account (tabs and devices of one person).
pub const WS_PER_ACCOUNT: usize = 32;
/// Tray streams per client address and per account.
pub const SSE_PER_ADDR: usize = 32;
pub const SSE_PER_ACCOUNT: usize = 8;

/// Largest request body of any route (the avatar's 1 MiB and a little);
/// each route has its own, smaller `DefaultBodyLimit` (16 KiB of JSON).
pub const MAX_BODY_BYTES: usize = super::accounts::MAX_AVATAR_BYTES + 4096;

/// Refuses a request whose declared `Content-Length` exceeds
/// [`MAX_BODY_BYTES`] before reading any of it, with the JSON error every
/// other refusal has (tower-http's limit then bounds chunked bodies).
pub async fn declared_body_size(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("a request body is at most {MAX_BODY_BYTES} bytes"),
        )
        .into_response();
    }
    next.run(req).await
}

/// Every JSON body of the API is an object, but serde also reads a struct
/// from an array (`[null, null]` as a profile patch): refuse anything but
/// an object before the handler sees it, as the schema says. Bodies reach
/// here already capped by the route limits (16 KiB for JSON).
pub async fn json_objects_only(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    let json = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
    if !json || !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, 16 * 1024).await {
        Ok(b) => b,
        Err(_) => {
            return AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "a JSON body is at most 16 KiB",
            )
            .into_response()
        }
    };
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_request",
            "the body must be a JSON object",
        )
        .into_response();
    }
    next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// Open things per key, with a cap.
pub struct Counter<K> {
    cap: usize,
    open: Mutex<HashMap<K, usize>>,
}

/// One place under a [`Counter`], given back on drop.
pub struct Slot<K: Hash + Eq + Clone> {
    counter: Arc<Counter<K>>,
    key: K,
}

impl<K: Hash + Eq + Clone> Counter<K> {
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Counter {
            cap,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A place for `key`, or None when it has `cap` already.
    pub fn take(self: &Arc<Self>, key: K) -> Option<Slot<K>> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(key.clone()).or_insert(0);
        if *n >= self.cap {
            return None;
        }
        *n = n.saturating_add(1);
        Some(Slot {
            counter: self.clone(),
            key,
        })
    }

    /// How many places `key` holds now.
    pub fn count(&self, key: &K) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(key).copied().unwrap_or(0)
    }
}

impl<K: Hash + Eq + Clone> Drop for Slot<K> {
    fn drop(&mut self) {
        let mut open = self.counter.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// Live connections of signed-in accounts, to cancel on logout, password
/// change or deletion.
#[derive(Default)]
pub struct Live {
    next: AtomicU64,
    /// id -> (account id, session token hash, cancel signal)
    entries: Mutex<HashMap<u64, (String, String, CancellationToken)>>,
}

/// A registration in [`Live`], removed on drop.
pub struct LiveGuard {
    live: Arc<Live>,
    id: u64,
    token: CancellationToken,
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        let mut e = self.live.entries.lock().unwrap_or_else(|e| e.into_inner());
        e.remove(&self.id);
    }
}

impl Live {
    pub fn register(self: &Arc<Self>, account: &str, token_hash: &str) -> LiveGuard {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let token = CancellationToken::new();
        let mut e = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        e.insert(id, (account.to_string(), token_hash.to_string(), token.clone()));
        LiveGuard {
            live: self.clone(),
            id,
            token,
        }
    }

    /// Ends the connections opened with this session (logout).
    pub fn revoke_session(&self, token_hash: &str) -> usize {
        self.revoke(|_, t| t == token_hash)
    }

    /// Ends the account's connections, except those of `keep` (the session
    /// that changed the password).
    pub fn revoke_account(&self, account: &str, keep: Option<&str>) -> usize {
        self.revoke(|a, t| a == account && Some(t) != keep)
    }

    fn revoke(&self, hit: impl Fn(&str, &str) -> bool) -> usize {
        let e = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let mut n = 0usize;
        for (account, token_hash, cancel) in e.values() {
            if hit(account, token_hash) {
                cancel.cancel();
                n = n.saturating_add(1);
            }
        }
        n
    }
}

/// Every limit on long-lived connections, shared by all requests.
pub struct Limits {
    pub ws_by_addr: Arc<Counter<IpAddr>>,
    pub ws_by_account: Arc<Counter<String>>,
    pub sse_by_addr: Arc<Counter<IpAddr>>,
    pub sse_by_account: Arc<Counter<String>>,
    pub live: Arc<Live>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            ws_by_addr: Counter::new(WS_PER_ADDR),
            ws_by_account: Counter::new(WS_PER_ACCOUNT),
            sse_by_addr: Counter::new(SSE_PER_ADDR),
            sse_by_account: Counter::new(SSE_PER_ACCOUNT),
            live: Arc::new(Live::default()),
        }
    }
}

/// What a long-lived connection holds: its places and its revocation signal.
pub struct Place {
    _addr: Slot<IpAddr>,
    _account: Option<Slot<String>>,
    live: Option<LiveGuard>,
}

impl Place {
    /// Resolves when the connection's session was revoked (never without an account).
    pub async fn revoked(&self) {
        match &self.live {
            Some(g) => g.token.cancelled().await,
            None => std::future::pending().await,
        }
    }
}

/// Which kind of long-lived connection asks for a place.
#[derive(Clone, Copy)]
pub enum Kind {
    WebSocket,
    Tray,
}

impl Limits {
    /// A place for a connection from `addr`, signed in as `account` with
    /// session `token` (if any); `429 too_many_connections` when either is full.
    pub fn admit(
        &self,
        kind: Kind,
        addr: IpAddr,
        account: Option<&str>,
        token: Option<&str>,
    ) -> Result<Place, AppError> {
        let (by_addr, by_account) = match kind {
            Kind::WebSocket => (&self.ws_by_addr, &self.ws_by_account),
            Kind::Tray => (&self.sse_by_addr, &self.sse_by_account),
        };
        let full = |what: &str| {
            AppError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_connections",
                format!("too many open connections from this {what}; close some and try again"),
            )
        };
        let addr_slot = by_addr.take(addr).ok_or_else(|| full("address"))?;
        let account_slot = match account {
            Some(a) => Some(by_account.take(a.to_string()).ok_or_else(|| full("account"))?),
            None => None,
        };
        let live = match (account, token) {
            (Some(a), Some(t)) => Some(self.live.register(a, &crate::store::hash_token(t))),
            _ => None,
        };
        Ok(Place {
            _addr: addr_slot,
            _account: account_slot,
            live,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_come_back_when_dropped() {
        let c = Counter::new(2);
        let a = c.take("x").unwrap();
        let _b = c.take("x").unwrap();
        assert!(c.take("x").is_none());
        assert!(c.take("y").is_some(), "per key");
        drop(a);
        assert_eq!(c.count(&"x"), 1);
        assert!(c.take("x").is_some());
    }

    #[tokio::test]
    async fn revocation_cancels_by_session_and_account() {
        let live = Arc::new(Live::default());
        let a1 = live.register("alice", "t1");
        let a2 = live.register("alice", "t2");
        let b = live.register("bob", "t3");
        assert_eq!(live.revoke_account("alice", Some("t1")), 1);
        assert!(!a1.token.is_cancelled() && a2.token.is_cancelled());
        assert_eq!(live.revoke_session("t3"), 1);
        assert!(b.token.is_cancelled());
        drop(a1);
        assert_eq!(live.revoke_account("alice", None), 1, "a dropped guard is gone");
    }
}
