//! Simulcast: which encoding ("layer") of a video each subscriber gets, and
//! switching between layers without the receiver noticing.
//!
//! A browser publishes a camera in up to three layers (rids `q` ≈ 180p,
//! `h` ≈ 360p, `f` ≈ 720p). Each subscriber's copy of that video has a
//! *target*: a layer, or paused when the tile is not visible or bandwidth is
//! short. The SFU forwards the *current* layer and switches to the target
//! only on a keyframe of the target layer (a decoder cannot start mid-GOP).
//! Until then it keeps forwarding the old layer and asks for a keyframe. A
//! copy that has no layer yet (a late joiner, a tile just scrolled into
//! view) waits [`FALLBACK_AFTER`] for its target's keyframe, then starts on
//! the first keyframe of *any* arriving layer, so a picture appears as soon
//! as one can, then steps to its target.
//!
//! Every layer has its own RTP timestamp base, so a switch would make the
//! receiver's clock jump. [`TsRewriter`] keeps the outgoing timeline
//! continuous: after a switch, output = input + offset, where the offset puts
//! the first frame of the new layer where wall-clock time says it belongs.
//! Sequence numbers need no rewriting here: str0m repacketizes every frame
//! for each subscriber with that subscriber's own sequence numbers.

use std::time::{Duration, Instant};

use str0m::media::Rid;

/// A video layer: `None` when the publisher does not simulcast.
pub type Layer = Option<Rid>;

/// What one subscriber should receive of one video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Paused,
    Layer(Layer),
}

/// Rank of a layer, lowest first: by the conventional rids `q`, `h`, `f`,
/// else by its position in the publisher's offer.
pub fn rank(layers: &[Rid], rid: &Rid) -> usize {
    match &**rid {
        "q" => 0,
        "h" => 1,
        "f" => 2,
        _ => layers.iter().position(|r| r == rid).unwrap_or(0),
    }
}

/// The publisher's layers ordered lowest first.
pub fn ordered(layers: &[Rid]) -> Vec<Rid> {
    let mut v = layers.to_vec();
    v.sort_by_key(|r| rank(layers, r));
    v
}

/// Tile heights (CSS pixels × device ratio) up to which a layer suffices.
const MAX_HEIGHT_FOR: [u32; 2] = [200, 420];

/// The layer that fits a tile `height` pixels tall. `layers` lowest first.
pub fn for_height(layers: &[Rid], height: u32) -> Layer {
    let want = MAX_HEIGHT_FOR.iter().take_while(|max| height > **max).count();
    layers.get(want).or(layers.last()).copied()
}

/// Default bitrate assumed for a layer before it was measured, bits/s.
pub fn default_bitrate(index: usize, layer_count: usize) -> u64 {
    if layer_count <= 1 {
        return 1_000_000;
    }
    match index {
        0 => 150_000,
        1 => 500_000,
        _ => 1_500_000,
    }
}

/// Keeps a subscriber's RTP timeline continuous across layer switches.
#[derive(Debug, Default, Clone)]
pub struct TsRewriter {
    offset: u64,
    /// Last output timestamp and when it was written.
    last: Option<(u64, Instant)>,
}

impl TsRewriter {
    /// Maps an input timestamp of the current layer.
    pub fn map(&mut self, now: Instant, ts: u64) -> u64 {
        let out = ts.wrapping_add(self.offset);
        self.last = Some((out, now));
        out
    }

    /// A switch to a new layer whose first (key)frame carries `ts`: choose
    /// the offset so it lands `elapsed × clock_rate` after the last output.
    pub fn switch(&mut self, now: Instant, ts: u64, clock_rate: u64) {
        if let Some((last_out, at)) = self.last {
            let elapsed = now.saturating_duration_since(at).max(Duration::from_millis(1));
            let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
            let step = (micros.saturating_mul(clock_rate) / 1_000_000).max(1);
            self.offset = last_out.wrapping_add(step).wrapping_sub(ts);
        }
    }
}

