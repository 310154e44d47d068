//! The media loops: each one UDP socket and one task driving a sans-IO core.
//!
//! There is one loop per CPU core (`--media-loops`), each on its own port
//! (`--media-port` + i). A room lives wholly in one loop, chosen round-robin
//! by its core id, so loops share nothing and scale with cores.
//!
//! ```text
//!  signaling sessions ──MediaCommand──►┐
//!  UDP socket (recvmmsg/GRO) ─────────►├─ Sfu (salon-sfu) ─► UDP send
//!  timer (Sfu::poll_timeout) ─────────►┘                 └─► PeerEvent to the session
//! ```
//!
//! Why one task owning the core: no locks on the hot path, and every input is
//! applied in order. Signaling reaches it only through [`MediaHandle`].
//! quinn-udp gives batched receive, GRO, and each datagram's destination IP,
//! which str0m needs to match a packet to the host candidate it was sent to.
//!
//! Besides UDP, every peer is offered a passive ICE-TCP candidate on one TCP
//! port shared by all loops ([`tcp`]): each connection is routed to the loop
//! that owns its peer by the ICE ufrag of its first binding request.

// The media loop handles every datagram and TCP frame from the network: no
// unwrap, no unchecked index and no overflowing arithmetic here, in
// `media/` below included (tests excepted).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

mod send;
pub mod tcp;

use std::collections::{HashMap, HashSet};
use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use quinn_udp::{RecvMeta, UdpSocketState};
use salon_sfu::{Output, PeerEvent, PeerId, RoomId, Sfu, SfuConfig, SfuError};
use str0m::net::Protocol;
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use self::tcp::{TcpEvent, UfragRoutes};

/// A request from signaling to the media loop.
pub enum MediaCommand {
    Join {
        room: RoomId,
        peer: PeerId,
        label: String,
        offer: String,
        events: mpsc::UnboundedSender<(PeerId, PeerEvent)>,
        reply: oneshot::Sender<Result<String, SfuError>>,
    },
    Answer {
        peer: PeerId,
        sdp: String,
        reply: oneshot::Sender<Result<(), SfuError>>,
    },
    Leave {
        peer: PeerId,
    },
    View {
        peer: PeerId,
        tiles: Vec<(String, u32)>,
    },
    /// `seq` orders mute decisions made under the rooms lock: an older one
    /// arriving late (from another session's task) is ignored.
    MuteAudio {
        peer: PeerId,
        muted: bool,
        seq: u64,
    },
    /// Send the peer's unanswered offer again (its connection was replaced).
    ResendOffer {
        peer: PeerId,
    },
    /// Test hook: panics inside the loop, to exercise its supervision.
    #[doc(hidden)]
    Crash,
}

/// One media loop, as signaling sees it.
#[derive(Clone)]
pub struct LoopHandle {
    tx: mpsc::Sender<MediaCommand>,
    pub local_addr: SocketAddr,
    pub candidates: Vec<SocketAddr>,
}

/// How signaling talks to the media loops. Cheap to clone.
#[derive(Clone)]
pub struct MediaHandle {
    pub loops: Vec<LoopHandle>,
    /// The ICE-TCP listener's address (one port for every loop).
    pub tcp_addr: SocketAddr,
    /// ICE-TCP passive candidates announced to every peer.
    pub tcp_candidates: Vec<SocketAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("the media loop has stopped")]
    Stopped,
    #[error(transparent)]
    Sfu(#[from] SfuError),
}

impl MediaHandle {
    /// Whether every media loop still takes commands (readiness).
    pub fn running(&self) -> bool {
        self.loops.iter().all(|l| !l.tx.is_closed())
    }

    /// The loop that owns `room`.
    fn owner(&self, room: RoomId) -> &LoopHandle {
        let count = u64::try_from(self.loops.len()).unwrap_or(1);
        let i = room
            .0
            .checked_rem(count)
            .and_then(|i| usize::try_from(i).ok())
            .unwrap_or(0);
        // In bounds: `spawn` starts at least one loop, and `i < len`.
        #[allow(clippy::indexing_slicing)]
        let owner = &self.loops[i];
        owner
    }

    async fn send(&self, room: RoomId, cmd: MediaCommand) -> Result<(), MediaError> {
        self.owner(room).tx.send(cmd).await.map_err(|_| MediaError::Stopped)
    }

