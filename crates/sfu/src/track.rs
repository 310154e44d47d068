//! Tracks as the SFU sees them: what a peer publishes (`TrackIn`) and what it
//! is sent of other peers' tracks (`TrackOut`).
//!
//! Why explicit states: adding or removing a sent track needs an SDP round
//! trip with the browser, and only one offer may be outstanding per peer. A
//! track that appears while an offer is in flight must wait for the next one;
//! a publisher that leaves while its track is still being negotiated must be
//! stopped once that negotiation settles. Encoding this as a small state
//! machine (after str0m's `chat.rs`) keeps those races in one place with unit
//! tests, instead of spread over boolean flags.
//!
//! Tracks refer to their publisher by `(PeerId, Mid)` rather than by pointer:
//! removal is explicit (`Sfu::remove_peer` marks every copy as gone), which is
//! deterministic and testable.

use std::time::{Duration, Instant};

use str0m::media::{KeyframeRequestKind, MediaKind, Mid};

use crate::PeerId;

/// A track a peer publishes to the SFU (an m-line the SFU receives on).
#[derive(Debug)]
pub(crate) struct TrackIn {
    pub mid: Mid,
    pub kind: MediaKind,
    pub keyframes: KeyframeThrottle,
}

/// Where an outgoing copy of a remote track stands in SDP negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackOutState {
    /// Known, not yet in any offer.
    ToOpen,
    /// In the offer we sent; waiting for the answer.
    Negotiating(Mid),
    /// Negotiated: media is forwarded on this mid.
    Open(Mid),
    /// The publisher is gone; the m-line must be stopped in the next offer.
    ToStop(Mid),
    /// The stop is in the offer we sent; dropped when the answer comes.
    NegotiatingStop(Mid),
}

/// A copy of another peer's track, sent to this peer.
#[derive(Debug)]
pub(crate) struct TrackOut {
    pub origin: PeerId,
    /// The publisher's stream label (msid), shown to the browser.
    pub origin_label: String,
    pub origin_mid: Mid,
    pub kind: MediaKind,
    pub state: TrackOutState,
    /// The publisher left; the track must be stopped whatever state it is in.
    pub origin_gone: bool,
}

impl TrackOut {
    pub fn new(origin: PeerId, origin_label: &str, origin_mid: Mid, kind: MediaKind) -> Self {
        TrackOut {
            origin,
            origin_label: origin_label.to_string(),
            origin_mid,
            kind,
            state: TrackOutState::ToOpen,
            origin_gone: false,
        }
    }

    /// The mid media is forwarded on, only once negotiation completed.
    pub fn open_mid(&self) -> Option<Mid> {
        match self.state {
            TrackOutState::Open(m) => Some(m),
            _ => None,
        }
    }

    /// The local mid of this track, if it has one yet.
    pub fn mid(&self) -> Option<Mid> {
        match self.state {
            TrackOutState::ToOpen => None,
            TrackOutState::Negotiating(m)
            | TrackOutState::Open(m)
            | TrackOutState::ToStop(m)
            | TrackOutState::NegotiatingStop(m) => Some(m),
        }
    }

    /// Before building an offer: a gone publisher's open track must be
    /// stopped. Returns false when the track should simply be forgotten
    /// (gone before it was ever offered).
    pub fn settle_gone(&mut self) -> bool {
        if !self.origin_gone {
            return true;
        }
        match self.state {
            TrackOutState::ToOpen => false,
            TrackOutState::Open(m) => {
                self.state = TrackOutState::ToStop(m);
                true
            }
            // Negotiating: wait for the answer, then stop. Stop states: already on the way out.
            _ => true,
        }
    }

    /// The remote answered our offer.
    /// Returns true when this track just opened (a keyframe should be asked for),
    /// and false otherwise. Tracks whose stop completed are removed by the caller
    /// via [`TrackOut::is_finished`].
    pub fn answer_accepted(&mut self) -> bool {
        match self.state {
            TrackOutState::Negotiating(m) => {
                self.state = TrackOutState::Open(m);
                !self.origin_gone
            }
            _ => false,
        }
    }

    /// The remote's answer completed this track's stop: forget it.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, TrackOutState::NegotiatingStop(_))
    }
}

/// Rate-limits keyframe requests (PLI/FIR) to one publisher's track, without
/// losing any: a request inside the quiet interval is deferred, not dropped,
/// so a subscriber that joins right after another still gets its keyframe.
#[derive(Debug)]
pub(crate) struct KeyframeThrottle {
    last_sent: Option<Instant>,
    deferred: Option<KeyframeRequestKind>,
}

impl KeyframeThrottle {
    pub fn new() -> Self {
        KeyframeThrottle {
            last_sent: None,
            deferred: None,
        }
    }

