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

use str0m::media::{KeyframeRequestKind, MediaKind, Mid, Pt, Rid};

use crate::layer::{Decision, Layer, LayerState, Target};
use crate::rewrite::{Renumber, Vp8Info};
use crate::PeerId;

/// A track a peer publishes to the SFU (an m-line the SFU receives on).
#[derive(Debug)]
pub(crate) struct TrackIn {
    pub mid: Mid,
    pub kind: MediaKind,
    /// Simulcast layers, lowest first; empty when the publisher does not simulcast.
    pub layers: Vec<Rid>,
    /// Measured bitrate of each layer (one entry without simulcast).
    pub rates: Vec<RateMeter>,
    /// Keyframe requests, rate-limited per layer.
    pub keyframes: Vec<(Layer, KeyframeThrottle)>,
    /// The layers the publisher was last told to send (`None`: never told).
    pub active: Option<Vec<Rid>>,
    /// Audio: smoothed loudness (0 silent .. 127 loudest) and when audio last came.
    pub loudness: f32,
    pub last_audio: Option<Instant>,
    /// A second track of its kind from the same publisher: a shared screen
    /// (or its sound), offered to others under the label `<label>-screen`.
    pub screen: bool,
}

impl TrackIn {
    pub fn new(mid: Mid, kind: MediaKind, layers: Vec<Rid>, screen: bool) -> Self {
        let n = layers.len().max(1);
        TrackIn {
            mid,
            kind,
            layers,
            rates: (0..n).map(|_| RateMeter::default()).collect(),
            keyframes: Vec::new(),
            active: None,
            loudness: 0.0,
            last_audio: None,
            screen,
        }
    }

    /// The measured bitrate of layer `k` (0 if unknown).
    pub fn rate(&self, k: usize) -> u64 {
        self.rates.get(k).map_or(0, RateMeter::bps)
    }

    /// The index of `layer` in `layers` (0 without simulcast).
    pub fn layer_index(&self, layer: &Layer) -> Option<usize> {
        match layer {
            None => Some(0),
            Some(rid) => self.layers.iter().position(|r| r == rid),
        }
    }

    pub fn keyframes_for(&mut self, layer: Layer) -> &mut KeyframeThrottle {
        let i = match self.keyframes.iter().position(|(l, _)| *l == layer) {
            Some(i) => i,
            None => {
                self.keyframes.push((layer, KeyframeThrottle::new()));
                self.keyframes.len().saturating_sub(1)
            }
        };
        // In bounds: `i` was just found, or is the entry just pushed.
        #[allow(clippy::indexing_slicing)]
        let k = &mut self.keyframes[i].1;
        k
    }

    /// Records an audio level (RFC 6464: 0 loudest .. 127 silent, either sign).
    pub fn hear(&mut self, now: Instant, level: i8) {
        let loud = 127.0 - f32::from(level.unsigned_abs().min(127));
        self.loudness = 0.8 * self.loudness + 0.2 * loud;
        self.last_audio = Some(now);
    }

    /// Current loudness, 0 when no audio came recently (DTX silence or muted).
    pub fn loudness(&self, now: Instant) -> f32 {
        match self.last_audio {
            Some(t) if now.saturating_duration_since(t) < Duration::from_millis(600) => self.loudness,
            _ => 0.0,
        }
    }
}

/// Measures a stream's bitrate over ~1 s windows, smoothed.
#[derive(Debug, Default)]
pub(crate) struct RateMeter {
    bytes: u64,
    since: Option<Instant>,
    bps: u64,
}

impl RateMeter {
    pub fn add(&mut self, now: Instant, bytes: usize) {
        self.since.get_or_insert(now);
        self.bytes = self.bytes.saturating_add(bytes as u64);
    }

    /// The smoothed rate in bits/s (0 until a window closed).
    pub fn bps(&self) -> u64 {
        self.bps
    }

