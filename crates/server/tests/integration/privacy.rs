//! The privacy matrix of ARCHITECTURE.md, cell by cell: guest, signed-in
//! non-friend, friend, blocked person and host, against profiles, room
//! lists, the tray, participant details in a room, and signaling. Plus the
//! tray's live updates over Server-Sent Events.

use salon::config::RoomCreation;
use salon::protocol::{ClientMsg, ErrorCode, Participant, ServerMsg};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::web::*;

struct Cast {
    server: TestServer,
    alice: Web,
    bob: Web,
    carol: Web,
    dave: Web,
    guest: Web,
    room: String,
    avatar: String,
}

/// Alice (host, with an avatar and a public room), Bob her friend, Carol
/// signed in but not her friend, Dave whom she blocked, and a guest.
async fn cast() -> Cast {
    let server = spawn_server_with(|c| c.room_creation = RoomCreation::Accounts).await;
    let mut alice = Web::sign_up(&server, "Alice").await;
    let mut bob = Web::sign_up(&server, "Bob").await;
    let carol = Web::sign_up(&server, "Carol").await;
    let mut dave = Web::sign_up(&server, "Dave").await;
    alice.befriend(&mut bob).await;
    alice.befriend(&mut dave).await;
    assert_eq!(
        alice.call("POST", "/api/blocks", json!({"username":"dave"})).await.0,
        204
    );
    alice.call("PATCH", "/api/account", json!({"bio":"Sophrologue"})).await;
    let png = {
        let img = image::RgbImage::from_pixel(16, 16, image::Rgb([200, 100, 50]));
        let mut out = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    };
    let r = alice.raw("PUT", "/api/account/avatar", &png, "image/png", "").await;
    let avatar = r.json()["avatar"].as_str().unwrap().to_string();
    let room = alice.create_room("Atelier", "public").await;
    let guest = Web::new(&server);
    Cast {
        server,
        alice,
        bob,
        carol,
        dave,
        guest,
        room,
        avatar,
    }
}

#[tokio::test]
async fn profiles_only_for_friends_and_self() {
    let mut c = cast().await;
    let (_, missing_for_guest) = c.guest.get("/api/users/nobody").await;
    let (_, missing) = c.carol.get("/api/users/nobody").await;
    assert_eq!(missing["code"], "user_not_found");
    // guest, non-friend, blocked: the very same 404 as a missing user.
    assert_eq!(c.guest.get("/api/users/alice").await, (404, missing_for_guest));
    assert_eq!(c.carol.get("/api/users/alice").await, (404, missing.clone()));
    assert_eq!(c.dave.get("/api/users/alice").await, (404, missing.clone()));
    // friend and self: the profile.
    let (s, p) = c.bob.get("/api/users/alice").await;
    assert_eq!(s, 200);
    assert_eq!(
        (p["display_name"].as_str(), p["bio"].as_str()),
        (Some("Alice"), Some("Sophrologue"))
    );
    assert_eq!(p["avatar"].as_str(), Some(c.avatar.as_str()));
    assert_eq!(c.alice.get("/api/users/alice").await.0, 200);
    // And the other way: Alice cannot read the blocked Dave's or Carol's profile either.
    assert_eq!(c.alice.get("/api/users/carol").await, (404, missing));
}

#[tokio::test]
async fn room_lists_are_only_ones_own() {
    let mut c = cast().await;
    assert_eq!(c.guest.get("/api/account/rooms").await.0, 401);
    for w in [&mut c.bob, &mut c.carol, &mut c.dave] {
        assert_eq!(w.get("/api/account/rooms").await, (200, json!([])));
    }
    let (_, mine) = c.alice.get("/api/account/rooms").await;
    assert_eq!(mine[0]["id"], c.room.as_str());
}

fn others(msg: &ServerMsg) -> Vec<Participant> {
    match msg {
        ServerMsg::Joined { participants, .. } => participants.clone(),
        other => panic!("expected joined, got {other:?}"),
    }
}

/// The next participant_joined on `sig`.
async fn next_joined(sig: &mut Signal) -> Participant {
    loop {
        if let ServerMsg::ParticipantJoined { participant } = sig.recv().await {
            return participant;
        }
    }
}

