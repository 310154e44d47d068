//! The signaling protocol: handshake, errors with stable codes, capacity,
//! and bad input that never disturbs a room.

use salon::protocol::{ClientMsg, ErrorCode, ServerMsg, MAX_MESSAGE_BYTES};

use crate::helpers::*;

fn code(msg: ServerMsg) -> ErrorCode {
    match msg {
        ServerMsg::Error { code, .. } => code,
        other => panic!("expected an error, got {other:?}"),
    }
}

const FAKE_OFFER: &str = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_and_version() {
    let server = spawn_server().await;
    let mut s = Signal::connect(&server).await;
    s.send(&ClientMsg::Ping {}).await;
    assert_eq!(s.recv().await, ServerMsg::Pong {});
    s.send(&ClientMsg::Leave {}).await;
    assert_eq!(code(s.recv().await), ErrorCode::BadMessage, "hello comes first");
    s.send(&ClientMsg::Hello { version: 99 }).await;
    assert_eq!(code(s.recv().await), ErrorCode::UnsupportedVersion);
    s.send(&ClientMsg::Hello { version: 1 }).await;
    assert!(matches!(s.recv().await, ServerMsg::Hello { version: 1, .. }));
    s.send(&ClientMsg::Hello { version: 1 }).await;
    assert_eq!(code(s.recv().await), ErrorCode::BadMessage);
    s.send(&ClientMsg::Answer { sdp: "v=0".into() }).await;
    assert_eq!(code(s.recv().await), ErrorCode::NotJoined);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_messages_get_errors_and_the_room_carries_on() {
    let server = spawn_server().await;
    let room = create_room(&server).await;
    let a = TestClient::join(&server, &room, "A", true, true).await;
    let b = TestClient::join(&server, &room, "B", true, true).await;

    let mut s = Signal::hello(&server).await;
    for bad in [
        "",
        "{",
        "null",
        "[]",
        r#"{"type":"fly"}"#,
        r#"{"type":"join"}"#,
        r#"{"type":"ping","extra":1}"#,
        "\u{0}\u{1}",
    ] {
        s.send_text(bad).await;
        assert_eq!(code(s.recv().await), ErrorCode::BadMessage, "for {bad:?}");
    }
    s.send_text(&"x".repeat(MAX_MESSAGE_BYTES + 1)).await;
    assert_eq!(code(s.recv().await), ErrorCode::MessageTooLarge);
    // Invalid SDP in a join: refused, nobody sees a ghost participant.
    let join = |offer: &str| ClientMsg::Join {
        room: room.clone(),
        name: "Mallory".into(),
        offer: offer.into(),
        invite: None,
    };
    s.send(&join("not sdp at all")).await;
    assert_eq!(code(s.recv().await), ErrorCode::InvalidSdp);
    s.send(&join(FAKE_OFFER)).await;
    assert_eq!(code(s.recv().await), ErrorCode::InvalidSdp);
    let mlines = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n".repeat(10);
    s.send(&join(&format!("{FAKE_OFFER}{mlines}"))).await;
    assert_eq!(code(s.recv().await), ErrorCode::InvalidSdp);
    s.send(&ClientMsg::Join {
        room: room.clone(),
        name: "  ".into(),
        offer: FAKE_OFFER.into(),
        invite: None,
    })
    .await;
    assert_eq!(code(s.recv().await), ErrorCode::InvalidName);
    s.send(&ClientMsg::Join {
        room: "AAAAAAAAAAAAAAAAAAAAAA".into(),
        name: "M".into(),
        offer: FAKE_OFFER.into(),
        invite: None,
    })
    .await;
    assert_eq!(code(s.recv().await), ErrorCode::RoomNotFound);
    // A flood is rate limited, and the session survives it.
    for _ in 0..200 {
        s.send(&ClientMsg::Ping {}).await;
    }
    let mut limited = false;
    for _ in 0..200 {
        match s.recv().await {
            ServerMsg::Error {
                code: ErrorCode::RateLimited,
                ..
            } => {
                limited = true;
                break;
            }
            ServerMsg::Pong {} => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(limited, "a flood is rate limited");

    assert!(!a.saw(|m| matches!(m, ServerMsg::ParticipantJoined { participant } if participant.name == "Mallory")));
    // A bad answer from a joined client: an error for it, others unaffected.
    a.send(ClientMsg::Answer { sdp: "garbage".into() });
    eventually(5, "error for the stray answer", || {
        a.saw(|m| matches!(m, ServerMsg::Error { .. }))
    })
    .await;
    // And a normal join still works, with media both ways.
    let c = TestClient::join(&server, &room, "C", true, true).await;
    for (x, y, what) in [(&a, &c, "a<-c"), (&c, &b, "c<-b"), (&b, &c, "b<-c"), (&c, &a, "c<-a")] {
        eventually(20, &format!("media after bad input {what}"), || {
            x.received_from(y).video_frames > 10
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_room_is_full_for_one_more_than_the_limit() {
    let server = spawn_server_with(|c| c.max_participants = 3).await;
    let room = create_room(&server).await;
    let _a = TestClient::join(&server, &room, "A", false, false).await;
    let _b = TestClient::join(&server, &room, "B", false, false).await;
    let _c = TestClient::join(&server, &room, "C", false, false).await;
    let mut d = Signal::hello(&server).await;
    d.send(&ClientMsg::Join {
        room: room.clone(),
        name: "D".into(),
        offer: FAKE_OFFER.into(),
        invite: None,
    })
    .await;
    match d.recv().await {
        ServerMsg::Error {
            code: ErrorCode::RoomFull,
            message,
        } => assert!(message.contains("full")),
        other => panic!("expected room_full, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changes_reach_the_others() {
    let server = spawn_server().await;
    let room = create_room(&server).await;
    let a = TestClient::join(&server, &room, "A", true, true).await;
    let b = TestClient::join(&server, &room, "B", true, true).await;
    b.send(ClientMsg::State {
        audio: false,
        video: true,
        screen: false,
    });
    eventually(5, "a sees b muted", || {
        a.saw(|m| matches!(m, ServerMsg::ParticipantUpdated { participant } if participant.id == b.id && !participant.audio && participant.video))
    })
    .await;
}
