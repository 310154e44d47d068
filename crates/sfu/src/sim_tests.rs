//! The core against real str0m peers over an in-memory network, with a fake
//! clock: ICE, DTLS, SRTP and renegotiation all run, no socket is opened, and
//! seconds of media take milliseconds.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::testkit::TestPeer;
use crate::*;

const SFU_ADDR: &str = "127.0.0.1:40000";

struct Net {
    now: Instant,
    sfu: Sfu,
    peers: Vec<(PeerId, TestPeer)>,
    next_id: u64,
    closed: Vec<PeerId>,
}

impl Net {
    fn new() -> Self {
        let addr: SocketAddr = SFU_ADDR.parse().unwrap();
        Net {
            now: Instant::now(),
            sfu: Sfu::new(SfuConfig::new(vec![addr])),
            peers: Vec::new(),
            next_id: 1,
            closed: Vec::new(),
        }
    }

    fn join(&mut self, room: u64, audio: bool, video: bool) -> PeerId {
        let id = PeerId(self.next_id);
        self.next_id += 1;
        let addr: SocketAddr = format!("127.0.0.2:{}", 50000 + id.0).parse().unwrap();
        let (mut peer, offer) = TestPeer::new(self.now, addr, audio, video);
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

    /// Runs the network for `d` of fake time in 5 ms steps.
    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            let now = self.now;
            for (_, peer) in &mut self.peers {
                let (tx, _) = peer.poll(now);
                for t in tx {
                    self.sfu
                        .handle_receive(now, peer.addr, t.destination, &t.contents);
                }
            }
            if self.sfu.poll_timeout().is_some_and(|t| t <= now) {
                self.sfu.handle_timeout(now);
            }
            while let Some(out) = self.sfu.poll_output() {
                match out {
                    Output::Transmit(t) => {
                        if let Some((_, p)) =
                            self.peers.iter_mut().find(|(_, p)| p.addr == t.destination)
                        {
                            p.handle_receive(now, t.source, t.destination, &t.contents);
                        }
                    }
                    Output::Event(id, PeerEvent::Offer(sdp)) => {
                        if let Some((_, p)) = self.peers.iter_mut().find(|(p, _)| *p == id) {
                            let answer = p.accept_offer(&sdp).unwrap();
                            self.sfu.accept_answer(now, id, &answer).unwrap();
                        }
                    }
                    Output::Event(id, PeerEvent::Closed(_)) => self.closed.push(id),
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
        assert!(
            got.get(&format!("p{}", me.0)).is_none(),
            "no echo of own media"
        );
        assert_eq!(net.sfu.subscriptions(me).len(), 4);
    }

    net.leave(c);
    net.run(Duration::from_secs(1));
    for me in [a, b] {
        let subs = net.sfu.subscriptions(me);
        assert_eq!(
            subs.len(),
            2,
            "only the remaining peer's two tracks: {subs:?}"
        );
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
        net.sfu
            .add_peer(now, RoomId(1), PeerId(99), "x", "v=0\r\nnonsense"),
        Err(SfuError::BadSdp(_))
    ));
    assert!(matches!(
        net.sfu.add_peer(now, RoomId(1), a, "x", "v=0"),
        Err(SfuError::DuplicatePeer)
    ));
    assert_eq!(
        net.sfu.accept_answer(now, a, "v=0"),
        Err(SfuError::NoPendingOffer)
    );
    assert_eq!(
        net.sfu.accept_answer(now, PeerId(77), "v=0"),
        Err(SfuError::UnknownPeer)
    );

    let before = net.peer(a).received()[&format!("p{}", b.0)];
    net.run(Duration::from_secs(1));
    let after = net.peer(a).received()[&format!("p{}", b.0)];
    assert!(
        after.video_frames > before.video_frames + 20,
        "media still flows"
    );
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
    assert!(
        net.sfu.subscriptions(a).is_empty(),
        "b's tracks are gone from a"
    );
}
