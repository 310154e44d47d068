//! Calls over the real HTTP API, event stream and signaling: who may be
//! called, the ring on the callee's stream, `not_invited` for everyone not
//! called (signed in or guest), busy, declines, adding people up to 8, and
//! the end of the call turning a pending ring into a missed call.

use salon::config::RoomCreation;
use salon::protocol::{ClientMsg, ErrorCode, ServerMsg};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::web::*;

fn answers(call: &Value) -> Vec<(String, String)> {
    call["callees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["username"].as_str().unwrap().to_string(),
                c["answer"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_call_rings_admits_only_the_people_called_and_ends_with_a_missed_call() {
    let server = spawn_server_with(|c| c.room_creation = RoomCreation::Accounts).await;
    let mut alice = Web::sign_up(&server, "alice").await;
    let mut bob = Web::sign_up(&server, "bob").await;
    let mut carol = Web::sign_up(&server, "carol").await;
    let mut dave = Web::sign_up(&server, "dave").await;
    let mut erin = Web::sign_up(&server, "erin").await;
    alice.befriend(&mut bob).await;
    alice.befriend(&mut carol).await;
    alice.befriend(&mut erin).await;

    // Who may be called: 1 to 7 friends, each once, not oneself.
    for (body, status, code) in [
        (json!({"usernames": []}), 400, "invalid_call"),
        (json!({"usernames": ["alice"]}), 404, "user_not_found"),
        (
            json!({"usernames": ["a", "b", "c", "d", "e", "f", "g", "h"]}),
            400,
            "invalid_call",
        ),
        (json!({"usernames": ["dave"]}), 404, "user_not_found"),
        (json!({"usernames": ["nobody"]}), 404, "user_not_found"),
    ] {
        let (s, b) = alice.call("POST", "/api/calls", body.clone()).await;
        assert_eq!((s, b["code"].as_str()), (status, Some(code)), "{body}: {b}");
    }
    let mut guest = Web::new(&server);
    assert_eq!(
        guest.call("POST", "/api/calls", json!({"usernames": ["bob"]})).await.0,
        401
    );

    // Erin is in a room already: busy. Bob's stream rings, naming Carol too.
    let erins_room = erin.create_room("", "private").await;
    let mut erin_sig = erin.signal().await;
    assert!(matches!(
        join(&mut erin_sig, &erins_room, "Erin").await,
        ServerMsg::Joined { .. }
    ));
    let mut bob_events = bob.tray_events().await;
    let idle = bob_events.next_of("calls", 5).await;
    assert_eq!(idle["ringing"], json!([]));
    let (s, call) = alice
        .call(
            "POST",
            "/api/calls",
            json!({"usernames": ["bob", "carol", "erin", "BOB"]}),
        )
        .await;
    assert_eq!(s, 201, "{call}");
    let id = call["id"].as_str().unwrap().to_string();
    assert_eq!(
        answers(&call),
        [
            ("bob".into(), "ringing".into()),
            ("carol".into(), "ringing".into()),
            ("erin".into(), "busy".into())
        ]
    );
    let ring = bob_events
        .until_of("calls", 5, |v| v["ringing"].as_array().is_some_and(|r| !r.is_empty()))
        .await;
    assert_eq!(ring["ringing"][0]["id"], id.as_str());
    assert_eq!(ring["ringing"][0]["caller"]["username"], "alice");
    assert_eq!(
        ring["ringing"][0]["others"],
        json!(["carol", "erin"]),
        "display names of the others"
    );
    assert!(
        erin.get("/api/calls").await.1["ringing"].as_array().unwrap().is_empty(),
        "busy: not rung"
    );

    // The link lets nobody else in: Dave (signed in) and a guest get not_invited.
    let mut dave_sig = dave.signal().await;
    match join(&mut dave_sig, &id, "Dave").await {
        ServerMsg::Error { code, .. } => assert_eq!(code, ErrorCode::NotInvited),
        other => panic!("Dave got in: {other:?}"),
    }
    let mut guest_sig = guest.signal().await;
    match join(&mut guest_sig, &id, "Guest").await {
        ServerMsg::Error { code, .. } => assert_eq!(code, ErrorCode::NotInvited),
        other => panic!("a guest got in: {other:?}"),
    }
    let (s, view) = dave.get(&format!("/api/rooms/{id}")).await;
    assert_eq!(
        (s, view["call"].as_bool(), view["may_enter"].as_bool()),
        (200, Some(true), Some(false))
    );
    assert_eq!(dave.get(&format!("/api/calls/{id}")).await.0, 404);
    assert_eq!(
        dave.call("POST", &format!("/api/calls/{id}/accept"), json!({})).await.0,
        404
    );

    // Alice and Bob are in; Carol declines and Alice sees it.
    let mut alice_sig = alice.signal().await;
    assert!(matches!(
        join(&mut alice_sig, &id, "Alice").await,
        ServerMsg::Joined { .. }
    ));
    let (s, _) = bob.call("POST", &format!("/api/calls/{id}/accept"), json!({})).await;
    assert_eq!(s, 200);
    let mut bob_sig = bob.signal().await;
    assert!(matches!(join(&mut bob_sig, &id, "Bob").await, ServerMsg::Joined { .. }));
    assert_eq!(
        carol
            .call("POST", &format!("/api/calls/{id}/decline"), json!({}))
            .await
            .0,
        200
    );
    let (_, now) = alice.get("/api/calls").await;
    assert_eq!(
        answers(&now["mine"][0]),
        [
            ("bob".into(), "accepted".into()),
            ("carol".into(), "declined".into()),
            ("erin".into(), "busy".into())
        ]
    );

    // Only the caller adds people, up to 8 in all: Alice, Bob, Erin (busy
    // still holds her place) and five more; a sixth is one too many.
    let (s, b) = bob
        .call(
            "POST",
            &format!("/api/calls/{id}/people"),
            json!({"usernames": ["alice"]}),
        )
        .await;
    assert_eq!((s, b["code"].as_str()), (403, Some("not_caller")));
    let mut more = Vec::new();
    for i in 0..6 {
        let mut f = Web::sign_up(&server, &format!("friend{i}")).await;
        alice.befriend(&mut f).await;
        more.push(f);
    }
    let five: Vec<String> = (0..5).map(|i| format!("friend{i}")).collect();
    let (s, b) = alice
        .call("POST", &format!("/api/calls/{id}/people"), json!({"usernames": five}))
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = alice
        .call(
            "POST",
            &format!("/api/calls/{id}/people"),
            json!({"usernames": ["friend5"]}),
        )
        .await;
    assert_eq!((s, b["code"].as_str()), (409, Some("call_full")));
    assert!(!more[0].get("/api/calls").await.1["ringing"]
        .as_array()
        .unwrap()
        .is_empty());

    // Both leave: the call ends; friend0's pending ring is a missed call.
    alice_sig.send(&ClientMsg::Leave {}).await;
    bob_sig.send(&ClientMsg::Leave {}).await;
    let mut ended = false;
    for _ in 0..50 {
        if alice.get(&format!("/api/calls/{id}")).await.1["ended"] == true {
            ended = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(ended, "the call ends when its last participant leaves");
    let (_, f0) = more[0].get("/api/calls").await;
    assert_eq!(f0["ringing"], json!([]));
    assert_eq!(f0["missed"][0]["caller"]["username"], "alice");
    let (s, b) = more[0]
        .call("POST", &format!("/api/calls/{id}/accept"), json!({}))
        .await;
    assert_eq!((s, b["code"].as_str()), (410, Some("call_ended")));
    drop(erin_sig);
}
