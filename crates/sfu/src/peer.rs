//! One participant's media connection: a str0m `Rtc` (one RTCPeerConnection
//! in the browser, BUNDLE over one UDP 5-tuple) with the tracks it publishes
//! and the copies of other participants' tracks it receives.
//!
//! Negotiation rule: after the browser's first offer, the SFU is the only
//! offerer. It adds and stops send-only m-lines as people come and go, one
//! offer at a time (`pending`). This removes offer glare by construction.

use std::time::Instant;

use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, Mid};
use str0m::Rtc;

use crate::layer::{Layer, Target};
use crate::track::{TrackIn, TrackOut, TrackOutState};
use crate::{PeerId, RoomId, SfuError};

pub(crate) struct Peer {
    pub id: PeerId,
    pub room: RoomId,
    /// Stream id (msid) under which this peer's tracks are offered to others,
    /// so the browser can tell whose tile a track belongs to.
    pub label: String,
    pub rtc: Rtc,
    pub tracks_in: Vec<TrackIn>,
    pub tracks_out: Vec<TrackOut>,
    pub pending: Option<SdpPendingOffer>,
    /// The pending offer's SDP and when it was last sent, so it can be sent
    /// again if no answer comes (a lost connection, a stuck client).
    pub pending_sdp: Option<(String, Instant)>,
    pub next_timeout: Option<Instant>,
    /// Queued for polling in the current drive pass.
    pub dirty: bool,
    /// Visible tiles `(label, height)` as last reported; `None`: never reported.
    pub view: Option<Vec<(String, u32)>>,
    /// Bandwidth estimate towards this peer (TWCC), bits/s.
    pub estimate: Option<u64>,
    /// After congestion, the estimate is the budget until then.
    pub congested_until: Option<Instant>,
    /// When a video sent to this peer last stepped up.
    pub raised_at: Option<Instant>,
    /// The remote addresses media comes from (those in `Sfu::by_addr`),
    /// latest last: ICE may check UDP and TCP paths at once. At most
    /// `MAX_PEER_ADDRS`.
    pub addrs: Vec<(str0m::net::Protocol, std::net::SocketAddr)>,
    /// Audio from this peer is not forwarded (muted by a host, or not yet
    /// allowed to speak): the server enforces a mute, not the browser.
    pub audio_muted: bool,
    /// The publisher's bitrate cap, if the core has one.
    pub cap: Option<crate::cap::PublishCap>,
}

impl Peer {
    pub fn new(id: PeerId, room: RoomId, label: String, rtc: Rtc) -> Self {
        Peer {
            id,
            room,
            label,
            rtc,
            tracks_in: Vec::new(),
            tracks_out: Vec::new(),
            pending: None,
            pending_sdp: None,
            next_timeout: None,
            dirty: false,
            view: None,
            estimate: None,
            congested_until: None,
            raised_at: None,
            addrs: Vec::new(),
            audio_muted: false,
            cap: None,
        }
    }

    /// Builds the next offer if outgoing tracks changed and no offer is in
    /// flight. Returns the SDP to send to the browser.
    pub fn negotiate_if_needed(&mut self, now: Instant) -> Option<String> {
        if self.pending.is_some() {
            return None;
        }
        self.tracks_out.retain_mut(TrackOut::settle_gone);
        if !self
            .tracks_out
            .iter()
            .any(|t| matches!(t.state, TrackOutState::ToOpen | TrackOutState::ToStop(_)))
        {
            return None;
        }

        let mut api = self.rtc.sdp_api();
        for t in &mut self.tracks_out {
            match t.state {
                TrackOutState::ToOpen => {
                    let stream = t.origin_label.clone();
                    let track = format!("{stream}-{}", kind_name(t.kind));
                    let mid = api.add_media(t.kind, Direction::SendOnly, Some(stream), Some(track), None);
                    t.state = TrackOutState::Negotiating(mid);
                }
                TrackOutState::ToStop(mid) => {
                    api.stop_media(mid);
                    t.state = TrackOutState::NegotiatingStop(mid);
                }
                _ => {}
            }
        }
        let (offer, pending) = api.apply()?;
        self.pending = Some(pending);
        let sdp = offer.to_sdp_string();
        self.pending_sdp = Some((sdp.clone(), now));
        Some(sdp)
    }

    /// Applies the browser's answer to our pending offer. Returns the video
    /// tracks that just opened, with their target layer (each wants a keyframe).
    pub fn accept_answer(&mut self, sdp: &str) -> Result<Vec<(PeerId, Mid, Layer)>, SfuError> {
        if self.pending.is_none() {
            return Err(SfuError::NoPendingOffer);
        }
        // Parse before taking the pending offer: unparseable text leaves the
        // negotiation as it was, and the browser may still answer properly.
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| SfuError::BadSdp(e.to_string()))?;
        let Some(pending) = self.pending.take() else {
            return Err(SfuError::NoPendingOffer);
        };
        self.pending_sdp = None;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| SfuError::Negotiation(e.to_string()))?;

        let mut opened = Vec::new();
        for t in &mut self.tracks_out {
            if t.answer_accepted() && t.kind == MediaKind::Video {
                let layer = match t.layer.target {
                    Target::Layer(l) => l,
                    Target::Paused => continue,
                };
                opened.push((t.origin, t.origin_mid, layer));
            }
        }
        self.tracks_out.retain(|t| !t.is_finished());
        Ok(opened)
    }

    /// The pending offer again, if it has waited `after` (or at once with
    /// `after` zero); marks it sent now.
    pub fn offer_to_resend(&mut self, now: Instant, after: std::time::Duration) -> Option<String> {
        let (sdp, sent) = self.pending_sdp.as_mut()?;
        if now.saturating_duration_since(*sent) < after {
            return None;
        }
        *sent = now;
        Some(sdp.clone())
    }

    pub fn track_in_mut(&mut self, mid: Mid) -> Option<&mut TrackIn> {
        self.tracks_in.iter_mut().find(|t| t.mid == mid)
    }
}

pub(crate) fn kind_name(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Audio => "audio",
        MediaKind::Video => "video",
    }
}
