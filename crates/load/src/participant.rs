//! One synthetic participant: signaling over a WebSocket, media over its own
//! UDP socket, driven by one task.
//!
//! The task owns the WebSocket and the socket; the str0m peer sits behind a
//! mutex so tests can read what it received. Counters that a benchmark sums
//! over hundreds of participants live in one shared [`Traffic`].

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use salon_protocol::{ClientMsg, ServerMsg, PROTOCOL_VERSION};
use salon_sfu::testkit::{Publish, Received, TestPeer};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// A signaling connection (plain, or TLS with tokio-tungstenite's rustls feature).
pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// Traffic counted across participants (shared by a whole benchmark run).
#[derive(Default)]
pub struct Traffic {
    /// Count only while true (after warm-up).
    pub recording: AtomicBool,
    /// Datagrams received from the server (its egress).
    pub rx_datagrams: AtomicU64,
    /// Datagrams sent to the server (its ingress).
    pub tx_datagrams: AtomicU64,
    /// One-way frame latencies, µs.
    pub latencies_us: Mutex<Vec<u32>>,
}

/// Messages kept per participant for tests to inspect (older ones dropped).
const MAX_SEEN: usize = 10_000;

pub struct Participant {
    pub id: String,
    pub peer: Arc<Mutex<TestPeer>>,
    pub seen: Arc<Mutex<Vec<ServerMsg>>>,
    pub closed: Arc<AtomicBool>,
    /// Inbound bandwidth cap in bits/s (0: none): datagrams over it are
    /// dropped, like a bottleneck link, to test congestion handling.
    pub inbound_limit: Arc<AtomicU64>,
    /// Who else is in the room, as this participant's messages say (joins,
    /// leaves, updates, and the snapshots of `resync` and `resumed`).
    pub roster: Arc<Mutex<std::collections::HashMap<String, salon_protocol::Participant>>>,
    /// The resume token from `joined`.
    pub resume_token: String,
    server: SocketAddr,
    device: Option<String>,
    cmd: mpsc::UnboundedSender<Ctl>,
}

/// What a test asks of the participant's task.
enum Ctl {
    Send(ClientMsg),
    /// Drop the WebSocket and the UDP socket without a word.
    Vanish,
    /// Stop reading signaling for a while (a slow client); media goes on.
    PauseReading(Duration),
    /// Drop only the WebSocket, and `resume` on a new one (media goes on).
    Reconnect,
}

/// Opens a signaling connection and completes the handshake.
pub async fn connect(server: SocketAddr) -> anyhow::Result<Ws> {
    connect_as(server, None).await
}

/// Like [`connect`], presenting a device token (the `salon_device` cookie a
/// browser would send), which is how the server recognises a room's host.
pub async fn connect_as(server: SocketAddr, device: Option<&str>) -> anyhow::Result<Ws> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{server}/ws").into_client_request()?;
    if let Some(d) = device {
        req.headers_mut().insert("cookie", format!("salon_device={d}").parse()?);
    }
    let (ws, _) = tokio_tungstenite::connect_async(req).await?;
    hello(ws).await
}

/// Completes the handshake on a fresh signaling connection.
pub async fn hello(mut ws: Ws) -> anyhow::Result<Ws> {
    let hello = serde_json::to_string(&ClientMsg::Hello {
        version: PROTOCOL_VERSION,
    })?;
    ws.send(Message::Text(hello.into())).await?;
    match next_msg(&mut ws).await? {
        ServerMsg::Hello { .. } => Ok(ws),
        other => anyhow::bail!("expected hello, got {other:?}"),
    }
}

/// The next protocol message, within 10 s.
pub async fn next_msg(ws: &mut Ws) -> anyhow::Result<ServerMsg> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .map_err(|_| anyhow::anyhow!("no message within 10 s"))?
            .ok_or_else(|| anyhow::anyhow!("socket closed"))??;
        if let Message::Text(t) = frame {
            return Ok(serde_json::from_str(&t)?);
        }
    }
}

