//! Host controls over the real signaling protocol: the permission matrix
//! (a guest sending host commands by hand is refused and nothing changes),
//! mutes enforced by the SFU on real media, the waiting room, lock, removal
//! and bans (kept across a restart), scheduled sessions and their .ics,
//! the roster, and reports reaching the operator.

use std::time::Duration;

use salon::protocol::{ClientMsg, ErrorCode, ServerMsg};

use crate::helpers::*;

fn is_error(code: ErrorCode) -> impl Fn(&ServerMsg) -> bool {
    move |m| matches!(m, ServerMsg::Error { code: c, .. } if *c == code)
}

#[tokio::test]
async fn a_guest_sending_host_commands_is_refused_and_nothing_changes() {
    let server = spawn_server().await;
    let hd = device();
    let room = create_room_as(&server, &hd, r#"{"name":"Sophro"}"#).await;
    let host = TestClient::join_as(&server, &room, "Host", &hd, None).await;
    let guest = TestClient::join_as(&server, &room, "Guest", &device(), None).await;
    let other = TestClient::join_as(&server, &room, "Other", &device(), None).await;
    eventually(10, "everyone sees everyone", || {
        host.saw(|m| matches!(m, ServerMsg::ParticipantJoined { participant } if participant.id == other.id))
    })
    .await;
    let cmds = vec![
        ClientMsg::Lock { locked: true },
        ClientMsg::Remove {
            id: host.id.clone(),
            ban: true,
        },
        ClientMsg::Remove {
            id: other.id.clone(),
            ban: false,
        },
        ClientMsg::EndRoom {},
        ClientMsg::AdmitAll {},
        ClientMsg::Mute { id: other.id.clone() },
        ClientMsg::MuteAll {},
        ClientMsg::AllowUnmute { id: other.id.clone() },
        ClientMsg::AskVideo { id: other.id.clone() },
        ClientMsg::Spotlight {
            id: Some(guest.id.clone()),
        },
        ClientMsg::Cohost {
            id: guest.id.clone(),
            on: true,
        },
        ClientMsg::Policy {
            waiting_room: true,
            mute_on_entry: true,
            self_unmute: false,
        },
        ClientMsg::LowerHand { id: other.id.clone() },
        ClientMsg::LowerAllHands {},
    ];
    let n = cmds.len();
    let is_controls = |m: &ServerMsg| matches!(m, ServerMsg::Controls { .. });
    let controls_before = (host.count(is_controls), other.count(is_controls));
    for c in cmds {
        guest.send(c);
    }
    eventually(10, "every host command refused", || {
        guest.count(is_error(ErrorCode::Forbidden)) == n
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for c in [&host, &other] {
        assert!(
            !c.saw(|m| matches!(
                m,
                ServerMsg::Muted {} | ServerMsg::Removed { .. } | ServerMsg::Ended {} | ServerMsg::VideoRequested {}
            )),
            "nothing reached the others"
        );
    }
    let controls_after = (host.count(is_controls), other.count(is_controls));
    assert_eq!(controls_after, controls_before, "no control changed");
    assert!(!host.closed.load(std::sync::atomic::Ordering::Relaxed));
    // The room is not locked, has no waiting room, and media still flows.
    let late = TestClient::join_as(&server, &room, "Late", &device(), None).await;
    eventually(10, "late hears the host", || late.received_from(&host).audio_frames > 5).await;
    eventually(10, "other still hears the host", || {
        other.received_from(&host).audio_frames > 5
    })
    .await;
    // A co-host named by the host may mute; still may not end the room.
    host.send(ClientMsg::Cohost {
        id: guest.id.clone(),
        on: true,
    });
    eventually(10, "guest is co-host", || guest.saw(|m| matches!(m, ServerMsg::ParticipantUpdated { participant } if participant.id == guest.id && participant.role == salon::protocol::Role::Cohost))).await;
    guest.send(ClientMsg::Mute { id: other.id.clone() });
    eventually(10, "co-host mutes", || other.saw(|m| matches!(m, ServerMsg::Muted {}))).await;
    guest.send(ClientMsg::EndRoom {});
    eventually(10, "co-host cannot end", || {
        guest.count(is_error(ErrorCode::Forbidden)) == n + 1
    })
    .await;
}

#[tokio::test]
async fn a_host_mute_is_enforced_by_the_sfu_even_if_the_client_keeps_sending() {
    let server = spawn_server().await;
    let hd = device();
    let room = create_room_as(&server, &hd, "{}").await;
    let host = TestClient::join_as(&server, &room, "Host", &hd, None).await;
    let talker = TestClient::join_as(&server, &room, "Talker", &device(), None).await;
    eventually(10, "host hears the talker", || {
        host.received_from(&talker).audio_frames > 20
    })
    .await;
    host.send(ClientMsg::Mute { id: talker.id.clone() });
    eventually(10, "talker told", || talker.saw(|m| matches!(m, ServerMsg::Muted {}))).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The synthetic talker ignores `muted` and keeps sending audio.
    let before = host.received_from(&talker);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = host.received_from(&talker);
    assert_eq!(
        after.audio_frames, before.audio_frames,
        "no audio forwarded while muted"
    );
    assert!(after.video_frames > before.video_frames, "video still flows");
    // Self-unmute is allowed in this room: unmuting resumes forwarding.
    talker.send(ClientMsg::State {
        audio: true,
        video: true,
        screen: false,
    });
    let resumed = host.received_from(&talker).audio_frames;
    eventually(10, "heard again", || {
        host.received_from(&talker).audio_frames > resumed + 20
    })
    .await;
}

#[tokio::test]
async fn waiting_room_lock_removal_and_a_ban_that_survives_a_restart() {
    let mut server = spawn_server().await;
    let hd = device();
    let body = r#"{"name":"Yoga","settings":{"waiting_room":true,"mute_on_entry":true,"self_unmute":false}}"#;
    let room = create_room_as(&server, &hd, body).await;
    let host = TestClient::join_as(&server, &room, "Host", &hd, None).await;
    // A newcomer waits; the host sees the knock and admits them.
    let gd = device();
    let waiting = {
        let (server_addr, room, gd) = (server.http(), room.clone(), gd.clone());
        tokio::spawn(async move {
            let opts = salon_load::participant::JoinAs {
                device: Some(gd),
                ..Default::default()
            };
            let traffic = std::sync::Arc::new(salon_load::participant::Traffic::default());
            let publish = salon_sfu::testkit::Publish::av();
            salon_load::participant::Participant::join_as(server_addr, &room, "Guest", publish, traffic, opts).await
        })
    };
    eventually(10, "knock", || {
        host.saw(|m| matches!(m, ServerMsg::Lobby { waiting } if waiting.len() == 1))
    })
    .await;
    let lobby_id = host
        .last(|m| match m {
            ServerMsg::Lobby { waiting } => waiting.first().map(|w| w.id.clone()),
            _ => None,
        })
        .unwrap();
    host.send(ClientMsg::Admit { id: lobby_id });
    let guest = waiting.await.unwrap().expect("admitted guest joins");
    // Muted on entry and cannot unmute without the host's leave.
    eventually(10, "video arrives", || host.received_from(&guest).video_frames > 5).await;
    assert_eq!(
        host.received_from(&guest).audio_frames,
        0,
        "muted on entry: not forwarded"
    );
    guest.send(ClientMsg::State {
        audio: true,
        video: true,
        screen: false,
    });
    eventually(10, "unmute refused", || guest.saw(is_error(ErrorCode::Forbidden))).await;
    // An invite on the roster skips the waiting room.
    let (status, inv) = http(
        server.http(),
        "POST",
        &format!("/api/rooms/{room}/invites"),
        r#"{"label":"Léa"}"#,
        &cookie(&hd),
    )
    .await;
    assert_eq!(status, 201, "{inv}");
    let token = serde_json::from_str::<serde_json::Value>(&inv).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let invited = TestClient::join_as(&server, &room, "Léa", &device(), Some(&token)).await;
    // Lock: nobody new, even invited; the host may still come in.
    host.send(ClientMsg::Lock { locked: true });
    eventually(10, "locked", || {
        invited.saw(|m| matches!(m, ServerMsg::Controls { controls } if controls.locked))
    })
    .await;
    let err = TestClient::try_join_as(&server, &room, "New", &device(), Some(&token))
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("RoomLocked"), "{err}");
    let _host_tab = TestClient::join_as(&server, &room, "Host 2", &hd, None).await;
    // Remove with a ban: out at once, cannot come back, even after a restart.
    host.send(ClientMsg::Remove {
        id: guest.id.clone(),
        ban: true,
    });
    eventually(10, "removed", || {
        guest.saw(|m| matches!(m, ServerMsg::Removed { banned: true }))
    })
    .await;
    eventually(10, "gone for the others", || {
        invited.saw(|m| matches!(m, ServerMsg::ParticipantLeft { id } if *id == guest.id))
    })
    .await;
    host.send(ClientMsg::Lock { locked: false });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let err = TestClient::try_join_as(&server, &room, "Guest", &gd, None)
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("Banned"), "{err}");
    server.restart().await;
    let err = TestClient::try_join_as(&server, &room, "Guest", &gd, None)
        .await
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("Banned"),
        "still banned after a restart: {err}"
    );
    // The policies were kept with the room.
    let (_, body) = http(server.http(), "GET", &format!("/api/rooms/{room}"), "", &cookie(&hd)).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["settings"]["waiting_room"], true);
    assert_eq!(v["host"], true);
}

