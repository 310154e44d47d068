//! The same synthetic participant, speaking to Janus VideoRoom instead of
//! Salon, so both servers carry the same load in one benchmark run.
//!
//! Janus's API (WebSocket, subprotocol `janus-protocol`): a session with two
//! plugin handles per participant: a publisher (we offer, Janus answers) and
//! a multistream subscriber (Janus offers, we answer with `start`). Janus
//! never puts a loopback address in its candidates, so `bench/janus-room50`
//! runs it in a private network namespace on 127.0.0.2, and our sockets bind
//! that address too.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use salon_sfu::testkit::{Publish, TestPeer};
use serde_json::{json, Value};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::participant::{lock, Traffic};

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// A Janus connection with its session, during set-up (request/response).
struct Session {
    ws: Ws,
    id: u64,
    next_tx: u64,
}

impl Session {
    async fn open(server: SocketAddr) -> anyhow::Result<Session> {
        let mut req = format!("ws://{server}/").into_client_request()?;
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", "janus-protocol".parse()?);
        let (ws, _) = tokio_tungstenite::connect_async(req).await?;
        let mut s = Session { ws, id: 0, next_tx: 0 };
        s.id = s.request(json!({"janus": "create"})).await?["data"]["id"]
            .as_u64()
            .unwrap_or(0);
        Ok(s)
    }

    async fn send(&mut self, mut m: Value) -> anyhow::Result<String> {
        self.next_tx += 1;
        let tx = format!("t{}", self.next_tx);
        m["transaction"] = json!(tx);
        if self.id != 0 {
            m["session_id"] = json!(self.id);
        }
        self.ws.send(Message::Text(m.to_string().into())).await?;
        Ok(tx)
    }

    /// Sends and waits for the reply to this transaction (skipping acks).
    async fn request(&mut self, m: Value) -> anyhow::Result<Value> {
        let tx = self.send(m).await?;
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .map_err(|_| anyhow::anyhow!("Janus did not answer within 10 s"))?
                .ok_or_else(|| anyhow::anyhow!("Janus closed the connection"))??;
            let Message::Text(t) = frame else { continue };
            let v: Value = serde_json::from_str(&t)?;
            if v["transaction"] == json!(tx) && v["janus"] != "ack" {
                if v["janus"] == "error" || v["plugindata"]["data"]["error_code"].is_number() {
                    anyhow::bail!("Janus refused: {t}");
                }
                return Ok(v);
            }
        }
    }

    async fn attach(&mut self) -> anyhow::Result<u64> {
        let v = self
            .request(json!({"janus": "attach", "plugin": "janus.plugin.videoroom"}))
            .await?;
        Ok(v["data"]["id"].as_u64().unwrap_or(0))
    }

    async fn message(&mut self, handle: u64, body: Value, jsep: Option<Value>) -> anyhow::Result<Value> {
        let mut m = json!({"janus": "message", "handle_id": handle, "body": body});
        if let Some(j) = jsep {
            m["jsep"] = j;
        }
        self.request(m).await
    }
}

/// Creates a VideoRoom (room ids are numbers in Janus).
pub async fn create_room(server: SocketAddr, room: u64) -> anyhow::Result<()> {
    let mut s = Session::open(server).await?;
    let h = s.attach().await?;
    let body = json!({"request": "create", "room": room, "publishers": 300, "bitrate": 2_000_000,
                      "audiocodec": "opus", "videocodec": "vp8", "permanent": false});
    s.message(h, body, None).await?;
    Ok(())
}

pub struct JanusParticipant {
    /// The publisher's feed id in the room.
    pub feed: u64,
    pub peers: [Arc<Mutex<TestPeer>>; 2],
    cmd: mpsc::UnboundedSender<Option<Vec<u64>>>,
}

impl JanusParticipant {
    /// Joins `room` as a publisher and publishes; subscribe later.
    pub async fn join(
        server: SocketAddr,
        room: u64,
        name: &str,
        publish: Publish,
        bind: IpAddr,
        traffic: Arc<Traffic>,
    ) -> anyhow::Result<JanusParticipant> {
        let mut s = Session::open(server).await?;
        let pub_handle = s.attach().await?;
        let sub_handle = s.attach().await?;
        let joined = s
            .message(
                pub_handle,
                json!({"request": "join", "ptype": "publisher", "room": room, "display": name}),
                None,
            )
            .await?;
        let feed = joined["plugindata"]["data"]["id"].as_u64().unwrap_or(0);

        let pub_sock = UdpSocket::bind(SocketAddr::new(bind, 0)).await?;
        let sub_sock = UdpSocket::bind(SocketAddr::new(bind, 0)).await?;
        let now = Instant::now();
        let (mut publisher, offer) = TestPeer::with(now, pub_sock.local_addr()?, publish);
        // The layer Salon forwards to small tiles: the same packets for both servers.
        publisher.video_frame_bytes = salon_sfu::testkit::LAYER_FRAME_BYTES[0];
        let jsep = json!({"type": "offer", "sdp": offer, "trickle": false});
        let answer = s.message(pub_handle, json!({"request": "publish"}), Some(jsep)).await?;
        let sdp = answer["jsep"]["sdp"].as_str().unwrap_or_default();
        publisher.accept_answer(sdp).map_err(anyhow::Error::msg)?;
        let subscriber = TestPeer::receiver(now, sub_sock.local_addr()?);

        let peers = [Arc::new(Mutex::new(publisher)), Arc::new(Mutex::new(subscriber))];
        let (cmd, rx) = mpsc::unbounded_channel();
        let driver = Driver {
            session: s,
            sub_handle,
            room,
            socks: [pub_sock, sub_sock],
            peers: peers.clone(),
            traffic,
        };
        tokio::spawn(driver.run(rx));
        Ok(JanusParticipant { feed, peers, cmd })
    }

