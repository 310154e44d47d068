//! The core against real str0m peers over an in-memory network, with a fake
//! clock: ICE, DTLS, SRTP and renegotiation all run, no socket is opened, and
//! seconds of media take milliseconds.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use std::collections::HashMap;

use crate::testkit::{Publish, TestPeer};
use crate::*;

const SFU_ADDR: &str = "127.0.0.1:40000";

struct Net {
    now: Instant,
    sfu: Sfu,
    peers: Vec<(PeerId, TestPeer)>,
    next_id: u64,
    closed: Vec<PeerId>,
    speakers: HashMap<PeerId, Vec<String>>,
    layer_events: Vec<(PeerId, Vec<String>)>,
    /// When set, offers are kept here instead of being answered.
    held: Option<Vec<(PeerId, String)>>,
    /// `PublishCapped` notices, in order.
    capped: Vec<(PeerId, u64)>,
}

impl Net {
    /// A network without bandwidth estimation: layers follow views exactly.
    fn new() -> Self {
        let mut net = Net::with_bwe();
        net.sfu = Sfu::new(SfuConfig::new(vec![SFU_ADDR.parse().unwrap()]));
        net
    }

    /// A network with str0m's TWCC bandwidth estimation on, as in production.
    fn with_bwe() -> Self {
        let addr: SocketAddr = SFU_ADDR.parse().unwrap();
        let config = SfuConfig {
            bwe_initial: Some(3_000_000),
            ..SfuConfig::new(vec![addr])
        };
        Net {
            now: Instant::now(),
            sfu: Sfu::new(config),
            peers: Vec::new(),
            next_id: 1,
            closed: Vec::new(),
            speakers: HashMap::new(),
            layer_events: Vec::new(),
            held: None,
            capped: Vec::new(),
        }
    }

    fn join(&mut self, room: u64, audio: bool, video: bool) -> PeerId {
        self.join_with(
            room,
            Publish {
                audio,
                video,
                ..Publish::av()
            },
        )
    }

    fn join_with(&mut self, room: u64, publish: Publish) -> PeerId {
        let id = PeerId(self.next_id);
        self.next_id += 1;
        let addr: SocketAddr = format!("127.0.0.2:{}", 50000 + id.0).parse().unwrap();
        let (mut peer, offer) = TestPeer::with(self.now, addr, publish);
        let answer = self
            .sfu
            .add_peer(self.now, RoomId(room), id, &format!("p{}", id.0), &offer)
            .unwrap();
        peer.accept_answer(&answer).unwrap();
        self.peers.push((id, peer));
        id
    }

    fn leave(&mut self, id: PeerId) {
        self.peers.retain(|(p, _)| *p != id);
        self.sfu.remove_peer(self.now, id).unwrap();
    }

    fn peer(&self, id: PeerId) -> &TestPeer {
        &self.peers.iter().find(|(p, _)| *p == id).unwrap().1
    }

    fn got(&self, me: PeerId, from: PeerId) -> testkit::Received {
        self.peer(me)
            .received()
            .get(&format!("p{}", from.0))
            .copied()
            .unwrap_or_default()
    }

    /// What `me` receives of `from` during the next `d`.
    fn delta(&mut self, me: PeerId, from: PeerId, d: Duration) -> testkit::Received {
        let a = self.got(me, from);
        self.run(d);
        let b = self.got(me, from);
        testkit::Received {
            audio_frames: b.audio_frames - a.audio_frames,
            video_frames: b.video_frames - a.video_frames,
            video_bytes: b.video_bytes - a.video_bytes,
            video_breaks: b.video_breaks - a.video_breaks,
        }
    }

    fn view(&mut self, me: PeerId, tiles: &[(PeerId, u32)]) {
        let tiles: Vec<(String, u32)> = tiles.iter().map(|(p, h)| (format!("p{}", p.0), *h)).collect();
        self.sfu.set_view(self.now, me, &tiles).unwrap();
    }

