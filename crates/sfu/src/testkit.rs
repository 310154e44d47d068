//! A headless participant built on str0m: the browser's stand-in for tests
//! and the load tool (feature `testkit`).
//!
//! It is sans-IO like the core: feed it datagrams and time, send what it
//! returns. It publishes synthetic Opus-sized audio (every 20 ms while
//! "speaking", a DTX-like trickle every 400 ms otherwise) and VP8-sized video
//! (every 33 ms), optionally in three simulcast layers `q`/`h`/`f` with
//! realistic sizes (≈150 kb/s, 500 kb/s, 1.5 Mb/s). It answers the SFU's
//! offers like a browser, obeys layer pauses, sends a keyframe when asked,
//! and counts what it receives per publisher label (the msid stream id).
//!
//! Every frame carries its send time (µs since a process-wide epoch) after
//! the first byte, so a receiver in the same process measures end-to-end
//! latency. Why real str0m rather than a mock: the point is that ICE, DTLS,
//! SRTP, BUNDLE and renegotiation work against an independent peer.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Rid, Simulcast, SimulcastLayer};
use str0m::net::{Protocol, Receive, Transmit};
use str0m::{Candidate, Event, Input, Output, Rtc};

/// What a test peer received from one publisher.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub audio_frames: u64,
    pub video_frames: u64,
    pub video_bytes: u64,
    /// Video frames that did not continue the previous one of their stream:
    /// the sequence numbers, the VP8 picture id or the timestamp jumped, or
    /// str0m saw a gap. The SFU's renumbering must keep this at zero across
    /// layer switches and pauses.
    pub video_breaks: u64,
}

impl Received {
    /// Mean video frame size: tells which simulcast layer arrives.
    pub fn mean_video_frame(&self) -> u64 {
        self.video_bytes / self.video_frames.max(1)
    }
}

/// What a test peer publishes.
#[derive(Debug, Clone, Copy)]
pub struct Publish {
    pub audio: bool,
    pub video: bool,
    /// Three simulcast layers instead of one video stream.
    pub simulcast: bool,
    /// Audio at 50 packets/s with a loud level; otherwise a DTX-like trickle.
    pub speaking: bool,
    /// Also share a screen: a second video m-line (no simulcast), as a
    /// browser offers it.
    pub screen: bool,
}

impl Publish {
    pub fn av() -> Self {
        Publish {
            audio: true,
            video: true,
            simulcast: false,
            speaking: true,
            screen: false,
        }
    }
}

pub const AUDIO_INTERVAL: Duration = Duration::from_millis(20);
pub const SILENT_AUDIO_INTERVAL: Duration = Duration::from_millis(400);
pub const VIDEO_INTERVAL: Duration = Duration::from_millis(33);
/// Frame sizes per simulcast layer (q, h, f) at 30 frames/s: ≈150k, 500k, 1.5M bits/s.
pub const LAYER_FRAME_BYTES: [usize; 3] = [620, 2_000, 6_200];
/// A keyframe every this many frames (and whenever the SFU asks).
const GOP: u64 = 60;