impl Participant {
    /// Joins `room` and starts the participant's task.
    pub async fn join(
        server: SocketAddr,
        room: &str,
        name: &str,
        publish: Publish,
        traffic: Arc<Traffic>,
    ) -> anyhow::Result<Participant> {
        Participant::join_as(server, room, name, publish, traffic, JoinAs::default()).await
    }

    /// Joins as a given device, with an invite; waits in the waiting room
    /// (up to `JoinAs::wait`) when the room has one.
    pub async fn join_as(
        server: SocketAddr,
        room: &str,
        name: &str,
        publish: Publish,
        traffic: Arc<Traffic>,
        opts: JoinAs,
    ) -> anyhow::Result<Participant> {
        let ws = connect_as(server, opts.device.as_deref()).await?;
        Participant::join_on(ws, server, room, name, publish, traffic, opts).await
    }

    /// Joins over a signaling connection already open and past `hello`
    /// (e.g. over TLS); the connection's own cookies count for who it is,
    /// and `server` (plain `ws://`) is where a resume reconnects.
    pub async fn join_on(
        mut ws: Ws,
        server: SocketAddr,
        room: &str,
        name: &str,
        publish: Publish,
        traffic: Arc<Traffic>,
        opts: JoinAs,
    ) -> anyhow::Result<Participant> {
        let udp = UdpSocket::bind("127.0.0.1:0").await?;
        let local = udp.local_addr()?;
        let (peer, offer) = TestPeer::with(Instant::now(), local, publish);
        let join = ClientMsg::Join {
            room: room.into(),
            name: name.into(),
            offer,
            invite: opts.invite.clone(),
        };
        let join = serde_json::to_string(&join)?;
        ws.send(Message::Text(join.clone().into())).await?;
        let deadline = Instant::now() + opts.wait;
        let (id, answer, resume_token, others) = loop {
            match next_msg(&mut ws).await? {
                ServerMsg::Joined {
                    you,
                    answer,
                    resume,
                    participants,
                    ..
                } => break (you.id, answer, resume, participants),
                ServerMsg::Waiting { .. } => loop {
                    anyhow::ensure!(Instant::now() < deadline, "not admitted in time");
                    match next_msg(&mut ws).await {
                        Ok(ServerMsg::Admitted {}) => {
                            ws.send(Message::Text(join.clone().into())).await?;
                            break;
                        }
                        Ok(ServerMsg::Denied {}) => anyhow::bail!("denied"),
                        Ok(ServerMsg::Error { code, message }) => anyhow::bail!("{code:?}: {message}"),
                        Ok(_) => {}
                        // A quiet stretch in the waiting room is normal.
                        Err(e) if e.to_string().starts_with("no message within") => {}
                        Err(e) => return Err(e),
                    }
                },
                other => anyhow::bail!("expected joined, got {other:?}"),
            }
        };
        let peer = Arc::new(Mutex::new(peer));
        lock(&peer).accept_answer(&answer).map_err(anyhow::Error::msg)?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(AtomicBool::new(false));
        let (cmd, rx) = mpsc::unbounded_channel();
        let inbound_limit = Arc::new(AtomicU64::new(0));
        let roster = Arc::new(Mutex::new(others.into_iter().map(|p| (p.id.clone(), p)).collect()));
        let limiter = Policer {
            limit: inbound_limit.clone(),
            tokens: 0.0,
            at: Instant::now(),
        };
        let driver = Driver {
            udp,
            peer: peer.clone(),
            seen: seen.clone(),
            traffic,
            limiter: Mutex::new(limiter),
            roster: roster.clone(),
            server,
            device: opts.device.clone(),
            token: resume_token.clone(),
            me: id.clone(),
        };
        let flag = closed.clone();
        tokio::spawn(async move {
            driver.run(ws, rx).await;
            flag.store(true, Ordering::Relaxed);
        });
        Ok(Participant {
            id,
            peer,
            seen,
            closed,
            inbound_limit,
            roster,
            resume_token,
            server,
            device: opts.device,
            cmd,
        })
    }

