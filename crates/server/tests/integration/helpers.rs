//! Test helpers: a server on port 0 with a temporary data dir, a tiny HTTP
//! client, `eventually`, and `TestClient`: a headless participant speaking
//! the real signaling protocol over a real WebSocket, with a str0m peer
//! (`salon_sfu::testkit`) on a real UDP socket, so DTLS and SRTP are real.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use salon::protocol::{ClientMsg, ServerMsg};
use salon::{Config, Salon};
use salon_sfu::testkit::{Publish, Received, TestPeer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

pub struct TestServer {
    pub salon: Option<Salon>,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub fn http(&self) -> SocketAddr {
        self.salon.as_ref().expect("running").http_addr
    }
    pub fn media(&self) -> SocketAddr {
        self.salon.as_ref().expect("running").media_addr
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

/// A minimal HTTP/1.1 request; returns (status, body).
pub async fn http(addr: SocketAddr, method: &str, path: &str, body: &str, extra: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("read");
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

pub async fn create_room(server: &TestServer) -> String {
    let (status, body) = http(server.http(), "POST", "/api/rooms", r#"{"name":"Test"}"#, "").await;
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

/// What a running client saw.
#[derive(Default)]
pub struct Seen {
    pub messages: Vec<ServerMsg>,
    pub closed: bool,
}

/// A participant in a room: signaling plus a str0m peer on a UDP socket.
pub struct TestClient {
    pub id: String,
    peer: Arc<Mutex<TestPeer>>,
    pub seen: Arc<Mutex<Seen>>,
    cmd: mpsc::UnboundedSender<Option<ClientMsg>>,
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
        let mut sig = Signal::hello(server).await;
        let udp = UdpSocket::bind("127.0.0.1:0").await.expect("udp bind");
        let local = udp.local_addr().expect("local addr");
        let (peer, offer) = TestPeer::with(Instant::now(), local, publish);
        let peer = Arc::new(Mutex::new(peer));
        sig.send(&ClientMsg::Join {
            room: room.into(),
            name: name.into(),
            offer,
        })
        .await;
        let (id, answer) = match sig.recv().await {
            ServerMsg::Joined { you, answer, .. } => (you.id, answer),
            other => panic!("expected joined, got {other:?}"),
        };
        peer.lock().unwrap().accept_answer(&answer).expect("answer accepted");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (cmd, rx) = mpsc::unbounded_channel();
        tokio::spawn(drive(sig.ws, udp, peer.clone(), seen.clone(), rx));
        TestClient { id, peer, seen, cmd }
    }

    pub fn received_from(&self, other: &TestClient) -> Received {
        self.peer
            .lock()
            .unwrap()
            .received()
            .get(&other.id)
            .copied()
            .unwrap_or_default()
    }

    pub fn open_labels(&self) -> Vec<String> {
        self.peer.lock().unwrap().open_labels()
    }

    pub fn saw(&self, f: impl Fn(&ServerMsg) -> bool) -> bool {
        self.seen.lock().unwrap().messages.iter().any(f)
    }

    pub fn send(&self, msg: ClientMsg) {
        let _ = self.cmd.send(Some(msg));
    }

    /// Drops the WebSocket and the UDP socket without saying goodbye.
    pub fn vanish(&self) {
        let _ = self.cmd.send(None);
    }
}

/// The client's event loop: signaling in, UDP in, timers, UDP out.
async fn drive(
    ws: Ws,
    udp: UdpSocket,
    peer: Arc<Mutex<TestPeer>>,
    seen: Arc<Mutex<Seen>>,
    mut cmds: mpsc::UnboundedReceiver<Option<ClientMsg>>,
) {
    let (mut sink, mut stream) = ws.split();
    let local = udp.local_addr().expect("local addr");
    let mut buf = vec![0u8; 2048];
    let mut next = Instant::now();
    let mut ping = tokio::time::interval(Duration::from_secs(3));
    loop {
        let mut outgoing = Vec::new();
        tokio::select! {
            frame = stream.next() => {
                let Some(Ok(frame)) = frame else { break };
                let Message::Text(t) = frame else { continue };
                let Ok(msg) = serde_json::from_str::<ServerMsg>(&t) else { continue };
                match &msg {
                    ServerMsg::Offer { sdp } => {
                        match peer.lock().unwrap().accept_offer(sdp) {
                            Ok(answer) => outgoing.push(ClientMsg::Answer { sdp: answer }),
                            Err(e) => eprintln!("test client could not accept an offer: {e}"),
                        }
                    }
                    ServerMsg::Layers { active, .. } => peer.lock().unwrap().set_active_layers(active),
                    _ => {}
                }
                seen.lock().unwrap().messages.push(msg);
            }
            r = udp.recv_from(&mut buf) => {
                if let Ok((n, src)) = r {
                    peer.lock().unwrap().handle_receive(Instant::now(), src, local, &buf[..n]);
                }
            }
            cmd = cmds.recv() => match cmd {
                Some(Some(m)) => outgoing.push(m),
                _ => break,
            },
            _ = ping.tick() => outgoing.push(ClientMsg::Ping {}),
            _ = tokio::time::sleep_until(next.into()) => {}
        }
        for m in outgoing {
            let text = serde_json::to_string(&m).expect("serializes");
            if sink.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
        let (tx, n) = peer.lock().unwrap().poll(Instant::now());
        next = n;
        for t in tx {
            let _ = udp.send_to(&t.contents, t.destination).await;
        }
    }
    seen.lock().unwrap().closed = true;
}