#[tokio::test]
async fn in_a_room_only_friends_see_more_than_name_and_avatar_and_the_blocked_stay_out() {
    let mut c = cast().await;
    let mut host = c.alice.signal().await;
    let joined = join(&mut host, &c.room, "Alice").await;
    let ServerMsg::Joined { you, .. } = &joined else {
        panic!("{joined:?}")
    };
    assert_eq!(you.username.as_deref(), Some("alice"), "the host sees her own details");
    assert_eq!(you.avatar.as_deref(), Some(c.avatar.as_str()));

    // Friend: name, avatar and username, both ways.
    let mut bob = c.bob.signal().await;
    let seen = others(&join(&mut bob, &c.room, "Bob").await);
    assert_eq!(seen[0].username.as_deref(), Some("alice"));
    assert_eq!(seen[0].avatar.as_deref(), Some(c.avatar.as_str()));
    assert_eq!(next_joined(&mut host).await.username.as_deref(), Some("bob"));

    // Signed-in non-friend: name and avatar only, both ways.
    let mut carol = c.carol.signal().await;
    let seen = others(&join(&mut carol, &c.room, "Carol").await);
    let a = seen.iter().find(|p| p.name == "Alice").unwrap();
    assert_eq!(
        (a.username.as_deref(), a.avatar.as_deref()),
        (None, Some(c.avatar.as_str()))
    );
    assert!(seen.iter().all(|p| p.username.is_none()));
    let carol_seen = next_joined(&mut host).await;
    assert_eq!(
        (carol_seen.name.as_str(), carol_seen.username.as_deref()),
        ("Carol", None)
    );
    assert_eq!(
        next_joined(&mut bob).await.username,
        None,
        "Bob and Carol are not friends"
    );

    // Guest: name and avatar only; others see the guest's name only.
    let mut guest = Signal::hello(&c.server).await;
    let seen = others(&join(&mut guest, &c.room, "Invité").await);
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|p| p.username.is_none()));
    assert!(seen.iter().any(|p| p.avatar.as_deref() == Some(c.avatar.as_str())));
    let g = next_joined(&mut host).await;
    assert_eq!((g.username, g.avatar), (None, None));

    // Blocked: refused with a neutral message, and nobody hears of it.
    let mut dave = c.dave.signal().await;
    match join(&mut dave, &c.room, "Dave").await {
        ServerMsg::Error { code, message } => {
            assert_eq!(code, ErrorCode::Blocked);
            assert!(!message.to_lowercase().contains("alice"), "{message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    let (_, room) = c.bob.get(&format!("/api/rooms/{}", c.room)).await;
    assert_eq!(room["participants"], 4, "Dave never entered");
    drop((carol, guest));
}

#[tokio::test]
async fn the_tray_shows_friends_open_public_rooms_live() {
    let mut c = cast().await;
    assert_eq!(c.guest.get("/api/tray").await.0, 401);
    let mut bob_tray = c.bob.tray_events().await;
    assert_eq!(
        bob_tray.next(5).await,
        json!({"rooms": []}),
        "closed rooms are not shown"
    );

    let mut host = c.alice.signal().await;
    let opened = std::time::Instant::now();
    join(&mut host, &c.room, "Alice").await;
    let tray = bob_tray
        .until(2, |t| t["rooms"].as_array().is_some_and(|r| !r.is_empty()))
        .await;
    assert!(
        opened.elapsed() < std::time::Duration::from_secs(2),
        "pushed within 2 s"
    );
    let r = &tray["rooms"][0];
    assert_eq!(r["id"], c.room.as_str());
    assert_eq!(r["name"], "Atelier");
    assert_eq!(r["path"], format!("/r/{}", c.room));
    assert_eq!(r["host"]["username"], "alice");
    assert_eq!(r["host"]["avatar"].as_str(), Some(c.avatar.as_str()));
    assert_eq!(r["friends_inside"], json!(["Alice"]));
    assert_eq!(r["others"], 0);

    // Each cell of the tray column.
    assert_eq!(c.carol.get("/api/tray").await.1, json!({"rooms": []}), "non-friend");
    assert_eq!(c.dave.get("/api/tray").await.1, json!({"rooms": []}), "blocked");
    assert_eq!(
        c.alice.get("/api/tray").await.1,
        json!({"rooms": []}),
        "host: her own rooms are in My rooms"
    );
    assert_eq!(
        c.bob.get("/api/tray").await.1["rooms"][0]["id"],
        c.room.as_str(),
        "friend"
    );

    // People come: counted, not named.
    let mut carol = c.carol.signal().await;
    join(&mut carol, &c.room, "Carol").await;
    let tray = bob_tray.until(2, |t| t["rooms"][0]["others"] == 1).await;
    assert_eq!(tray["rooms"][0]["friends_inside"], json!(["Alice"]));
    let carol_text = tray.to_string();
    assert!(
        !carol_text.contains("Carol") && !carol_text.contains("carol"),
        "non-friends are not named: {carol_text}"
    );

    // A room stays while anyone is in it, even after its host leaves.
    host.send(&ClientMsg::Leave {}).await;
    drop(host);
    let tray = bob_tray
        .until(3, |t| t["rooms"][0]["friends_inside"] == json!([]))
        .await;
    assert_eq!(tray["rooms"][0]["others"], 1);

    // Made private: gone from the tray at once.
    let (s, _) = c
        .alice
        .call(
            "PATCH",
            &format!("/api/rooms/{}", c.room),
            json!({"visibility":"private"}),
        )
        .await;
    assert_eq!(s, 200);
    bob_tray.until(2, |t| t["rooms"] == json!([])).await;
    c.alice
        .call(
            "PATCH",
            &format!("/api/rooms/{}", c.room),
            json!({"visibility":"public"}),
        )
        .await;
    bob_tray
        .until(2, |t| t["rooms"].as_array().is_some_and(|r| r.len() == 1))
        .await;

    // Closing: the last person leaves.
    carol.send(&ClientMsg::Leave {}).await;
    drop(carol);
    bob_tray.until(3, |t| t["rooms"] == json!([])).await;

    // Unfriending removes the room from the tray too.
    let mut host = c.alice.signal().await;
    join(&mut host, &c.room, "Alice").await;
    bob_tray
        .until(2, |t| t["rooms"].as_array().is_some_and(|r| r.len() == 1))
        .await;
    assert_eq!(c.alice.call("DELETE", "/api/friends/bob", Value::Null).await.0, 204);
    bob_tray.until(2, |t| t["rooms"] == json!([])).await;
}

#[tokio::test]
async fn a_guest_joins_a_private_room_by_its_link() {
    let mut c = cast().await;
    let private = c.alice.create_room("Privé", "private").await;
    let mut host = c.alice.signal().await;
    join(&mut host, &private, "Alice").await;
    assert_eq!(
        c.bob.get("/api/tray").await.1,
        json!({"rooms": []}),
        "private rooms are never in a tray"
    );
    let mut guest = Signal::hello(&c.server).await;
    let seen = others(&join(&mut guest, &private, "Invité").await);
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].name.as_str(), seen[0].username.as_deref()), ("Alice", None));
}
