//! The embedded TURN relay (RFC 8656): the way in for browsers whose network
//! lets nothing out but TCP, often only TLS on port 443.
//!
//! ```text
//!  browser ──TURN over TCP (--turn-port) or TLS (--turn-tls-port)──► turn/relay.rs
//!             Allocate / Refresh / CreatePermission / ChannelBind,      │ one UDP socket
//!             Send indications and ChannelData                          ▼ per allocation
//!                                                      Salon's own UDP media port(s) only
//! ```
//!
//! Why hand-written: `turn` (webrtc-rs) serves only packet (UDP) listeners
//! and has no hook to refuse peer addresses; `turn-server` is an application
//! (config files, gRPC, virtual ports), not a library to embed. Salon needs a
//! small, strict subset: TCP and TLS listeners, credentials it issues itself,
//! and relaying to nothing but its own media sockets. See ARCHITECTURE.md.
//!
//! It is no open relay:
//! - **Credentials** follow the TURN REST scheme: the username is
//!   `<expiry unix seconds>:<tag>`, the password
//!   `base64(HMAC-SHA1(secret, username))`, issued to each signaling session
//!   in `hello` ([`TurnAuth::issue`]). The secret is random per start unless
//!   `--turn-secret` sets it. Expired, malformed or wrongly signed
//!   credentials get `401`.
//! - **Peers**: CreatePermission and ChannelBind for any address other than
//!   Salon's media addresses get `403`; Send indications to one are dropped.
//! - **Caps**: allocations per credential, per client address and in all;
//!   connections per address and in all; one allocation per connection.

// TURN parses raw bytes from anyone who can reach its ports: no unwrap, no
// unchecked index and no overflowing arithmetic here (tests excepted).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

pub mod relay;
pub mod stun;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use md5::{Digest, Md5};
use rand::RngCore;
use tokio::net::TcpListener;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

pub use crate::protocol::IceServer;

/// The realm of the long-term credential mechanism.
pub const REALM: &str = "salon";
/// How long issued credentials stay valid (an allocation is refreshed with
/// them for the whole call; a reconnect gets fresh ones).
pub const CREDENTIAL_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long a nonce is accepted before the client must take a new one (438).
const NONCE_TTL: u64 = 3600;

/// Limits of the relay.
#[derive(Debug, Clone)]
pub struct TurnLimits {
    pub per_credential: usize,
    pub per_address: usize,
    pub total: usize,
    pub connections_per_address: usize,
    pub connections: usize,
}

impl Default for TurnLimits {
    fn default() -> Self {
        TurnLimits {
            // A browser allocates once per TURN URL and local interface.
            per_credential: 8,
            per_address: 64,
            total: 2048,
            connections_per_address: 128,
            connections: 4096,
        }
    }
}

/// Issues and checks credentials, nonces and message keys.
pub struct TurnAuth {
    secret: Vec<u8>,
}

/// Why credentials were refused.
#[derive(Debug, PartialEq, Eq)]
pub enum CredentialError {
    Malformed,
    Expired,
}