    /// Runs the network for `d` of fake time in 5 ms steps.
    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            let now = self.now;
            for (_, peer) in &mut self.peers {
                let (tx, _) = peer.poll(now);
                for t in tx {
                    self.sfu.handle_receive(now, peer.addr, t.destination, &t.contents);
                }
            }
            if self.sfu.poll_timeout().is_some_and(|t| t <= now) {
                self.sfu.handle_timeout(now);
            }
            while let Some(out) = self.sfu.poll_output() {
                match out {
                    Output::Transmit(t) => {
                        if let Some((_, p)) = self.peers.iter_mut().find(|(_, p)| p.addr == t.destination) {
                            p.handle_receive(now, t.source, t.destination, &t.contents);
                        }
                    }
                    Output::Event(id, PeerEvent::Offer(sdp)) if self.held.is_some() => {
                        self.held.as_mut().unwrap().push((id, sdp));
                    }
                    Output::Event(id, PeerEvent::Offer(sdp)) => {
                        if let Some((_, p)) = self.peers.iter_mut().find(|(p, _)| *p == id) {
                            let answer = p.accept_offer(&sdp).unwrap();
                            self.sfu.accept_answer(now, id, &answer).unwrap();
                        }
                    }
                    Output::Event(id, PeerEvent::Closed(_)) => self.closed.push(id),
                    Output::Event(id, PeerEvent::Speakers(s)) => {
                        self.speakers.insert(id, s);
                    }
                    Output::Event(id, PeerEvent::Layers { active, .. }) => {
                        if let Some((_, p)) = self.peers.iter_mut().find(|(p, _)| *p == id) {
                            p.set_active_layers(&active);
                        }
                        self.layer_events.push((id, active));
                    }
                    Output::Event(id, PeerEvent::PublishCapped { max_kbps }) => self.capped.push((id, max_kbps)),
                    Output::Event(..) => {}
                }
            }
            self.now += Duration::from_millis(5);
        }
    }
}

#[test]
fn three_peers_receive_each_other_and_leaving_stops_tracks() {
    let mut net = Net::new();
    let a = net.join(1, true, true);
    let b = net.join(1, true, true);
    let c = net.join(1, true, true);
    net.run(Duration::from_secs(3));

    for (me, others) in [(a, [b, c]), (b, [a, c]), (c, [a, b])] {
        let got = net.peer(me).received();
        for o in others {
            let r = got.get(&format!("p{}", o.0)).copied().unwrap_or_default();
            assert!(r.audio_frames > 50, "{me:?} got {r:?} from {o:?}");
            assert!(r.video_frames > 30, "{me:?} got {r:?} from {o:?}");
        }
        assert!(got.get(&format!("p{}", me.0)).is_none(), "no echo of own media");
        assert_eq!(net.sfu.subscriptions(me).len(), 4);
    }

    net.leave(c);
    net.run(Duration::from_secs(1));
    for me in [a, b] {
        let subs = net.sfu.subscriptions(me);
        assert_eq!(subs.len(), 2, "only the remaining peer's two tracks: {subs:?}");
        assert!(subs
            .iter()
            .all(|s| s.origin != c && matches!(s.state, TrackOutState::Open(_))));
        assert!(
            !net.peer(me).open_labels().contains(&format!("p{}", c.0)),
            "stopped at the client too"
        );
    }
    // Media from the remaining peer keeps flowing after renegotiation.
    let before = net.peer(a).received()[&format!("p{}", b.0)];
    net.run(Duration::from_secs(1));
    let after = net.peer(a).received()[&format!("p{}", b.0)];
    assert!(after.video_frames > before.video_frames + 20);
    assert!(after.audio_frames > before.audio_frames + 30);
}

#[test]
fn rooms_are_isolated() {
    let mut net = Net::new();
    let a = net.join(1, true, true);
    let b = net.join(2, true, true);
    net.run(Duration::from_secs(2));
    assert!(net.peer(a).received().is_empty());
    assert!(net.peer(b).received().is_empty());
    assert!(net.sfu.subscriptions(a).is_empty());
}

