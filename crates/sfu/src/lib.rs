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
//! ICE credentials (`Rtc::accepts`) otherwise. Media is forwarded packet by
//! packet (str0m's RTP mode), each payload shared by every subscriber, with
//! sequence numbers, timestamps and VP8 picture ids rewritten per copy
//! ([`rewrite`]). str0m still terminates NACK/RTX on each leg, so a lost
//! packet is repaired between the publisher and the SFU and again between the
//! SFU and each subscriber, independently.

// Wire input (datagrams, RTP payloads, SDP through str0m) reaches this crate:
// no unwrap, no unchecked index, no overflowing arithmetic outside tests. Each
// exception is allowed where it stands, with the reason.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

mod balance;
mod cap;
mod drive;
mod ice;
pub mod layer;
mod peer;
mod resend;
pub mod rewrite;
#[cfg(test)]
mod sim_tests;
// A test client for other crates' tests, never in the server binary: the
// wire-input lints above do not apply to it.
#[cfg(any(test, feature = "testkit"))]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
pub mod testkit;
mod track;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::bwe::Bitrate;
use str0m::change::SdpOffer;
use str0m::format::{Codec, FormatParams};
use str0m::media::{Frequency, MediaKind, Pt};
use str0m::net::TcpType;
use str0m::net::{Protocol, Receive, Transmit};
use str0m::{Candidate, IceCreds, Input, Rtc};

use crate::peer::Peer;
use crate::track::TrackOut;

pub use crate::ice::{stun_local_ufrag, stun_username};
pub use crate::track::{TrackOutState, SCREEN_SUFFIX};
pub use str0m::media::MediaKind as Kind;

/// Identifies a peer (one participant's connection) inside the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u64);

/// Identifies a room inside the core: media flows only between peers of one room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomId(pub u64);

/// Largest SDP accepted from a browser. An offer with audio and video is
/// ~5 KiB, but answers grow with the room (~0.8 KiB per m-line; 100 m-lines
/// in a 50-person room).
pub const MAX_SDP_BYTES: usize = 512 * 1024;
/// Most m-lines a browser may publish (camera, microphone, and later a screen with its audio).
pub const MAX_PUBLISHED_MEDIA: usize = 4;
/// Largest first offer from a browser: at most 4 m-lines, ~5 KiB in practice.
pub const MAX_OFFER_BYTES: usize = 32 * 1024;
/// Most simulcast layers a publisher may announce per m-line.
pub const MAX_SIMULCAST_LAYERS: usize = 4;

/// Rejects long simulcast rid lists, in offers and answers alike (a
/// publisher's answer repeats its own simulcast m-line): str0m would keep a
/// stream per rid, and layer choice scans them per frame on the shared loop.
fn check_simulcast(sdp: &str) -> Result<(), SfuError> {
    for line in sdp.lines().filter(|l| l.starts_with("a=simulcast:")) {
        // "a=simulcast:send q;h;f" -> direction + layers (alternatives split on ',').
        if line.split([' ', ';', ',']).count() > MAX_SIMULCAST_LAYERS + 1 {
            return Err(SfuError::BadSdp(format!(
                "more than {MAX_SIMULCAST_LAYERS} simulcast layers"
            )));
        }
    }
    Ok(())
}

/// An offer left unanswered this long is sent again (the browser may never
/// have received it). A client ignores an exact repeat of an offer it has
/// already handled on the same connection.
pub const OFFER_RESEND: Duration = Duration::from_secs(10);

/// Shortest gap between keyframe requests when a copy of a video has just
/// opened for a new viewer (the usual gap is `keyframe_interval`).
pub const NEW_VIEWER_KEYFRAME: Duration = Duration::from_millis(100);

/// Remote addresses remembered per peer (UDP and TCP candidate pairs of
/// one browser may be checked at once); bounds `by_addr`.
pub const MAX_PEER_ADDRS: usize = 4;

/// Video packets kept per stream to answer NACKs: ~2 s of the high layer.
const VIDEO_SEND_BUFFER: usize = 300;

