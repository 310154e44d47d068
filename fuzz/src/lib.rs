//! Fuzz harnesses: one function per target, taking the fuzzer's bytes.
//!
//! Why one library: the same functions run under AFL (`src/bin/fuzz_*.rs`,
//! built by `cargo afl build --features afl`) and as ordinary tests that
//! replay the corpus in `corpus/<target>/` (`cargo test -p salon-fuzz`),
//! so every input that once crashed stays a regression test, with or
//! without AFL installed.
//!
//! A harness must never panic on any input: a panic is the bug AFL reports.
//! Each also checks a property where one is cheap (the .ics folding).

use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use salon_sfu::testkit::{Publish, TestPeer};
use salon_sfu::{PeerId, RoomId, Sfu, SfuConfig};

/// Signaling: any text parsed as a client message, and the validators the
/// session applies to it.
pub fn client_msg(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if text.len() > salon_protocol::MAX_MESSAGE_BYTES {
        return;
    }
    if let Ok(msg) = serde_json::from_str::<salon_protocol::ClientMsg>(text) {
        // Invariant: what parsed serializes again.
        let again = serde_json::to_string(&msg).expect("a parsed message serializes");
        let _ = serde_json::from_str::<salon_protocol::ClientMsg>(&again);
        if let salon_protocol::ClientMsg::Join { name, .. } = &msg {
            let _ = salon_protocol::validate_name(name);
        }
    }
    let _ = salon_protocol::validate_text(text, 1000);
}

fn media_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40_000))
}

/// SDP into the core: the bytes up to the first NUL are an offer; the rest,
/// if any, an answer to the SFU's next offer.
pub fn sdp(data: &[u8]) {
    let (offer, answer) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let now = Instant::now();
    let mut sfu = Sfu::new(SfuConfig::new(vec![media_addr()]));
    let offer = String::from_utf8_lossy(offer);
    if sfu.add_peer(now, RoomId(1), PeerId(1), "fuzz", &offer).is_err() {
        return;
    }
    if let Some(answer) = answer {
        let _ = sfu.accept_answer(now, PeerId(1), &String::from_utf8_lossy(answer));
    }
    while sfu.poll_output().is_some() {}
    let _ = sfu.remove_peer(now, PeerId(1));
}

/// A core with one connected peer (ICE and DTLS done in memory), built once
/// per process, so datagrams reach the DTLS/SRTP paths, not only the demux.
struct Rig {
    sfu: Sfu,
    peer_addr: SocketAddr,
    now: Instant,
    /// ICE and DTLS completed (so the datagram paths past them are reached);
    /// read by the replay test.
    #[cfg_attr(not(test), allow(dead_code))]
    connected: bool,
}

fn rig() -> Rig {
    let mut now = Instant::now();
    let peer_addr = SocketAddr::from(([127, 0, 0, 1], 50_000));
    let mut sfu = Sfu::new(SfuConfig::new(vec![media_addr()]));
    let (mut peer, offer) = TestPeer::with(now, peer_addr, Publish::av());
    // Invariant: the test peer's offer is valid SDP.
    let answer = sfu
        .add_peer(now, RoomId(1), PeerId(1), "peer", &offer)
        .expect("the test peer's offer is accepted");
    peer.accept_answer(&answer).expect("the SFU's answer is accepted");
    for _ in 0..400 {
        let (out, _) = peer.poll(now);
        for t in out {
            sfu.handle_receive(now, t.source, t.destination, &t.contents);
        }
        sfu.handle_timeout(now);
        while let Some(o) = sfu.poll_output() {
            match o {
                salon_sfu::Output::Transmit(t) => peer.handle_receive(now, t.source, t.destination, &t.contents),
                salon_sfu::Output::Event(_, salon_sfu::PeerEvent::Offer(sdp)) => {
                    if let Ok(a) = peer.accept_offer(&sdp) {
                        let _ = sfu.accept_answer(now, PeerId(1), &a);
                    }
                }
                salon_sfu::Output::Event(..) => {}
            }
        }
        if peer.connected {
            break;
        }
        now += Duration::from_millis(10);
    }
    let connected = peer.connected;
    Rig {
        sfu,
        peer_addr,
        now,
        connected,
    }
}

thread_local! {
    static RIG: RefCell<Option<Rig>> = const { RefCell::new(None) };
}