    pub async fn join(
        &self,
        room: RoomId,
        peer: PeerId,
        label: String,
        offer: String,
        events: mpsc::UnboundedSender<(PeerId, PeerEvent)>,
    ) -> Result<String, MediaError> {
        let (reply, rx) = oneshot::channel();
        self.send(
            room,
            MediaCommand::Join {
                room,
                peer,
                label,
                offer,
                events,
                reply,
            },
        )
        .await?;
        Ok(rx.await.map_err(|_| MediaError::Stopped)??)
    }

    pub async fn answer(&self, room: RoomId, peer: PeerId, sdp: String) -> Result<(), MediaError> {
        let (reply, rx) = oneshot::channel();
        self.send(room, MediaCommand::Answer { peer, sdp, reply }).await?;
        Ok(rx.await.map_err(|_| MediaError::Stopped)??)
    }

    /// Reports which tiles a participant sees (drives layers and pausing).
    pub async fn view(&self, room: RoomId, peer: PeerId, tiles: Vec<(String, u32)>) {
        let _ = self.send(room, MediaCommand::View { peer, tiles }).await;
    }

    /// Stops or resumes forwarding a participant's audio (an enforced mute),
    /// unless a newer decision (`seq`) for that peer was applied already.
    pub async fn mute_audio(&self, room: RoomId, peer: PeerId, muted: bool, seq: u64) {
        let _ = self.send(room, MediaCommand::MuteAudio { peer, muted, seq }).await;
    }

    /// Re-sends the peer's pending offer, if one waits for an answer.
    pub async fn resend_offer(&self, room: RoomId, peer: PeerId) {
        let _ = self.send(room, MediaCommand::ResendOffer { peer }).await;
    }

    /// Test hook: makes every loop panic (each restarts).
    #[doc(hidden)]
    pub async fn crash_all_for_tests(&self) {
        for l in &self.loops {
            let _ = l.tx.send(MediaCommand::Crash).await;
        }
    }

    pub async fn leave(&self, room: RoomId, peer: PeerId) {
        let _ = self.send(room, MediaCommand::Leave { peer }).await;
    }

    /// Every loop's UDP address.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.loops.iter().map(|l| l.local_addr).collect()
    }

    /// Every candidate announced, over all loops.
    pub fn candidates(&self) -> Vec<SocketAddr> {
        self.loops.iter().flat_map(|l| l.candidates.iter().copied()).collect()
    }
}

/// Settings of the media loops (from `Config`).
#[derive(Debug, Clone)]
pub struct MediaOptions {
    pub public_ip: Option<IpAddr>,
    /// First UDP port; loop i uses port + i (0: each picks a free port).
    pub port: u16,
    pub loops: usize,
    /// TCP port for ICE-TCP (0 picks a free one).
    pub tcp_port: u16,
    pub bwe: bool,
    pub coalesce_ms: u64,
    /// Per-publisher cap in kb/s; 0: none.
    pub max_publish_kbps: u64,
}

/// Starts the media loops.
pub async fn spawn(opts: &MediaOptions) -> anyhow::Result<MediaHandle> {
    let tcp_listener = tokio::net::TcpListener::bind(SocketAddr::new(bind_ip(opts.public_ip), opts.tcp_port))
        .await
        .map_err(|e| anyhow::anyhow!("binding the media TCP port {}: {e}", opts.tcp_port))?;
    let tcp_addr = tcp_listener.local_addr()?;
    let tcp_candidates = candidates(opts.public_ip, tcp_addr.port());
    let routes = UfragRoutes::default();
    let mut loops = Vec::new();
    let mut tcp_senders = Vec::new();
    for i in 0..opts.loops.max(1) {
        let port = if opts.port == 0 {
            0
        } else {
            opts.port
                .checked_add(i as u16)
                .ok_or_else(|| anyhow::anyhow!("media port out of range"))?
        };
        let (tcp_tx, tcp_rx) = mpsc::channel(4096);
        tcp_senders.push(tcp_tx);
        let wiring = LoopWiring {
            index: i,
            tcp_candidates: tcp_candidates.clone(),
            routes: routes.clone(),
            tcp_rx,
        };
        loops.push(spawn_loop(opts, port, wiring).await?);
    }
    tcp::spawn(tcp_listener, tcp_candidates.clone(), routes, tcp_senders);
    Ok(MediaHandle {
        loops,
        tcp_addr,
        tcp_candidates,
    })
}

/// Loopback-only candidates bind loopback only; otherwise every interface.
fn bind_ip(public_ip: Option<IpAddr>) -> IpAddr {
    if public_ip.is_some_and(|ip| ip.is_loopback()) {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    }
}