/// The host part of a URL for `ip`.
pub fn url_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl TurnAuth {
    pub fn new(secret: Option<&str>) -> Self {
        let secret = match secret {
            Some(s) => s.as_bytes().to_vec(),
            None => {
                let mut s = vec![0u8; 32];
                rand::rng().fill_bytes(&mut s);
                s
            }
        };
        TurnAuth { secret }
    }

    /// The password of `username`: base64(HMAC-SHA1(secret, username)).
    pub fn password(&self, username: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(stun::hmac_sha1_of(&self.secret, username.as_bytes()))
    }

    /// Credentials for `tag` (one signaling session), valid for `ttl`.
    pub fn issue(&self, tag: &str, ttl: Duration) -> (String, String) {
        let username = format!("{}:{tag}", unix_now().saturating_add(ttl.as_secs()));
        let password = self.password(&username);
        (username, password)
    }

    /// Checks the expiry in `username`.
    pub fn check_username(&self, username: &str, now: u64) -> Result<(), CredentialError> {
        let (expiry, tag) = username.split_once(':').ok_or(CredentialError::Malformed)?;
        let expiry: u64 = expiry.parse().map_err(|_| CredentialError::Malformed)?;
        if tag.is_empty() || username.len() > 128 {
            return Err(CredentialError::Malformed);
        }
        if expiry <= now {
            return Err(CredentialError::Expired);
        }
        Ok(())
    }

    /// The long-term key: MD5(username ":" realm ":" password).
    pub fn key(&self, username: &str) -> [u8; 16] {
        let mut h = Md5::new();
        h.update(format!("{username}:{REALM}:{}", self.password(username)).as_bytes());
        h.finalize().into()
    }

    /// A stateless nonce: its expiry and a MAC over it.
    pub fn nonce(&self, now: u64) -> String {
        let expiry = now.saturating_add(NONCE_TTL);
        let mac = stun::hmac_sha1_of(&self.secret, format!("nonce:{expiry}").as_bytes());
        format!("{expiry:x}-{}", hex(&mac[..8]))
    }

    pub fn check_nonce(&self, nonce: &str, now: u64) -> bool {
        let Some((e, _)) = nonce.split_once('-') else {
            return false;
        };
        let Ok(expiry) = u64::from_str_radix(e, 16) else {
            return false;
        };
        let mac = stun::hmac_sha1_of(&self.secret, format!("nonce:{expiry}").as_bytes());
        expiry > now && nonce == format!("{expiry:x}-{}", hex(&mac[..8]))
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Counts of what is open, for the caps.
#[derive(Default)]
struct Counts {
    by_credential: HashMap<String, usize>,
    by_address: HashMap<IpAddr, usize>,
    connections_by_address: HashMap<IpAddr, usize>,
}

/// Everything the relay's connections share.
pub struct TurnShared {
    pub auth: TurnAuth,
    /// The only addresses the relay sends to: Salon's UDP media sockets.
    pub allowed_peers: HashSet<SocketAddr>,
    pub limits: TurnLimits,
    counts: Mutex<Counts>,
    allocations: AtomicUsize,
    connections: AtomicUsize,
}

/// Releases one allocation's place in the caps when dropped.
pub struct AllocationGuard {
    shared: Arc<TurnShared>,
    credential: String,
    address: IpAddr,
}

impl Drop for AllocationGuard {
    fn drop(&mut self) {
        self.shared.allocations.fetch_sub(1, Ordering::Relaxed);
        let mut c = self.shared.counts.lock().unwrap_or_else(|e| e.into_inner());
        decrement(&mut c.by_credential, &self.credential);
        decrement(&mut c.by_address, &self.address);
    }
}

/// Releases one connection's place when dropped.
pub struct ConnectionGuard {
    shared: Arc<TurnShared>,
    address: IpAddr,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.shared.connections.fetch_sub(1, Ordering::Relaxed);
        let mut c = self.shared.counts.lock().unwrap_or_else(|e| e.into_inner());
        decrement(&mut c.connections_by_address, &self.address);
    }
}

fn increment<K: std::hash::Hash + Eq>(m: &mut HashMap<K, usize>, k: K) {
    let n = m.entry(k).or_default();
    *n = n.saturating_add(1);
}

fn decrement<K: std::hash::Hash + Eq>(m: &mut HashMap<K, usize>, k: &K) {
    if let Some(n) = m.get_mut(k) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            m.remove(k);
        }
    }
}

impl TurnShared {
    pub fn new(auth: TurnAuth, allowed_peers: HashSet<SocketAddr>, limits: TurnLimits) -> Self {
        TurnShared {
            auth,
            allowed_peers,
            limits,
            counts: Mutex::new(Counts::default()),
            allocations: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
        }
    }

    /// Takes a place for one allocation, or `None` when a cap is reached.
    pub fn reserve_allocation(self: &Arc<Self>, credential: &str, address: IpAddr) -> Option<AllocationGuard> {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let by_cred = c.by_credential.get(credential).copied().unwrap_or(0);
        let by_addr = c.by_address.get(&address).copied().unwrap_or(0);
        if by_cred >= self.limits.per_credential
            || by_addr >= self.limits.per_address
            || self.allocations.load(Ordering::Relaxed) >= self.limits.total
        {
            return None;
        }
        increment(&mut c.by_credential, credential.to_string());
        increment(&mut c.by_address, address);
        self.allocations.fetch_add(1, Ordering::Relaxed);
        Some(AllocationGuard {
            shared: self.clone(),
            credential: credential.to_string(),
            address,
        })
    }

    fn reserve_connection(self: &Arc<Self>, address: IpAddr) -> Option<ConnectionGuard> {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let n = c.connections_by_address.get(&address).copied().unwrap_or(0);
        if n >= self.limits.connections_per_address
            || self.connections.load(Ordering::Relaxed) >= self.limits.connections
        {
            return None;
        }
        increment(&mut c.connections_by_address, address);
        self.connections.fetch_add(1, Ordering::Relaxed);
        Some(ConnectionGuard {
            shared: self.clone(),
            address,
        })
    }