#[tokio::test]
async fn a_scheduled_session_opens_early_for_participants_and_anytime_for_the_host() {
    let server = spawn_server().await;
    let hd = device();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let body = format!(
        r#"{{"name":"Relaxation","schedule":{{"title":"Relaxation, du soir","description":"Tapis; coussin","starts_at":{},"duration_min":45,"opens_before_min":10}}}}"#,
        now + 3600
    );
    let room = create_room_as(&server, &hd, &body).await;
    let (_, view) = http(server.http(), "GET", &format!("/api/rooms/{room}"), "", "").await;
    let v: serde_json::Value = serde_json::from_str(&view).unwrap();
    assert_eq!(v["opens_at"], now + 3600 - 600);
    assert_eq!(v["host"], false, "a stranger is not the host");
    let err = TestClient::try_join_as(&server, &room, "Early", &device(), None)
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("NotOpen"), "{err}");
    let _host = TestClient::join_as(&server, &room, "Host", &hd, None).await;
    // The invitation.
    let (status, ics) = http(server.http(), "GET", &format!("/r/{room}/invite.ics"), "", "").await;
    assert_eq!(status, 200);
    assert!(
        ics.contains("BEGIN:VEVENT\r\n") && ics.contains("SUMMARY:Relaxation\\, du soir\r\n"),
        "{ics}"
    );
    assert!(ics.replace("\r\n ", "").contains(&format!("/r/{room}")));
    // Only the host may move it; moved to now, the room opens.
    let sched = format!(r#"{{"title":"Relaxation","starts_at":{now},"duration_min":30}}"#);
    let path = format!("/api/rooms/{room}/schedule");
    let (status, _) = http(server.http(), "PUT", &path, &sched, &cookie(&device())).await;
    assert_eq!(status, 403);
    let (status, body) = http(server.http(), "PUT", &path, &sched, &cookie(&hd)).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = http(
        server.http(),
        "PUT",
        &path,
        r#"{"title":"","starts_at":0,"duration_min":1}"#,
        &cookie(&hd),
    )
    .await;
    assert_eq!(status, 400);
    TestClient::join_as(&server, &room, "On time", &device(), None).await;
}

