//! A headless participant built on str0m: the browser's stand-in for tests
//! and the load tool (feature `testkit`).
//!
//! It is sans-IO like the core: feed it datagrams and time, send what it
//! returns. It publishes synthetic Opus-sized audio (every 20 ms) and
//! VP8-sized video (every 33 ms), answers the SFU's offers like a browser, and
//! counts what it receives per publisher label (the msid stream id).
//!
//! Why real str0m rather than a mock: the point of the tests is that ICE,
//! DTLS, SRTP, BUNDLE and renegotiation work against an independent peer.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive, Transmit};
use str0m::{Candidate, Event, Input, Output, Rtc};

/// What a test peer received from one publisher.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub audio_frames: u64,
    pub video_frames: u64,
}

pub struct TestPeer {
    pub rtc: Rtc,
    pub addr: SocketAddr,
    pub connected: bool,
    publish: Vec<(Mid, MediaKind)>,
    pending: Option<SdpPendingOffer>,
    /// Publisher label for each received mid.
    labels: HashMap<Mid, String>,
    received: HashMap<String, Received>,
    next_audio: Option<Instant>,
    next_video: Option<Instant>,
    started: Instant,
    sent_frames: u64,
    /// Bytes of each synthetic video frame (a few RTP packets).
    pub video_frame_bytes: usize,
}

pub const AUDIO_INTERVAL: Duration = Duration::from_millis(20);
pub const VIDEO_INTERVAL: Duration = Duration::from_millis(33);

impl TestPeer {
    /// A peer on `addr` that will publish the given kinds. Returns the peer and
    /// its first SDP offer (as a browser's `createOffer`).
    pub fn new(now: Instant, addr: SocketAddr, audio: bool, video: bool) -> (Self, String) {
        str0m::crypto::from_feature_flags().install_process_default();
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .build(now);
        // Invariant: a socket address always makes a valid host candidate.
        let cand = Candidate::host(addr, "udp").expect("host candidate from a socket address");
        rtc.add_local_candidate(cand);
        let mut api = rtc.sdp_api();
        let mut publish = Vec::new();
        if audio {
            publish.push((
                api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None),
                MediaKind::Audio,
            ));
        }
        if video {
            publish.push((
                api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None),
                MediaKind::Video,
            ));
        }
        if publish.is_empty() {
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
            pending: Some(pending),
            labels: HashMap::new(),
            received: HashMap::new(),
            next_audio: None,
            next_video: None,
            started: now,
            sent_frames: 0,
            video_frame_bytes: 2500,
        };
        (peer, offer.to_sdp_string())
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
        let answer = self
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| e.to_string())?;
        Ok(answer.to_sdp_string())
    }

    pub fn handle_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        data: &[u8],
    ) {
        let Ok(contents) = data.try_into() else {
            return;
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
                    let mut next = t;
                    for due in [self.next_audio, self.next_video].into_iter().flatten() {
                        next = next.min(due);
                    }
                    return (out, next.max(now));
                }
                Ok(Output::Event(e)) => self.on_event(e),
                Err(_) => return (out, now + Duration::from_millis(100)),
            }
        }
    }

    fn on_event(&mut self, e: Event) {
        match e {
            Event::Connected => {
                self.connected = true;
            }
            Event::MediaAdded(m) => {
                if let Some(media) = self.rtc.media(m.mid) {
                    self.labels.insert(m.mid, media.stream_id().to_string());
                }
            }
            Event::MediaData(d) => {
                let label = self.labels.get(&d.mid).cloned().unwrap_or_default();
                let r = self.received.entry(label).or_default();
                if d.params.spec().codec.is_audio() {
                    r.audio_frames += 1;
                } else {
                    r.video_frames += 1;
                }
            }
            _ => {}
        }
    }

    fn write_media(&mut self, now: Instant) {
        for (mid, kind) in self.publish.clone() {
            let (slot, interval) = match kind {
                MediaKind::Audio => (&mut self.next_audio, AUDIO_INTERVAL),
                MediaKind::Video => (&mut self.next_video, VIDEO_INTERVAL),
            };
            let due = *slot.get_or_insert(now);
            if now < due {
                continue;
            }
            *slot = Some(due + interval);
            let elapsed = now.saturating_duration_since(self.started);
            let Some(writer) = self.rtc.writer(mid) else {
                continue;
            };
            let codec = match kind {
                MediaKind::Audio => Codec::Opus,
                MediaKind::Video => Codec::Vp8,
            };
            let Some(pt) = writer
                .payload_params()
                .find(|p| p.spec().codec == codec)
                .map(|p| p.pt())
            else {
                continue;
            };
            self.sent_frames += 1;
            let (time, data) = match kind {
                MediaKind::Audio => (
                    MediaTime::new(
                        elapsed.as_micros() as u64 * 48 / 1000,
                        Frequency::FORTY_EIGHT_KHZ,
                    ),
                    vec![0xfc_u8; 80],
                ),
                MediaKind::Video => {
                    // A VP8 key frame every 30 frames: bit 0 of byte 0 clear.
                    let mut frame = vec![(self.sent_frames % 251) as u8; self.video_frame_bytes];
                    frame[0] = if self.sent_frames % 30 == 0 {
                        0x10
                    } else {
                        0x11
                    };
                    (
                        MediaTime::new(
                            elapsed.as_micros() as u64 * 90 / 1000,
                            Frequency::NINETY_KHZ,
                        ),
                        frame,
                    )
                }
            };
            let writer = if kind == MediaKind::Audio {
                writer.audio_level(-30, true)
            } else {
                writer
            };
            let _ = writer.write(pt, now, time, data);
        }
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
