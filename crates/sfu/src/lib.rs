//! # salon-sfu: the sans-IO media core of Salon
//!
//! This crate decides where media goes; it never touches a socket, a clock,
//! a thread or a database. The server's media loop (`salon::media`) feeds it
//! datagrams and the current time, and carries out what it asks for:
//!
//! ```text
//!   UDP datagram ──► Sfu::handle_receive(now, src, dst, bytes)
//!   timer fired  ──► Sfu::handle_timeout(now)
//!   signaling    ──► Sfu::add_peer / accept_answer / remove_peer
//!                    Sfu::poll_output() ──► Transmit (send this datagram)
//!                                       └─► Event   (tell this peer's browser)
//!                    Sfu::poll_timeout() ──► when to call handle_timeout next
//! ```
//!
//! Why sans-IO: with time as an input, tests run many peers over an in-memory
//! network with a fake clock (see `tests/` and [`testkit`]), and the same core
//! can later be driven by one media loop per CPU core, each owning whole rooms.
//!
//! Each peer is one str0m [`Rtc`] in ICE-lite mode. All peers share the one UDP
//! port; incoming datagrams are routed by remote address once learned, and by
//! ICE credentials (`Rtc::accepts`) otherwise. Media is forwarded frame by
//! frame (str0m's sample API): str0m terminates NACK/RTX on each leg, so a lost
//! packet is repaired between the publisher and the SFU and again between the
//! SFU and each subscriber, independently.

mod peer;
#[cfg(test)]
mod sim_tests;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
mod track;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::change::SdpOffer;
use str0m::media::{Direction, KeyframeRequestKind, MediaData, MediaKind, Mid};
use str0m::net::{Protocol, Receive, Transmit};
use str0m::{Candidate, Event, IceConnectionState, Input, Rtc};

use crate::peer::Peer;
use crate::track::{KeyframeThrottle, TrackIn, TrackOut};

pub use crate::track::TrackOutState;
pub use str0m::media::MediaKind as Kind;

/// Identifies a peer (one participant's connection) inside the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u64);

/// Identifies a room inside the core: media flows only between peers of one room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomId(pub u64);

/// Largest SDP accepted from a browser. A browser offer with audio and video is ~5 KiB.
pub const MAX_SDP_BYTES: usize = 64 * 1024;
/// Most m-lines a browser may publish (camera, microphone, and later a screen with its audio).
pub const MAX_PUBLISHED_MEDIA: usize = 4;

#[derive(Debug, Clone)]
pub struct SfuConfig {
    /// Host candidates announced to every peer: the media socket's address(es).
    pub candidates: Vec<SocketAddr>,
    /// Shortest interval between two keyframe requests to one published track.
    pub keyframe_interval: Duration,
}

impl SfuConfig {
    pub fn new(candidates: Vec<SocketAddr>) -> Self {
        SfuConfig {
            candidates,
            keyframe_interval: Duration::from_millis(500),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SfuError {
    UnknownPeer,
    DuplicatePeer,
    BadSdp(String),
    TooManyMedia,
    NoPendingOffer,
    Negotiation(String),
    NoCandidates,
}

impl std::fmt::Display for SfuError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SfuError::UnknownPeer => write!(f, "unknown peer"),
            SfuError::DuplicatePeer => write!(f, "peer already exists"),
            SfuError::BadSdp(e) => write!(f, "invalid SDP: {e}"),
            SfuError::TooManyMedia => {
                write!(f, "too many media sections (at most {MAX_PUBLISHED_MEDIA})")
            }
            SfuError::NoPendingOffer => write!(f, "no offer is waiting for an answer"),
            SfuError::Negotiation(e) => write!(f, "negotiation failed: {e}"),
            SfuError::NoCandidates => write!(f, "no media address configured"),
        }
    }
}

impl std::error::Error for SfuError {}

/// What a peer's browser must be told, via signaling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEvent {
    /// An SDP offer adding or removing tracks; answer with [`Sfu::accept_answer`].
    Offer(String),
    /// ICE and DTLS are up: media flows.
    Connected,
    /// The media connection ended (ICE timeout, DTLS failure or closed by the
    /// remote). The peer has been removed from the core.
    Closed(String),
}