#[test]
fn a_late_joiner_gets_existing_tracks_and_a_keyframe_request_is_sent() {
    let mut net = Net::new();
    let a = net.join(1, true, true);
    net.run(Duration::from_secs(1));
    let before = net.sfu.counters().keyframe_requests;
    let b = net.join(1, false, false);
    net.run(Duration::from_secs(2));
    let r = net.peer(b).received()[&format!("p{}", a.0)];
    assert!(r.video_frames > 30 && r.audio_frames > 50, "{r:?}");
    assert!(
        net.sfu.counters().keyframe_requests > before,
        "opening a video asks the publisher for a keyframe"
    );
    assert!(net.peer(a).received().is_empty(), "b publishes nothing");
}

#[test]
fn garbage_and_bad_sdp_harm_nobody() {
    let mut net = Net::new();
    let a = net.join(1, true, true);
    let b = net.join(1, true, true);
    net.run(Duration::from_secs(1));
    let sfu_addr: SocketAddr = SFU_ADDR.parse().unwrap();
    let stranger: SocketAddr = "127.0.0.9:1234".parse().unwrap();
    let now = net.now;
    for junk in [
        &b""[..],
        &[0u8; 1][..],
        &[0x80, 0x60, 0, 1][..],
        &[0xff; 1500][..],
        &[0x16, 0xfe, 0xfd, 0, 0][..],
    ] {
        assert!(!net.sfu.handle_receive(now, stranger, sfu_addr, junk));
    }
    // Truncated copy of a STUN binding request with made-up credentials.
    let mut stun = vec![0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42];
    stun.extend_from_slice(&[7; 12]);
    stun.extend_from_slice(&[0x00, 0x06, 0x00, 0x04, b'a', b'b', b'c', b'd']);
    assert!(!net.sfu.handle_receive(now, stranger, sfu_addr, &stun));

    assert!(matches!(
        net.sfu.add_peer(now, RoomId(1), PeerId(99), "x", "v=0\r\nnonsense"),
        Err(SfuError::BadSdp(_))
    ));
    assert!(matches!(
        net.sfu.add_peer(now, RoomId(1), a, "x", "v=0"),
        Err(SfuError::DuplicatePeer)
    ));
    assert_eq!(net.sfu.accept_answer(now, a, "v=0"), Err(SfuError::NoPendingOffer));
    assert_eq!(
        net.sfu.accept_answer(now, PeerId(77), "v=0"),
        Err(SfuError::UnknownPeer)
    );

    let before = net.peer(a).received()[&format!("p{}", b.0)];
    net.run(Duration::from_secs(1));
    let after = net.peer(a).received()[&format!("p{}", b.0)];
    assert!(after.video_frames > before.video_frames + 20, "media still flows");
    assert_eq!(net.sfu.peer_count(), 2);
}

#[test]
fn a_silent_peer_is_closed_after_ice_timeout() {
    let mut net = Net::new();
    let a = net.join(1, true, true);
    let b = net.join(1, true, true);
    net.run(Duration::from_secs(1));
    // b vanishes without a word: no more datagrams from it.
    net.peers.retain(|(p, _)| *p != b);
    net.run(Duration::from_secs(60));
    assert_eq!(
        net.closed,
        vec![b],
        "the core closes the peer that stopped talking, only it"
    );
    assert_eq!(net.sfu.peer_count(), 1);
    assert!(net.sfu.subscriptions(a).is_empty(), "b's tracks are gone from a");
}

fn simulcast() -> Publish {
    Publish {
        simulcast: true,
        ..Publish::av()
    }
}

#[test]
fn simulcast_layer_follows_the_tile_size_and_switches_cleanly() {
    let mut net = Net::new();
    let a = net.join_with(1, simulcast());
    let b = net.join(1, false, false);
    net.view(b, &[(a, 150)]);
    net.run(Duration::from_secs(2));
    let r = net.delta(b, a, Duration::from_secs(2));
    assert!(r.video_frames > 40, "{r:?}");
    assert_eq!(
        r.mean_video_frame(),
        testkit::LAYER_FRAME_BYTES[0] as u64,
        "small tile: low layer only"
    );

    net.view(b, &[(a, 720)]);
    net.run(Duration::from_secs(1));
    let r = net.delta(b, a, Duration::from_secs(2));
    assert!(r.video_frames > 40, "no frames lost to the switch: {r:?}");
    assert_eq!(
        r.mean_video_frame(),
        testkit::LAYER_FRAME_BYTES[2] as u64,
        "large tile: high layer"
    );

    net.view(b, &[(a, 360)]);
    net.run(Duration::from_secs(1));
    let r = net.delta(b, a, Duration::from_secs(2));
    assert_eq!(
        r.mean_video_frame(),
        testkit::LAYER_FRAME_BYTES[1] as u64,
        "mid tile: mid layer"
    );
}