/// What ties one loop to the shared ICE-TCP listener.
struct LoopWiring {
    index: usize,
    tcp_candidates: Vec<SocketAddr>,
    routes: UfragRoutes,
    tcp_rx: mpsc::Receiver<TcpEvent>,
}

/// The ICE host candidates to announce for a media socket on `port`.
/// With `public_ip`, just that; otherwise every IPv4 address of the machine,
/// loopback included, so both `localhost` and LAN browsers can connect.
pub fn candidates(public_ip: Option<IpAddr>, port: u16) -> Vec<SocketAddr> {
    if let Some(ip) = public_ip {
        return vec![SocketAddr::new(ip, port)];
    }
    let mut ips: Vec<IpAddr> = if_addrs::get_if_addrs()
        .map(|ifs| ifs.into_iter().map(|i| i.ip()).filter(IpAddr::is_ipv4).collect())
        .unwrap_or_default();
    if !ips.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)) {
        ips.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    ips.sort();
    ips.dedup();
    ips.into_iter().map(|ip| SocketAddr::new(ip, port)).collect()
}

/// Binds one media socket and starts its loop. Loopback-only candidates bind
/// loopback only; otherwise the socket listens on every interface.
async fn spawn_loop(opts: &MediaOptions, port: u16, wiring: LoopWiring) -> anyhow::Result<LoopHandle> {
    let (public_ip, bwe, coalesce_ms) = (opts.public_ip, opts.bwe, opts.coalesce_ms);
    let std_socket = std::net::UdpSocket::bind(SocketAddr::new(bind_ip(public_ip), port))?;
    std_socket.set_nonblocking(true)?;
    let state = UdpSocketState::new((&std_socket).into())?;
    let socket = UdpSocket::from_std(std_socket)?;
    let local_addr = socket.local_addr()?;
    let candidates = candidates(public_ip, local_addr.port());
    let (tx, rx) = mpsc::channel(256);
    let mut config = SfuConfig::new(candidates.clone());
    config.tcp_candidates = wiring.tcp_candidates.clone();
    config.bwe_initial = bwe.then_some(2_500_000);
    config.poll_coalesce = Duration::from_millis(coalesce_ms);
    config.max_publish_bitrate = (opts.max_publish_kbps > 0).then(|| opts.max_publish_kbps.saturating_mul(1000));
    let lp = MediaLoop::new(socket, state, config, wiring.index, wiring.routes);
    tokio::spawn(lp.supervise(rx, wiring.tcp_rx));
    Ok(LoopHandle {
        tx,
        local_addr,
        candidates,
    })
}

/// Why the media loop woke up.
enum Wake {
    Command(Option<MediaCommand>),
    Readable(bool),
    Tcp(TcpEvent),
    Timer,
}

/// A media loop's figures for `/metrics` (see `telemetry.rs`), exported at
/// most once a second so the hot path pays one clock read per wake-up.
struct LoopStats {
    label: String,
    /// Time spent working since the last export.
    busy: Duration,
    /// Counters of cores replaced after a panic, so totals never go back.
    base: salon_sfu::Counters,
    last_counters: salon_sfu::Counters,
    exported: Instant,
    /// From a wake-up with received datagrams to the end of the send that
    /// forwarded them, once per datagram sent (see `telemetry.rs`).
    added: metrics::Histogram,
}

impl LoopStats {
    fn new(index: usize) -> Self {
        crate::telemetry::handle();
        let label = index.to_string();
        LoopStats {
            added: metrics::histogram!(crate::telemetry::ADDED_LATENCY, "loop" => label.clone()),
            label,
            busy: Duration::ZERO,
            base: salon_sfu::Counters::default(),
            last_counters: salon_sfu::Counters::default(),
            exported: Instant::now(),
        }
    }

    /// `sent` datagrams went out `took` after the wake-up that received
    /// what they forward: each one's added latency is at most that.
    fn forwarded(&self, took: Duration, sent: u64) {
        if sent > 0 {
            self.added
                .record_many(took.as_secs_f64(), usize::try_from(sent).unwrap_or(usize::MAX));
        }
    }