/// A client-side str0m peer on `addr`: Opus and VP8, stats every second.
fn new_rtc(now: Instant, addr: SocketAddr) -> Rtc {
    let mut rtc = Rtc::builder()
        .clear_codecs()
        .enable_opus(true, false)
        .enable_vp8(true)
        .set_stats_interval(Some(Duration::from_secs(1)))
        .build(now);
    // Invariant: a socket address always makes a valid host candidate.
    rtc.add_local_candidate(Candidate::host(addr, "udp").expect("host candidate from a socket address"));
    rtc
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

struct Outgoing {
    mid: Mid,
    kind: MediaKind,
    /// Layers (q, h, f) or a single `None`.
    layers: Vec<Option<Rid>>,
    next: Option<Instant>,
    /// Frames sent on this m-line (keyframes every `GOP` of them).
    sent: u64,
}

pub struct TestPeer {
    pub rtc: Rtc,
    pub addr: SocketAddr,
    pub connected: bool,
    publish: Publish,
    outgoing: Vec<Outgoing>,
    pending: Option<SdpPendingOffer>,
    /// Publisher label for each received mid.
    labels: HashMap<Mid, String>,
    received: HashMap<String, Received>,
    /// Per received video m-line: last sequence number, picture id, timestamp.
    last_video: HashMap<Mid, (u64, Option<u64>, u64)>,
    /// Layers the SFU asked us not to send.
    paused: HashSet<Rid>,
    force_keyframe: bool,
    started: Instant,
    frames: u64,
    /// Size of a non-simulcast video frame.
    pub video_frame_bytes: usize,
    /// One-way latencies of received frames, µs (drained by the caller).
    pub latencies_us: Vec<u32>,
    /// Per received stream: (packets so far, fraction lost in the last RTCP interval).
    ingress: HashMap<(Mid, Option<Rid>), (u64, f32)>,
}

impl TestPeer {
    /// A peer on `addr` publishing audio and/or one video stream. Returns the
    /// peer and its first SDP offer (as a browser's `createOffer`).
    pub fn new(now: Instant, addr: SocketAddr, audio: bool, video: bool) -> (Self, String) {
        Self::with(
            now,
            addr,
            Publish {
                audio,
                video,
                ..Publish::av()
            },
        )
    }

    pub fn with(now: Instant, addr: SocketAddr, publish: Publish) -> (Self, String) {
        str0m::crypto::from_feature_flags().install_process_default();
        epoch();
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .build(now);
        // Invariant: a socket address always makes a valid host candidate.
        let cand = Candidate::host(addr, "udp").expect("host candidate from a socket address");
        rtc.add_local_candidate(cand);
        let mut api = rtc.sdp_api();
        let mut outgoing = Vec::new();
        if publish.audio {
            let mid = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
            outgoing.push(Outgoing {
                mid,
                kind: MediaKind::Audio,
                layers: vec![None],
                next: None,
                sent: 0,
            });
        }
        if publish.video {
            let (sim, layers) = if publish.simulcast {
                let rids = ["q", "h", "f"].map(Rid::from);
                let layers = rids.iter().map(|r| SimulcastLayer::new(r)).collect();
                (
                    Some(Simulcast {
                        send: layers,
                        recv: vec![],
                    }),
                    rids.iter().map(|r| Some(*r)).collect(),
                )
            } else {
                (None, vec![None])
            };
            let mid = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, sim);
            outgoing.push(Outgoing {
                mid,
                kind: MediaKind::Video,
                layers,
                next: None,
                sent: 0,
            });
        }
        if publish.screen {
            let mid = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
            outgoing.push(Outgoing {
                mid,
                kind: MediaKind::Video,
                layers: vec![None],
                next: None,
                sent: 0,
            });
        }
        if outgoing.is_empty() {
            // A receive-only browser still offers something: an inactive m-line.
            api.add_media(MediaKind::Audio, Direction::Inactive, None, None, None);
        }
        // Invariant: at least one m-line was added just above.
        let (offer, pending) = api.apply().expect("a new peer with media has changes");
        let peer = TestPeer {
            rtc,
            addr,
            connected: false,
            publish,
            outgoing,
            pending: Some(pending),
            labels: HashMap::new(),
            received: HashMap::new(),
            last_video: HashMap::new(),
            paused: HashSet::new(),
            force_keyframe: false,
            started: now,
            frames: 0,
            video_frame_bytes: 2500,
            latencies_us: Vec::new(),
            ingress: HashMap::new(),
        };
        (peer, offer.to_sdp_string())
    }

    /// A receive-only peer that waits for the other side's offer (as a
    /// subscriber to an SFU that offers first, e.g. Janus).
    pub fn receiver(now: Instant, addr: SocketAddr) -> Self {
        let (mut peer, _) = Self::with(
            now,
            addr,
            Publish {
                audio: false,
                video: false,
                simulcast: false,
                speaking: false,
                screen: false,
            },
        );
        // Start over without the placeholder offer: the remote offers first.
        peer.rtc = new_rtc(now, addr);
        peer.pending = None;
        peer
    }

    /// Applies the SFU's answer to our first offer.
    pub fn accept_answer(&mut self, sdp: &str) -> Result<(), String> {
        let pending = self.pending.take().ok_or("no pending offer")?;
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| e.to_string())?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| e.to_string())
    }

    /// Answers an offer from the SFU (tracks added or removed).
    pub fn accept_offer(&mut self, sdp: &str) -> Result<String, String> {
        let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| e.to_string())?;
        let answer = self.rtc.sdp_api().accept_offer(offer).map_err(|e| e.to_string())?;
        Ok(answer.to_sdp_string())
    }

    /// Obeys the SFU: send only these layers of our video (like a browser's
    /// `RTCRtpSender.setParameters` with `active` encodings).
    pub fn set_active_layers(&mut self, active: &[String]) {
        let all = ["q", "h", "f"];
        self.paused = all
            .iter()
            .filter(|r| !active.iter().any(|a| a == *r))
            .map(|r| Rid::from(*r))
            .collect();
        self.force_keyframe = true;
    }

    pub fn handle_receive(&mut self, now: Instant, source: SocketAddr, destination: SocketAddr, data: &[u8]) {
        let Ok(contents) = data.try_into() else { return };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source,
                destination,
                contents,
            },
        );
        if self.rtc.accepts(&input) {
            let _ = self.rtc.handle_input(input);
        }
    }

    /// Advances time: writes due media, then returns datagrams to send and the
    /// next instant this peer wants to be called.
    pub fn poll(&mut self, now: Instant) -> (Vec<Transmit>, Instant) {
        let _ = self.rtc.handle_input(Input::Timeout(now));
        if self.connected {
            self.write_media(now);
        }
        let mut out = Vec::new();
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Transmit(t)) => out.push(t),
                Ok(Output::Timeout(t)) => {
                    let next = self.outgoing.iter().filter_map(|o| o.next).fold(t, Instant::min);
                    return (out, next.max(now));
                }
                Ok(Output::Event(e)) => self.on_event(now, e),
                Err(_) => return (out, now + Duration::from_millis(100)),
            }
        }
    }

    fn on_event(&mut self, now: Instant, e: Event) {
        match e {
            Event::Connected => self.connected = true,
            Event::MediaAdded(m) => {
                if let Some(media) = self.rtc.media(m.mid) {
                    self.labels.insert(m.mid, media.stream_id().to_string());
                }
            }
            Event::KeyframeRequest(_) => self.force_keyframe = true,
            Event::MediaIngressStats(s) => {
                self.ingress.insert((s.mid, s.rid), (s.packets, s.loss.unwrap_or(0.0)));
            }
            Event::MediaData(d) => {
                let label = self.labels.get(&d.mid).cloned().unwrap_or_default();
                let r = self.received.entry(label).or_default();
                if d.params.spec().codec.is_audio() {
                    r.audio_frames += 1;
                } else {
                    r.video_frames += 1;
                    r.video_bytes += d.data.len() as u64;
                    let pid = match d.codec_extra {
                        str0m::format::CodecExtra::Vp8(v) => v.picture_id,
                        _ => None,
                    };
                    let (first, last, ts) = (**d.seq_range.start(), **d.seq_range.end(), d.time.numer());
                    if let Some((prev_seq, prev_pid, prev_ts)) = self.last_video.insert(d.mid, (last, pid, ts)) {
                        let pid_step = match (prev_pid, pid) {
                            (Some(a), Some(b)) => (b as i64 - a as i64).rem_euclid(1 << 15) == 1,
                            _ => true,
                        };
                        if first != prev_seq + 1 || !pid_step || ts <= prev_ts || !d.contiguous {
                            r.video_breaks += 1;
                        }
                    }
                }
                if let Some(stamp) = d.data.get(1..9) {
                    // Invariant: the slice is exactly 8 bytes long.
                    let sent = u64::from_be_bytes(stamp.try_into().expect("8 bytes"));
                    let at = now.saturating_duration_since(epoch()).as_micros() as u64;
                    if sent <= at && at - sent < 10_000_000 {
                        self.latencies_us.push((at - sent) as u32);
                    }
                }
            }
            _ => {}
        }
    }

    fn write_media(&mut self, now: Instant) {
        let stamp = (now.saturating_duration_since(epoch()).as_micros() as u64).to_be_bytes();
        let elapsed = now.saturating_duration_since(self.started).as_micros() as u64;
        let mut wrote_video = false;
        for i in 0..self.outgoing.len() {
            let o = &mut self.outgoing[i];
            let interval = match (o.kind, self.publish.speaking) {
                (MediaKind::Video, _) => VIDEO_INTERVAL,
                (MediaKind::Audio, true) => AUDIO_INTERVAL,
                (MediaKind::Audio, false) => SILENT_AUDIO_INTERVAL,
            };
            let due = *o.next.get_or_insert(now);
            if now < due {
                continue;
            }
            o.next = Some(due + interval);
            o.sent += 1;
            let (mid, kind, layers, sent) = (o.mid, o.kind, o.layers.clone(), o.sent);
            if kind == MediaKind::Video {
                self.frames += 1;
            }
            let keyframe = kind == MediaKind::Video && (sent % GOP == 1 || self.force_keyframe);
            for (li, rid) in layers.iter().enumerate() {
                if rid.is_some_and(|r| self.paused.contains(&r)) {
                    continue;
                }
                let Some(writer) = self.rtc.writer(mid) else { continue };
                let codec = if kind == MediaKind::Audio {
                    Codec::Opus
                } else {
                    Codec::Vp8
                };
                let Some(pt) = writer
                    .payload_params()
                    .find(|p| p.spec().codec == codec)
                    .map(|p| p.pt())
                else {
                    continue;
                };
                let (time, mut data) = match kind {
                    MediaKind::Audio => (
                        MediaTime::new(elapsed * 48 / 1000, Frequency::FORTY_EIGHT_KHZ),
                        vec![0xfc_u8; 80],
                    ),
                    MediaKind::Video => {
                        let size = if rid.is_some() {
                            LAYER_FRAME_BYTES[li.min(2)]
                        } else {
                            self.video_frame_bytes
                        };
                        // VP8 payload header: bit 0 of byte 0 clear marks a key frame.
                        let mut frame = vec![(self.frames % 251) as u8; size];
                        frame[0] = if keyframe { 0x10 } else { 0x11 };
                        (MediaTime::new(elapsed * 90 / 1000, Frequency::NINETY_KHZ), frame)
                    }
                };
                data[1..9].copy_from_slice(&stamp);
                let writer = match (kind, rid) {
                    (MediaKind::Audio, _) => {
                        writer.audio_level(if self.publish.speaking { -30 } else { -127 }, self.publish.speaking)
                    }
                    (MediaKind::Video, Some(r)) => writer.rid(*r),
                    (MediaKind::Video, None) => writer,
                };
                let _ = writer.write(pt, now, time, data);
            }
            wrote_video |= kind == MediaKind::Video;
        }
        // A keyframe request is answered on every video of ours (they are
        // due together: same interval, same start).
        if wrote_video {
            self.force_keyframe = false;
        }
    }

    /// Received RTP packets and the packets estimated lost (from the loss
    /// fraction of each stream's latest RTCP receiver report).
    pub fn loss(&self) -> (u64, f64) {
        self.ingress.values().fold((0, 0.0), |(p, l), (packets, frac)| {
            (p + packets, l + *packets as f64 * f64::from(*frac))
        })
    }

    /// What this peer received, per publisher label.
    pub fn received(&self) -> &HashMap<String, Received> {
        &self.received
    }

    /// Labels of publishers whose tracks are currently negotiated (not stopped).
    pub fn open_labels(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .labels
            .iter()
            .filter(|(mid, _)| self.rtc.media(**mid).is_some_and(|m| !m.stopped()))
            .map(|(_, l)| l.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }
}