/// Something for the I/O shell to carry out.
#[derive(Debug)]
pub enum Output {
    Transmit(Transmit),
    Event(PeerId, PeerEvent),
}

/// What a peer is being sent of another peer: for tests and diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub origin: PeerId,
    pub kind: MediaKind,
    pub state: TrackOutState,
}

/// Counters that only grow, for metrics and benchmarks.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counters {
    pub frames_forwarded: u64,
    pub datagrams_unrouted: u64,
    pub keyframe_requests: u64,
}

/// The media core: peers grouped in rooms, forwarding between them.
pub struct Sfu {
    config: SfuConfig,
    peers: HashMap<PeerId, Peer>,
    rooms: HashMap<RoomId, Vec<PeerId>>,
    /// Remote address -> peer, learned from datagrams a peer accepted.
    by_addr: HashMap<SocketAddr, PeerId>,
    outputs: VecDeque<Output>,
    /// Peers that received input or writes and must be polled.
    dirty: Vec<PeerId>,
    counters: Counters,
}

/// Work one peer's events create for other peers, applied after its poll.
enum Propagate {
    TrackAdded(PeerId, Mid, MediaKind),
    Media(PeerId, MediaData),
    Keyframe(PeerId, Mid, KeyframeRequestKind),
    Close(PeerId, String),
}

impl Sfu {
    pub fn new(config: SfuConfig) -> Self {
        // Idempotent: the first call in the process wins.
        str0m::crypto::from_feature_flags().install_process_default();
        Sfu {
            config,
            peers: HashMap::new(),
            rooms: HashMap::new(),
            by_addr: HashMap::new(),
            outputs: VecDeque::new(),
            dirty: Vec::new(),
            counters: Counters::default(),
        }
    }

    /// Adds a peer from its browser's first SDP offer (its own tracks) and
    /// returns the SDP answer. The peer is then offered every track already
    /// published in the room.
    pub fn add_peer(
        &mut self,
        now: Instant,
        room: RoomId,
        id: PeerId,
        label: &str,
        offer_sdp: &str,
    ) -> Result<String, SfuError> {
        if self.peers.contains_key(&id) {
            return Err(SfuError::DuplicatePeer);
        }
        if self.config.candidates.is_empty() {
            return Err(SfuError::NoCandidates);
        }
        if offer_sdp.len() > MAX_SDP_BYTES {
            return Err(SfuError::BadSdp(format!(
                "larger than {MAX_SDP_BYTES} bytes"
            )));
        }
        if offer_sdp.lines().filter(|l| l.starts_with("m=")).count() > MAX_PUBLISHED_MEDIA {
            return Err(SfuError::TooManyMedia);
        }
        let offer =
            SdpOffer::from_sdp_string(offer_sdp).map_err(|e| SfuError::BadSdp(e.to_string()))?;

        let mut rtc = Rtc::builder()
            .set_ice_lite(true)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .build(now);
        for addr in &self.config.candidates {
            let c =
                Candidate::host(*addr, "udp").map_err(|e| SfuError::Negotiation(e.to_string()))?;
            rtc.add_local_candidate(c);
        }
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| SfuError::BadSdp(e.to_string()))?;