    /// Called after each wake-up's work, which began at `woke`.
    fn worked(&mut self, woke: Instant, sfu: &Sfu, send: send::SendStats, tcp_drops: u64) {
        let now = Instant::now();
        self.busy = self.busy.saturating_add(now.saturating_duration_since(woke));
        if now.saturating_duration_since(self.exported) < Duration::from_secs(1) {
            return;
        }
        self.exported = now;
        let c = sfu.counters();
        // A restarted core counts from zero again: fold the old totals in.
        if c.packets_forwarded < self.last_counters.packets_forwarded || c.polls < self.last_counters.polls {
            self.base = self.base.plus(self.last_counters);
        }
        self.last_counters = c;
        let t = self.base.plus(c);
        let l = || [("loop", self.label.clone())];
        metrics::gauge!("salon_media_peers", &l()).set(sfu.peer_count() as f64);
        metrics::counter!("salon_media_packets_forwarded_total", &l()).absolute(t.packets_forwarded);
        metrics::counter!("salon_media_frames_forwarded_total", &l()).absolute(t.frames_forwarded);
        metrics::counter!("salon_media_keyframe_requests_total", &l()).absolute(t.keyframe_requests);
        metrics::counter!("salon_media_packets_over_cap_total", &l()).absolute(t.packets_over_cap);
        metrics::counter!("salon_media_datagrams_unrouted_total", &l()).absolute(t.datagrams_unrouted);
        metrics::counter!("salon_media_polls_total", &l()).absolute(t.polls);
        metrics::counter!("salon_media_poll_outputs_total", &l()).absolute(t.poll_outputs);
        metrics::counter!("salon_media_offers_total", &l()).absolute(t.offers);
        metrics::counter!("salon_media_offer_bytes_total", &l()).absolute(t.offer_bytes);
        metrics::counter!("salon_media_joins_total", &l()).absolute(t.joins);
        metrics::counter!("salon_media_udp_sends_total", &l()).absolute(send.sends);
        metrics::counter!("salon_media_udp_datagrams_total", &l()).absolute(send.datagrams);
        metrics::counter!("salon_media_send_drops_total", &l()).absolute(send.drops.saturating_add(tcp_drops));
        let micros = u64::try_from(std::mem::take(&mut self.busy).as_micros()).unwrap_or(u64::MAX);
        metrics::counter!("salon_media_busy_microseconds_total", &l()).increment(micros);
    }
}

struct MediaLoop {
    socket: UdpSocket,
    state: UdpSocketState,
    sfu: Sfu,
    /// To build a fresh core after a panic.
    config: SfuConfig,
    candidates: Vec<SocketAddr>,
    /// IPs we may send from explicitly (addresses of this machine).
    local_ips: HashSet<IpAddr>,
    events: HashMap<PeerId, mpsc::UnboundedSender<(PeerId, PeerEvent)>>,
    /// UDP output of a pass, sent in runs (GSO); its totals.
    sender: send::Sender,
    /// Datagrams lost on ICE-TCP (a full connection queue).
    tcp_drops: u64,
    /// The newest mute decision applied per peer (see `MediaCommand::MuteAudio`).
    mute_seq: HashMap<PeerId, u64>,
    /// This loop's index, as `routes` knows it.
    index: usize,
    /// Shared with the ICE-TCP listener: our peers' ufrags point here.
    routes: UfragRoutes,
    /// Our peers' ufrags, to take them out of `routes` when they go.
    ufrags: HashMap<PeerId, String>,
    /// ICE-TCP connections routed to this loop, by remote address.
    tcp_conns: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
}

/// The candidate a datagram was addressed to. Behind NAT (`--public-ip`)
/// the local address differs from the announced one: use the announced.
/// `candidates` is never empty (there is always at least loopback).
fn destination(candidates: &[SocketAddr], dst_ip: Option<IpAddr>) -> SocketAddr {
    let first = candidates
        .first()
        .copied()
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)));
    dst_ip
        .map(|ip| SocketAddr::new(ip, first.port()))
        .filter(|a| candidates.contains(a))
        .unwrap_or(first)
}

/// Most receive batches (of up to 32 datagrams) read in one wake-up.
const MAX_BATCHES_PER_WAKE: usize = 8;

/// Most ICE-TCP events handled in one wake-up before the loop looks at its
/// other inputs again.
const MAX_EVENTS_PER_WAKE: usize = 256;

/// Receive buffers: one per datagram in a batch, sized for GRO super-buffers.
const RECV_BUF: usize = 64 * 1024;