    /// Asks for a keyframe. Returns the request to send now, if any; else the
    /// request is remembered until [`KeyframeThrottle::due`].
    pub fn request(
        &mut self,
        now: Instant,
        kind: KeyframeRequestKind,
        interval: Duration,
    ) -> Option<KeyframeRequestKind> {
        match self.last_sent {
            Some(t) if now < t + interval => {
                // FIR is the stronger request; keep it if either asked for it.
                if self.deferred != Some(KeyframeRequestKind::Fir) {
                    self.deferred = Some(kind);
                }
                None
            }
            _ => {
                self.last_sent = Some(now);
                self.deferred = None;
                Some(kind)
            }
        }
    }

    /// When a deferred request falls due, if one is waiting.
    pub fn due(&self, interval: Duration) -> Option<Instant> {
        match (self.deferred, self.last_sent) {
            (Some(_), Some(t)) => Some(t + interval),
            _ => None,
        }
    }

    /// The deferred request to send now, if it is due.
    pub fn take_due(&mut self, now: Instant, interval: Duration) -> Option<KeyframeRequestKind> {
        let due = self.due(interval)?;
        if now < due {
            return None;
        }
        let kind = self.deferred.take();
        self.last_sent = Some(now);
        kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mid(s: &str) -> Mid {
        Mid::from(s)
    }

    #[test]
    fn track_out_opens_after_answer() {
        let mut t = TrackOut::new(PeerId(1), "p1", mid("0"), MediaKind::Video);
        assert_eq!(t.open_mid(), None);
        assert!(t.settle_gone());
        t.state = TrackOutState::Negotiating(mid("3"));
        assert_eq!(t.open_mid(), None, "no media before the answer");
        assert!(
            t.answer_accepted(),
            "a newly opened track asks for a keyframe"
        );
        assert_eq!(t.open_mid(), Some(mid("3")));
        assert!(!t.answer_accepted(), "a second answer changes nothing");
    }

    #[test]
    fn gone_before_offered_is_forgotten() {
        let mut t = TrackOut::new(PeerId(1), "p1", mid("0"), MediaKind::Audio);
        t.origin_gone = true;
        assert!(!t.settle_gone());
    }

    #[test]
    fn gone_while_open_is_stopped_then_finished() {
        let mut t = TrackOut::new(PeerId(1), "p1", mid("0"), MediaKind::Audio);
        t.state = TrackOutState::Open(mid("2"));
        t.origin_gone = true;
        assert!(t.settle_gone());
        assert_eq!(t.state, TrackOutState::ToStop(mid("2")));
        t.state = TrackOutState::NegotiatingStop(mid("2"));
        assert!(!t.answer_accepted());
        assert!(t.is_finished());
    }

    #[test]
    fn gone_while_negotiating_stops_after_the_answer() {
        let mut t = TrackOut::new(PeerId(1), "p1", mid("0"), MediaKind::Video);
        t.state = TrackOutState::Negotiating(mid("4"));
        t.origin_gone = true;
        assert!(t.settle_gone(), "kept until the answer settles the m-line");
        assert_eq!(t.state, TrackOutState::Negotiating(mid("4")));
        assert!(
            !t.answer_accepted(),
            "no keyframe for a track about to stop"
        );
        assert!(t.settle_gone());
        assert_eq!(t.state, TrackOutState::ToStop(mid("4")));
    }

    #[test]
    fn keyframe_requests_are_deferred_not_dropped() {
        let start = Instant::now();
        let iv = Duration::from_millis(500);
        let mut k = KeyframeThrottle::new();
        assert_eq!(k.due(iv), None);
        assert_eq!(
            k.request(start, KeyframeRequestKind::Pli, iv),
            Some(KeyframeRequestKind::Pli)
        );
        let soon = start + Duration::from_millis(100);
        assert_eq!(k.request(soon, KeyframeRequestKind::Pli, iv), None);
        assert_eq!(k.request(soon, KeyframeRequestKind::Fir, iv), None);
        assert_eq!(k.request(soon, KeyframeRequestKind::Pli, iv), None);
        assert_eq!(k.due(iv), Some(start + iv));
        assert_eq!(k.take_due(soon, iv), None, "not before it is due");
        assert_eq!(
            k.take_due(start + iv, iv),
            Some(KeyframeRequestKind::Fir),
            "the strongest deferred request is sent once due"
        );
        assert_eq!(k.due(iv), None);
        assert_eq!(
            k.request(
                start + iv + Duration::from_millis(10),
                KeyframeRequestKind::Pli,
                iv
            ),
            None,
            "the deferred send counts as the last one"
        );
    }
}
