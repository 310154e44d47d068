//! One TURN client connection (TCP or TLS) and its allocation.
//!
//! Over a stream, STUN messages and ChannelData frames follow each other;
//! each says its own length (ChannelData padded to 4 bytes over TCP,
//! RFC 8656 §12.5). On TCP the connection is the 5-tuple, so it holds at most
//! one allocation, which ends with it. One task per connection selects
//! between the client's stream, the allocation's UDP socket and its expiry,
//! so no state is shared but the caps.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::stun::{self, Builder, Class, Message};
use super::{AllocationGuard, CredentialError, TurnShared, REALM};

/// Lifetime of an allocation without a LIFETIME attribute, and the most a
/// client may ask.
const DEFAULT_LIFETIME: u32 = 600;
const MAX_LIFETIME: u32 = 3600;
/// Permissions and channel bindings last this long unless refreshed.
const PERMISSION_LIFETIME: Duration = Duration::from_secs(300);
const CHANNEL_LIFETIME: Duration = Duration::from_secs(600);
/// A connection that allocates nothing within this is closed.
const IDLE_WITHOUT_ALLOCATION: Duration = Duration::from_secs(30);
/// Most permissions and channels per allocation (Salon has a few media addresses).
const MAX_PERMISSIONS: usize = 64;
/// UDP requested transport.
const UDP: u8 = 17;

struct Allocation {
    socket: Arc<UdpSocket>,
    expires: Instant,
    username: String,
    key: [u8; 16],
    permissions: HashMap<IpAddr, Instant>,
    channels: HashMap<u16, (SocketAddr, Instant)>,
    by_peer: HashMap<SocketAddr, u16>,
    _guard: AllocationGuard,
}

struct Conn {
    client: SocketAddr,
    local: SocketAddr,
    shared: Arc<TurnShared>,
    alloc: Option<Allocation>,
    out: Vec<u8>,
}