/// Most tiles a view report may list (a room holds at most a few hundred people).
pub const MAX_VIEW_TILES: usize = 512;

#[derive(Debug, Clone)]
pub struct SfuConfig {
    /// Host candidates announced to every peer: the media socket's address(es).
    pub candidates: Vec<SocketAddr>,
    /// ICE-TCP passive host candidates (RFC 6544), announced besides the UDP
    /// ones for networks that block UDP. The shell frames and deframes the
    /// TCP stream (RFC 4571) and feeds [`Sfu::handle_receive_tcp`].
    pub tcp_candidates: Vec<SocketAddr>,
    /// Shortest interval between two keyframe requests to one published track.
    pub keyframe_interval: Duration,
    /// Initial bandwidth estimate towards each subscriber (TWCC), bits/s.
    /// `None` (the default) disables bandwidth estimation: every subscriber
    /// gets what its view asks. Off by default because str0m then also paces
    /// sending to its estimate, which in our measurements settled near
    /// 1.25 Mb/s on an unconstrained link (see ARCHITECTURE.md).
    pub bwe_initial: Option<u64>,
    /// How often layers are re-balanced and speakers re-detected.
    pub tick: Duration,
    /// How long subscribers written to may wait before they are polled, so
    /// one poll sends frames from several publishers. Zero: poll at once.
    pub poll_coalesce: Duration,
    /// Most a publisher may send, all its tracks together, in bits/s; what
    /// exceeds it is dropped and the publisher told ([`PeerEvent::PublishCapped`]).
    /// `None`: no cap. See `cap.rs` for the default's reasoning.
    pub max_publish_bitrate: Option<u64>,
}

/// `at + d`, or `at` itself in the (theoretical) case the clock would
/// overflow: deadlines never panic.
pub(crate) fn later(at: Instant, d: Duration) -> Instant {
    at.checked_add(d).unwrap_or(at)
}

/// The default publisher cap: twice what Salon's own client sends at most
/// (simulcast camera 2.15 Mb/s, screen 2.5 Mb/s, original sound 128 kb/s)
/// would be 9.6 Mb/s; 6 Mb/s keeps every honest mix with room for bursts
/// (the bucket holds 2 s) while a runaway client costs the room little.
pub const DEFAULT_MAX_PUBLISH_BITRATE: u64 = 6_000_000;