    /// Subscribes to these feeds (one multistream subscriber).
    pub fn subscribe(&self, feeds: Vec<u64>) {
        let _ = self.cmd.send(Some(feeds));
    }

    pub fn quit(&self) {
        let _ = self.cmd.send(None);
    }
}

struct Driver {
    session: Session,
    sub_handle: u64,
    room: u64,
    socks: [UdpSocket; 2],
    peers: [Arc<Mutex<TestPeer>>; 2],
    traffic: Arc<Traffic>,
}

impl Driver {
    async fn run(mut self, mut cmds: mpsc::UnboundedReceiver<Option<Vec<u64>>>) {
        let mut bufs = [vec![0u8; 2048], vec![0u8; 2048]];
        let mut next = Instant::now();
        let mut keepalive = tokio::time::interval(Duration::from_secs(20));
        let locals: Vec<SocketAddr> = self.socks.iter().filter_map(|s| s.local_addr().ok()).collect();
        if locals.len() != 2 {
            return;
        }
        loop {
            let [b0, b1] = &mut bufs;
            tokio::select! {
                frame = self.session.ws.next() => {
                    let Some(Ok(Message::Text(t))) = frame else { break };
                    let Ok(v) = serde_json::from_str::<Value>(&t) else { continue };
                    // Janus offers to our subscriber (attached, updated): answer with start.
                    if v["jsep"]["type"] == "offer" && v["sender"].as_u64() == Some(self.sub_handle) {
                        let sdp = v["jsep"]["sdp"].as_str().unwrap_or_default();
                        let answer = lock(&self.peers[1]).accept_offer(sdp);
                        match answer {
                            Ok(a) => {
                                let m = json!({"janus": "message", "handle_id": self.sub_handle, "body": {"request": "start"},
                                               "jsep": {"type": "answer", "sdp": a}});
                                if self.session.send(m).await.is_err() { break; }
                            }
                            Err(e) => eprintln!("could not answer Janus: {e}"),
                        }
                    }
                }
                r = self.socks[0].recv_from(b0) => if let Ok((n, src)) = r { self.receive(0, src, locals[0], &b0[..n]) },
                r = self.socks[1].recv_from(b1) => if let Ok((n, src)) = r { self.receive(1, src, locals[1], &b1[..n]) },
                cmd = cmds.recv() => match cmd {
                    Some(Some(feeds)) => {
                        let streams: Vec<Value> = feeds.iter().map(|f| json!({"feed": f})).collect();
                        let body = json!({"request": "join", "ptype": "subscriber", "room": self.room, "streams": streams});
                        let m = json!({"janus": "message", "handle_id": self.sub_handle, "body": body});
                        if self.session.send(m).await.is_err() { break; }
                    }
                    _ => break,
                },
                _ = keepalive.tick() => {
                    if self.session.send(json!({"janus": "keepalive"})).await.is_err() { break; }
                }
                _ = tokio::time::sleep_until(next.into()) => {}
            }
            next = Instant::now() + Duration::from_secs(1);
            for i in 0..2 {
                let (tx, n, lat) = {
                    let mut p = lock(&self.peers[i]);
                    let (tx, n) = p.poll(Instant::now());
                    (tx, n, std::mem::take(&mut p.latencies_us))
                };
                next = next.min(n);
                if self.traffic.recording.load(Ordering::Relaxed) {
                    self.traffic.tx_datagrams.fetch_add(tx.len() as u64, Ordering::Relaxed);
                    if !lat.is_empty() {
                        lock(&self.traffic.latencies_us).extend(lat);
                    }
                }
                for t in tx {
                    let _ = self.socks[i].send_to(&t.contents, t.destination).await;
                }
            }
        }
    }

    fn receive(&self, i: usize, src: SocketAddr, local: SocketAddr, data: &[u8]) {
        lock(&self.peers[i]).handle_receive(Instant::now(), src, local, data);
        if self.traffic.recording.load(Ordering::Relaxed) {
            self.traffic.rx_datagrams.fetch_add(1, Ordering::Relaxed);
        }
    }
}
