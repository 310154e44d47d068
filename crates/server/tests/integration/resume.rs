//! Never drop out (issue 12) over the real protocol: resume after a dropped
//! connection, the grace period, a removed person's resume refused, a slow
//! reader caught up, and media kept across a signaling reconnect.

use std::time::Duration;

use salon::protocol::{ClientMsg, ErrorCode, Role, ServerMsg};
use salon_load::participant::lock;

use crate::helpers::*;

/// All media the test clients publish reaches the other, both ways.
async fn media_flows(a: &TestClient, b: &TestClient, frames: u64) {
    let (a0, b0) = (a.received_from(b), b.received_from(a));
    eventually(15, "media flows both ways", || {
        a.received_from(b).video_frames >= a0.video_frames + frames
            && b.received_from(a).video_frames >= b0.video_frames + frames
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_participant_keeps_id_role_hand_and_a_hosts_mute() {
    let server = spawn_server_with(|c| c.resume_grace_secs = 30).await;
    let host_dev = device();
    let room = create_room_as(&server, &host_dev, r#"{"name":"Séance"}"#).await;
    let host = TestClient::join_as(&server, &room, "Hôte", &host_dev, None).await;
    let guest_dev = device();
    let guest = TestClient::join_as(&server, &room, "Léa", &guest_dev, None).await;
    media_flows(&host, &guest, 10).await;

    guest.send(ClientMsg::Hand { raised: true });
    host.send(ClientMsg::Mute { id: guest.id.clone() });
    eventually(5, "the guest saw the mute", || {
        guest.saw(|m| matches!(m, ServerMsg::Muted {}))
    })
    .await;

    // The signaling connection drops; media goes on; a new one resumes.
    guest.vanish();
    eventually(15, "the host sees the guest reconnecting", || {
        lock(&host.roster).get(&guest.id).is_some_and(|p| p.reconnecting)
    })
    .await;
    let mut sig = Signal::hello_as(&server, &guest_dev).await;
    sig.send(&ClientMsg::Resume {
        token: guest.resume_token.clone(),
    })
    .await;
    let resumed = loop {
        match sig.recv().await {
            ServerMsg::Resumed { you, participants, .. } => break (you, participants),
            ServerMsg::Error { code, message } => panic!("resume refused: {code:?} {message}"),
            _ => {}
        }
    };
    let (you, others) = resumed;
    assert_eq!(you.id, guest.id, "same participant id");
    assert_eq!(you.role, Role::Guest);
    assert!(you.hand, "the raised hand survives");
    assert!(!you.audio, "still muted");
    assert!(!you.reconnecting);
    assert!(others.iter().any(|p| p.id == host.id));

    // The host's mute holds: unmuting with self-unmute on is allowed by the
    // room, so check the opposite room policy instead: turn self-unmute off
    // and try.
    host.send(ClientMsg::Policy {
        waiting_room: false,
        mute_on_entry: false,
        self_unmute: false,
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    sig.send(&ClientMsg::State {
        audio: true,
        video: true,
        screen: false,
    })
    .await;
    let refused = loop {
        match sig.recv().await {
            ServerMsg::Error { code, .. } => break code,
            _ => continue,
        }
    };
    assert_eq!(refused, ErrorCode::Forbidden, "the host's mute survived the reconnect");

    eventually(5, "the host sees the guest back", || {
        lock(&host.roster).get(&guest.id).is_some_and(|p| !p.reconnecting)
    })
    .await;
    assert!(
        !host.saw(|m| matches!(m, ServerMsg::ParticipantLeft { id } if *id == guest.id)),
        "the others never saw the guest leave"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_keeps_flowing_across_a_signaling_reconnect() {
    let server = spawn_server_with(|c| c.resume_grace_secs = 30).await;
    let room = create_room(&server).await;
    let dev_a = device();
    let a = TestClient::join_as(&server, &room, "A", &dev_a, None).await;
    let b = TestClient::join(&server, &room, "B", true, true).await;
    media_flows(&a, &b, 10).await;
    a.reconnect_signaling();
    eventually(10, "a resumed", || {
        a.saw(|m| matches!(m, ServerMsg::Resumed { media: true, .. }))
    })
    .await;
    media_flows(&a, &b, 30).await;
    // A newcomer after the resume is offered to a, on the resumed connection.
    let c = TestClient::join(&server, &room, "C", true, true).await;
    media_flows(&a, &c, 10).await;
    assert!(!b.saw(|m| matches!(m, ServerMsg::ParticipantLeft { id } if *id == a.id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_not_back_within_the_grace_period_leaves() {
    // The test server's grace period is 2 s.
    let server = spawn_server().await;
    let room = create_room(&server).await;
    let a = TestClient::join(&server, &room, "A", true, true).await;
    let dev_b = device();
    let b = TestClient::join_as(&server, &room, "B", &dev_b, None).await;
    media_flows(&a, &b, 5).await;
    b.vanish();
    eventually(20, "b left for good", || {
        a.saw(|m| matches!(m, ServerMsg::ParticipantLeft { id } if *id == b.id))
    })
    .await;
    let mut sig = Signal::hello_as(&server, &dev_b).await;
    sig.send(&ClientMsg::Resume {
        token: b.resume_token.clone(),
    })
    .await;
    assert!(matches!(
        sig.recv().await,
        ServerMsg::Error {
            code: ErrorCode::ResumeFailed,
            ..
        }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_person_cannot_resume_and_a_token_is_for_its_browser_only() {
    let server = spawn_server_with(|c| c.resume_grace_secs = 30).await;
    let host_dev = device();
    let room = create_room_as(&server, &host_dev, r#"{"name":"R"}"#).await;
    let host = TestClient::join_as(&server, &room, "H", &host_dev, None).await;
    let dev_g = device();
    let guest = TestClient::join_as(&server, &room, "G", &dev_g, None).await;

    // Another browser holding the token gets nothing, and changes nothing.
    let mut thief = Signal::hello_as(&server, &device()).await;
    thief
        .send(&ClientMsg::Resume {
            token: guest.resume_token.clone(),
        })
        .await;
    assert!(matches!(
        thief.recv().await,
        ServerMsg::Error {
            code: ErrorCode::ResumeFailed,
            ..
        }
    ));
    assert!(!guest.closed.load(std::sync::atomic::Ordering::Relaxed));

    guest.vanish();
    eventually(15, "guest reconnecting", || {
        lock(&host.roster).get(&guest.id).is_some_and(|p| p.reconnecting)
    })
    .await;
    host.send(ClientMsg::Remove {
        id: guest.id.clone(),
        ban: false,
    });
    eventually(5, "guest removed", || !lock(&host.roster).contains_key(&guest.id)).await;
    let mut sig = Signal::hello_as(&server, &dev_g).await;
    sig.send(&ClientMsg::Resume {
        token: guest.resume_token.clone(),
    })
    .await;
    assert!(matches!(
        sig.recv().await,
        ServerMsg::Error {
            code: ErrorCode::ResumeFailed,
            ..
        }
    ));
    // And a full join is refused: the removal holds on to the browser.
    let again = TestClient::try_join_as(&server, &room, "G", &dev_g, None).await;
    assert!(again.is_err(), "a removed browser cannot join again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_ends_up_with_every_participant_and_track() {
    let server = spawn_server_with(|c| c.resume_grace_secs = 30).await;
    let room = create_room(&server).await;
    let slow = TestClient::join(&server, &room, "Slow", true, true).await;
    slow.pause_reading(Duration::from_secs(8));
    let mut others = Vec::new();
    // Audio only: 21 full str0m peers with video each would overload a
    // 2-core machine running the test clients too.
    for i in 0..20 {
        others.push(TestClient::join(&server, &room, &format!("P{i}"), true, false).await);
    }
    // Everyone floods `state` while the slow one does not read.
    for round in 0..20 {
        for p in &others {
            p.send(ClientMsg::State {
                audio: round % 2 == 0,
                video: true,
                screen: false,
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eventually(40, "the slow reader knows all 20 others, in their last state", || {
        let r = lock(&slow.roster);
        others.iter().all(|p| r.get(&p.id).is_some_and(|x| x.video && !x.audio))
    })
    .await;
    eventually(40, "and receives every one's tracks", || {
        let open = slow.open_labels();
        others.iter().all(|p| open.contains(&p.id))
    })
    .await;
    eventually(20, "and media from all of them", || {
        others.iter().all(|p| slow.received_from(p).audio_frames > 0)
    })
    .await;
}