impl SfuConfig {
    pub fn new(candidates: Vec<SocketAddr>) -> Self {
        SfuConfig {
            candidates,
            tcp_candidates: Vec::new(),
            keyframe_interval: Duration::from_millis(500),
            bwe_initial: None,
            tick: Duration::from_millis(500),
            poll_coalesce: Duration::ZERO,
            max_publish_bitrate: Some(DEFAULT_MAX_PUBLISH_BITRATE),
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
    /// Never emitted by the core: the I/O shell's media loop that held this
    /// peer panicked and restarted with a fresh core, so the peer is gone.
    /// The client should come back through reconnect (resume).
    Restarted,
    /// The room's active speakers changed: their labels, loudest first.
    Speakers(Vec<String>),
    /// To a publisher: send only these simulcast layers of the video on `mid`
    /// (nobody watches the others). Empty: pause the video's encoding.
    Layers { mid: String, active: Vec<String> },
    /// To a publisher: it sent more than the cap (`max_kbps`, all tracks
    /// together) and the excess was dropped. Sent at the first drop, then at
    /// most every 5 s while it lasts.
    PublishCapped { max_kbps: u64 },
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
    /// Frames written to subscribers (a video frame counts at its last packet).
    pub frames_forwarded: u64,
    /// RTP packets written to subscribers.
    pub packets_forwarded: u64,
    pub datagrams_unrouted: u64,
    pub keyframe_requests: u64,
    /// Received packets dropped because their publisher exceeded the cap.
    pub packets_over_cap: u64,
    /// Times a peer was polled (each walks its `Rtc` until it waits for time).
    pub polls: u64,
    /// Calls to str0m's `poll_output`: each one walks the peer's m-lines.
    pub poll_outputs: u64,
    /// Offers sent to browsers (renegotiations, re-sends included), and their size.
    pub offers: u64,
    pub offer_bytes: u64,
    /// Peers added (joins and media reconnects).
    pub joins: u64,
}

impl Counters {
    /// The sum of two sets of totals (a restarted core's and the current one's).
    pub fn plus(self, b: Counters) -> Counters {
        Counters {
            frames_forwarded: self.frames_forwarded.saturating_add(b.frames_forwarded),
            packets_forwarded: self.packets_forwarded.saturating_add(b.packets_forwarded),
            datagrams_unrouted: self.datagrams_unrouted.saturating_add(b.datagrams_unrouted),
            keyframe_requests: self.keyframe_requests.saturating_add(b.keyframe_requests),
            packets_over_cap: self.packets_over_cap.saturating_add(b.packets_over_cap),
            polls: self.polls.saturating_add(b.polls),
            poll_outputs: self.poll_outputs.saturating_add(b.poll_outputs),
            offers: self.offers.saturating_add(b.offers),
            offer_bytes: self.offer_bytes.saturating_add(b.offer_bytes),
            joins: self.joins.saturating_add(b.joins),
        }
    }

    fn offered(&mut self, sdp: &str) {
        self.offers = self.offers.saturating_add(1);
        self.offer_bytes = self.offer_bytes.saturating_add(sdp.len() as u64);
    }
}

/// Peers of one room, and what the core derived about them.
#[derive(Default)]
struct Room {
    members: Vec<PeerId>,
    /// Current active speakers, loudest first.
    speakers: Vec<PeerId>,
}

/// The media core: peers grouped in rooms, forwarding between them.
pub struct Sfu {
    config: SfuConfig,
    peers: HashMap<PeerId, Peer>,
    rooms: HashMap<RoomId, Room>,
    /// Remote address -> peer, learned from datagrams a peer accepted.
    by_addr: HashMap<(Protocol, SocketAddr), PeerId>,
    /// Local ICE ufrag -> peer: STUN from a new address is routed by its
    /// USERNAME in O(1), not by asking every peer.
    by_ufrag: HashMap<String, PeerId>,
    /// Peer -> its local ICE ufrag (to forget it on removal).
    ufrags: HashMap<PeerId, String>,
    /// Per subscriber, the mids of video copies whose resend cap is raised (`resend`).
    rtx_tuned: HashMap<PeerId, HashSet<str0m::media::Mid>>,
    outputs: VecDeque<Output>,
    /// Peers that received input or writes and must be polled.
    dirty: Vec<PeerId>,
    counters: Counters,
    /// When layers, speakers and publisher pauses are next re-evaluated.
    next_tick: Option<Instant>,
    /// When dirty subscribers must be polled (with `poll_coalesce`).
    drive_at: Option<Instant>,
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
            by_ufrag: HashMap::new(),
            ufrags: HashMap::new(),
            rtx_tuned: HashMap::new(),
            outputs: VecDeque::new(),
            dirty: Vec::new(),
            counters: Counters::default(),
            next_tick: None,
            drive_at: None,
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
        if offer_sdp.len() > MAX_OFFER_BYTES {
            return Err(SfuError::BadSdp(format!(
                "an offer larger than {MAX_OFFER_BYTES} bytes"
            )));
        }
        check_simulcast(offer_sdp)?;
        if offer_sdp.lines().filter(|l| l.starts_with("m=")).count() > MAX_PUBLISHED_MEDIA {
            return Err(SfuError::TooManyMedia);
        }
        let offer = SdpOffer::from_sdp_string(offer_sdp).map_err(|e| SfuError::BadSdp(e.to_string()))?;

        // Our own credentials, so the ufrag can route STUN (see `ice`).
        let creds = IceCreds::new();
        let ufrag = creds.ufrag.clone();
        let mut rtc = self.rtc_config().set_local_ice_credentials(creds).build(now);
        for addr in &self.config.candidates {
            let c = Candidate::host(*addr, "udp").map_err(|e| SfuError::Negotiation(e.to_string()))?;
            rtc.add_local_candidate(c);
        }
        for addr in &self.config.tcp_candidates {
            let c = Candidate::builder()
                .tcp()
                .host(*addr)
                .tcptype(TcpType::Passive)
                .build()
                .map_err(|e| SfuError::Negotiation(e.to_string()))?;
            rtc.add_local_candidate(c);
        }
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| SfuError::BadSdp(e.to_string()))?;

        let mut peer = Peer::new(id, room, label.to_string(), rtc);
        peer.cap = self.config.max_publish_bitrate.map(cap::PublishCap::new);
        let r = self.rooms.entry(room).or_default();
        for other in r.members.iter().filter_map(|o| self.peers.get(o)) {
            for t in &other.tracks_in {
                peer.tracks_out.push(TrackOut::new(other.id, &other.label, t));
            }
        }
        r.members.push(id);
        self.peers.insert(id, peer);
        self.by_ufrag.insert(ufrag.clone(), id);
        self.ufrags.insert(id, ufrag);
        self.next_tick.get_or_insert(now);
        self.counters.joins = self.counters.joins.saturating_add(1);
        self.mark_dirty(id);
        self.drive(now);
        Ok(answer.to_sdp_string())
    }