#[test]
fn a_copy_stays_one_continuous_stream_across_q_h_pause_q() {
    // Packets are forwarded, not frames: each layer has its own sequence
    // numbers, timestamps and picture ids, and the subscriber must never see
    // them jump (it would NACK phantom gaps or drop the new layer's frames).
    let mut net = Net::new();
    let a = net.join_with(1, simulcast());
    let b = net.join(1, false, false);
    net.view(b, &[(a, 150)]);
    net.run(Duration::from_secs(2));
    let mut frames = 0;
    for (height, what) in [(150, "q"), (360, "q→h"), (0, "h→pause"), (150, "pause→q"), (720, "q→f")] {
        if height == 0 {
            net.view(b, &[]);
        } else {
            net.view(b, &[(a, height)]);
        }
        let r = net.delta(b, a, Duration::from_secs(2));
        assert_eq!(
            r.video_breaks, 0,
            "{what}: no jump in sequence, picture id or time: {r:?}"
        );
        if height == 0 {
            assert!(r.video_frames < 5, "{what}: paused: {r:?}");
        } else {
            assert!(r.video_frames > 30, "{what}: frames flow: {r:?}");
        }
        frames += r.video_frames;
    }
    let r = net.got(b, a);
    assert_eq!(r.video_breaks, 0, "{r:?}");
    assert!(frames > 150);
    assert_eq!(
        net.delta(b, a, Duration::from_secs(1)).mean_video_frame(),
        testkit::LAYER_FRAME_BYTES[2] as u64,
        "ends on the high layer"
    );
}

#[test]
fn unseen_videos_are_not_forwarded_and_unwatched_layers_are_paused() {
    let mut net = Net::new();
    let a = net.join_with(1, simulcast());
    net.run(Duration::from_secs(1));
    assert_eq!(
        net.layer_events.last(),
        Some(&(a, vec![])),
        "alone: every layer paused at the publisher"
    );
    let b = net.join(1, false, false);
    let c = net.join(1, false, false);
    net.view(b, &[(a, 150)]);
    net.view(c, &[]);
    net.run(Duration::from_secs(2));
    assert_eq!(
        net.layer_events.last(),
        Some(&(a, vec!["q".to_string()])),
        "only the watched layer is sent"
    );
    let r = net.delta(c, a, Duration::from_secs(1));
    assert_eq!(r.video_frames, 0, "a tile that is not visible gets no video");
    assert!(r.audio_frames > 30, "but audio always flows");
    net.view(c, &[(a, 720)]);
    net.run(Duration::from_secs(1));
    assert_eq!(
        net.layer_events.last(),
        Some(&(a, vec!["q".to_string(), "f".to_string()]))
    );
    assert!(net.delta(c, a, Duration::from_secs(1)).video_frames > 20, "resumed");
}

#[test]
fn speakers_are_detected_from_audio_levels() {
    let mut net = Net::new();
    let loud = net.join(1, true, false);
    let quiet = net.join_with(
        1,
        Publish {
            speaking: false,
            video: false,
            ..Publish::av()
        },
    );
    net.run(Duration::from_secs(2));
    let want = vec![format!("p{}", loud.0)];
    assert_eq!(net.speakers.get(&quiet), Some(&want));
    assert_eq!(net.speakers.get(&loud), Some(&want));
    assert_eq!(net.sfu.speakers(quiet), want);
}

