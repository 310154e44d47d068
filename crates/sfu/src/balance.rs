//! Periodic decisions (every `SfuConfig::tick`, and on view changes):
//! which layer each subscriber gets of each video, who is speaking, and
//! which layers publishers may stop encoding because nobody receives them.
//!
//! Why periodic rather than per packet: these depend on rates measured over
//! a second and on views that change at human speed; recomputing them twice
//! a second keeps the per-packet path (`drive.rs`) to a lookup.

use std::time::Instant;

use str0m::bwe::Bitrate;
use str0m::media::{MediaKind, Rid};

use crate::layer::{self, Layer, Target, Want};
use crate::track::TrackOut;
use crate::{Output, PeerEvent, PeerId, Sfu};

/// Tile height assumed before a subscriber reports its view (a mid-size tile).
pub(crate) const DEFAULT_HEIGHT: u32 = 360;
/// Loudness (127 - dBov) from which someone counts as speaking: -60 dBov.
const SPEAKING_LOUDNESS: f32 = 67.0;
/// Most active speakers reported per room.
const MAX_SPEAKERS: usize = 3;
/// Bandwidth kept for each received audio track before video is allocated.
const AUDIO_RESERVE_BPS: u64 = 64_000;
/// After a layer steps up, how long before the estimate is trusted again.
const RAISE_GRACE: std::time::Duration = std::time::Duration::from_secs(3);
/// How long the estimate stays the budget after congestion was seen.
const CONGESTION_HOLD: std::time::Duration = std::time::Duration::from_secs(10);

impl Sfu {
    /// Re-chooses every subscriber's video layers, then tells publishers
    /// which layers are still needed.
    pub(crate) fn rebalance(&mut self, now: Instant) {
        for peer in self.peers.values_mut() {
            for t in &mut peer.tracks_in {
                for r in &mut t.rates {
                    r.tick(now);
                }
            }
        }
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        for id in ids {
            self.rebalance_peer(now, id);
        }
        self.update_publisher_layers();
    }

    /// Chooses `id`'s layers. Bandwidth estimates are used as a congestion
    /// signal, not as a budget at all times: TWCC estimates settle near what
    /// is actually sent, so budgeting by them would never let a layer step
    /// up. Only when the estimate falls clearly below what the current layers
    /// cost does it become the budget, and then for `CONGESTION_HOLD` while
    /// str0m probes for more.
    fn rebalance_peer(&mut self, now: Instant, id: PeerId) {
        let Some(peer) = self.peers.get(&id) else { return };
        let speakers = self
            .rooms
            .get(&peer.room)
            .map(|r| r.speakers.as_slice())
            .unwrap_or_default();
        let mut wants = Vec::new();
        let mut which = Vec::new();
        let mut audio = 0u64;
        for (i, t) in peer.tracks_out.iter().enumerate() {
            if t.origin_gone {
                continue;
            }
            if t.kind == MediaKind::Audio {
                audio = audio.saturating_add(1);
                continue;
            }
            let Some(tin) = self
                .peers
                .get(&t.origin)
                .and_then(|p| p.tracks_in.iter().find(|x| x.mid == t.origin_mid))
            else {
                continue;
            };
            let count = tin.layers.len().max(1);
            let layers: Vec<(Layer, u64)> = (0..count)
                .map(|k| {
                    let measured = tin.rate(k);
                    let bps = if measured > 0 {
                        measured
                    } else {
                        layer::default_bitrate(k, count)
                    };
                    (tin.layers.get(k).copied(), bps)
                })
                .collect();
            let height = match &peer.view {
                None => Some(DEFAULT_HEIGHT),
                Some(v) => v.iter().find(|(l, _)| *l == t.origin_label).map(|(_, h)| *h),
            };
            let speaking = if speakers.contains(&t.origin) { 1_000_000 } else { 0 };
            let priority = height.unwrap_or(0).saturating_add(speaking);
            wants.push(Want {
                desired: height.map(|h| layer::for_height(&tin.layers, h)),
                layers,
                priority,
            });
            which.push(i);
        }
        let reserve = audio.saturating_mul(AUDIO_RESERVE_BPS);
        // What the current choices cost: an estimate clearly below it means congestion.
        let sending: u64 = peer
            .tracks_out
            .iter()
            .filter_map(|t| match t.layer.current {
                Some(l) if t.kind == MediaKind::Video => Some((t, l)),
                _ => None,
            })
            .filter_map(|(t, l)| {
                let tin = self
                    .peers
                    .get(&t.origin)?
                    .tracks_in
                    .iter()
                    .find(|x| x.mid == t.origin_mid)?;
                let k = tin.layer_index(&l)?;
                let count = tin.layers.len().max(1);
                Some(tin.rate(k).max(layer::default_bitrate(k, count) / 2))
            })
            .fold(reserve, u64::saturating_add);
        // Right after a step up the estimate lags behind the new rate: wait before judging.
        let recent = |t: Option<Instant>| t.is_some_and(|t| now.saturating_duration_since(t) <= RAISE_GRACE);
        let settled = !recent(peer.raised_at) && !peer.tracks_out.iter().any(|t| recent(t.layer.switched_at));
        let congested = settled && peer.estimate.is_some_and(|e| e < sending.saturating_mul(85) / 100);
        let budget = match (peer.estimate, congested, peer.congested_until) {
            (Some(e), true, _) => Some((e, true)),
            (Some(e), false, Some(until)) if now < until => Some((e, false)),
            _ => None,
        };
        let targets = layer::allocate(&wants, budget.map(|(e, _)| e.saturating_sub(reserve)));
        let desired: u64 = wants
            .iter()
            .filter_map(|w| {
                w.desired
                    .and_then(|d| w.layers.iter().find(|(l, _)| *l == d))
                    .map(|(_, b)| *b)
            })
            .fold(reserve, u64::saturating_add);
        let bwe = self.config.bwe_initial.is_some();
        let Some(peer) = self.peers.get_mut(&id) else { return };
        if congested {
            peer.congested_until = Some(crate::later(now, CONGESTION_HOLD));
        }
        for (i, target) in which.into_iter().zip(targets) {
            let Some(t) = peer.tracks_out.get_mut(i) else { continue };
            if raises(t.layer.target, target) {
                peer.raised_at = Some(now);
            }
            t.layer.target = target;
        }
        if bwe {
            // Probe up to what the view would like; never force padding.
            peer.rtc
                .bwe()
                .set_bitrate(Bitrate::bps(0), Bitrate::bps(desired.max(100_000)));
        }
    }

