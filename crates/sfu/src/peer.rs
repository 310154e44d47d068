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
    pub next_timeout: Option<Instant>,
    /// Queued for polling in the current drive pass.
    pub dirty: bool,
    pub connected: bool,
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
            next_timeout: None,
            dirty: false,
            connected: false,
        }
    }

    /// Builds the next offer if outgoing tracks changed and no offer is in
    /// flight. Returns the SDP to send to the browser.
    pub fn negotiate_if_needed(&mut self) -> Option<String> {
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
                    let mid =
                        api.add_media(t.kind, Direction::SendOnly, Some(stream), Some(track), None);
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
        Some(offer.to_sdp_string())
    }

    /// Applies the browser's answer to our pending offer. Returns the mids of
    /// video tracks that just opened (each wants a keyframe from its publisher).
    pub fn accept_answer(&mut self, sdp: &str) -> Result<Vec<(PeerId, Mid)>, SfuError> {
        let Some(pending) = self.pending.take() else {
            return Err(SfuError::NoPendingOffer);
        };
        let answer =
            SdpAnswer::from_sdp_string(sdp).map_err(|e| SfuError::BadSdp(e.to_string()))?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| SfuError::Negotiation(e.to_string()))?;

        let mut opened = Vec::new();
        for t in &mut self.tracks_out {
            if t.answer_accepted() && t.kind == MediaKind::Video {
                opened.push((t.origin, t.origin_mid));
            }
        }
        self.tracks_out.retain(|t| !t.is_finished());
        Ok(opened)
    }

    /// The outgoing mid carrying `origin`'s track `origin_mid`, once open.
    pub fn out_mid(&self, origin: PeerId, origin_mid: Mid) -> Option<Mid> {
        self.tracks_out
            .iter()
            .find(|t| t.origin == origin && t.origin_mid == origin_mid)
            .and_then(TrackOut::open_mid)
    }

    /// The publisher and its mid behind one of our outgoing mids.
    pub fn origin_of(&self, mid: Mid) -> Option<(PeerId, Mid)> {
        self.tracks_out
            .iter()
            .find(|t| t.mid() == Some(mid) && !t.origin_gone)
            .map(|t| (t.origin, t.origin_mid))
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
