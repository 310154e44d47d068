//! The embedded TURN relay and the ICE-TCP listener, over real sockets.
//!
//! The TURN client here is hand-built: each request is assembled attribute by
//! attribute (with `salon::turn::stun::Builder`, whose encoding is checked
//! against RFC values in its unit tests), sent over TCP or TLS, and the
//! response read back. What is proven: no allocation without valid, unexpired
//! credentials signed with the server's secret, and no relaying to anything
//! but Salon's own media addresses.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use salon::protocol::{ClientMsg, ServerMsg};
use salon::turn::stun::{self, Builder, Class, Message};
use salon::turn::{TurnAuth, REALM};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::helpers::*;

const SECRET: &str = "integration-secret";

async fn server() -> TestServer {
    spawn_server_with(|c| c.turn_secret = Some(SECRET.into())).await
}

fn turn_addr(s: &TestServer) -> SocketAddr {
    s.salon.as_ref().expect("running").turn_addr
}

/// A TURN client over any stream.
struct Client<S> {
    s: S,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    async fn request(&mut self, msg: Vec<u8>) -> Vec<u8> {
        self.s.write_all(&msg).await.expect("send");
        self.read_message().await.expect("a response")
    }

    /// Reads one STUN message, or None on timeout/close.
    async fn read_message(&mut self) -> Option<Vec<u8>> {
        let mut h = [0u8; 20];
        tokio::time::timeout(Duration::from_secs(5), self.s.read_exact(&mut h))
            .await
            .ok()?
            .ok()?;
        let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
        let mut body = vec![0u8; len];
        self.s.read_exact(&mut body).await.ok()?;
        let mut m = h.to_vec();
        m.extend(body);
        Some(m)
    }
}

fn tid(n: u8) -> [u8; 12] {
    [n; 12]
}