    pub fn received_from(&self, other: &Participant) -> Received {
        lock(&self.peer).received().get(&other.id).copied().unwrap_or_default()
    }

    pub fn open_labels(&self) -> Vec<String> {
        lock(&self.peer).open_labels()
    }

    pub fn saw(&self, f: impl Fn(&ServerMsg) -> bool) -> bool {
        lock(&self.seen).iter().any(f)
    }

    pub fn send(&self, msg: ClientMsg) {
        let _ = self.cmd.send(Ctl::Send(msg));
    }

    /// Drops the WebSocket and the UDP socket without saying goodbye.
    pub fn vanish(&self) {
        let _ = self.cmd.send(Ctl::Vanish);
    }

    /// Stops reading signaling for `d` (media goes on), like a client that
    /// fell behind.
    pub fn pause_reading(&self, d: Duration) {
        let _ = self.cmd.send(Ctl::PauseReading(d));
    }

    /// Drops the WebSocket only and resumes on a new one with the token.
    pub fn reconnect_signaling(&self) {
        let _ = self.cmd.send(Ctl::Reconnect);
    }

    /// The server and device this participant joined with.
    pub fn server(&self) -> (SocketAddr, Option<&str>) {
        (self.server, self.device.as_deref())
    }
}

/// How to join: as which device, with which invite, and how long to wait
/// in a waiting room.
#[derive(Debug, Clone)]
pub struct JoinAs {
    pub device: Option<String>,
    pub invite: Option<String>,
    pub wait: Duration,
}

impl Default for JoinAs {
    fn default() -> Self {
        JoinAs {
            device: None,
            invite: None,
            wait: Duration::from_secs(30),
        }
    }
}

/// Locks a mutex shared with the participant's task; a panic there is a bug
/// in this tool, and the data stays readable.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Driver {
    udp: UdpSocket,
    peer: Arc<Mutex<TestPeer>>,
    seen: Arc<Mutex<Vec<ServerMsg>>>,
    traffic: Arc<Traffic>,
    limiter: Mutex<Policer>,
    roster: Arc<Mutex<std::collections::HashMap<String, salon_protocol::Participant>>>,
    server: SocketAddr,
    device: Option<String>,
    token: String,
    me: String,
}

/// A token bucket on received bytes (burst: 50 ms at the limit, at least one
/// full packet). Over the limit, datagrams are dropped.
struct Policer {
    limit: Arc<AtomicU64>,
    tokens: f64,
    at: Instant,
}

impl Policer {
    fn admit(&mut self, now: Instant, bytes: usize) -> bool {
        let bps = self.limit.load(Ordering::Relaxed);
        if bps == 0 {
            return true;
        }
        let rate = bps as f64 / 8.0;
        let burst = (rate * 0.05).max(1500.0);
        self.tokens = (self.tokens + now.saturating_duration_since(self.at).as_secs_f64() * rate).min(burst);
        self.at = now;
        if self.tokens >= bytes as f64 {
            self.tokens -= bytes as f64;
            true
        } else {
            false
        }
    }
}