    /// One peer's str0m configuration: ICE-lite; Opus (DTX, stereo) and VP8;
    /// TWCC bandwidth estimation towards the peer when configured.
    fn rtc_config(&self) -> str0m::RtcConfig {
        // 300 video packets: ~2 s of the high layer, enough to answer NACKs; the
        // default 1000 per stream costs ~12 MiB per participant in a 50-person room.
        let mut cfg = Rtc::builder()
            .set_ice_lite(true)
            // Packets are forwarded, not frames (drive.rs, rewrite.rs).
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_vp8(true)
            .set_send_buffer_video(VIDEO_SEND_BUFFER);
        cfg.codec_config().add_config(
            Pt::from(111),
            None,
            Codec::Opus,
            Frequency::FORTY_EIGHT_KHZ,
            Some(2),
            FormatParams {
                min_p_time: Some(10),
                use_inband_fec: Some(true),
                // Silent microphones send almost nothing; stereo lets music through (issue 5).
                use_dtx: Some(true),
                stereo: Some(true),
                ..Default::default()
            },
        );
        match self.config.bwe_initial {
            Some(bps) => cfg.enable_bwe(Some(Bitrate::bps(bps))),
            None => cfg,
        }
    }

    /// Tells the core which tiles `id`'s screen shows: `(label, height in
    /// device pixels)` for each visible tile. Videos not listed are not
    /// forwarded; the others get the layer that fits their tile.
    pub fn set_view(&mut self, now: Instant, id: PeerId, tiles: &[(String, u32)]) -> Result<(), SfuError> {
        let peer = self.peers.get_mut(&id).ok_or(SfuError::UnknownPeer)?;
        peer.view = Some(tiles.iter().take(MAX_VIEW_TILES).cloned().collect());
        // Re-balancing walks the whole loop: do it at the next tick, at most
        // 100 ms away, however many views arrive meanwhile.
        self.pull_tick(now);
        Ok(())
    }

    /// Stops (or resumes) forwarding `id`'s audio to everyone. This is how a
    /// host's mute is enforced: a client that keeps sending is not heard.
    pub fn set_audio_muted(&mut self, id: PeerId, muted: bool) -> Result<(), SfuError> {
        let peer = self.peers.get_mut(&id).ok_or(SfuError::UnknownPeer)?;
        peer.audio_muted = muted;
        Ok(())
    }

    /// Emits the peer's pending offer again, if one waits for an answer
    /// (after its signaling connection was replaced). No-op otherwise.
    pub fn resend_offer(&mut self, now: Instant, id: PeerId) {
        if let Some(sdp) = self
            .peers
            .get_mut(&id)
            .and_then(|p| p.offer_to_resend(now, Duration::ZERO))
        {
            self.counters.offered(&sdp);
            self.outputs.push_back(Output::Event(id, PeerEvent::Offer(sdp)));
        }
    }