#[tokio::test]
async fn host_only_routes_and_reports_reach_the_operator() {
    let server = spawn_server().await;
    let hd = device();
    let room = create_room_as(&server, &hd, r#"{"name":"Cercle"}"#).await;
    for (method, path, body) in [
        ("GET", format!("/api/rooms/{room}/invites"), ""),
        ("POST", format!("/api/rooms/{room}/invites"), r#"{"label":"x"}"#),
        (
            "PUT",
            format!("/api/rooms/{room}/settings"),
            r#"{"waiting_room":true,"mute_on_entry":false,"self_unmute":true}"#,
        ),
        ("DELETE", format!("/api/rooms/{room}/schedule"), ""),
    ] {
        let (status, body) = http(server.http(), method, &path, body, &cookie(&device())).await;
        assert_eq!(status, 403, "{method} {path}: {body}");
        assert!(body.contains(r#""code":"forbidden""#));
    }
    let host = TestClient::join_as(&server, &room, "Host", &hd, None).await;
    let guest = TestClient::join_as(&server, &room, "Guest", &device(), None).await;
    guest.send(ClientMsg::Report {
        id: Some(host.id.clone()),
        reason: "shares an unwanted screen".into(),
    });
    guest.send(ClientMsg::Report {
        id: None,
        reason: "   ".into(),
    });
    eventually(10, "report recorded", || {
        guest.saw(|m| matches!(m, ServerMsg::Reported {}))
    })
    .await;
    eventually(10, "empty reason refused", || {
        guest.saw(is_error(ErrorCode::InvalidText))
    })
    .await;
    // Chat and reactions reach everyone; a hand reaches the host.
    guest.send(ClientMsg::Chat {
        text: "Bonjour à tous".into(),
    });
    guest.send(ClientMsg::React { emoji: "🙏".into() });
    guest.send(ClientMsg::React {
        emoji: "<script>".into(),
    });
    guest.send(ClientMsg::Hand { raised: true });
    eventually(10, "chat", || {
        host.saw(|m| matches!(m, ServerMsg::Chat { line } if line.text == "Bonjour à tous" && line.name == "Guest"))
    })
    .await;
    eventually(10, "reaction", || {
        host.saw(|m| matches!(m, ServerMsg::Reaction { emoji, .. } if emoji == "🙏"))
    })
    .await;
    eventually(10, "hand queue", || {
        host.saw(|m| matches!(m, ServerMsg::Hands { ids } if *ids == vec![guest.id.clone()]))
    })
    .await;
    eventually(10, "bad reaction refused", || {
        guest.count(is_error(ErrorCode::InvalidText)) == 2
    })
    .await;
    let store = salon::store::Store::open(server.dir.path()).await.unwrap();
    let out = salon::admin::run(&store, &salon::config::Admin::Reports { all: false })
        .await
        .unwrap();
    assert!(
        out.contains("Guest reported participant \"Host\"") && out.contains("shares an unwanted screen"),
        "{out}"
    );
    let id = store.reports(false).await.unwrap()[0].id;
    salon::admin::run(&store, &salon::config::Admin::Resolve { id })
        .await
        .unwrap();
    let out = salon::admin::run(&store, &salon::config::Admin::Reports { all: false })
        .await
        .unwrap();
    assert_eq!(out, "no open reports\n");
    assert!(salon::admin::run(&store, &salon::config::Admin::Resolve { id })
        .await
        .is_err());
}

#[tokio::test]
async fn a_shared_screen_reaches_the_others_as_its_own_tile() {
    let server = spawn_server().await;
    let room = create_room(&server).await;
    let sharer = TestClient::join_with(
        &server,
        &room,
        "Sharer",
        salon_sfu::testkit::Publish {
            screen: true,
            ..salon_sfu::testkit::Publish::av()
        },
    )
    .await;
    let viewer = TestClient::join(&server, &room, "Viewer", true, true).await;
    sharer.send(ClientMsg::State {
        audio: true,
        video: true,
        screen: true,
    });
    eventually(10, "screen state shown", || {
        viewer.saw(|m| matches!(m, ServerMsg::ParticipantUpdated { participant } if participant.screen))
    })
    .await;
    let screen = format!("{}{}", sharer.id, salon_sfu::SCREEN_SUFFIX);
    viewer.send(ClientMsg::View {
        tiles: vec![
            salon::protocol::Tile {
                id: sharer.id.clone(),
                height: 180,
            },
            salon::protocol::Tile {
                id: screen.clone(),
                height: 1080,
            },
        ],
    });
    let frames = || {
        salon_load::participant::lock(&viewer.peer)
            .received()
            .get(&screen)
            .map_or(0, |r| r.video_frames)
    };
    eventually(15, "the screen's frames arrive", || frames() > 30).await;
    eventually(10, "the camera too", || viewer.received_from(&sharer).video_frames > 30).await;
}

#[tokio::test]
async fn spotlight_ask_video_deny_and_end_over_signaling() {
    let server = spawn_server().await;
    let hd = device();
    let room = create_room_as(
        &server,
        &hd,
        r#"{"settings":{"waiting_room":true,"mute_on_entry":false,"self_unmute":true}}"#,
    )
    .await;
    let host = TestClient::join_as(&server, &room, "Host", &hd, None).await;
    let (status, inv) = http(
        server.http(),
        "POST",
        &format!("/api/rooms/{room}/invites"),
        r#"{"label":"Client"}"#,
        &cookie(&hd),
    )
    .await;
    assert_eq!(status, 201);
    let token = serde_json::from_str::<serde_json::Value>(&inv).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let client = TestClient::join_as(&server, &room, "Client", &device(), Some(&token)).await;
    host.send(ClientMsg::Spotlight {
        id: Some(host.id.clone()),
    });
    eventually(10, "spotlight", || client.saw(|m| matches!(m, ServerMsg::Controls { controls } if controls.spotlight.as_deref() == Some(host.id.as_str())))).await;
    host.send(ClientMsg::AskVideo { id: client.id.clone() });
    eventually(10, "asked for video", || {
        client.saw(|m| matches!(m, ServerMsg::VideoRequested {}))
    })
    .await;
    host.send(ClientMsg::Spotlight {
        id: Some("nobody".into()),
    });
    eventually(10, "unknown target", || {
        host.saw(is_error(ErrorCode::UnknownParticipant))
    })
    .await;
    // A knock turned away.
    let mut knock = Signal::hello_as(&server, &device()).await;
    let (peer, offer) = salon_sfu::testkit::TestPeer::with(
        std::time::Instant::now(),
        "127.0.0.1:9".parse().unwrap(),
        salon_sfu::testkit::Publish::av(),
    );
    drop(peer);
    knock
        .send(&ClientMsg::Join {
            room: room.clone(),
            name: "Knock".into(),
            offer,
            invite: None,
        })
        .await;
    assert!(matches!(knock.recv().await, ServerMsg::Waiting { .. }));
    eventually(10, "knock seen", || {
        host.saw(|m| matches!(m, ServerMsg::Lobby { waiting } if waiting.len() == 1))
    })
    .await;
    let id = host
        .last(|m| match m {
            ServerMsg::Lobby { waiting } => waiting.first().map(|w| w.id.clone()),
            _ => None,
        })
        .unwrap();
    host.send(ClientMsg::Deny { id });
    assert_eq!(knock.recv().await, ServerMsg::Denied {});
    // End for everyone: both are out, and media stops.
    host.send(ClientMsg::EndRoom {});
    eventually(10, "ended", || {
        client.saw(|m| matches!(m, ServerMsg::Ended {})) && host.saw(|m| matches!(m, ServerMsg::Ended {}))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = client.received_from(&host);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        client.received_from(&host).audio_frames,
        before.audio_frames,
        "no media after the end"
    );
    let (_, body) = http(server.http(), "GET", &format!("/api/rooms/{room}"), "", "").await;
    assert!(body.contains(r#""participants":0"#), "{body}");
}

#[tokio::test]
async fn clients_on_the_roster_of_accounts_skip_the_waiting_room() {
    let server = spawn_server().await;
    let hd = device();
    let room = create_room_as(
        &server,
        &hd,
        r#"{"settings":{"waiting_room":true,"mute_on_entry":false,"self_unmute":true}}"#,
    )
    .await;
    let alice = crate::web::Web::sign_up(&server, "Alice").await;
    let bob = crate::web::Web::sign_up(&server, "Bob").await;
    let path = format!("/api/rooms/{room}/roster");
    let (status, _) = http(
        server.http(),
        "POST",
        &path,
        r#"{"username":"alice"}"#,
        &cookie(&device()),
    )
    .await;
    assert_eq!(status, 403, "only the host manages the roster");
    let (status, body) = http(server.http(), "POST", &path, r#"{"username":"alice"}"#, &cookie(&hd)).await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = http(server.http(), "POST", &path, r#"{"username":"nobody"}"#, &cookie(&hd)).await;
    assert_eq!(status, 404);
    let (_, list) = http(server.http(), "GET", &path, "", &cookie(&hd)).await;
    assert!(list.contains(r#""username":"alice""#), "{list}");
    let _host = TestClient::join_as(&server, &room, "Host", &hd, None).await;
    let offer = || {
        salon_sfu::testkit::TestPeer::with(
            std::time::Instant::now(),
            "127.0.0.1:9".parse().unwrap(),
            salon_sfu::testkit::Publish::av(),
        )
        .1
    };
    let join = |name: &str| ClientMsg::Join {
        room: room.clone(),
        name: name.into(),
        offer: offer(),
        invite: None,
    };
    let mut a = alice.signal().await;
    a.send(&join("Alice")).await;
    assert!(matches!(a.recv().await, ServerMsg::Joined { you, .. } if you.role == salon::protocol::Role::Participant));
    let mut b = bob.signal().await;
    b.send(&join("Bob")).await;
    assert!(
        matches!(b.recv().await, ServerMsg::Waiting { .. }),
        "not on the roster: waits"
    );
    let (status, _) = http(server.http(), "DELETE", &format!("{path}/alice"), "", &cookie(&hd)).await;
    assert_eq!(status, 204);
}