    /// Tells each simulcasting publisher to send only the layers some
    /// subscriber receives or is switching to.
    fn update_publisher_layers(&mut self) {
        let mut changes: Vec<(PeerId, usize, Vec<Rid>)> = Vec::new();
        for peer in self.peers.values() {
            for (ti, tin) in peer.tracks_in.iter().enumerate() {
                if tin.kind != MediaKind::Video || tin.layers.is_empty() {
                    continue;
                }
                let copies = self
                    .room_mates(peer.id)
                    .into_iter()
                    .filter_map(|m| self.peers.get(&m))
                    .flat_map(|m| {
                        m.tracks_out
                            .iter()
                            .filter(|t| t.origin == peer.id && t.origin_mid == tin.mid && !t.origin_gone)
                    });
                let mut needed: Vec<Rid> = copies.flat_map(needed_layers).collect();
                needed.sort_by_key(|r| layer::rank(&tin.layers, r));
                needed.dedup();
                if tin.active.as_ref() != Some(&needed) {
                    changes.push((peer.id, ti, needed));
                }
            }
        }
        for (id, ti, needed) in changes {
            let Some(tin) = self.peers.get_mut(&id).and_then(|p| p.tracks_in.get_mut(ti)) else {
                continue;
            };
            tin.active = Some(needed.clone());
            let event = PeerEvent::Layers {
                mid: tin.mid.to_string(),
                active: needed.iter().map(|r| r.to_string()).collect(),
            };
            self.outputs.push_back(Output::Event(id, event));
        }
    }

    /// Finds each room's loudest voices and tells the room when they change.
    pub(crate) fn detect_speakers(&mut self, now: Instant) {
        let mut changed = Vec::new();
        for (room_id, r) in &self.rooms {
            let mut loud: Vec<(PeerId, f32)> = r
                .members
                .iter()
                .filter_map(|m| self.peers.get(m))
                .map(|p| {
                    let l = p
                        .tracks_in
                        .iter()
                        .filter(|t| t.kind == MediaKind::Audio)
                        .map(|t| t.loudness(now))
                        .fold(0.0, f32::max);
                    (p.id, l)
                })
                .filter(|(_, l)| *l >= SPEAKING_LOUDNESS)
                .collect();
            loud.sort_by(|a, b| b.1.total_cmp(&a.1));
            let ids: Vec<PeerId> = loud.into_iter().take(MAX_SPEAKERS).map(|(id, _)| id).collect();
            if ids != r.speakers {
                changed.push((*room_id, ids));
            }
        }
        for (room_id, ids) in changed {
            let Some(r) = self.rooms.get_mut(&room_id) else {
                continue;
            };
            r.speakers = ids.clone();
            let labels: Vec<String> = ids
                .iter()
                .filter_map(|id| self.peers.get(id))
                .map(|p| p.label.clone())
                .collect();
            for m in r.members.clone() {
                self.outputs
                    .push_back(Output::Event(m, PeerEvent::Speakers(labels.clone())));
            }
        }
    }

    /// Labels of a room's current active speakers, loudest first.
    pub fn speakers(&self, id: PeerId) -> Vec<String> {
        let Some(room) = self.peers.get(&id).map(|p| p.room) else {
            return Vec::new();
        };
        self.rooms
            .get(&room)
            .map(|r| {
                r.speakers
                    .iter()
                    .filter_map(|p| self.peers.get(p))
                    .map(|p| p.label.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The layers one subscriber's copy needs the publisher to send.
fn needed_layers(t: &TrackOut) -> impl Iterator<Item = Rid> + '_ {
    let target = match t.layer.target {
        Target::Layer(Some(r)) => Some(r),
        _ => None,
    };
    let current = t.layer.current.flatten();
    target.into_iter().chain(current.filter(|c| Some(*c) != target))
}

/// Whether moving from `old` to `new` sends more (a resume or a higher layer).
fn raises(old: Target, new: Target) -> bool {
    match (old, new) {
        (Target::Paused, Target::Layer(_)) => true,
        (Target::Layer(Some(a)), Target::Layer(Some(b))) => layer::rank(&[], &b) > layer::rank(&[], &a),
        _ => false,
    }
}