fn allocate_plain(n: u8) -> Vec<u8> {
    Builder::new(stun::ALLOCATE, Class::Request, tid(n))
        .attr(stun::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
        .finish()
}

fn error_code(m: &Message<'_>) -> Option<u16> {
    let v = m.attr(stun::ERROR_CODE)?;
    Some(u16::from(v[2]) * 100 + u16::from(v[3]))
}

/// Credentials as the server issues them, with any secret and expiry.
fn credentials(secret: &str, expiry: u64) -> (String, [u8; 16]) {
    let username = format!("{expiry}:test");
    let key = TurnAuth::new(Some(secret)).key(&username);
    (username, key)
}

/// Does the unauthenticated round trip and returns the nonce.
async fn nonce<S: AsyncRead + AsyncWrite + Unpin>(c: &mut Client<S>) -> String {
    let r = c.request(allocate_plain(1)).await;
    let m = Message::parse(&r).expect("a STUN response");
    assert_eq!(m.class, Class::Error);
    assert_eq!(error_code(&m), Some(401), "no credentials: 401");
    assert_eq!(m.attr_str(stun::REALM), Some(REALM));
    m.attr_str(stun::NONCE).expect("a nonce").to_string()
}

fn signed(method: u16, n: u8, user: &str, nonce: &str, key: &[u8; 16], f: impl FnOnce(Builder) -> Builder) -> Vec<u8> {
    let b = Builder::new(method, Class::Request, tid(n));
    f(b).attr(stun::USERNAME, user.as_bytes())
        .attr(stun::REALM, REALM.as_bytes())
        .attr(stun::NONCE, nonce.as_bytes())
        .integrity(key)
        .finish()
}

fn allocate_signed(n: u8, user: &str, nonce: &str, key: &[u8; 16]) -> Vec<u8> {
    signed(stun::ALLOCATE, n, user, nonce, key, |b| {
        b.attr(stun::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
    })
}

async fn tcp(s: &TestServer) -> Client<TcpStream> {
    Client {
        s: TcpStream::connect(turn_addr(s)).await.expect("TURN port accepts"),
    }
}

#[tokio::test]
async fn turn_refuses_missing_expired_and_forged_credentials() {
    let s = server().await;
    let now = salon::turn::unix_now();
    let mut c = tcp(&s).await;
    let nonce = nonce(&mut c).await;

    // Expired: signed with the right secret, but the expiry has passed.
    let (user, key) = credentials(SECRET, now - 10);
    let r = c.request(allocate_signed(2, &user, &nonce, &key)).await;
    let m = Message::parse(&r).expect("response");
    assert_eq!(
        (m.class, error_code(&m)),
        (Class::Error, Some(401)),
        "expired credentials"
    );

    // Forged: a password made with another secret (wrong HMAC).
    let (user, key) = credentials("not-the-secret", now + 600);
    let r = c.request(allocate_signed(3, &user, &nonce, &key)).await;
    let m = Message::parse(&r).expect("response");
    assert_eq!((m.class, error_code(&m)), (Class::Error, Some(401)), "wrong HMAC");

    // A forged nonce is stale (438), even with good credentials.
    let (user, key) = credentials(SECRET, now + 600);
    let r = c.request(allocate_signed(4, &user, "1-00", &key)).await;
    let m = Message::parse(&r).expect("response");
    assert_eq!(error_code(&m), Some(438), "forged nonce");

    // Refresh or permission without an allocation: nothing to act on.
    let peer = s.media()[0];
    let r = c
        .request(signed(stun::CREATE_PERMISSION, 5, &user, &nonce, &key, |b| {
            b.xor_addr(stun::XOR_PEER_ADDRESS, peer)
        }))
        .await;
    assert_eq!(error_code(&Message::parse(&r).expect("response")), Some(437));

    // The same request, correctly signed, is allocated.
    let r = c.request(allocate_signed(6, &user, &nonce, &key)).await;
    let m = Message::parse(&r).expect("response");
    assert_eq!(m.class, Class::Success, "valid credentials: allocated");
    assert!(m.check_integrity(&key), "the response is signed with the same key");
    assert!(m.xor_addr(stun::XOR_RELAYED_ADDRESS).is_some());
    // One allocation per connection (RFC 8656 on TCP).
    let r = c.request(allocate_signed(7, &user, &nonce, &key)).await;
    assert_eq!(error_code(&Message::parse(&r).expect("response")), Some(437));
}

#[tokio::test]
async fn turn_relays_only_to_salon_media_addresses() {
    let s = server().await;
    let now = salon::turn::unix_now();
    let mut c = tcp(&s).await;
    let nonce = nonce(&mut c).await;
    let (user, key) = credentials(SECRET, now + 600);
    let r = c.request(allocate_signed(2, &user, &nonce, &key)).await;
    assert_eq!(Message::parse(&r).expect("response").class, Class::Success);

    // A UDP socket of the test's own, on this machine: not Salon's.
    let outsider = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let outsider_addr = outsider.local_addr().expect("addr");
    let http_as_udp: SocketAddr = SocketAddr::new(s.http().ip(), s.http().port());
    for (n, target) in [
        (3u8, outsider_addr),
        (4, http_as_udp),
        (5, "192.0.2.1:40000".parse().expect("addr")),
    ] {
        let r = c
            .request(signed(stun::CREATE_PERMISSION, n, &user, &nonce, &key, |b| {
                b.xor_addr(stun::XOR_PEER_ADDRESS, target)
            }))
            .await;
        let m = Message::parse(&r).expect("response");
        assert_eq!(error_code(&m), Some(403), "CreatePermission to {target} is refused");
        let r = c
            .request(signed(stun::CHANNEL_BIND, n + 10, &user, &nonce, &key, |b| {
                b.attr(stun::CHANNEL_NUMBER, &[0x40, n, 0, 0])
                    .xor_addr(stun::XOR_PEER_ADDRESS, target)
            }))
            .await;
        assert_eq!(
            error_code(&Message::parse(&r).expect("response")),
            Some(403),
            "ChannelBind to {target}"
        );
    }
    // A permission listing Salon and an outsider together is refused whole.
    let media = s.media()[0];
    let r = c
        .request(signed(stun::CREATE_PERMISSION, 20, &user, &nonce, &key, |b| {
            b.xor_addr(stun::XOR_PEER_ADDRESS, media)
                .xor_addr(stun::XOR_PEER_ADDRESS, outsider_addr)
        }))
        .await;
    assert_eq!(error_code(&Message::parse(&r).expect("response")), Some(403));
    // Salon's own media addresses are allowed.
    for (i, media) in s.media().into_iter().enumerate() {
        let r = c
            .request(signed(
                stun::CREATE_PERMISSION,
                30 + i as u8,
                &user,
                &nonce,
                &key,
                |b| b.xor_addr(stun::XOR_PEER_ADDRESS, media),
            ))
            .await;
        let m = Message::parse(&r).expect("response");
        assert_eq!(m.class, Class::Success, "permission to Salon's media address {media}");
        let r = c
            .request(signed(stun::CHANNEL_BIND, 40 + i as u8, &user, &nonce, &key, |b| {
                b.attr(stun::CHANNEL_NUMBER, &[0x40, 0x10 + i as u8, 0, 0])
                    .xor_addr(stun::XOR_PEER_ADDRESS, media)
            }))
            .await;
        assert_eq!(
            Message::parse(&r).expect("response").class,
            Class::Success,
            "channel to {media}"
        );
    }
    // A Send indication to the outsider is dropped, never delivered.
    let send = Builder::new(stun::SEND, Class::Indication, tid(50))
        .xor_addr(stun::XOR_PEER_ADDRESS, outsider_addr)
        .attr(stun::DATA_ATTR, b"let me out")
        .finish();
    c.s.write_all(&send).await.expect("send");
    let mut buf = [0u8; 64];
    let got = tokio::time::timeout(Duration::from_millis(700), outsider.recv_from(&mut buf)).await;
    assert!(got.is_err(), "nothing reaches an address that is not Salon's");
    // And the connection still works afterwards (a refused send harms nobody).
    let r = c
        .request(signed(stun::REFRESH, 60, &user, &nonce, &key, |b| {
            b.u32(stun::LIFETIME, 300)
        }))
        .await;
    let m = Message::parse(&r).expect("response");
    assert_eq!(m.class, Class::Success);
    assert_eq!(m.attr_u32(stun::LIFETIME), Some(300));
}

#[tokio::test]
async fn turn_over_tls_uses_the_server_certificate() {
    use tokio_rustls::rustls::{self, pki_types::pem::PemObject, pki_types::CertificateDer, pki_types::ServerName};
    let s = server().await;
    let pem = s.dir.path().join("tls").join("self-signed-cert.pem");
    let cert = CertificateDer::from_pem_file(&pem).expect("the self-signed certificate in the data dir");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).expect("a valid certificate");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(s.salon.as_ref().expect("running").turn_tls_addr)
        .await
        .expect("connects");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("TLS handshake with Salon's certificate");
    let mut c = Client { s: tls };
    let nonce = nonce(&mut c).await;
    let (user, key) = credentials(SECRET, salon::turn::unix_now() + 600);
    let r = c.request(allocate_signed(2, &user, &nonce, &key)).await;
    assert_eq!(
        Message::parse(&r).expect("response").class,
        Class::Success,
        "allocated over TLS"
    );
}

#[tokio::test]
async fn hello_carries_turn_credentials_for_the_session() {
    let s = server().await;
    let mut sig = Signal::connect(&s).await;
    sig.send(&ClientMsg::Hello { version: 1 }).await;
    let ServerMsg::Hello { ice_servers, .. } = sig.recv().await else {
        panic!("expected hello");
    };
    assert_eq!(ice_servers.len(), 1);
    let ice = &ice_servers[0];
    let port = turn_addr(&s).port();
    let tls_port = s.salon.as_ref().expect("running").turn_tls_addr.port();
    assert!(
        ice.urls.contains(&format!("turn:127.0.0.1:{port}?transport=tcp")),
        "{:?}",
        ice.urls
    );
    assert!(
        ice.urls.contains(&format!("turns:127.0.0.1:{tls_port}?transport=tcp")),
        "{:?}",
        ice.urls
    );
    let auth = TurnAuth::new(Some(SECRET));
    assert_eq!(
        ice.credential,
        auth.password(&ice.username),
        "password = base64(HMAC-SHA1(secret, username))"
    );
    let expiry: u64 = ice
        .username
        .split(':')
        .next()
        .and_then(|e| e.parse().ok())
        .expect("expiry:tag");
    assert!(expiry > salon::turn::unix_now(), "not yet expired");
    // A second session gets other credentials.
    let mut other = Signal::connect(&s).await;
    other.send(&ClientMsg::Hello { version: 1 }).await;
    let ServerMsg::Hello {
        ice_servers: other_servers,
        ..
    } = other.recv().await
    else {
        panic!("expected hello");
    };
    assert_ne!(other_servers[0].username, ice.username);
}

#[tokio::test]
async fn ice_tcp_closes_connections_it_cannot_route() {
    let s = server().await;
    let addr = s.salon.as_ref().expect("running").media_tcp_addr;
    // Garbage, then a well-formed binding request for a ufrag nobody has.
    let mut garbage = TcpStream::connect(addr).await.expect("connects");
    garbage.write_all(&[0, 4, 1, 2, 3, 4]).await.expect("send");
    let mut unknown = TcpStream::connect(addr).await.expect("connects");
    let req = Builder::new(stun::BINDING, Class::Request, tid(1))
        .attr(stun::USERNAME, b"nobody:x")
        .finish();
    let mut framed = (req.len() as u16).to_be_bytes().to_vec();
    framed.extend(req);
    unknown.write_all(&framed).await.expect("send");
    for c in [&mut garbage, &mut unknown] {
        let mut b = [0u8; 8];
        let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut b))
            .await
            .expect("closed promptly");
        assert!(
            matches!(n, Ok(0) | Err(_)),
            "the connection is closed, nothing answered"
        );
    }
    // The server carries on: a participant still joins and gets media.
    let room = create_room(&s).await;
    let _a = TestClient::join(&s, &room, "Ana", true, true).await;
}
