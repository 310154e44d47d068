//! The hot path: polling peers, and what their events mean for the others.
//!
//! `drive` polls every dirty peer until str0m waits for time. Events become
//! [`Propagate`] work applied after that peer's poll (a peer's `Rtc` cannot be
//! borrowed while another's is written to): a new track is offered to room
//! mates, an RTP packet is written to each subscriber that has the track
//! open (in the layer chosen for it, renumbered: `rewrite.rs`), its payload
//! shared, not copied; a keyframe request is routed to the publisher.

use std::time::Instant;

use str0m::bwe::BweKind;
use str0m::media::{Direction, KeyframeRequestKind, MediaKind, Mid};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite, Vp8Descriptor};
use str0m::{Event, IceConnectionState};

use crate::cap::Admit;
use crate::layer::{Decision, Layer};
use crate::rewrite::parse_vp8;
use crate::track::{TrackIn, TrackOut};
use crate::{Output, PeerEvent, PeerId, Sfu};

/// Work one peer's events create for other peers.
// `Rtp` is large, but boxing it would allocate once per forwarded packet.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Propagate {
    TrackAdded(PeerId, Mid),
    /// A packet of the publisher's track `mid`, layer `Layer`.
    Rtp(PeerId, Mid, Layer, RtpPacket),
    Keyframe(PeerId, Mid, Layer, KeyframeRequestKind),
    Close(PeerId, String),
}

impl Sfu {
    pub(crate) fn mark_dirty(&mut self, id: PeerId) {
        if let Some(p) = self.peers.get_mut(&id) {
            if !p.dirty {
                p.dirty = true;
                self.dirty.push(id);
            }
        }
    }

    /// Polls every dirty peer until it waits for time, applying what its
    /// events mean for the others (which may dirty them in turn).
    pub(crate) fn drive(&mut self, now: Instant) {
        self.drive_at = None;
        let mut work = Vec::new();
        while let Some(id) = self.dirty.pop() {
            self.poll_peer(now, id, &mut work);
            for p in work.drain(..) {
                self.propagate(now, p);
            }
        }
    }

    /// Polls one peer now and applies its events; others it writes to stay dirty.
    pub(crate) fn poll_now(&mut self, now: Instant, id: PeerId) {
        let mut work = Vec::new();
        self.poll_peer(now, id, &mut work);
        for p in work {
            self.propagate(now, p);
        }
    }