impl Driver {
    /// Signaling in, UDP in, timers; then UDP out.
    async fn run(self, ws: Ws, mut cmds: mpsc::UnboundedReceiver<Ctl>) {
        let (mut sink, mut stream) = ws.split();
        let Ok(local) = self.udp.local_addr() else { return };
        let mut buf = vec![0u8; 2048];
        let mut next = Instant::now();
        let mut ping = tokio::time::interval(Duration::from_secs(3));
        let mut paused_until: Option<Instant> = None;
        loop {
            let mut outgoing = Vec::new();
            let reading = paused_until.is_none_or(|t| Instant::now() >= t);
            if reading {
                paused_until = None;
            }
            let wake = paused_until.unwrap_or(next).min(next);
            tokio::select! {
                frame = stream.next(), if reading => {
                    let Some(Ok(frame)) = frame else { break };
                    let Message::Text(t) = frame else { continue };
                    let Ok(msg) = serde_json::from_str::<ServerMsg>(&t) else { continue };
                    match &msg {
                        ServerMsg::Offer { sdp } => match lock(&self.peer).accept_offer(sdp) {
                            Ok(answer) => outgoing.push(ClientMsg::Answer { sdp: answer }),
                            Err(e) => eprintln!("participant could not accept an offer: {e}"),
                        },
                        ServerMsg::Layers { active, .. } => lock(&self.peer).set_active_layers(active),
                        _ => {}
                    }
                    self.follow_roster(&msg);
                    let mut seen = lock(&self.seen);
                    if seen.len() >= MAX_SEEN {
                        seen.drain(..MAX_SEEN / 2);
                    }
                    seen.push(msg);
                }
                r = self.udp.recv_from(&mut buf) => {
                    if let Ok((n, src)) = r {
                        let now = Instant::now();
                        let mut peer = lock(&self.peer);
                        let mut limiter = lock(&self.limiter);
                        if limiter.admit(now, n) {
                            peer.handle_receive(now, src, local, &buf[..n]);
                        }
                        // Drain what is ready without going back to the scheduler.
                        while let Ok((n, src)) = self.udp.try_recv_from(&mut buf) {
                            if limiter.admit(now, n) {
                                peer.handle_receive(now, src, local, &buf[..n]);
                            }
                            self.count_rx(1);
                        }
                        self.count_rx(1);
                    }
                }
                cmd = cmds.recv() => match cmd {
                    Some(Ctl::Send(m)) => outgoing.push(m),
                    Some(Ctl::PauseReading(d)) => paused_until = Some(Instant::now() + d),
                    Some(Ctl::Reconnect) => {
                        drop((sink, stream));
                        let Ok(mut ws) = connect_as(self.server, self.device.as_deref()).await else { return };
                        let resume = ClientMsg::Resume { token: self.token.clone() };
                        let Ok(text) = serde_json::to_string(&resume) else { return };
                        if ws.send(Message::Text(text.into())).await.is_err() {
                            return;
                        }
                        (sink, stream) = ws.split();
                    }
                    Some(Ctl::Vanish) | None => break,
                },
                _ = ping.tick() => outgoing.push(ClientMsg::Ping {}),
                _ = tokio::time::sleep_until(wake.into()) => {}
            }
            for m in outgoing {
                let Ok(text) = serde_json::to_string(&m) else { continue };
                if sink.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            let (tx, n, latencies) = {
                let mut peer = lock(&self.peer);
                let (tx, n) = peer.poll(Instant::now());
                (tx, n, std::mem::take(&mut peer.latencies_us))
            };
            next = n;
            if self.traffic.recording.load(Ordering::Relaxed) {
                self.traffic.tx_datagrams.fetch_add(tx.len() as u64, Ordering::Relaxed);
                if !latencies.is_empty() {
                    lock(&self.traffic.latencies_us).extend(latencies);
                }
            }
            for t in tx {
                let _ = self.udp.send_to(&t.contents, t.destination).await;
            }
        }
    }

    /// Keeps `roster` as the server's messages describe the room.
    fn follow_roster(&self, msg: &ServerMsg) {
        let mut r = lock(&self.roster);
        match msg {
            ServerMsg::ParticipantJoined { participant } | ServerMsg::ParticipantUpdated { participant }
                if participant.id != self.me =>
            {
                r.insert(participant.id.clone(), participant.clone());
            }
            ServerMsg::ParticipantLeft { id } => {
                r.remove(id);
            }
            ServerMsg::Resync { participants, .. } | ServerMsg::Resumed { participants, .. } => {
                *r = participants.iter().map(|p| (p.id.clone(), p.clone())).collect();
            }
            _ => {}
        }
    }

    fn count_rx(&self, n: u64) {
        if self.traffic.recording.load(Ordering::Relaxed) {
            self.traffic.rx_datagrams.fetch_add(n, Ordering::Relaxed);
        }
    }
}