impl MediaLoop {
    fn new(socket: UdpSocket, state: UdpSocketState, config: SfuConfig, index: usize, routes: UfragRoutes) -> Self {
        let local_ips = if_addrs::get_if_addrs()
            .map(|ifs| ifs.into_iter().map(|i| i.ip()).collect())
            .unwrap_or_default();
        MediaLoop {
            socket,
            state,
            candidates: config.candidates.clone(),
            sfu: Sfu::new(config.clone()),
            config,
            local_ips,
            events: HashMap::new(),
            sender: send::Sender::default(),
            tcp_drops: 0,
            mute_seq: HashMap::new(),
            index,
            routes,
            ufrags: HashMap::new(),
            tcp_conns: HashMap::new(),
        }
    }

    /// Runs the loop; a panic inside it (a broken invariant: wire input
    /// never panics) is logged and the loop starts again with a fresh core,
    /// keeping its sockets and channels. Every peer it held is gone: its
    /// session gets [`PeerEvent::Restarted`] and the client reconnects.
    /// Rooms of the other loops never notice.
    async fn supervise(mut self, mut commands: mpsc::Receiver<MediaCommand>, mut tcp: mpsc::Receiver<TcpEvent>) {
        use futures_util::FutureExt;
        loop {
            let run = std::panic::AssertUnwindSafe(self.run(&mut commands, &mut tcp));
            match run.catch_unwind().await {
                Ok(()) => break,
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    tracing::error!(lp = self.index, "media loop panicked, restarting: {what}");
                    self.restart();
                }
            }
        }
        tracing::debug!("media loop stopped");
    }

    /// A fresh core after a panic: every session of this loop is told.
    fn restart(&mut self) {
        metrics::counter!("salon_media_loop_restarts_total", "loop" => self.index.to_string()).increment(1);
        self.sfu = Sfu::new(self.config.clone());
        for (peer, tx) in self.events.drain() {
            let _ = tx.send((peer, PeerEvent::Restarted));
        }
        for u in self.ufrags.drain().map(|(_, u)| u) {
            self.routes.remove(&u);
        }
        // Dropping the writers ends those connections' writer tasks.
        self.tcp_conns.clear();
    }

    async fn run(&mut self, commands: &mut mpsc::Receiver<MediaCommand>, tcp: &mut mpsc::Receiver<TcpEvent>) {
        let batch = quinn_udp::BATCH_SIZE.min(32);
        let mut bufs: Vec<Vec<u8>> = (0..batch).map(|_| vec![0u8; RECV_BUF]).collect();
        let mut metas = vec![RecvMeta::default(); batch];
        let mut stats = LoopStats::new(self.index);
        loop {
            let deadline = self.sfu.poll_timeout().unwrap_or_else(|| {
                let now = Instant::now();
                now.checked_add(Duration::from_secs(1)).unwrap_or(now)
            });
            // What woke the loop, handled after the wait so the work is timed.
            let wake = tokio::select! {
                cmd = commands.recv() => Wake::Command(cmd),
                ready = self.socket.readable() => Wake::Readable(ready.is_ok()),
                Some(ev) = tcp.recv() => Wake::Tcp(ev),
                _ = tokio::time::sleep_until(deadline.into()) => Wake::Timer,
            };
            let woke = Instant::now();
            match wake {
                Wake::Command(Some(cmd)) => self.on_command(cmd),
                Wake::Command(None) => break,
                Wake::Readable(true) => self.receive_all(woke, &mut bufs, &mut metas, &stats),
                Wake::Readable(false) => {}
                Wake::Tcp(ev) => self.on_tcp(ev, tcp),
                Wake::Timer => self.sfu.handle_timeout(woke),
            }
            self.flush();
            stats.worked(woke, &self.sfu, self.sender.stats, self.tcp_drops);
        }
    }

    fn on_command(&mut self, cmd: MediaCommand) {
        let now = Instant::now();
        match cmd {
            MediaCommand::Join {
                room,
                peer,
                label,
                offer,
                events,
                reply,
            } => {
                let res = self.sfu.add_peer(now, room, peer, &label, &offer);
                if res.is_ok() {
                    self.events.insert(peer, events);
                    if let Some(u) = self.sfu.local_ufrag(peer) {
                        self.routes.insert(u.to_string(), self.index);
                        self.ufrags.insert(peer, u.to_string());
                    }
                }
                let _ = reply.send(res);
            }
            MediaCommand::Answer { peer, sdp, reply } => {
                let _ = reply.send(self.sfu.accept_answer(now, peer, &sdp));
            }
            MediaCommand::View { peer, tiles } => {
                let _ = self.sfu.set_view(now, peer, &tiles);
            }
            MediaCommand::MuteAudio { peer, muted, seq } => {
                let last = self.mute_seq.entry(peer).or_insert(0);
                if seq > *last {
                    *last = seq;
                    let _ = self.sfu.set_audio_muted(peer, muted);
                }
            }
            MediaCommand::ResendOffer { peer } => self.sfu.resend_offer(now, peer),
            MediaCommand::Crash => panic!("crash requested by a test"),
            MediaCommand::Leave { peer } => {
                let _ = self.sfu.remove_peer(now, peer);
                self.forget(peer);
                self.mute_seq.remove(&peer);
            }
        }
    }

    /// Drops what the loop kept for a peer that is gone from the core.
    fn forget(&mut self, peer: PeerId) {
        self.events.remove(&peer);
        if let Some(u) = self.ufrags.remove(&peer) {
            self.routes.remove(&u);
        }
    }

    /// An ICE-TCP event, then any others already queued (at most a batch,
    /// so commands and timers are not starved).
    fn on_tcp(&mut self, first: TcpEvent, queue: &mut mpsc::Receiver<TcpEvent>) {
        let mut next = Some(first);
        let mut n = 0usize;
        while let Some(ev) = next.take() {
            match ev {
                TcpEvent::Open { remote, writer } => {
                    self.tcp_conns.insert(remote, writer);
                }
                TcpEvent::Frame {
                    source,
                    destination,
                    data,
                } => {
                    self.sfu.handle_receive_tcp(Instant::now(), source, destination, &data);
                    self.flush();
                }
                TcpEvent::Closed { remote } => {
                    self.tcp_conns.remove(&remote);
                }
            }
            n = n.saturating_add(1);
            if n < MAX_EVENTS_PER_WAKE {
                next = queue.try_recv().ok();
            }
        }
    }

    /// Reads what waits on the socket, at most `MAX_BATCHES_PER_WAKE`
    /// batches: readiness stays set, so the loop comes back at once, but
    /// commands and timers get their turn in between (a flood cannot keep
    /// a join or a timer waiting).
    fn receive_all(&mut self, woke: Instant, bufs: &mut [Vec<u8>], metas: &mut [RecvMeta], stats: &LoopStats) {
        for _ in 0..MAX_BATCHES_PER_WAKE {
            let mut slices: Vec<IoSliceMut> = bufs.iter_mut().map(|b| IoSliceMut::new(b)).collect();
            let res = self.socket.try_io(Interest::READABLE, || {
                self.state.recv((&self.socket).into(), &mut slices, metas)
            });
            let n = match res {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    tracing::warn!("media socket receive failed: {e}");
                    return;
                }
            };
            let now = Instant::now();
            let candidates = &self.candidates;
            // With GRO one buffer carries several datagrams, `stride` apart.
            let datagrams = metas.iter().zip(bufs.iter()).take(n).flat_map(|(meta, buf)| {
                let destination = destination(candidates, meta.dst_ip);
                buf.get(..meta.len)
                    .unwrap_or_default()
                    .chunks(meta.stride.max(1))
                    .map(move |d| (meta.addr, destination, d))
            });
            self.sfu.handle_receive_batch(now, datagrams);
            let before = self.sender.stats.datagrams;
            self.flush();
            // From the wake-up: datagrams of a later batch waited in the
            // socket while earlier ones were handled.
            stats.forwarded(woke.elapsed(), self.sender.stats.datagrams.saturating_sub(before));
        }
    }

    /// Sends what the core produced and delivers its events.
    fn flush(&mut self) {
        while let Some(out) = self.sfu.poll_output() {
            match out {
                Output::Transmit(t) if t.proto == Protocol::Tcp => {
                    // A full queue loses this packet only, as UDP would.
                    let sent = self
                        .tcp_conns
                        .get(&t.destination)
                        .is_some_and(|w| w.try_send(t.contents.to_vec()).is_ok());
                    if !sent {
                        self.tcp_drops = self.tcp_drops.saturating_add(1);
                    }
                }
                Output::Transmit(t) => self.sender.push(t),
                Output::Event(peer, event) => {
                    let closed = matches!(event, PeerEvent::Closed(_));
                    if let Some(tx) = self.events.get(&peer) {
                        // Tagged: a session must ignore events of a peer it already left.
                        let _ = tx.send((peer, event));
                    }
                    if closed {
                        self.forget(peer);
                    }
                }
            }
        }
        self.sender.send_all(&self.socket, &self.state, &self.local_ips);
    }
}