/// Datagrams into `Sfu::handle_receive`: the first byte picks the source
/// (the connected peer, or a stranger), the rest is the datagram.
pub fn datagram(data: &[u8]) {
    let Some((&pick, payload)) = data.split_first() else {
        return;
    };
    RIG.with(|r| {
        let mut r = r.borrow_mut();
        let rig = r.get_or_insert_with(rig);
        rig.now += Duration::from_millis(1);
        let source = if pick & 1 == 0 {
            rig.peer_addr
        } else {
            SocketAddr::from(([198, 51, 100, pick], 1000 + u16::from(pick)))
        };
        let now = rig.now;
        rig.sfu.handle_receive(now, source, media_addr(), payload);
        rig.sfu.handle_timeout(now);
        let mut closed = false;
        while let Some(o) = rig.sfu.poll_output() {
            closed |= matches!(o, salon_sfu::Output::Event(_, salon_sfu::PeerEvent::Closed(_)));
        }
        if closed || rig.sfu.peer_count() == 0 {
            // The peer was closed by what it received: start afresh next time.
            *r = None;
        }
    });
}

/// Avatar uploads: the same function the upload route runs.
pub fn avatar(data: &[u8]) {
    if let Ok(png) = salon::avatar::reencode(data) {
        assert!(!png.is_empty());
    }
}

/// Schedules from the API (JSON), validated, then written as an .ics file:
/// every content line is folded to at most 75 octets and ends with CRLF.
pub fn schedule(data: &[u8]) {
    let Ok(s) = serde_json::from_slice::<salon::store::Schedule>(data) else {
        return;
    };
    let now = 1_800_000_000;
    let Ok(s) = s.validated(now) else { return };
    let ics = salon::http::schedule::calendar(&s, "https://salon.example/r/abc", "uid@salon", 0, now);
    for line in ics.split_inclusive("\r\n") {
        assert!(line.ends_with("\r\n"), "unterminated line");
        assert!(line.len() <= 77, "line of {} octets", line.len() - 2);
    }
    assert!(!ics.contains("\n\n"), "a bare newline");
}

#[cfg(test)]
mod replay {
    //! Every file of `corpus/<target>/` through its harness: the seeds, and
    //! every crash AFL ever found (each kept as a regression test).

    fn replay(target: &str, f: fn(&[u8])) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("corpus")
            .join(target);
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).expect("corpus dir") {
            let path = entry.expect("entry").path();
            let data = std::fs::read(&path).expect("read");
            f(&data);
            n += 1;
        }
        assert!(n > 0, "no corpus in {}", dir.display());
    }

    /// Writes generated seeds into `corpus/` (run by `fuzz/run-long.sh`;
    /// the results are committed): a real offer and answer, real pictures.
    #[test]
    #[ignore]
    fn write_seeds() {
        use salon_sfu::testkit::{Publish, TestPeer};
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        let now = std::time::Instant::now();
        let (_, offer) = TestPeer::with(now, "127.0.0.1:50000".parse().unwrap(), Publish::av());
        std::fs::write(dir.join("sdp/offer.sdp"), &offer).unwrap();
        let mut sfu = salon_sfu::Sfu::new(salon_sfu::SfuConfig::new(vec![super::media_addr()]));
        let answer = sfu
            .add_peer(now, salon_sfu::RoomId(1), salon_sfu::PeerId(1), "x", &offer)
            .unwrap();
        let mut both = offer.into_bytes();
        both.push(0);
        both.extend_from_slice(answer.as_bytes());
        std::fs::write(dir.join("sdp/offer_then_answer.sdp"), both).unwrap();
        for (name, img) in [
            ("rgb_64x48.png", image::DynamicImage::new_rgb8(64, 48)),
            ("rgba16_4096x1.png", image::DynamicImage::new_rgba16(4096, 1)),
            ("luma_300x100.png", image::DynamicImage::new_luma8(300, 100)),
        ] {
            let mut out = Vec::new();
            img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
                .unwrap();
            std::fs::write(dir.join("avatar").join(name), out).unwrap();
        }
        let mut jpg = Vec::new();
        image::DynamicImage::new_rgb8(40, 40)
            .write_to(&mut std::io::Cursor::new(&mut jpg), image::ImageFormat::Jpeg)
            .unwrap();
        std::fs::write(dir.join("avatar/small.jpg"), jpg).unwrap();
    }

    #[test]
    fn the_datagram_rig_connects() {
        assert!(super::rig().connected, "ICE and DTLS complete in memory");
    }

    #[test]
    fn client_msg() {
        replay("client_msg", super::client_msg);
    }
    #[test]
    fn sdp() {
        replay("sdp", super::sdp);
    }
    #[test]
    fn datagram() {
        replay("datagram", super::datagram);
    }
    #[test]
    fn avatar() {
        replay("avatar", super::avatar);
    }
    #[test]
    fn schedule() {
        replay("schedule", super::schedule);
    }
}