#[test]
fn low_bandwidth_steps_layers_down_and_pauses_before_audio_suffers() {
    // Estimates are set by hand here (no str0m BWE to overwrite them).
    let mut net = Net::new();
    let a = net.join_with(1, simulcast());
    let b = net.join_with(1, simulcast());
    let c = net.join(1, false, false);
    net.view(c, &[(a, 720), (b, 720)]);
    net.run(Duration::from_secs(3));
    assert_eq!(
        net.delta(c, a, Duration::from_secs(1)).mean_video_frame(),
        testkit::LAYER_FRAME_BYTES[2] as u64
    );

    // The estimate towards c collapses: both videos step down to q, then one pauses.
    net.sfu.peers.get_mut(&c).unwrap().estimate = Some(500_000);
    net.run(Duration::from_secs(2));
    let (ra, rb) = (net.delta(c, a, Duration::from_secs(1)), net.got(c, b));
    let _ = rb;
    assert_eq!(ra.mean_video_frame(), testkit::LAYER_FRAME_BYTES[0] as u64, "{ra:?}");
    net.sfu.peers.get_mut(&c).unwrap().estimate = Some(300_000);
    net.run(Duration::from_secs(1));
    let (ra, rb) = (
        net.delta(c, a, Duration::from_secs(1)),
        net.delta(c, b, Duration::from_secs(1)),
    );
    assert_eq!(
        (ra.video_frames > 0) as u8 + (rb.video_frames > 0) as u8,
        1,
        "one video paused: {ra:?} {rb:?}"
    );
    assert!(ra.audio_frames > 30 && rb.audio_frames > 30, "audio never suffers");
    // Bandwidth returns: back up.
    net.sfu.peers.get_mut(&c).unwrap().estimate = Some(10_000_000);
    net.run(Duration::from_secs(2));
    assert_eq!(
        net.delta(c, a, Duration::from_secs(1)).mean_video_frame(),
        testkit::LAYER_FRAME_BYTES[2] as u64
    );
}

#[test]
fn with_bandwidth_estimation_an_unconstrained_link_keeps_the_high_layer() {
    let mut net = Net::with_bwe();
    let a = net.join_with(1, simulcast());
    let b = net.join(1, false, false);
    net.view(b, &[(a, 720)]);
    net.run(Duration::from_secs(3));
    for _ in 0..4 {
        let r = net.delta(b, a, Duration::from_secs(2));
        assert_eq!(
            r.mean_video_frame(),
            testkit::LAYER_FRAME_BYTES[2] as u64,
            "no false congestion: {r:?}"
        );
        // str0m paces to its estimate (~1.25 Mb/s here), so not all 60 frames pass: why BWE is opt-in.
        assert!(r.video_frames >= 40, "{r:?}");
    }
}

#[test]
fn a_non_sdp_answer_while_an_offer_waits_changes_nothing() {
    let mut net = Net::new();
    let a = net.join(1, true, true);
    net.run(Duration::from_secs(1));
    net.held = Some(Vec::new());
    let b = net.join(1, true, true);
    net.run(Duration::from_secs(1));
    let (id, offer) = net
        .held
        .take()
        .unwrap()
        .into_iter()
        .find(|(p, _)| *p == a)
        .expect("a was offered b's tracks");
    let now = net.now;
    let r = net.sfu.accept_answer(now, a, "garbage");
    assert!(matches!(r, Err(SfuError::BadSdp(_))), "{r:?}");
    assert_eq!(net.sfu.peer_count(), 2, "a is not closed");
    let answer = net
        .peers
        .iter_mut()
        .find(|(p, _)| *p == id)
        .unwrap()
        .1
        .accept_offer(&offer)
        .unwrap();
    net.sfu
        .accept_answer(now, a, &answer)
        .expect("the real answer still applies");
    net.run(Duration::from_secs(3));
    assert!(net.got(a, b).video_frames > 20, "b's tracks opened at a");
    assert!(net.closed.is_empty());
}