/// One video being sent to one subscriber: target, current layer, timeline.
#[derive(Debug, Clone)]
pub struct LayerState {
    pub target: Target,
    /// The layer being forwarded now (`None`: nothing yet, or paused).
    pub current: Option<Layer>,
    pub ts: TsRewriter,
    /// When the current layer last changed: the bandwidth estimate lags
    /// behind a new rate, so congestion is not judged right after.
    pub switched_at: Option<Instant>,
    /// Since when a copy with no layer yet has seen frames it could not use.
    pub waiting_since: Option<Instant>,
}

/// How long a copy with no layer yet waits for its target's keyframe before
/// it starts on another layer (the target's usually comes first: it is
/// requested when the copy opens).
pub const FALLBACK_AFTER: Duration = Duration::from_millis(250);

/// What to do with one incoming frame for one subscriber.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Forward it with this (rewritten) RTP timestamp.
    Forward(u64),
    /// Drop it.
    Drop,
    /// Drop it, and ask the publisher for a keyframe on the target layer.
    DropAndRequestKeyframe(Layer),
    /// Forward it (a fallback layer while the target's keyframe is awaited),
    /// and ask for a keyframe on the target layer.
    ForwardAndRequestKeyframe(u64, Layer),
}

impl LayerState {
    pub fn new(target: Target) -> Self {
        LayerState {
            target,
            current: None,
            ts: TsRewriter::default(),
            switched_at: None,
            waiting_since: None,
        }
    }

    /// Decides for a frame of `layer` with timestamp `ts`.
    pub fn on_frame(&mut self, now: Instant, layer: Layer, ts: u64, keyframe: bool, clock_rate: u64) -> Decision {
        let Target::Layer(target) = self.target else {
            self.current = None;
            self.waiting_since = None;
            return Decision::Drop;
        };
        if layer == target && self.current != Some(target) {
            if keyframe {
                self.current = Some(target);
                self.switched_at = Some(now);
                self.waiting_since = None;
                self.ts.switch(now, ts, clock_rate);
                return Decision::Forward(self.ts.map(now, ts));
            }
            // Keep showing the old layer meanwhile, if there is one.
            return Decision::DropAndRequestKeyframe(target);
        }
        if self.current == Some(layer) {
            return Decision::Forward(self.ts.map(now, ts));
        }
        if self.current.is_none() && layer != target {
            let waiting = *self.waiting_since.get_or_insert(now);
            if keyframe && now.saturating_duration_since(waiting) >= FALLBACK_AFTER {
                // A picture now beats the right size later: show any layer
                // that can start here, and switch to the target on its keyframe.
                self.current = Some(layer);
                self.switched_at = Some(now);
                self.ts.switch(now, ts, clock_rate);
                return Decision::ForwardAndRequestKeyframe(self.ts.map(now, ts), target);
            }
            return Decision::DropAndRequestKeyframe(target);
        }
        Decision::Drop
    }
}

/// One video competing for a subscriber's bandwidth.
#[derive(Debug, Clone)]
pub struct Want {
    /// Layers lowest first with their bitrates (bits/s).
    pub layers: Vec<(Layer, u64)>,
    /// What the view asks for (`None`: not visible).
    pub desired: Option<Layer>,
    /// Higher is more important (active speakers, large tiles).
    pub priority: u32,
}

