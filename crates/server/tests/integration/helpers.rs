//! Test helpers: a server on port 0 with a temporary data dir, a tiny HTTP
//! client, `eventually`, and `TestClient`: a headless participant speaking
//! the real signaling protocol over a real WebSocket, with a str0m peer
//! (`salon_sfu::testkit`) on a real UDP socket, so DTLS and SRTP are real.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use salon::protocol::{ClientMsg, ServerMsg};
use salon::{Config, Salon};
use salon_load::participant::{lock, Participant, Traffic};
use salon_sfu::testkit::Publish;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

pub struct TestServer {
    pub salon: Option<Salon>,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub fn http(&self) -> SocketAddr {
        self.salon.as_ref().expect("running").http_addr
    }
    /// The UDP address of every media loop.
    pub fn media(&self) -> Vec<SocketAddr> {
        self.salon.as_ref().expect("running").media_addrs.clone()
    }
    pub async fn stop(&mut self) {
        if let Some(s) = self.salon.take() {
            s.stop().await;
        }
    }
    /// Restarts on the same data directory.
    pub async fn restart(&mut self) {
        self.stop().await;
        let config = Config::for_tests(self.dir.path().to_path_buf());
        self.salon = Some(salon::start(config).await.expect("server restarts"));
    }
}

pub async fn spawn_server() -> TestServer {
    spawn_server_with(|_| {}).await
}

pub async fn spawn_server_with(f: impl FnOnce(&mut Config)) -> TestServer {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::for_tests(dir.path().to_path_buf());
    f(&mut config);
    let salon = salon::start(config).await.expect("server starts");
    TestServer {
        salon: Some(salon),
        dir,
    }
}

/// One HTTP request to the server; returns (status, body).
pub async fn http(addr: SocketAddr, method: &str, path: &str, body: &str, extra: &str) -> (u16, String) {
    salon_load::http::request(addr, method, path, body, extra)
        .await
        .expect("http request")
}

pub async fn create_room(server: &TestServer) -> String {
    let (status, body) = http(server.http(), "POST", "/api/rooms", r#"{"name":"Test"}"#, "").await;
    assert_eq!(status, 201, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    v["id"].as_str().expect("id").to_string()
}

/// A TCP connection to the server from a chosen loopback address (all of
/// 127.0.0.0/8 is this machine), so tests can play several clients' addresses.
pub async fn connect_from(server: SocketAddr, from: std::net::IpAddr) -> TcpStream {
    let sock = tokio::net::TcpSocket::new_v4().expect("socket");
    sock.bind(SocketAddr::new(from, 0)).expect("bind a loopback address");
    sock.connect(server).await.expect("connect")
}

/// A fresh device token, as the `salon_device` cookie would carry.
pub fn device() -> String {
    salon::store::new_room_id()
}

/// The header line presenting a device token.
pub fn cookie(device: &str) -> String {
    format!("Cookie: salon_device={device}\r\n")
}

/// Creates a room from the browser `device` (which becomes its host) with a
/// JSON body; returns the room id.
pub async fn create_room_as(server: &TestServer, device: &str, body: &str) -> String {
    let (status, body) = http(server.http(), "POST", "/api/rooms", body, &cookie(device)).await;
    assert_eq!(status, 201, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    v["id"].as_str().expect("id").to_string()
}

/// Polls `f` every 50 ms until true; panics with `what` after `secs`.
pub async fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out after {secs} s waiting for: {what}");
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// A raw signaling connection, for protocol tests.
pub struct Signal {
    pub ws: Ws,
}

impl Signal {
    /// A signaling connection from the browser holding `device`, after hello.
    pub async fn hello_as(server: &TestServer, device: &str) -> Signal {
        let ws = salon_load::participant::connect_as(server.http(), Some(device))
            .await
            .expect("websocket connects");
        Signal { ws }
    }

    pub async fn connect(server: &TestServer) -> Signal {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", server.http()))
            .await
            .expect("websocket connects");
        Signal { ws }
    }

    pub async fn hello(server: &TestServer) -> Signal {
        let mut s = Signal::connect(server).await;
        s.send(&ClientMsg::Hello { version: 1 }).await;
        assert!(matches!(s.recv().await, ServerMsg::Hello { version: 1, .. }));
        s
    }

    pub async fn send(&mut self, msg: &ClientMsg) {
        self.send_text(&serde_json::to_string(msg).expect("serializes")).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.to_string().into()))
            .await
            .expect("ws send");
    }

    /// Next protocol message (skipping pings), within 10 s.
    pub async fn recv(&mut self) -> ServerMsg {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("a message within 10 s")
                .expect("socket open")
                .expect("frame");
            if let Message::Text(t) = frame {
                return serde_json::from_str(&t).expect("valid server message");
            }
        }
    }
}

/// A participant in a room: the load tool's synthetic participant (signaling
/// plus a str0m peer on its own UDP socket), joined to a test server.
pub struct TestClient(Participant);

impl std::ops::Deref for TestClient {
    type Target = Participant;
    fn deref(&self) -> &Participant {
        &self.0
    }
}

impl TestClient {
    pub async fn join(server: &TestServer, room: &str, name: &str, audio: bool, video: bool) -> TestClient {
        TestClient::join_with(
            server,
            room,
            name,
            Publish {
                audio,
                video,
                ..Publish::av()
            },
        )
        .await
    }

    pub async fn join_with(server: &TestServer, room: &str, name: &str, publish: Publish) -> TestClient {
        let traffic = Arc::new(Traffic::default());
        TestClient(
            Participant::join(server.http(), room, name, publish, traffic)
                .await
                .expect("participant joins"),
        )
    }

    /// Joins as the browser holding device token `device` (see `device.rs`),
    /// optionally with a roster invite; waits in the waiting room if needed.
    pub async fn join_as(
        server: &TestServer,
        room: &str,
        name: &str,
        device: &str,
        invite: Option<&str>,
    ) -> TestClient {
        TestClient::try_join_as(server, room, name, device, invite)
            .await
            .expect("participant joins")
    }

    pub async fn try_join_as(
        server: &TestServer,
        room: &str,
        name: &str,
        device: &str,
        invite: Option<&str>,
    ) -> anyhow::Result<TestClient> {
        let opts = salon_load::participant::JoinAs {
            device: Some(device.to_string()),
            invite: invite.map(str::to_string),
            ..Default::default()
        };
        let traffic = Arc::new(Traffic::default());
        let p = Participant::join_as(server.http(), room, name, Publish::av(), traffic, opts).await?;
        Ok(TestClient(p))
    }

    /// How many messages matching `f` this client received.
    pub fn count(&self, f: impl Fn(&ServerMsg) -> bool) -> usize {
        lock(&self.seen).iter().filter(|m| f(m)).count()
    }

    /// The last message of a kind this client received, for assertions.
    pub fn last<T>(&self, f: impl Fn(&ServerMsg) -> Option<T>) -> Option<T> {
        lock(&self.seen).iter().rev().find_map(f)
    }
}