    pub fn allocation_count(&self) -> usize {
        self.allocations.load(Ordering::Relaxed)
    }
}

/// A running relay, as signaling sees it.
#[derive(Clone)]
pub struct TurnHandle {
    pub shared: Arc<TurnShared>,
    /// TURN over TCP.
    pub tcp_addr: SocketAddr,
    /// TURN over TLS (the same as `tcp_addr` when one port serves both).
    pub tls_addr: SocketAddr,
    /// Host part of the URLs given to browsers: `--turn-host`, or the
    /// addresses of this machine.
    pub hosts: Vec<String>,
}

impl TurnHandle {
    /// The ICE servers for one signaling session (`tag` names it in the
    /// username): TURN over TCP and over TLS, for each announced address.
    pub fn ice_servers(&self, tag: &str) -> Vec<IceServer> {
        let (username, credential) = self.shared.auth.issue(tag, CREDENTIAL_TTL);
        let mut urls = Vec::new();
        for host in &self.hosts {
            urls.push(format!("turn:{host}:{}?transport=tcp", self.tcp_addr.port()));
            urls.push(format!("turns:{host}:{}?transport=tcp", self.tls_addr.port()));
        }
        vec![IceServer {
            urls,
            username,
            credential,
        }]
    }
}

/// Binds the relay's TCP and TLS ports and starts accepting. Each listener
/// tells the two apart by the first byte (0x16 opens a TLS handshake, a STUN
/// header starts with 0b00), so one port may serve both.
pub async fn spawn(
    tcp: SocketAddr,
    tls_listen: SocketAddr,
    hosts: Vec<String>,
    tls: Arc<ServerConfig>,
    shared: Arc<TurnShared>,
) -> anyhow::Result<TurnHandle> {
    // TURN clients may offer ALPN "stun.turn" (RFC 7443) or none; the HTTP
    // configuration's h2/http1.1 list would refuse the former.
    let mut cfg = (*tls).clone();
    cfg.alpn_protocols.clear();
    let acceptor = TlsAcceptor::from(Arc::new(cfg));
    let tcp_listener = TcpListener::bind(tcp).await?;
    let tcp_addr = tcp_listener.local_addr()?;
    let tls_addr = if tls_listen.port() != 0 && tls_listen.port() == tcp.port() {
        tcp_addr
    } else {
        let l = TcpListener::bind(tls_listen).await?;
        let a = l.local_addr()?;
        tokio::spawn(accept_loop(l, acceptor.clone(), shared.clone()));
        a
    };
    tokio::spawn(accept_loop(tcp_listener, acceptor, shared.clone()));
    Ok(TurnHandle {
        shared,
        tcp_addr,
        tls_addr,
        hosts,
    })
}

/// A TLS handshake must complete within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, shared: Arc<TurnShared>) {
    loop {
        let (stream, client) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: wait, do not spin.
                tracing::warn!("TURN accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(guard) = shared.reserve_connection(client.ip()) else {
            continue;
        };
        let local = stream.local_addr().unwrap_or(client);
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _guard = guard;
            let mut first = [0u8; 1];
            let peeked = tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await;
            if !matches!(peeked, Ok(Ok(1))) {
                return;
            }
            if first[0] == 0x16 {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => relay::serve(tls, client, local, shared).await,
                    _ => tracing::debug!("TURN/TLS handshake from {client} failed"),
                }
            } else {
                relay::serve(stream, client, local, shared).await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_expire_and_bind_the_secret() {
        let a = TurnAuth::new(Some("s3cret"));
        let (user, pass) = a.issue("abc", Duration::from_secs(60));
        assert_eq!(pass, a.password(&user));
        let now = unix_now();
        assert_eq!(a.check_username(&user, now), Ok(()));
        assert_eq!(a.check_username(&user, now + 61), Err(CredentialError::Expired));
        assert_eq!(a.check_username("nope", now), Err(CredentialError::Malformed));
        assert_eq!(a.check_username("12:", now), Err(CredentialError::Malformed));
        let b = TurnAuth::new(Some("other"));
        assert_ne!(b.password(&user), pass);
        assert_ne!(b.key(&user), a.key(&user));
        let n = a.nonce(now);
        assert!(a.check_nonce(&n, now));
        assert!(!a.check_nonce(&n, now + NONCE_TTL + 1));
        assert!(!b.check_nonce(&n, now));
        assert!(!a.check_nonce("zz-00", now));
    }
}