        let mut peer = Peer::new(id, room, label.to_string(), rtc);
        let members = self.rooms.entry(room).or_default();
        for other in members.iter().filter_map(|o| self.peers.get(o)) {
            for t in &other.tracks_in {
                peer.tracks_out
                    .push(TrackOut::new(other.id, &other.label, t.mid, t.kind));
            }
        }
        members.push(id);
        self.peers.insert(id, peer);
        self.mark_dirty(id);
        self.drive(now);
        Ok(answer.to_sdp_string())
    }

    /// Applies a browser's answer to the offer sent in [`PeerEvent::Offer`].
    /// An invalid answer leaves the peer unusable: it is removed and a
    /// [`PeerEvent::Closed`] is emitted.
    pub fn accept_answer(&mut self, now: Instant, id: PeerId, sdp: &str) -> Result<(), SfuError> {
        let peer = self.peers.get_mut(&id).ok_or(SfuError::UnknownPeer)?;
        if sdp.len() > MAX_SDP_BYTES {
            return Err(SfuError::BadSdp(format!(
                "larger than {MAX_SDP_BYTES} bytes"
            )));
        }
        match peer.accept_answer(sdp) {
            Ok(opened) => {
                for (origin, mid) in opened {
                    self.request_keyframe(now, origin, mid, KeyframeRequestKind::Pli);
                }
                self.mark_dirty(id);
                self.drive(now);
                Ok(())
            }
            Err(SfuError::NoPendingOffer) => Err(SfuError::NoPendingOffer),
            Err(e) => {
                self.close_peer(id, format!("{e}"));
                self.drive(now);
                Err(e)
            }
        }
    }

    /// Removes a peer (it left or its signaling dropped). Its tracks are
    /// stopped at every subscriber through renegotiation.
    pub fn remove_peer(&mut self, now: Instant, id: PeerId) -> Result<(), SfuError> {
        self.detach_peer(id)?;
        self.drive(now);
        Ok(())
    }

    /// Removes a peer and marks its tracks gone at its room mates, who are
    /// left dirty for the caller's drive pass to renegotiate.
    fn detach_peer(&mut self, id: PeerId) -> Result<(), SfuError> {
        let mut peer = self.peers.remove(&id).ok_or(SfuError::UnknownPeer)?;
        peer.rtc.disconnect();
        self.by_addr.retain(|_, p| *p != id);
        if let Some(members) = self.rooms.get_mut(&peer.room) {
            members.retain(|p| *p != id);
            if members.is_empty() {
                self.rooms.remove(&peer.room);
            }
        }
        let members = self.rooms.get(&peer.room).cloned().unwrap_or_default();
        for other in members {
            if let Some(o) = self.peers.get_mut(&other) {
                for t in o.tracks_out.iter_mut().filter(|t| t.origin == id) {
                    t.origin_gone = true;
                }
                self.mark_dirty(other);
            }
        }
        Ok(())
    }

    /// Feeds one datagram received on the media socket. Returns false when no
    /// peer accepted it (garbage, wrong ICE credentials, a peer already gone):
    /// such datagrams are dropped and harm nobody.
    pub fn handle_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        data: &[u8],
    ) -> bool {
        let Ok(contents) = data.try_into() else {
            self.counters.datagrams_unrouted += 1;
            return false;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source,
                destination,
                contents,
            },
        );
        let known = self
            .by_addr
            .get(&source)
            .copied()
            .filter(|id| self.peers.get(id).is_some_and(|p| p.rtc.accepts(&input)));
        let id = match known {
            Some(id) => id,
            None => match self.peers.values().find(|p| p.rtc.accepts(&input)) {
                Some(p) => p.id,
                None => {
                    self.counters.datagrams_unrouted += 1;
                    return false;
                }
            },
        };
        // Invariant: `id` was just found in `self.peers`.
        let peer = self.peers.get_mut(&id).expect("peer found above");
        if let Err(e) = peer.rtc.handle_input(input) {
            self.close_peer(id, format!("media input failed: {e}"));
            self.drive(now);
            return true;
        }
        self.by_addr.insert(source, id);
        self.mark_dirty(id);
        self.drive(now);
        true
    }

    /// Drives timers: retransmissions, RTCP, ICE keepalive checks, deferred
    /// keyframe requests. Call at [`Sfu::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        let interval = self.config.keyframe_interval;
        let mut due = Vec::new();
        let mut failed = Vec::new();
        for peer in self.peers.values_mut() {
            for t in &mut peer.tracks_in {
                if let Some(kind) = t.keyframes.take_due(now, interval) {
                    due.push((peer.id, t.mid, kind));
                }
            }
            if peer.next_timeout.is_none_or(|t| t <= now) {
                if let Err(e) = peer.rtc.handle_input(Input::Timeout(now)) {
                    failed.push((peer.id, e.to_string()));
                    continue;
                }
                peer.dirty = true;
                self.dirty.push(peer.id);
            }
        }
        for (id, mid, kind) in due {
            self.send_keyframe_request(id, mid, kind);
        }
        for (id, reason) in failed {
            self.close_peer(id, reason);
        }
        self.drive(now);
    }

    /// The next output, if any. Drain it after every `handle_*` call.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Sfu::handle_timeout`] must be called next, if anything waits.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let interval = self.config.keyframe_interval;
        self.peers
            .values()
            .flat_map(|p| {
                p.next_timeout
                    .into_iter()
                    .chain(p.tracks_in.iter().filter_map(|t| t.keyframes.due(interval)))
            })
            .min()
    }

    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// What `id` is being sent of others, in order.
    pub fn subscriptions(&self, id: PeerId) -> Vec<Subscription> {
        self.peers
            .get(&id)
            .map(|p| {
                p.tracks_out
                    .iter()
                    .map(|t| Subscription {
                        origin: t.origin,
                        kind: t.kind,
                        state: t.state,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The kinds `id` publishes.
    pub fn publications(&self, id: PeerId) -> Vec<MediaKind> {
        self.peers
            .get(&id)
            .map(|p| p.tracks_in.iter().map(|t| t.kind).collect())
            .unwrap_or_default()
    }

    fn mark_dirty(&mut self, id: PeerId) {
        if let Some(p) = self.peers.get_mut(&id) {
            if !p.dirty {
                p.dirty = true;
                self.dirty.push(id);
            }
        }
    }

    /// Polls every dirty peer until it waits for time, applying what its
    /// events mean for the others (which may dirty them in turn).
    fn drive(&mut self, now: Instant) {
        let mut work = Vec::new();
        while let Some(id) = self.dirty.pop() {
            self.poll_peer(id, &mut work);
            for p in work.drain(..) {
                self.propagate(now, p);
            }
        }
    }

    fn poll_peer(&mut self, id: PeerId, work: &mut Vec<Propagate>) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        peer.dirty = false;
        // Offer first, so a change is negotiated as soon as possible.
        if let Some(offer) = peer.negotiate_if_needed() {
            self.outputs
                .push_back(Output::Event(id, PeerEvent::Offer(offer)));
        }
        loop {
            if !peer.rtc.is_alive() {
                work.push(Propagate::Close(id, "media connection closed".into()));
                return;
            }
            let out = match peer.rtc.poll_output() {
                Ok(o) => o,
                Err(e) => {
                    work.push(Propagate::Close(id, format!("media error: {e}")));
                    return;
                }
            };
            match out {
                str0m::Output::Timeout(t) => {
                    peer.next_timeout = Some(t);
                    return;
                }
                str0m::Output::Transmit(t) => self.outputs.push_back(Output::Transmit(t)),
                str0m::Output::Event(e) => match e {
                    Event::Connected => {
                        peer.connected = true;
                        self.outputs
                            .push_back(Output::Event(id, PeerEvent::Connected));
                    }
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                        work.push(Propagate::Close(id, "media connection lost (ICE)".into()));
                        return;
                    }
                    Event::MediaAdded(m) => {
                        // Only what the browser sends us is a publication.
                        if matches!(m.direction, Direction::RecvOnly | Direction::SendRecv)
                            && peer.track_in_mut(m.mid).is_none()
                        {
                            peer.tracks_in.push(TrackIn {
                                mid: m.mid,
                                kind: m.kind,
                                keyframes: KeyframeThrottle::new(),
                            });
                            work.push(Propagate::TrackAdded(id, m.mid, m.kind));
                        }
                    }
                    Event::MediaData(d) => {
                        if !d.contiguous && d.params.spec().codec.is_video() {
                            work.push(Propagate::Keyframe(id, d.mid, KeyframeRequestKind::Fir));
                        }
                        work.push(Propagate::Media(id, d));
                    }
                    Event::KeyframeRequest(req) => {
                        if let Some((origin, mid)) = peer.origin_of(req.mid) {
                            work.push(Propagate::Keyframe(origin, mid, req.kind));
                        }
                    }
                    _ => {}
                },
            }
        }
    }

    fn propagate(&mut self, now: Instant, p: Propagate) {
        match p {
            Propagate::TrackAdded(origin, mid, kind) => {
                let label = self
                    .peers
                    .get(&origin)
                    .map(|p| p.label.clone())
                    .unwrap_or_default();
                for other in self.room_mates(origin) {
                    if let Some(o) = self.peers.get_mut(&other) {
                        o.tracks_out.push(TrackOut::new(origin, &label, mid, kind));
                        self.mark_dirty(other);
                    }
                }
            }
            Propagate::Media(origin, data) => self.forward(origin, &data),
            Propagate::Keyframe(origin, mid, kind) => self.request_keyframe(now, origin, mid, kind),
            Propagate::Close(id, reason) => self.close_peer(id, reason),
        }
    }

    fn room_mates(&self, id: PeerId) -> Vec<PeerId> {
        let Some(room) = self.peers.get(&id).map(|p| p.room) else {
            return Vec::new();
        };
        self.rooms
            .get(&room)
            .map(|m| m.iter().copied().filter(|p| *p != id).collect())
            .unwrap_or_default()
    }

    /// Writes one received frame to every subscriber that has it open.
    fn forward(&mut self, origin: PeerId, data: &MediaData) {
        let Some(room) = self.peers.get(&origin).map(|p| p.room) else {
            return;
        };
        let Some(members) = self.rooms.get(&room) else {
            return;
        };
        let mut failed = Vec::new();
        for sub_id in members.iter().filter(|p| **p != origin) {
            let Some(sub) = self.peers.get_mut(sub_id) else {
                continue;
            };
            let Some(mid) = sub.out_mid(origin, data.mid) else {
                continue;
            };
            let Some(writer) = sub.rtc.writer(mid) else {
                continue;
            };
            let Some(pt) = writer.match_params(data.params) else {
                continue;
            };
            let writer = match (data.ext_vals.audio_level, data.ext_vals.voice_activity) {
                (Some(level), vad) => writer.audio_level(level, vad.unwrap_or(false)),
                _ => writer,
            };
            if let Err(e) = writer.write(pt, data.network_time, data.time, data.data.clone()) {
                failed.push((*sub_id, format!("forwarding failed: {e}")));
                continue;
            }
            self.counters.frames_forwarded += 1;
            if !sub.dirty {
                sub.dirty = true;
                self.dirty.push(*sub_id);
            }
        }
        for (id, reason) in failed {
            self.close_peer(id, reason);
        }
    }

    fn request_keyframe(
        &mut self,
        now: Instant,
        origin: PeerId,
        mid: Mid,
        kind: KeyframeRequestKind,
    ) {
        let interval = self.config.keyframe_interval;
        let Some(track) = self
            .peers
            .get_mut(&origin)
            .and_then(|p| p.track_in_mut(mid))
        else {
            return;
        };
        if let Some(kind) = track.keyframes.request(now, kind, interval) {
            self.send_keyframe_request(origin, mid, kind);
        }
    }

    fn send_keyframe_request(&mut self, origin: PeerId, mid: Mid, kind: KeyframeRequestKind) {
        let Some(peer) = self.peers.get_mut(&origin) else {
            return;
        };
        let Some(mut writer) = peer.rtc.writer(mid) else {
            return;
        };
        // Fails only when the rid is unknown; without simulcast there is none.
        if writer.request_keyframe(None, kind).is_ok() {
            self.counters.keyframe_requests += 1;
        }
        self.mark_dirty(origin);
    }

    /// Removes a peer whose media failed and tells the shell.
    fn close_peer(&mut self, id: PeerId, reason: String) {
        if self.detach_peer(id).is_ok() {
            self.outputs
                .push_back(Output::Event(id, PeerEvent::Closed(reason)));
        }
    }
}