    /// Applies a browser's answer to the offer sent in [`PeerEvent::Offer`].
    /// Text that is not SDP is refused and changes nothing; an SDP answer
    /// that str0m cannot apply leaves the peer unusable: it is removed and a
    /// [`PeerEvent::Closed`] is emitted.
    pub fn accept_answer(&mut self, now: Instant, id: PeerId, sdp: &str) -> Result<(), SfuError> {
        let peer = self.peers.get_mut(&id).ok_or(SfuError::UnknownPeer)?;
        if sdp.len() > MAX_SDP_BYTES {
            return Err(SfuError::BadSdp(format!("larger than {MAX_SDP_BYTES} bytes")));
        }
        check_simulcast(sdp)?;
        match peer.accept_answer(sdp) {
            Ok(opened) => {
                let tuned = self.rtx_tuned.entry(id).or_default();
                resend::tune(&mut peer.rtc, &peer.tracks_out, tuned, VIDEO_SEND_BUFFER);
                if !opened.is_empty() {
                    self.pull_tick(now);
                }
                for (origin, mid, layer) in opened {
                    self.request_keyframe_for_new_viewer(now, origin, mid, layer);
                }
                self.mark_dirty(id);
                self.drive(now);
                Ok(())
            }
            // Nothing was changed: the peer carries on.
            Err(e @ (SfuError::NoPendingOffer | SfuError::BadSdp(_))) => Err(e),
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
        for addr in &peer.addrs {
            // Only if still ours: another peer may have taken the address since.
            if self.by_addr.get(addr) == Some(&id) {
                self.by_addr.remove(addr);
            }
        }
        self.rtx_tuned.remove(&id);
        if let Some(ufrag) = self.ufrags.remove(&id) {
            self.by_ufrag.remove(&ufrag);
        }
        if let Some(r) = self.rooms.get_mut(&peer.room) {
            r.members.retain(|p| *p != id);
            r.speakers.retain(|p| *p != id);
            if r.members.is_empty() {
                self.rooms.remove(&peer.room);
            }
        }
        let members = self
            .rooms
            .get(&peer.room)
            .map(|r| r.members.clone())
            .unwrap_or_default();
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
    pub fn handle_receive(&mut self, now: Instant, source: SocketAddr, destination: SocketAddr, data: &[u8]) -> bool {
        let accepted = self.receive_one(now, Protocol::Udp, source, destination, data);
        self.drive(now);
        accepted
    }

    /// Feeds one RFC 4571 frame read from an ICE-TCP connection from
    /// `source` to our passive candidate `destination`. What the peer sends
    /// back comes out as a [`Transmit`] with `proto == Protocol::Tcp` and
    /// `destination == source`: the shell writes it on that connection.
    pub fn handle_receive_tcp(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        data: &[u8],
    ) -> bool {
        let accepted = self.receive_one(now, Protocol::Tcp, source, destination, data);
        self.drive(now);
        accepted
    }

    /// The local ICE ufrag of `id` (the first half of the USERNAME in the
    /// binding requests its browser sends us).
    pub fn local_ufrag(&self, id: PeerId) -> Option<&str> {
        self.ufrags.get(&id).map(String::as_str)
    }

    /// Feeds a batch of datagrams (as read by one `recvmmsg`), then polls
    /// each affected subscriber once. Cheaper than one `handle_receive` per
    /// datagram: a subscriber written to by many publishers in one batch is
    /// polled once, not once per packet. Returns how many were accepted.
    pub fn handle_receive_batch<'a>(
        &mut self,
        now: Instant,
        datagrams: impl IntoIterator<Item = (SocketAddr, SocketAddr, &'a [u8])>,
    ) -> usize {
        let accepted = datagrams
            .into_iter()
            .filter(|(src, dst, data)| self.receive_one(now, Protocol::Udp, *src, *dst, data))
            .count();
        if self.config.poll_coalesce.is_zero() {
            self.drive(now);
        } else {
            self.drive_at.get_or_insert(later(now, self.config.poll_coalesce));
        }
        accepted
    }

    /// Routes one datagram to its peer and applies what that peer's events
    /// mean for others; subscribers written to are left dirty for `drive`.
    fn receive_one(
        &mut self,
        now: Instant,
        proto: Protocol,
        source: SocketAddr,
        destination: SocketAddr,
        data: &[u8],
    ) -> bool {
        let Ok(contents) = data.try_into() else {
            self.counters.datagrams_unrouted = self.counters.datagrams_unrouted.saturating_add(1);
            return false;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto,
                source,
                destination,
                contents,
            },
        );
        let known = self
            .by_addr
            .get(&(proto, source))
            .copied()
            .filter(|id| self.peers.get(id).is_some_and(|p| p.rtc.accepts(&input)));
        // Only STUN (first byte 0..=3) can introduce a new address: DTLS and
        // RTP always follow a STUN check that registered their source.
        let is_stun = data.first().is_some_and(|b| *b <= 3);
        let id = match known {
            Some(id) => id,
            None if !is_stun => {
                self.counters.datagrams_unrouted = self.counters.datagrams_unrouted.saturating_add(1);
                return false;
            }
            // A new address: the USERNAME names the peer (O(1)); its own
            // `accepts` then checks the message integrity.
            None => match stun_local_ufrag(data)
                .and_then(|u| self.by_ufrag.get(u))
                .filter(|id| self.peers.get(id).is_some_and(|p| p.rtc.accepts(&input)))
            {
                Some(id) => *id,
                None => {
                    self.counters.datagrams_unrouted = self.counters.datagrams_unrouted.saturating_add(1);
                    return false;
                }
            },
        };
        // Invariant: `id` was just found in `self.peers`.
        let peer = self.peers.get_mut(&id).expect("peer found above");
        if let Err(e) = peer.rtc.handle_input(input) {
            self.close_peer(id, format!("media input failed: {e}"));
            return true;
        }
        let key = (proto, source);
        if peer.addrs.last() != Some(&key) {
            peer.addrs.retain(|a| *a != key);
            if peer.addrs.len() >= MAX_PEER_ADDRS {
                let old = peer.addrs.remove(0);
                if self.by_addr.get(&old) == Some(&id) {
                    self.by_addr.remove(&old);
                }
            }
            peer.addrs.push(key);
            self.by_addr.insert(key, id);
        }
        self.poll_now(now, id);
        true
    }

    /// Drives timers: retransmissions, RTCP, ICE keepalive checks, deferred
    /// keyframe requests. Call at [`Sfu::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        let interval = self.config.keyframe_interval;
        let mut due = Vec::new();
        let mut failed = Vec::new();
        for peer in self.peers.values_mut() {
            if let Some(sdp) = peer.offer_to_resend(now, OFFER_RESEND) {
                self.counters.offered(&sdp);
                self.outputs.push_back(Output::Event(peer.id, PeerEvent::Offer(sdp)));
            }
            for t in &mut peer.tracks_in {
                for (layer, k) in &mut t.keyframes {
                    if let Some(kind) = k.take_due(now, interval) {
                        due.push((peer.id, t.mid, *layer, kind));
                    }
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
        for (id, mid, layer, kind) in due {
            self.send_keyframe_request(id, mid, layer, kind);
        }
        for (id, reason) in failed {
            self.close_peer(id, reason);
        }
        self.drive_at = None;
        if self.next_tick.is_some_and(|t| t <= now) {
            self.next_tick = (!self.peers.is_empty()).then(|| later(now, self.config.tick));
            self.rebalance(now);
            self.detect_speakers(now);
        }
        self.drive(now);
    }

    /// Brings the next re-balancing tick to within 100 ms.
    fn pull_tick(&mut self, now: Instant) {
        let soon = later(now, Duration::from_millis(100));
        self.next_tick = Some(self.next_tick.map_or(soon, |t| t.min(soon)));
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
                let resend = p.pending_sdp.as_ref().map(|(_, at)| later(*at, OFFER_RESEND));
                p.next_timeout.into_iter().chain(resend).chain(
                    p.tracks_in
                        .iter()
                        .flat_map(|t| t.keyframes.iter().filter_map(|(_, k)| k.due(interval))),
                )
            })
            .chain(self.next_tick)
            .chain(self.drive_at)
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
}