    /// Closes the window if a second has passed; returns the smoothed rate.
    pub fn tick(&mut self, now: Instant) -> u64 {
        if let Some(since) = self.since {
            let dt = now.saturating_duration_since(since);
            if dt >= Duration::from_secs(1) {
                let ms = u64::try_from(dt.as_millis()).unwrap_or(u64::MAX).max(1);
                let bps = self.bytes.saturating_mul(8000).checked_div(ms).unwrap_or(0);
                self.bps = if self.bps == 0 {
                    bps
                } else {
                    self.bps.saturating_mul(3).saturating_add(bps) / 4
                };
                self.bytes = 0;
                self.since = Some(now);
            }
        }
        self.bps
    }
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

/// Appended to a publisher's label for its screen share's tracks, so the
/// browser shows the screen as a tile of its own.
pub const SCREEN_SUFFIX: &str = "-screen";

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
    /// Video: which layer to forward, and the rewritten timeline.
    pub layer: LayerState,
    /// Sequence numbers and VP8 fields of this copy (see `rewrite.rs`).
    pub renumber: Renumber,
    /// This subscriber's payload type for the publisher's codec, once known.
    pub pt: Option<Pt>,
}

impl TrackOut {
    /// A copy of `tin` (published by `origin`) to send to another peer.
    pub fn new(origin: PeerId, origin_label: &str, tin: &TrackIn) -> Self {
        let target = match tin.kind {
            MediaKind::Video => Target::Layer(crate::layer::for_height(&tin.layers, crate::balance::DEFAULT_HEIGHT)),
            MediaKind::Audio => Target::Layer(None),
        };
        TrackOut {
            origin,
            origin_label: if tin.screen {
                format!("{origin_label}{SCREEN_SUFFIX}")
            } else {
                origin_label.to_string()
            },
            origin_mid: tin.mid,
            kind: tin.kind,
            state: TrackOutState::ToOpen,
            origin_gone: false,
            layer: LayerState::new(target),
            renumber: Renumber::new(),
            pt: None,
        }
    }

    /// What to do with a video packet of `layer`: the layer decision is taken
    /// at a frame's first packet (a switch starts a new numbering segment);
    /// the rest of a frame is forwarded when its layer is the current one.
    pub fn decide(&mut self, now: Instant, layer: Layer, ts: u64, vp8: Option<&Vp8Info>, clock_rate: u64) -> Decision {
        let (start, keyframe) = vp8.map_or((false, false), |v| (v.frame_start, v.keyframe));
        if start {
            let before = self.layer.current;
            let d = self.layer.on_frame(now, layer, ts, keyframe, clock_rate);
            if self.layer.current != before {
                self.renumber.restart();
            }
            return d;
        }
        if self.layer.current == Some(layer) && self.layer.target != Target::Paused {
            Decision::Forward(self.layer.ts.map(now, ts))
        } else {
            Decision::Drop
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
            Some(t) if now.saturating_duration_since(t) < interval => {
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
            (Some(_), Some(t)) => Some(crate::later(t, interval)),
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

    fn out(kind: MediaKind) -> TrackOut {
        TrackOut::new(PeerId(1), "p1", &TrackIn::new(mid("0"), kind, Vec::new(), false))
    }

    #[test]
    fn track_out_opens_after_answer() {
        let mut t = out(MediaKind::Video);
        assert_eq!(t.open_mid(), None);
        assert!(t.settle_gone());
        t.state = TrackOutState::Negotiating(mid("3"));
        assert_eq!(t.open_mid(), None, "no media before the answer");
        assert!(t.answer_accepted(), "a newly opened track asks for a keyframe");
        assert_eq!(t.open_mid(), Some(mid("3")));
        assert!(!t.answer_accepted(), "a second answer changes nothing");
    }

    #[test]
    fn gone_before_offered_is_forgotten() {
        let mut t = out(MediaKind::Audio);
        t.origin_gone = true;
        assert!(!t.settle_gone());
    }

    #[test]
    fn gone_while_open_is_stopped_then_finished() {
        let mut t = out(MediaKind::Audio);
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
        let mut t = out(MediaKind::Video);
        t.state = TrackOutState::Negotiating(mid("4"));
        t.origin_gone = true;
        assert!(t.settle_gone(), "kept until the answer settles the m-line");
        assert_eq!(t.state, TrackOutState::Negotiating(mid("4")));
        assert!(!t.answer_accepted(), "no keyframe for a track about to stop");
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
            k.request(start + iv + Duration::from_millis(10), KeyframeRequestKind::Pli, iv),
            None,
            "the deferred send counts as the last one"
        );
    }
}