    fn poll_peer(&mut self, now: Instant, id: PeerId, work: &mut Vec<Propagate>) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        peer.dirty = false;
        self.counters.polls = self.counters.polls.saturating_add(1);
        // Offer first, so a change is negotiated as soon as possible.
        if let Some(offer) = peer.negotiate_if_needed(now) {
            self.counters.offered(&offer);
            self.outputs.push_back(Output::Event(id, PeerEvent::Offer(offer)));
        }
        loop {
            if !peer.rtc.is_alive() {
                work.push(Propagate::Close(id, "media connection closed".into()));
                return;
            }
            self.counters.poll_outputs = self.counters.poll_outputs.saturating_add(1);
            let out = match peer.rtc.poll_output() {
                Ok(o) => o,
                Err(e) => {
                    work.push(Propagate::Close(id, format!("media error: {e}")));
                    return;
                }
            };
            let e = match out {
                str0m::Output::Timeout(t) => {
                    peer.next_timeout = Some(t);
                    return;
                }
                str0m::Output::Transmit(t) => {
                    self.outputs.push_back(Output::Transmit(t));
                    continue;
                }
                str0m::Output::Event(e) => e,
            };
            match e {
                Event::Connected => self.outputs.push_back(Output::Event(id, PeerEvent::Connected)),
                Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                    work.push(Propagate::Close(id, "media connection lost (ICE)".into()));
                    return;
                }
                // Only what the browser sends us is a publication.
                Event::MediaAdded(m)
                    if matches!(m.direction, Direction::RecvOnly | Direction::SendRecv)
                        && peer.track_in_mut(m.mid).is_none() =>
                {
                    let rids: Vec<_> = m
                        .simulcast
                        .map(|s| s.recv.iter().map(|l| l.rid).collect())
                        .unwrap_or_default();
                    // The browser offers microphone and camera first, then the
                    // screen's video and sound: a second track of a kind is the screen.
                    let screen = peer.tracks_in.iter().any(|t| t.kind == m.kind);
                    peer.tracks_in
                        .push(TrackIn::new(m.mid, m.kind, crate::layer::ordered(&rids), screen));
                    work.push(Propagate::TrackAdded(id, m.mid));
                }
                Event::RtpPacket(pkt) => {
                    // Repaired packets come out under their original SSRC.
                    if let Some(rx) = peer.rtc.direct_api().stream_rx(&pkt.header.ssrc) {
                        work.push(Propagate::Rtp(id, rx.mid(), rx.rid(), pkt));
                    }
                }
                Event::KeyframeRequest(req) => {
                    if let Some(t) = peer
                        .tracks_out
                        .iter()
                        .find(|t| t.mid() == Some(req.mid) && !t.origin_gone)
                    {
                        let layer = t.layer.current.unwrap_or(None);
                        work.push(Propagate::Keyframe(t.origin, t.origin_mid, layer, req.kind));
                    }
                }
                Event::EgressBitrateEstimate(BweKind::Twcc {
                    estimate,
                    can_probe: true,
                }) => {
                    peer.estimate = Some(estimate.as_u64());
                }
                _ => {}
            }
        }
    }

    fn propagate(&mut self, now: Instant, p: Propagate) {
        match p {
            Propagate::TrackAdded(origin, mid) => {
                let Some(o) = self.peers.get(&origin) else { return };
                let Some(t) = o.tracks_in.iter().find(|t| t.mid == mid) else {
                    return;
                };
                let label = o.label.clone();
                let mut copies = Vec::new();
                for other in self.room_mates(origin) {
                    copies.push((other, TrackOut::new(origin, &label, t)));
                }
                for (other, copy) in copies {
                    if let Some(o) = self.peers.get_mut(&other) {
                        o.tracks_out.push(copy);
                        self.mark_dirty(other);
                    }
                }
            }
            Propagate::Rtp(origin, mid, rid, pkt) => self.forward(now, origin, mid, rid, &pkt),
            Propagate::Keyframe(origin, mid, layer, kind) => self.request_keyframe(now, origin, mid, layer, kind),
            Propagate::Close(id, reason) => self.close_peer(id, reason),
        }
    }

    pub(crate) fn room_mates(&self, id: PeerId) -> Vec<PeerId> {
        let Some(room) = self.peers.get(&id).map(|p| p.room) else {
            return Vec::new();
        };
        self.rooms
            .get(&room)
            .map(|r| r.members.iter().copied().filter(|p| *p != id).collect())
            .unwrap_or_default()
    }

    /// Writes one received RTP packet to every subscriber that has its track
    /// open, in the layer chosen for that subscriber, renumbered so each
    /// copy is one continuous stream. Layer decisions are taken at the first
    /// packet of a frame; the rest of a frame follows its layer's fate.
    fn forward(&mut self, now: Instant, origin: PeerId, mid: Mid, rid: Layer, pkt: &RtpPacket) {
        let Some(publisher) = self.peers.get_mut(&origin) else {
            return;
        };
        let room = publisher.room;
        if let Some(cap) = &mut publisher.cap {
            if let Admit::Drop { notify } = cap.admit(now, pkt.payload.len()) {
                self.counters.packets_over_cap = self.counters.packets_over_cap.saturating_add(1);
                if notify {
                    let max_kbps = cap.kbps();
                    tracing::info!(peer = ?origin, max_kbps, dropped = cap.dropped, "publisher over the bitrate cap");
                    self.outputs
                        .push_back(Output::Event(origin, PeerEvent::PublishCapped { max_kbps }));
                }
                return;
            }
        }
        let pt_in = pkt.header.payload_type;
        let Some(params) = publisher.rtc.codec_config().find(|p| p.pt() == pt_in).copied() else {
            return;
        };
        let is_video = params.spec().codec.is_video();
        // Enforced mute: the audio goes nowhere and does not count as speech.
        let muted = !is_video && publisher.audio_muted;
        if let Some(t) = publisher.track_in_mut(mid) {
            if let Some(rate) = t.layer_index(&rid).and_then(|i| t.rates.get_mut(i)) {
                rate.add(now, pkt.payload.len());
            }
            if let (MediaKind::Audio, Some(level), false) = (t.kind, pkt.header.ext_vals.audio_level, muted) {
                t.hear(now, level);
            }
        }
        let Some(r) = self.rooms.get(&room) else { return };
        let clock_rate = u64::from(pkt.time.denom());
        let ts_in = pkt.time.numer();
        let vp8 = if is_video { parse_vp8(&pkt.payload) } else { None };
        // The descriptor str0m patches, parsed once for every copy.
        let descriptor = vp8.and_then(|_| Vp8Descriptor::parse(&pkt.payload).ok());
        let mut want_keyframe = None;
        for sub_id in r.members.iter().filter(|p| **p != origin) {
            let Some(sub) = self.peers.get_mut(sub_id) else {
                continue;
            };
            let Some(t) = sub
                .tracks_out
                .iter_mut()
                .find(|t| t.origin == origin && t.origin_mid == mid)
            else {
                continue;
            };
            let Some(out_mid) = t.open_mid() else { continue };
            if muted {
                t.renumber.restart();
                continue;
            }
            let ts = if is_video {
                match t.decide(now, rid, ts_in, vp8.as_ref(), clock_rate) {
                    Decision::Forward(ts) => ts,
                    Decision::Drop => continue,
                    Decision::DropAndRequestKeyframe(layer) => {
                        want_keyframe = Some(layer);
                        continue;
                    }
                    Decision::ForwardAndRequestKeyframe(ts, layer) => {
                        want_keyframe = Some(layer);
                        ts
                    }
                }
            } else {
                ts_in
            };
            let Some(n) = t.renumber.map(*pkt.seq_no, vp8.as_ref()) else {
                continue;
            };
            let pt = match t.pt {
                Some(pt) => pt,
                None => {
                    let Some(pt) = sub.rtc.codec_config().match_params(params).map(|p| p.pt()) else {
                        continue;
                    };
                    t.pt = Some(pt);
                    pt
                }
            };
            // RTP timestamps are 32 bits on the wire; the extended value wraps.
            let mut write = RtpWrite::new(pt, n.seq.into(), ts as u32, pkt.timestamp, pkt.payload.clone())
                .marker(pkt.header.marker)
                .nackable(is_video);
            if !is_video {
                let ext = ExtensionValues {
                    audio_level: pkt.header.ext_vals.audio_level,
                    voice_activity: pkt.header.ext_vals.voice_activity,
                    ..ExtensionValues::default()
                };
                write = write.ext_vals(ext);
            }
            if let Some(d) = &descriptor {
                let mut patch = d.patch();
                if let Some(pid) = n.picture_id {
                    patch = patch.picture_id(pid);
                }
                if let Some(tl0) = n.tl0_pic_idx {
                    patch = patch.tl0_pic_idx(tl0);
                }
                // Fields are only rewritten where the descriptor has them.
                if let Ok(patch) = patch.build() {
                    write = write.vp8_patch(patch);
                }
            }
            let mut api = sub.rtc.direct_api();
            let Some(tx) = api.stream_tx_by_mid(out_mid, None) else {
                continue;
            };
            tx.write_rtp(write);
            let c = &mut self.counters;
            c.frames_forwarded = c
                .frames_forwarded
                .saturating_add(u64::from(pkt.header.marker || !is_video));
            c.packets_forwarded = c.packets_forwarded.saturating_add(1);
            if !sub.dirty {
                sub.dirty = true;
                self.dirty.push(*sub_id);
            }
        }
        if let Some(layer) = want_keyframe {
            self.request_keyframe(now, origin, mid, layer, KeyframeRequestKind::Pli);
        }
    }

    pub(crate) fn request_keyframe(
        &mut self,
        now: Instant,
        origin: PeerId,
        mid: Mid,
        layer: Layer,
        kind: KeyframeRequestKind,
    ) {
        let interval = self.config.keyframe_interval;
        self.request_keyframe_within(now, origin, mid, layer, kind, interval);
    }

    /// A keyframe request for a copy that just opened: a newcomer should see
    /// a picture at once, so it waits at most [`NEW_VIEWER_KEYFRAME`] behind
    /// the previous request rather than the usual interval.
    pub(crate) fn request_keyframe_for_new_viewer(&mut self, now: Instant, origin: PeerId, mid: Mid, layer: Layer) {
        let interval = self.config.keyframe_interval.min(crate::NEW_VIEWER_KEYFRAME);
        self.request_keyframe_within(now, origin, mid, layer, KeyframeRequestKind::Pli, interval);
    }

    fn request_keyframe_within(
        &mut self,
        now: Instant,
        origin: PeerId,
        mid: Mid,
        layer: Layer,
        kind: KeyframeRequestKind,
        interval: std::time::Duration,
    ) {
        let Some(track) = self.peers.get_mut(&origin).and_then(|p| p.track_in_mut(mid)) else {
            return;
        };
        if track.kind != MediaKind::Video {
            return;
        }
        // A layer the publisher does not send cannot produce a keyframe.
        let layer = if track.layers.is_empty() {
            None
        } else {
            layer.filter(|r| track.layers.contains(r))
        };
        if !track.layers.is_empty() && layer.is_none() {
            return;
        }
        if let Some(kind) = track.keyframes_for(layer).request(now, kind, interval) {
            self.send_keyframe_request(origin, mid, layer, kind);
        }
    }

    pub(crate) fn send_keyframe_request(&mut self, origin: PeerId, mid: Mid, layer: Layer, kind: KeyframeRequestKind) {
        let Some(peer) = self.peers.get_mut(&origin) else {
            return;
        };
        // Absent only for a rid the publisher did not announce (filtered above)
        // or before its first packet.
        let mut api = peer.rtc.direct_api();
        let Some(rx) = api.stream_rx_by_mid(mid, layer) else {
            return;
        };
        rx.request_keyframe(kind);
        self.counters.keyframe_requests = self.counters.keyframe_requests.saturating_add(1);
        self.mark_dirty(origin);
    }

    /// Removes a peer whose media failed and tells the shell.
    pub(crate) fn close_peer(&mut self, id: PeerId, reason: String) {
        if self.detach_peer(id).is_ok() {
            self.outputs.push_back(Output::Event(id, PeerEvent::Closed(reason)));
        }
    }
}