/// Shares `budget` bits/s among videos: first everyone visible gets the
/// lowest layer, most important first, then layers step up towards what the
/// view asks for while the budget lasts. Videos that do not fit are paused;
/// audio is never part of this budget (the caller reserves it first).
pub fn allocate(wants: &[Want], budget: Option<u64>) -> Vec<Target> {
    let Some(mut left) = budget else {
        return wants
            .iter()
            .map(|w| w.desired.map_or(Target::Paused, Target::Layer))
            .collect();
    };
    // Each video with the layer chosen so far (an index into its `layers`).
    let mut chosen: Vec<(&Want, Option<usize>)> = wants.iter().map(|w| (w, None)).collect();
    let mut order: Vec<&mut (&Want, Option<usize>)> = chosen.iter_mut().collect();
    order.sort_by_key(|(w, _)| std::cmp::Reverse(w.priority));
    // Step 1: the lowest layer for each visible video.
    for (w, c) in order.iter_mut().map(|e| (e.0, &mut e.1)) {
        let Some((_, cost)) = w.layers.first().filter(|_| w.desired.is_some()) else {
            continue;
        };
        if let Some(rest) = left.checked_sub(*cost) {
            left = rest;
            *c = Some(0);
        }
    }
    // Step 2: step up, one layer at a time, most important first.
    loop {
        let mut stepped = false;
        for (w, c) in order.iter_mut().map(|e| (e.0, &mut e.1)) {
            let Some(cur) = *c else { continue };
            let max = w.layers.iter().position(|(l, _)| Some(*l) == w.desired).unwrap_or(0);
            let next = cur.saturating_add(1);
            let (Some((_, now_cost)), Some((_, next_cost))) = (w.layers.get(cur), w.layers.get(next)) else {
                continue;
            };
            if cur >= max {
                continue;
            }
            if let Some(rest) = left.checked_sub(next_cost.saturating_sub(*now_cost)) {
                left = rest;
                *c = Some(next);
                stepped = true;
            }
        }
        if !stepped {
            break;
        }
    }
    chosen
        .iter()
        .map(|(w, c)| match c.and_then(|c| w.layers.get(c)) {
            Some((layer, _)) => Target::Layer(*layer),
            None => Target::Paused,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rids(v: &[&str]) -> Vec<Rid> {
        v.iter().map(|s| Rid::from(*s)).collect()
    }

    #[test]
    fn layers_are_ordered_and_chosen_by_tile_height() {
        let l = ordered(&rids(&["f", "q", "h"]));
        assert_eq!(l, rids(&["q", "h", "f"]));
        assert_eq!(for_height(&l, 120), Some(Rid::from("q")));
        assert_eq!(for_height(&l, 200), Some(Rid::from("q")));
        assert_eq!(for_height(&l, 360), Some(Rid::from("h")));
        assert_eq!(for_height(&l, 1080), Some(Rid::from("f")));
        assert_eq!(for_height(&rids(&["q", "h"]), 1080), Some(Rid::from("h")));
        assert_eq!(for_height(&[], 1080), None);
    }

    #[test]
    fn switches_only_on_a_keyframe_of_the_target_and_keeps_time_continuous() {
        let t0 = Instant::now();
        let q = Some(Rid::from("q"));
        let f = Some(Rid::from("f"));
        let mut s = LayerState::new(Target::Layer(q));
        // Nothing forwarded before a keyframe of the target layer.
        assert_eq!(
            s.on_frame(t0, q, 1000, false, 90_000),
            Decision::DropAndRequestKeyframe(q)
        );
        assert_eq!(s.on_frame(t0, q, 1000, true, 90_000), Decision::Forward(1000));
        let t1 = t0 + Duration::from_millis(33);
        assert_eq!(s.on_frame(t1, q, 3970, false, 90_000), Decision::Forward(3970));
        assert_eq!(
            s.on_frame(t1, f, 777_000, false, 90_000),
            Decision::Drop,
            "other layers are dropped"
        );

        // Switch up: the old layer flows until the new one has a keyframe.
        s.target = Target::Layer(f);
        let t2 = t1 + Duration::from_millis(33);
        assert_eq!(
            s.on_frame(t2, f, 780_000, false, 90_000),
            Decision::DropAndRequestKeyframe(f)
        );
        assert_eq!(s.on_frame(t2, q, 6940, false, 90_000), Decision::Forward(6940));
        let t3 = t2 + Duration::from_millis(33);
        let Decision::Forward(ts) = s.on_frame(t3, f, 783_000, true, 90_000) else {
            panic!("switch")
        };
        assert_eq!(ts, 6940 + 33 * 90, "the new layer continues the timeline");
        assert_eq!(s.current, Some(f));
        let t4 = t3 + Duration::from_millis(33);
        assert_eq!(
            s.on_frame(t4, f, 783_000 + 2970, false, 90_000),
            Decision::Forward(ts + 2970)
        );
        assert_eq!(s.on_frame(t4, q, 9910, false, 90_000), Decision::Drop);

        // Pause: nothing is forwarded; resuming waits for a keyframe again.
        s.target = Target::Paused;
        assert_eq!(s.on_frame(t4, f, 789_000, true, 90_000), Decision::Drop);
        s.target = Target::Layer(q);
        assert_eq!(
            s.on_frame(t4, q, 12_000, false, 90_000),
            Decision::DropAndRequestKeyframe(q)
        );
    }

    #[test]
    fn a_new_viewer_starts_on_any_layer_then_steps_to_its_target() {
        let t0 = Instant::now();
        let q = Some(Rid::from("q"));
        let f = Some(Rid::from("f"));
        let mut s = LayerState::new(Target::Layer(f));
        // No keyframe yet on any layer: nothing to show, ask for the target.
        assert_eq!(
            s.on_frame(t0, q, 100, false, 90_000),
            Decision::DropAndRequestKeyframe(f)
        );
        // Another layer's keyframe right away: the target's is expected any moment.
        assert_eq!(
            s.on_frame(t0, q, 400, true, 90_000),
            Decision::DropAndRequestKeyframe(f)
        );
        // Still none after FALLBACK_AFTER: show the other layer, still ask for the target.
        let t0 = t0 + FALLBACK_AFTER;
        assert_eq!(
            s.on_frame(t0, q, 1000, true, 90_000),
            Decision::ForwardAndRequestKeyframe(1000, f)
        );
        assert_eq!(s.current, Some(q));
        let t1 = t0 + Duration::from_millis(33);
        assert_eq!(s.on_frame(t1, q, 3970, false, 90_000), Decision::Forward(3970));
        assert_eq!(
            s.on_frame(t1, f, 50_000, false, 90_000),
            Decision::DropAndRequestKeyframe(f)
        );
        // The target's keyframe: switch, and the timeline continues.
        let t2 = t1 + Duration::from_millis(33);
        assert_eq!(
            s.on_frame(t2, f, 52_970, true, 90_000),
            Decision::Forward(3970 + 33 * 90)
        );
        assert_eq!(s.current, Some(f));
        assert_eq!(s.on_frame(t2, q, 6940, true, 90_000), Decision::Drop);
    }

    #[test]
    fn timestamps_wrap_safely() {
        let t0 = Instant::now();
        let mut r = TsRewriter::default();
        assert_eq!(r.map(t0, u64::MAX - 10), u64::MAX - 10);
        r.switch(t0 + Duration::from_millis(10), 5, 90_000);
        assert_eq!(r.map(t0, 5), (u64::MAX - 10).wrapping_add(900));
    }

    fn want(desired: Option<usize>, priority: u32) -> Want {
        let layers: Vec<(Layer, u64)> = ["q", "h", "f"]
            .iter()
            .enumerate()
            .map(|(i, r)| (Some(Rid::from(*r)), default_bitrate(i, 3)))
            .collect();
        Want {
            desired: desired.map(|d| layers[d].0),
            layers,
            priority,
        }
    }

    #[test]
    fn allocation_steps_down_then_pauses_the_least_important() {
        let q = Target::Layer(Some(Rid::from("q")));
        let h = Target::Layer(Some(Rid::from("h")));
        let f = Target::Layer(Some(Rid::from("f")));
        let wants = vec![want(Some(2), 10), want(Some(1), 1), want(None, 5)];
        assert_eq!(
            allocate(&wants, None),
            vec![f, h, Target::Paused],
            "unlimited: what the view asks"
        );
        assert_eq!(allocate(&wants, Some(10_000_000)), vec![f, h, Target::Paused]);
        // 1.0 Mb/s: both get q (300k), the speaker steps to h (+350k), the other to h (+350k) = 1.0M.
        assert_eq!(allocate(&wants, Some(1_000_000)), vec![h, h, Target::Paused]);
        assert_eq!(allocate(&wants, Some(700_000)), vec![h, q, Target::Paused]);
        assert_eq!(
            allocate(&wants, Some(200_000)),
            vec![q, Target::Paused, Target::Paused],
            "least important paused"
        );
        assert_eq!(allocate(&wants, Some(100_000)), vec![Target::Paused; 3]);
    }
}