#[test]
fn a_muted_publisher_is_not_heard_until_unmuted() {
    let mut net = Net::new();
    let a = net.join(1, true, true);
    let b = net.join(1, true, true);
    net.run(Duration::from_secs(3));
    assert!(net.delta(b, a, Duration::from_secs(1)).audio_frames > 10, "a is heard");
    net.sfu.set_audio_muted(a, true).unwrap();
    net.run(Duration::from_millis(100));
    let muted = net.delta(b, a, Duration::from_secs(2));
    assert_eq!(muted.audio_frames, 0, "a muted by the server is not forwarded");
    assert!(muted.video_frames > 10, "video keeps flowing");
    assert!(
        net.delta(a, b, Duration::from_secs(1)).audio_frames > 10,
        "a still hears b"
    );
    net.sfu.set_audio_muted(a, false).unwrap();
    assert!(net.delta(b, a, Duration::from_secs(1)).audio_frames > 10, "heard again");
    assert_eq!(net.sfu.set_audio_muted(PeerId(999), true), Err(SfuError::UnknownPeer));
}

#[test]
fn a_shared_screen_is_its_own_tile_forwarded_only_when_watched() {
    let mut net = Net::new();
    let a = net.join_with(
        1,
        Publish {
            screen: true,
            ..Publish::av()
        },
    );
    let b = net.join(1, true, true);
    let screen = format!("p{}{}", a.0, SCREEN_SUFFIX);
    let screen_frames = |net: &Net| net.peer(b).received().get(&screen).map_or(0, |r| r.video_frames);
    net.sfu.set_view(net.now, b, &[(format!("p{}", a.0), 720)]).unwrap();
    net.run(Duration::from_secs(3));
    assert!(
        net.peer(b).open_labels().contains(&screen),
        "the screen is offered as its own stream: {:?}",
        net.peer(b).open_labels()
    );
    assert!(net.got(b, a).video_frames > 30, "the camera flows");
    let settled = screen_frames(&net);
    net.run(Duration::from_secs(1));
    assert_eq!(screen_frames(&net), settled, "an unwatched screen is not forwarded");
    net.sfu
        .set_view(net.now, b, &[(format!("p{}", a.0), 180), (screen.clone(), 720)])
        .unwrap();
    net.run(Duration::from_secs(2));
    assert!(screen_frames(&net) > 20, "a watched screen flows");
}

#[test]
fn a_publisher_over_the_cap_is_cut_to_it_and_told_while_others_pass_whole() {
    let mut net = Net::new();
    net.sfu = Sfu::new(SfuConfig {
        max_publish_bitrate: Some(1_000_000),
        ..SfuConfig::new(vec![SFU_ADDR.parse().unwrap()])
    });
    // A modified client: one video stream at 8000 B x 30/s, about 1.9 Mb/s.
    let flood = net.join(1, true, true);
    net.peers.last_mut().unwrap().1.video_frame_bytes = 8000;
    // An honest one at 2500 B x 30/s, about 600 kb/s.
    let honest = net.join(1, true, true);
    let viewer = net.join(1, true, false);
    net.view(viewer, &[(flood, 720), (honest, 720)]);
    // The 2 s burst allowance is used up within the first seconds.
    net.run(Duration::from_secs(5));
    let before = net.sfu.counters().packets_over_cap;
    let flooded = net.delta(viewer, flood, Duration::from_secs(5));
    let whole = net.delta(viewer, honest, Duration::from_secs(5));
    let flood_bps = flooded.video_bytes * 8 / 5;
    assert!(
        flood_bps <= 1_000_000,
        "the flood reaches the viewer at {flood_bps} b/s"
    );
    assert!(net.sfu.counters().packets_over_cap > before, "the excess is dropped");
    assert!(
        net.capped.iter().all(|(p, kbps)| *p == flood && *kbps == 1000),
        "only the flooding publisher is told: {:?}",
        net.capped
    );
    // Told at the first drop, then at most every 5 s: 2 or 3 notices in 15 s.
    assert!((2..=3).contains(&net.capped.len()), "{:?}", net.capped);
    // The honest publisher loses nothing: 30 frames/s, and audio throughout.
    assert!(whole.video_frames >= 140, "honest video: {whole:?}");
    assert!(net.delta(viewer, honest, Duration::from_secs(1)).audio_frames >= 45);
    assert!(net.delta(viewer, flood, Duration::from_secs(1)).audio_frames > 0);
}
