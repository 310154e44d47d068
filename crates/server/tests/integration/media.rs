//! Media through the SFU: every client receives every other client's audio
//! and video; leaving removes tracks; a dropped connection removes its
//! participant; bad datagrams harm nobody.

use std::time::Duration;

use salon::protocol::{ClientMsg, ServerMsg, Tile};
use salon_sfu::testkit::{Publish, LAYER_FRAME_BYTES};
use tokio::net::UdpSocket;

use crate::helpers::*;

async fn all_receive(clients: &[&TestClient], min_video: u64, min_audio: u64) {
    for me in clients {
        for other in clients.iter().filter(|c| c.id != me.id) {
            eventually(20, &format!("{} receives {}", me.id, other.id), || {
                let r = me.received_from(other);
                r.video_frames >= min_video && r.audio_frames >= min_audio
            })
            .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_clients_exchange_audio_and_video_and_leaving_removes_tracks() {
    let server = spawn_server().await;
    let room = create_room(&server).await;
    let a = TestClient::join(&server, &room, "Alice", true, true).await;
    let b = TestClient::join(&server, &room, "Bob", true, true).await;
    let c = TestClient::join(&server, &room, "Chloé", true, true).await;
    all_receive(&[&a, &b, &c], 30, 50).await;
    assert!(a.saw(|m| matches!(m, ServerMsg::ParticipantJoined { participant } if participant.name == "Chloé")));

    c.send(ClientMsg::Leave {});
    for me in [&a, &b] {
        eventually(10, "participant_left for c", || {
            me.saw(|m| matches!(m, ServerMsg::ParticipantLeft { id } if *id == c.id))
        })
        .await;
        eventually(10, "c's tracks stopped", || !me.open_labels().contains(&c.id)).await;
    }
    // The others keep exchanging media after the renegotiation.
    let before = a.received_from(&b);
    eventually(10, "media still flows a<-b", || {
        a.received_from(&b).video_frames > before.video_frames + 30
    })
    .await;
    let frozen = a.received_from(&c);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        a.received_from(&c),
        frozen,
        "nothing arrives from a participant who left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_removes_its_participant() {
    let server = spawn_server().await;
    let room = create_room(&server).await;
    let a = TestClient::join(&server, &room, "A", true, true).await;
    let b = TestClient::join(&server, &room, "B", true, true).await;
    all_receive(&[&a, &b], 10, 10).await;
    b.vanish();
    eventually(5, "b removed within a few seconds", || {
        a.saw(|m| matches!(m, ServerMsg::ParticipantLeft { id } if *id == b.id))
    })
    .await;
    eventually(5, "b's tracks stopped at a", || !a.open_labels().contains(&b.id)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_datagrams_and_wrong_stun_harm_nobody() {
    let server = spawn_server().await;
    let room = create_room(&server).await;
    let a = TestClient::join(&server, &room, "A", true, true).await;
    let b = TestClient::join(&server, &room, "B", true, true).await;
    all_receive(&[&a, &b], 10, 10).await;

    let attacker = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let media = server.media();
    let mut junk: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![0xff; 1400],
        vec![0x80, 0x60, 0x00, 0x01, 0, 0, 0, 1], // truncated RTP header
        vec![0x16, 0xfe, 0xfd, 0x00],             // truncated DTLS record
        vec![0x00, 0x01, 0x00, 0x50, 0x21, 0x12], // truncated STUN header
    ];
    // A well-formed STUN binding request with credentials nobody has.
    let mut stun = vec![0x00, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42];
    stun.extend_from_slice(b"salontestxid");
    stun.extend_from_slice(&[0x00, 0x06, 0x00, 0x08]);
    stun.extend_from_slice(b"bad:user");
    junk.push(stun);
    for i in 0..2000u32 {
        junk.push(i.to_be_bytes().repeat((i % 300) as usize + 1));
    }
    assert_eq!(media.len(), 2, "tests run two media loops");
    for addr in &media {
        for j in &junk {
            attacker.send_to(j, addr).await.unwrap();
        }
    }
    let mut buf = [0u8; 1500];
    let reply = tokio::time::timeout(Duration::from_millis(300), attacker.recv_from(&mut buf)).await;
    assert!(reply.is_err(), "the server answers nothing to strangers");

    let before = a.received_from(&b);
    eventually(10, "media still flows", || {
        a.received_from(&b).video_frames > before.video_frames + 30
    })
    .await;
    // A normal join still works.
    let c = TestClient::join(&server, &room, "C", true, true).await;
    all_receive(&[&a, &b, &c], 10, 10).await;
}

/// Mean video frame size `me` receives from `other` over the next second.
async fn frame_size(me: &TestClient, other: &TestClient) -> (u64, u64) {
    let a = me.received_from(other);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let b = me.received_from(other);
    let frames = b.video_frames - a.video_frames;
    (frames, (b.video_bytes - a.video_bytes) / frames.max(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulcast_layers_follow_the_view_and_speakers_are_announced() {
    let server = spawn_server().await;
    let room = create_room(&server).await;
    let talker = TestClient::join_with(
        &server,
        &room,
        "Talker",
        Publish {
            simulcast: true,
            ..Publish::av()
        },
    )
    .await;
    let quiet = Publish {
        simulcast: true,
        speaking: false,
        ..Publish::av()
    };
    let other = TestClient::join_with(&server, &room, "Quiet", quiet).await;
    let viewer = TestClient::join(&server, &room, "Viewer", false, false).await;

    let view = |tiles: &[(&TestClient, u32)]| ClientMsg::View {
        tiles: tiles
            .iter()
            .map(|(c, h)| Tile {
                id: c.id.clone(),
                height: *h,
            })
            .collect(),
    };
    // The two publishers look at nothing; only the viewer watches.
    talker.send(view(&[]));
    other.send(view(&[]));
    viewer.send(view(&[(&talker, 120), (&other, 720)]));
    eventually(10, "both videos arrive", || {
        viewer.received_from(&talker).video_frames > 20 && viewer.received_from(&other).video_frames > 20
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        frame_size(&viewer, &talker).await.1,
        LAYER_FRAME_BYTES[0] as u64,
        "small tile: low layer"
    );
    assert_eq!(
        frame_size(&viewer, &other).await.1,
        LAYER_FRAME_BYTES[2] as u64,
        "large tile: high layer"
    );

    // Only the talker is visible now: the other video stops, its audio goes on.
    viewer.send(view(&[(&talker, 720)]));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (frames, _) = frame_size(&viewer, &other).await;
    assert_eq!(frames, 0, "a video off screen is not forwarded");
    assert_eq!(frame_size(&viewer, &talker).await.1, LAYER_FRAME_BYTES[2] as u64);
    // Nobody watches the quiet one's video: it was told to pause every layer.
    eventually(5, "the unwatched video is paused at its publisher", || {
        let last = other.last(|m| match m {
            ServerMsg::Layers { active, .. } => Some(active.clone()),
            _ => None,
        });
        last == Some(vec![])
    })
    .await;

    eventually(5, "speakers announced", || {
        viewer.saw(|m| matches!(m, ServerMsg::Speakers { ids } if *ids == vec![talker.id.clone()]))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bandwidth_limited_subscriber_gets_a_lower_layer_and_recovers() {
    let server = spawn_server_with(|c| c.bwe = true).await;
    let room = create_room(&server).await;
    let publisher = TestClient::join_with(
        &server,
        &room,
        "P",
        Publish {
            simulcast: true,
            ..Publish::av()
        },
    )
    .await;
    let viewer = TestClient::join(&server, &room, "V", false, false).await;
    publisher.send(ClientMsg::View { tiles: vec![] });
    viewer.send(ClientMsg::View {
        tiles: vec![Tile {
            id: publisher.id.clone(),
            height: 720,
        }],
    });
    let mut seen = Vec::new();

    // 1. Unconstrained: the large tile gets the full layer.
    assert!(
        reaches_layer(&viewer, &publisher, 2, 20, "free", &mut seen).await,
        "full layer while unconstrained: {seen:?}"
    );

    // 2. A 400 kb/s bottleneck: the SFU steps down to the low layer (150 kb/s) and audio keeps flowing.
    viewer
        .inbound_limit
        .store(400_000, std::sync::atomic::Ordering::Relaxed);
    assert!(
        reaches_layer(&viewer, &publisher, 0, 30, "limited", &mut seen).await,
        "low layer under a 400 kb/s limit: {seen:?}"
    );
    let audio = viewer.received_from(&publisher).audio_frames;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        viewer.received_from(&publisher).audio_frames > audio + 30,
        "audio does not suffer"
    );

    // 3. The limit lifts: back up to the full layer.
    viewer.inbound_limit.store(0, std::sync::atomic::Ordering::Relaxed);
    assert!(
        reaches_layer(&viewer, &publisher, 2, 60, "free again", &mut seen).await,
        "recovers the full layer: {seen:?}"
    );
}

/// Measures 1-second windows until `viewer` receives `publisher` in simulcast
/// layer `want` (by frame size, with frames flowing), at most `tries` times;
/// records each window in `seen` for the failure message.
async fn reaches_layer(
    viewer: &TestClient,
    publisher: &TestClient,
    want: usize,
    tries: usize,
    phase: &str,
    seen: &mut Vec<String>,
) -> bool {
    for _ in 0..tries {
        let (frames, size) = frame_size(viewer, publisher).await;
        seen.push(format!("{phase} {frames}x{size}"));
        if size == LAYER_FRAME_BYTES[want] as u64 && frames > 10 {
            return true;
        }
    }
    false
}

/// `/metrics` tells the operator what runs: rooms and participants, and per
/// media loop the packets forwarded and the time spent working; `/readyz`
/// answers while the database and the loops do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_rooms_participants_and_forwarded_packets() {
    let server = spawn_server().await;
    let (status, body) = http(server.http(), "GET", "/readyz", "", "").await;
    assert_eq!((status, body.as_str()), (200, "ready\n"));
    let room = create_room(&server).await;
    let a = TestClient::join(&server, &room, "A", true, true).await;
    let b = TestClient::join(&server, &room, "B", true, true).await;
    all_receive(&[&a, &b], 30, 30).await;
    // Loop figures are exported once a second.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (status, text) = http(server.http(), "GET", "/metrics", "", "").await;
    assert_eq!(status, 200, "{text}");
    let value = |name: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#'))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    assert_eq!(value("salon_rooms "), 1.0, "{text}");
    assert_eq!(value("salon_participants "), 2.0, "{text}");
    assert!(value("salon_media_packets_forwarded_total{") > 100.0, "{text}");
    assert!(value("salon_media_busy_microseconds_total{") > 0.0, "{text}");
    assert_eq!(value("salon_media_peers{"), 2.0, "{text}");
    assert!(
        text.contains("# TYPE salon_media_packets_forwarded_total counter"),
        "{text}"
    );
}