/// Serves one client until it disconnects, misbehaves or its allocation ends.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    client: SocketAddr,
    local: SocketAddr,
    shared: Arc<TurnShared>,
) {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut conn = Conn {
        client,
        local,
        shared,
        alloc: None,
        out: Vec::new(),
    };
    let mut inbuf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut chunk = vec![0u8; 16 * 1024];
    let mut udp_buf = vec![0u8; 65536];
    let idle_deadline = later(Instant::now(), IDLE_WITHOUT_ALLOCATION);
    loop {
        let socket = conn.alloc.as_ref().map(|a| a.socket.clone());
        let deadline = conn.alloc.as_ref().map_or(idle_deadline, |a| a.expires);
        tokio::select! {
            n = rd.read(&mut chunk) => {
                let n = match n {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                inbuf.extend_from_slice(chunk.get(..n).unwrap_or_default());
                loop {
                    match frame_len(&inbuf) {
                        Frame::Incomplete => break,
                        Frame::Bad => return,
                        Frame::Whole(len) => {
                            let frame: Vec<u8> = inbuf.drain(..len).collect();
                            if !conn.on_frame(&frame).await {
                                let _ = wr.write_all(&conn.out).await;
                                return;
                            }
                        }
                    }
                }
            }
            r = recv(socket.as_deref(), &mut udp_buf) => {
                if let Ok((n, from)) = r {
                    conn.on_peer_data(from, udp_buf.get(..n).unwrap_or_default());
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                // The allocation (or the wait for one) has expired.
                return;
            }
        }
        if !conn.out.is_empty() {
            if wr.write_all(&conn.out).await.is_err() {
                return;
            }
            conn.out.clear();
        }
    }
}

async fn recv(socket: Option<&UdpSocket>, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
    match socket {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

/// `at + d`, or `at` if the clock would overflow: deadlines never panic.
fn later(at: Instant, d: Duration) -> Instant {
    at.checked_add(d).unwrap_or(at)
}

enum Frame {
    Incomplete,
    Bad,
    Whole(usize),
}

/// The length of the first frame in `buf` (STUN or padded ChannelData).
fn frame_len(buf: &[u8]) -> Frame {
    let Some(&[first, _, l0, l1]) = buf.first_chunk::<4>() else {
        return Frame::Incomplete;
    };
    // At most 20 + 65535 bytes: no overflow.
    let len = usize::from(u16::from_be_bytes([l0, l1]));
    let whole = match first >> 6 {
        0b00 => stun::HEADER.saturating_add(len),
        0b01 => len.next_multiple_of(4).saturating_add(4),
        _ => return Frame::Bad,
    };
    if buf.len() >= whole {
        Frame::Whole(whole)
    } else {
        Frame::Incomplete
    }
}

impl Conn {
    /// Handles one frame; false closes the connection (after sending `out`).
    async fn on_frame(&mut self, frame: &[u8]) -> bool {
        if frame.first().is_some_and(|b| b >> 6 == 0b01) {
            self.on_channel_data(frame);
            return true;
        }
        let Some(msg) = Message::parse(frame) else {
            return false;
        };
        match (msg.method, msg.class) {
            (stun::BINDING, Class::Request) => {
                let r = Builder::response(&msg, Class::Success)
                    .xor_addr(stun::XOR_MAPPED_ADDRESS, self.client)
                    .finish();
                self.out.extend_from_slice(&r);
            }
            (stun::ALLOCATE, Class::Request) => self.on_allocate(&msg).await,
            (stun::REFRESH | stun::CREATE_PERMISSION | stun::CHANNEL_BIND, Class::Request) => self.on_request(&msg),
            (stun::SEND, Class::Indication) => self.on_send(&msg),
            (_, Class::Request) => self.error(&msg, 400, "Bad Request", None),
            // Stray responses and other indications are ignored.
            _ => {}
        }
        true
    }

    fn error(&mut self, req: &Message<'_>, code: u16, reason: &str, key: Option<[u8; 16]>) {
        let mut b = Builder::response(req, Class::Error).error(code, reason);
        if matches!(code, 401 | 438) {
            let nonce = self.shared.auth.nonce(super::unix_now());
            b = b
                .attr(stun::REALM, REALM.as_bytes())
                .attr(stun::NONCE, nonce.as_bytes());
        }
        if let Some(k) = key {
            b = b.integrity(&k);
        }
        self.out.extend_from_slice(&b.finish());
    }

    /// Checks the long-term credentials of a request; on failure the error
    /// response is queued and `None` returned.
    fn authenticate(&mut self, msg: &Message<'_>) -> Option<(String, [u8; 16])> {
        let now = super::unix_now();
        let (Some(username), Some(_realm), Some(nonce)) = (
            msg.attr_str(stun::USERNAME),
            msg.attr_str(stun::REALM),
            msg.attr_str(stun::NONCE),
        ) else {
            self.error(msg, 401, "Unauthorized", None);
            return None;
        };
        if msg.attr(stun::MESSAGE_INTEGRITY).is_none() {
            self.error(msg, 401, "Unauthorized", None);
            return None;
        }
        match self.shared.auth.check_username(username, now) {
            Ok(()) => {}
            Err(CredentialError::Expired) => {
                self.error(msg, 401, "Credentials expired", None);
                return None;
            }
            Err(CredentialError::Malformed) => {
                self.error(msg, 401, "Unauthorized", None);
                return None;
            }
        }
        if !self.shared.auth.check_nonce(nonce, now) {
            self.error(msg, 438, "Stale Nonce", None);
            return None;
        }
        let key = self.shared.auth.key(username);
        if !msg.check_integrity(&key) {
            self.error(msg, 401, "Unauthorized", None);
            return None;
        }
        Some((username.to_string(), key))
    }

    async fn on_allocate(&mut self, msg: &Message<'_>) {
        let Some((username, key)) = self.authenticate(msg) else {
            return;
        };
        if self.alloc.is_some() {
            return self.error(msg, 437, "Allocation Mismatch", Some(key));
        }
        if msg.attr(stun::REQUESTED_TRANSPORT).and_then(|v| v.first()) != Some(&UDP) {
            return self.error(msg, 442, "Unsupported Transport Protocol", Some(key));
        }
        let Some(guard) = self.shared.reserve_allocation(&username, self.client.ip()) else {
            return self.error(msg, 486, "Allocation Quota Reached", Some(key));
        };
        // On the address the client reached us at, so Salon sees the relayed
        // address itself as the source (the browser then keeps a "relay" candidate).
        let unspecified = match self.local.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        };
        let socket = match UdpSocket::bind(SocketAddr::new(self.local.ip(), 0)).await {
            Ok(s) => s,
            Err(_) => match UdpSocket::bind(SocketAddr::new(unspecified, 0)).await {
                Ok(s) => s,
                Err(_) => return self.error(msg, 508, "Insufficient Capacity", Some(key)),
            },
        };
        let Ok(port) = socket.local_addr().map(|a| a.port()) else {
            return self.error(msg, 508, "Insufficient Capacity", Some(key));
        };
        let relayed = SocketAddr::new(self.local.ip(), port);
        let lifetime = lifetime(msg);
        self.alloc = Some(Allocation {
            socket: Arc::new(socket),
            expires: later(Instant::now(), Duration::from_secs(lifetime.into())),
            username,
            key,
            permissions: HashMap::new(),
            channels: HashMap::new(),
            by_peer: HashMap::new(),
            _guard: guard,
        });
        let r = Builder::response(msg, Class::Success)
            .xor_addr(stun::XOR_RELAYED_ADDRESS, relayed)
            .xor_addr(stun::XOR_MAPPED_ADDRESS, self.client)
            .u32(stun::LIFETIME, lifetime)
            .integrity(&key)
            .finish();
        self.out.extend_from_slice(&r);
    }

    /// Refresh, CreatePermission, ChannelBind: on this connection's allocation.
    fn on_request(&mut self, msg: &Message<'_>) {
        let Some((username, key)) = self.authenticate(msg) else {
            return;
        };
        let Some(alloc) = self.alloc.as_mut().filter(|a| a.username == username && a.key == key) else {
            return self.error(msg, 437, "Allocation Mismatch", Some(key));
        };
        let now = Instant::now();
        let allowed = &self.shared.allowed_peers;
        let ok = match msg.method {
            stun::REFRESH => {
                let l = lifetime(msg);
                if msg.attr_u32(stun::LIFETIME) == Some(0) {
                    self.alloc = None;
                    let r = Builder::response(msg, Class::Success)
                        .u32(stun::LIFETIME, 0)
                        .integrity(&key)
                        .finish();
                    self.out.extend_from_slice(&r);
                    return;
                }
                alloc.expires = later(now, Duration::from_secs(l.into()));
                Builder::response(msg, Class::Success).u32(stun::LIFETIME, l)
            }
            stun::CREATE_PERMISSION => {
                let peers = msg.xor_addrs(stun::XOR_PEER_ADDRESS);
                if peers.is_empty() {
                    return self.error(msg, 400, "Bad Request", Some(key));
                }
                // Salon relays to its own media sockets and nothing else.
                if !peers.iter().all(|p| allowed.contains(p)) {
                    return self.error(msg, 403, "Forbidden", Some(key));
                }
                if alloc.permissions.len().saturating_add(peers.len()) > MAX_PERMISSIONS {
                    return self.error(msg, 508, "Insufficient Capacity", Some(key));
                }
                for p in peers {
                    alloc.permissions.insert(p.ip(), later(now, PERMISSION_LIFETIME));
                }
                Builder::response(msg, Class::Success)
            }
            _ => {
                let (Some(channel), Some(peer)) = (
                    msg.attr(stun::CHANNEL_NUMBER)
                        .and_then(|v| v.first_chunk::<2>())
                        .map(|v| u16::from_be_bytes(*v)),
                    msg.xor_addr(stun::XOR_PEER_ADDRESS),
                ) else {
                    return self.error(msg, 400, "Bad Request", Some(key));
                };
                if !(0x4000..=0x4FFF).contains(&channel) {
                    return self.error(msg, 400, "Bad Request", Some(key));
                }
                if !allowed.contains(&peer) {
                    return self.error(msg, 403, "Forbidden", Some(key));
                }
                let taken_by_other = alloc.channels.get(&channel).is_some_and(|(p, _)| *p != peer)
                    || alloc.by_peer.get(&peer).is_some_and(|c| *c != channel);
                if taken_by_other || alloc.channels.len() >= MAX_PERMISSIONS {
                    return self.error(msg, 400, "Bad Request", Some(key));
                }
                alloc.channels.insert(channel, (peer, later(now, CHANNEL_LIFETIME)));
                alloc.by_peer.insert(peer, channel);
                alloc.permissions.insert(peer.ip(), later(now, PERMISSION_LIFETIME));
                Builder::response(msg, Class::Success)
            }
        };
        self.out.extend_from_slice(&ok.integrity(&key).finish());
    }

    /// A Send indication: relay its DATA to a permitted Salon address.
    fn on_send(&mut self, msg: &Message<'_>) {
        let (Some(peer), Some(data)) = (msg.xor_addr(stun::XOR_PEER_ADDRESS), msg.attr(stun::DATA_ATTR)) else {
            return;
        };
        let Some(alloc) = &self.alloc else { return };
        if self.shared.allowed_peers.contains(&peer) && permitted(alloc, peer.ip()) {
            let _ = alloc.socket.try_send_to(data, peer);
        }
    }

    fn on_channel_data(&mut self, frame: &[u8]) {
        let Some(alloc) = &self.alloc else { return };
        let Some((&[c0, c1, l0, l1], rest)) = frame.split_first_chunk::<4>() else {
            return;
        };
        let channel = u16::from_be_bytes([c0, c1]);
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let (Some((peer, until)), Some(data)) = (alloc.channels.get(&channel), rest.get(..len)) else {
            return;
        };
        if *until > Instant::now() && self.shared.allowed_peers.contains(peer) {
            let _ = alloc.socket.try_send_to(data, *peer);
        }
    }

    /// A datagram from a peer to the relayed address: to the client, as
    /// ChannelData if a channel is bound, else as a Data indication.
    fn on_peer_data(&mut self, from: SocketAddr, data: &[u8]) {
        let Some(alloc) = &self.alloc else { return };
        if !self.shared.allowed_peers.contains(&from) || !permitted(alloc, from.ip()) {
            return;
        }
        if let Some(channel) = alloc.by_peer.get(&from) {
            self.out.extend_from_slice(&channel.to_be_bytes());
            self.out.extend_from_slice(&(data.len() as u16).to_be_bytes());
            self.out.extend_from_slice(data);
            let pad = data.len().next_multiple_of(4).saturating_sub(data.len());
            self.out.extend(std::iter::repeat_n(0u8, pad));
        } else {
            let mut t = [0u8; 12];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut t);
            let m = Builder::new(stun::DATA, Class::Indication, t)
                .xor_addr(stun::XOR_PEER_ADDRESS, from)
                .attr(stun::DATA_ATTR, data)
                .finish_plain();
            self.out.extend_from_slice(&m);
        }
    }
}

fn permitted(alloc: &Allocation, ip: IpAddr) -> bool {
    alloc.permissions.get(&ip).is_some_and(|t| *t > Instant::now())
}

fn lifetime(msg: &Message<'_>) -> u32 {
    msg.attr_u32(stun::LIFETIME)
        .unwrap_or(DEFAULT_LIFETIME)
        .clamp(1, MAX_LIFETIME)
}
