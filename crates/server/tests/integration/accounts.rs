//! Accounts over the real HTTP API: sign up, sessions and cookies, login
//! limits, password change, deletion, room-creation policy, owned rooms,
//! friends and blocks, avatars, and persistence across a restart.

use salon::config::RoomCreation;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::web::*;

async fn accounts_server() -> TestServer {
    spawn_server_with(|c| c.room_creation = RoomCreation::Accounts).await
}

#[tokio::test]
async fn sign_up_log_in_log_out() {
    let server = accounts_server().await;
    let mut w = Web::new(&server);
    let r = w
        .raw(
            "POST",
            "/api/accounts",
            br#"{"username":"Alice","display_name":"Alice L.","password":"correct horse"}"#,
            "application/json",
            "",
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let cookie = r.session_cookie().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"));
    assert!(!cookie.contains("Secure"), "no Secure flag over plain HTTP");
    assert_eq!(w.cookie.as_ref().unwrap().len(), 43, "256-bit token");
    assert_eq!(r.json()["username"], "alice", "usernames are lower-case");

    let (s, v) = w.get("/api/session").await;
    assert_eq!(s, 200);
    assert_eq!(v["account"]["display_name"], "Alice L.");
    assert_eq!(v["room_creation"], "accounts");

    let mut other = Web::new(&server);
    let cases = [
        (
            json!({"username":"ALICE","display_name":"x","password":"correct horse"}),
            409,
            "username_taken",
        ),
        (
            json!({"username":"a b","display_name":"x","password":"correct horse"}),
            400,
            "invalid_username",
        ),
        (
            json!({"username":"bob","display_name":"x","password":"short"}),
            400,
            "weak_password",
        ),
        (
            json!({"username":"bob","display_name":"  ","password":"correct horse"}),
            400,
            "invalid_name",
        ),
        (json!({"username":"bob","password":"correct horse"}), 422, "bad_request"),
    ];
    for (body, status, code) in cases {
        let (s, v) = other.call("POST", "/api/accounts", body.clone()).await;
        assert_eq!((s, v["code"].as_str()), (status, Some(code)), "{body} -> {v}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    let (s, _) = w.call("DELETE", "/api/session", Value::Null).await;
    assert_eq!(s, 204);
    assert!(w.cookie.is_none(), "the cookie is cleared");
    let (_, v) = w.get("/api/session").await;
    assert!(v["account"].is_null());
    let (s, v) = w.get("/api/account").await;
    assert_eq!((s, v["code"].as_str()), (401, Some("not_signed_in")));

    // One uniform answer for a wrong password and for a missing account.
    let (s1, wrong_pw) = w
        .call(
            "POST",
            "/api/session",
            json!({"username":"alice","password":"wrong horse"}),
        )
        .await;
    let (s2, no_user) = w
        .call(
            "POST",
            "/api/session",
            json!({"username":"nobody","password":"wrong horse"}),
        )
        .await;
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(wrong_pw, no_user);
    assert_eq!(wrong_pw["message"], "wrong username or password");
    let (s, v) = w
        .call(
            "POST",
            "/api/session",
            json!({"username":"Alice","password":"correct horse"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(w.cookie.is_some());
    // A forged or stale cookie is no session.
    w.cookie = Some("A".repeat(43));
    assert_eq!(w.get("/api/account").await.0, 401);
}

#[tokio::test]
async fn state_changes_from_other_sites_are_refused() {
    let server = accounts_server().await;
    let w = Web::sign_up(&server, "Alice").await;
    let mut evil = Web {
        addr: w.addr,
        cookie: w.cookie.clone(),
        device: w.device.clone(),
        from: None,
    };
    for (method, path) in [
        ("POST", "/api/session"),
        ("DELETE", "/api/account"),
        ("POST", "/api/rooms"),
        ("PATCH", "/api/account"),
    ] {
        let r = evil
            .raw(
                method,
                path,
                b"{}",
                "application/json",
                "Origin: https://evil.example\r\n",
            )
            .await;
        assert_eq!(r.status, 403, "{method} {path}: {}", r.text());
    }
}

#[tokio::test]
async fn login_is_rate_limited_per_account_and_per_address() {
    let server = accounts_server().await;
    let _alice = Web::sign_up(&server, "Alice").await;
    let mut w = Web::new(&server);
    for _ in 0..5 {
        let (s, _) = w
            .call(
                "POST",
                "/api/session",
                json!({"username":"alice","password":"guess guess"}),
            )
            .await;
        assert_eq!(s, 401);
    }
    let (s, v) = w
        .call(
            "POST",
            "/api/session",
            json!({"username":"alice","password":"correct horse"}),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (429, Some("rate_limited")), "per account");
    // Other accounts from the same address: limited after the address's burst.
    let mut limited = false;
    for i in 0..40 {
        let (s, _) = w
            .call(
                "POST",
                "/api/session",
                json!({"username": format!("nobody{i}"), "password":"guess guess"}),
            )
            .await;
        if s == 429 {
            limited = true;
            break;
        }
        assert_eq!(s, 401);
    }
    assert!(limited, "per address");
}

#[tokio::test]
async fn password_change_and_account_deletion() {
    let server = accounts_server().await;
    let mut alice = Web::sign_up(&server, "Alice").await;
    let mut bob = Web::sign_up(&server, "Bob").await;
    alice.befriend(&mut bob).await;
    let room = alice.create_room("Yoga", "public").await;
    let mut other_session = Web::new(&server);
    other_session
        .call(
            "POST",
            "/api/session",
            json!({"username":"alice","password":"correct horse"}),
        )
        .await;
    assert!(other_session.cookie.is_some());

    let (s, v) = alice
        .call(
            "PUT",
            "/api/account/password",
            json!({"current_password":"nope nope","new_password":"battery staple"}),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (403, Some("wrong_password")));
    let (s, v) = alice
        .call(
            "PUT",
            "/api/account/password",
            json!({"current_password":"correct horse","new_password":"short"}),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (400, Some("weak_password")));
    let (s, _) = alice
        .call(
            "PUT",
            "/api/account/password",
            json!({"current_password":"correct horse","new_password":"battery staple"}),
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(alice.get("/api/account").await.0, 200, "this session goes on");
    assert_eq!(other_session.get("/api/account").await.0, 401, "other sessions end");
    let mut w = Web::new(&server);
    let (s, _) = w
        .call(
            "POST",
            "/api/session",
            json!({"username":"alice","password":"battery staple"}),
        )
        .await;
    assert_eq!(s, 200);

    let (s, _) = alice
        .call("DELETE", "/api/account", json!({"password":"correct horse"}))
        .await;
    assert_eq!(s, 403, "deleting needs the current password");
    let (s, _) = alice
        .call("DELETE", "/api/account", json!({"password":"battery staple"}))
        .await;
    assert_eq!(s, 204);
    assert_eq!(w.get("/api/account").await.0, 401, "every session ended");
    assert_eq!(
        bob.get(&format!("/api/rooms/{room}")).await.0,
        404,
        "rooms went with it"
    );
    let (_, f) = bob.get("/api/friends").await;
    assert_eq!(f["friends"], json!([]), "friendships went with it");
    let (s, _) = w
        .call(
            "POST",
            "/api/session",
            json!({"username":"alice","password":"battery staple"}),
        )
        .await;
    assert_eq!(s, 401);
    // The username is free again.
    Web::sign_up(&server, "Alice").await;
}

#[tokio::test]
async fn who_may_create_rooms() {
    let server = accounts_server().await;
    let mut guest = Web::new(&server);
    let (s, v) = guest.call("POST", "/api/rooms", json!({"name":"x"})).await;
    assert_eq!((s, v["code"].as_str()), (401, Some("account_required")));
    let mut alice = Web::sign_up(&server, "Alice").await;
    let id = alice.create_room("Mine", "private").await;
    // Anyone with the link may still look it up (and join: see privacy.rs).
    assert_eq!(guest.get(&format!("/api/rooms/{id}")).await.0, 200);

    let open = spawn_server_with(|c| c.room_creation = RoomCreation::Anyone).await;
    let mut guest = Web::new(&open);
    let (_, v) = guest.get("/api/session").await;
    assert_eq!(v["room_creation"], "anyone");
    let (s, _) = guest.call("POST", "/api/rooms", json!({"name":"x"})).await;
    assert_eq!(s, 201);
    let (s, v) = guest
        .call("POST", "/api/rooms", json!({"name":"x","visibility":"public"}))
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (400, Some("account_required")),
        "public rooms have an owner"
    );
    let (s, _) = guest
        .call("POST", "/api/rooms", json!({"name":"x","visibility":"open"}))
        .await;
    assert_eq!(s, 422, "unknown visibility");
}

#[tokio::test]
async fn my_rooms_can_be_renamed_made_public_and_deleted() {
    let server = accounts_server().await;
    let mut alice = Web::sign_up(&server, "Alice").await;
    let mut bob = Web::sign_up(&server, "Bob").await;
    let a = alice.create_room("Private one", "private").await;
    let b = alice.create_room("Public one", "public").await;
    let (s, list) = alice.get("/api/account/rooms").await;
    assert_eq!(s, 200);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(list
        .iter()
        .any(|r| r["id"] == a.as_str() && r["visibility"] == "private" && r["path"] == format!("/r/{a}")));
    assert!(list
        .iter()
        .any(|r| r["id"] == b.as_str() && r["visibility"] == "public"));
    assert_eq!(bob.get("/api/account/rooms").await.1, json!([]), "only one's own rooms");

    let (s, v) = bob
        .call("PATCH", &format!("/api/rooms/{a}"), json!({"name":"Mine now"}))
        .await;
    assert_eq!((s, v["code"].as_str()), (403, Some("not_owner")));
    let (s, _) = bob.call("DELETE", &format!("/api/rooms/{a}"), Value::Null).await;
    assert_eq!(s, 403);
    let mut guest = Web::new(&server);
    assert_eq!(
        guest.call("DELETE", &format!("/api/rooms/{a}"), Value::Null).await.0,
        401
    );

    let (s, v) = alice
        .call(
            "PATCH",
            &format!("/api/rooms/{a}"),
            json!({"name":" Renamed ","visibility":"public"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["name"].as_str(), v["visibility"].as_str()),
        (Some("Renamed"), Some("public"))
    );
    let (s, v) = alice
        .call("PATCH", &format!("/api/rooms/{a}"), json!({"name": "x".repeat(81)}))
        .await;
    assert_eq!((s, v["code"].as_str()), (400, Some("invalid_name")));
    let (s, _) = alice.call("DELETE", &format!("/api/rooms/{a}"), Value::Null).await;
    assert_eq!(s, 204);
    assert_eq!(alice.get(&format!("/api/rooms/{a}")).await.0, 404);
    assert_eq!(
        alice.call("DELETE", &format!("/api/rooms/{a}"), Value::Null).await.0,
        404
    );
    assert_eq!(alice.get("/api/account/rooms").await.1.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn friend_requests_both_ways() {
    let server = accounts_server().await;
    let mut alice = Web::sign_up(&server, "Alice").await;
    let mut bob = Web::sign_up(&server, "Bob").await;
    let mut carol = Web::sign_up(&server, "Carol").await;

    let (s, v) = alice.get("/api/users?username=BOB").await;
    assert_eq!(
        (s, &v),
        (200, &json!({"username":"bob","relation":"none"})),
        "search gives no profile"
    );
    assert_eq!(alice.get("/api/users?username=nobody").await.0, 404);
    assert_eq!(Web::new(&server).get("/api/users?username=bob").await.0, 401);

    let req = |u: &str| json!({ "username": u });
    assert_eq!(alice.call("POST", "/api/friends/requests", req("alice")).await.0, 409);
    assert_eq!(alice.call("POST", "/api/friends/requests", req("nobody")).await.0, 404);
    assert_eq!(alice.call("POST", "/api/friends/requests", req("bob")).await.0, 201);
    let (_, f) = alice.get("/api/friends").await;
    assert_eq!(f["outgoing"], json!([{"username":"bob"}]));
    let (_, f) = bob.get("/api/friends").await;
    assert_eq!(f["incoming"], json!([{"username":"alice","display_name":"Alice"}]));
    assert_eq!(bob.get("/api/users?username=alice").await.1["relation"], "incoming");

    // Cancel, then ask again; decline; ask again; accept.
    assert_eq!(
        alice.call("DELETE", "/api/friends/requests/bob", Value::Null).await.0,
        204
    );
    assert_eq!(bob.get("/api/friends").await.1["incoming"], json!([]));
    assert_eq!(
        alice.call("DELETE", "/api/friends/requests/bob", Value::Null).await.0,
        404
    );
    alice.call("POST", "/api/friends/requests", req("bob")).await;
    assert_eq!(
        bob.call("POST", "/api/friends/requests/alice/decline", Value::Null)
            .await
            .0,
        204
    );
    assert_eq!(alice.get("/api/friends").await.1["outgoing"], json!([]));
    assert_eq!(
        bob.call("POST", "/api/friends/requests/alice/accept", Value::Null)
            .await
            .0,
        404
    );
    alice.call("POST", "/api/friends/requests", req("bob")).await;
    assert_eq!(
        bob.call("POST", "/api/friends/requests/alice/accept", Value::Null)
            .await
            .0,
        204
    );
    let (_, f) = alice.get("/api/friends").await;
    assert_eq!(f["friends"][0]["username"], "bob");
    assert_eq!(f["friends"][0]["display_name"], "Bob");
    assert_eq!(alice.call("POST", "/api/friends/requests", req("bob")).await.0, 409);

    // Asking someone who already asked you makes you friends.
    carol.call("POST", "/api/friends/requests", req("alice")).await;
    let (s, v) = alice.call("POST", "/api/friends/requests", req("carol")).await;
    assert_eq!((s, v["relation"].as_str()), (201, Some("friend")));

    assert_eq!(alice.call("DELETE", "/api/friends/bob", Value::Null).await.0, 204);
    assert_eq!(bob.get("/api/friends").await.1["friends"], json!([]));
    assert_eq!(alice.call("DELETE", "/api/friends/bob", Value::Null).await.0, 404);
}

#[tokio::test]
async fn blocking_hides_both_ways_and_stops_requests() {
    let server = accounts_server().await;
    let mut alice = Web::sign_up(&server, "Alice").await;
    let mut dave = Web::sign_up(&server, "Dave").await;
    alice.befriend(&mut dave).await;
    dave.call("POST", "/api/friends/requests", json!({"username":"alice"}))
        .await;
    assert_eq!(
        alice.call("POST", "/api/blocks", json!({"username":"dave"})).await.0,
        204
    );
    let (_, f) = alice.get("/api/friends").await;
    assert_eq!(f["friends"], json!([]), "blocking ends the friendship");
    assert_eq!(f["blocked"], json!([{"username":"dave"}]));
    // Dave cannot find, ask or read Alice; her requests list never shows him.
    let (s, v) = dave
        .call("POST", "/api/friends/requests", json!({"username":"alice"}))
        .await;
    assert_eq!((s, v["code"].as_str()), (404, Some("user_not_found")));
    assert_eq!(dave.get("/api/users?username=alice").await.0, 404);
    assert_eq!(alice.get("/api/friends").await.1["incoming"], json!([]));
    assert_eq!(alice.get("/api/users?username=dave").await.1["relation"], "blocked");
    assert_eq!(
        alice
            .call("POST", "/api/friends/requests", json!({"username":"dave"}))
            .await
            .0,
        409,
        "unblock first"
    );
    assert_eq!(
        alice.call("POST", "/api/blocks", json!({"username":"alice"})).await.0,
        409
    );
    assert_eq!(alice.call("DELETE", "/api/blocks/dave", Value::Null).await.0, 204);
    // Idempotent: the same answer again (and for anyone, see hardening.rs).
    assert_eq!(alice.call("DELETE", "/api/blocks/dave", Value::Null).await.0, 204);
    assert_eq!(dave.get("/api/users?username=alice").await.1["relation"], "none");
}

/// A PNG of the given size, made here.
fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

#[tokio::test]
async fn avatars_are_validated_and_reencoded() {
    let server = accounts_server().await;
    let mut alice = Web::sign_up(&server, "Alice").await;
    let r = alice
        .raw("PUT", "/api/account/avatar", &png(640, 480), "image/png", "")
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let url = r.json()["avatar"].as_str().unwrap().to_string();
    assert!(url.starts_with("/api/avatars/"));
    let mut guest = Web::new(&server);
    let img = guest.raw("GET", &url, b"", "text/plain", "").await;
    assert_eq!(img.status, 200);
    assert_eq!(img.header("content-type").as_deref(), Some("image/png"));
    let decoded = image::load_from_memory(&img.body).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (256, 256), "re-encoded to 256x256");

    // JPEG and WebP are accepted too, and come out as PNG.
    let photo = image::RgbImage::from_pixel(300, 200, image::Rgb([10, 120, 200]));
    for format in [image::ImageFormat::Jpeg, image::ImageFormat::WebP] {
        let mut bytes = Vec::new();
        photo.write_to(&mut std::io::Cursor::new(&mut bytes), format).unwrap();
        let r = alice
            .raw("PUT", "/api/account/avatar", &bytes, "application/octet-stream", "")
            .await;
        assert_eq!(r.status, 200, "{format:?}: {}", r.text());
        let url = r.json()["avatar"].as_str().unwrap().to_string();
        let img = guest.raw("GET", &url, b"", "text/plain", "").await;
        assert_eq!(image::guess_format(&img.body).unwrap(), image::ImageFormat::Png);
    }

    let bad = alice
        .raw("PUT", "/api/account/avatar", b"GIF89a not really", "image/gif", "")
        .await;
    assert_eq!((bad.status, bad.json()["code"].as_str()), (400, Some("invalid_image")));
    assert!(bad.json()["message"].as_str().unwrap().contains("PNG, JPEG or WebP"));
    let truncated = png(64, 64);
    let bad = alice
        .raw(
            "PUT",
            "/api/account/avatar",
            &truncated[..truncated.len() / 2],
            "image/png",
            "",
        )
        .await;
    assert_eq!(bad.status, 400);
    // Dimensions beyond the decoder limits (a decompression-bomb shape) are refused before decoding.
    let wide = alice
        .raw("PUT", "/api/account/avatar", &png(5000, 1), "image/png", "")
        .await;
    assert_eq!(
        (wide.status, wide.json()["code"].as_str()),
        (400, Some("invalid_image"))
    );
    let big = vec![0u8; 1024 * 1024 + 8192];
    let r = alice.raw("PUT", "/api/account/avatar", &big, "image/png", "").await;
    assert_eq!((r.status, r.json()["code"].as_str()), (413, Some("too_large")));
    assert_eq!(
        guest
            .raw("PUT", "/api/account/avatar", &png(8, 8), "image/png", "")
            .await
            .status,
        401
    );

    let (s, v) = alice.call("DELETE", "/api/account/avatar", Value::Null).await;
    assert_eq!((s, v["avatar"].is_null()), (200, true));
    assert_eq!(guest.raw("GET", &url, b"", "text/plain", "").await.status, 404);

    let (s, v) = alice
        .call(
            "PATCH",
            "/api/account",
            json!({"bio":"Sophrologue à Lyon", "display_name":"Alice L."}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        (v["bio"].as_str(), v["display_name"].as_str()),
        (Some("Sophrologue à Lyon"), Some("Alice L."))
    );
    let (s, v) = alice
        .call("PATCH", "/api/account", json!({"bio": "x".repeat(281)}))
        .await;
    assert_eq!((s, v["code"].as_str()), (400, Some("invalid_bio")));
}

#[tokio::test]
async fn accounts_friends_rooms_and_blocks_survive_a_restart() {
    let mut server = accounts_server().await;
    let mut alice = Web::sign_up(&server, "Alice").await;
    let mut bob = Web::sign_up(&server, "Bob").await;
    let mut carol = Web::sign_up(&server, "Carol").await;
    let _dave = Web::sign_up(&server, "Dave").await;
    alice.befriend(&mut bob).await;
    carol
        .call("POST", "/api/friends/requests", json!({"username":"alice"}))
        .await;
    assert_eq!(
        alice.call("POST", "/api/blocks", json!({"username":"dave"})).await.0,
        204
    );
    let room = alice.create_room("Atelier", "public").await;
    let r = alice
        .raw("PUT", "/api/account/avatar", &png(32, 32), "image/png", "")
        .await;
    let avatar = r.json()["avatar"].as_str().unwrap().to_string();
    alice.call("PATCH", "/api/account", json!({"bio":"hello"})).await;

    server.restart().await;
    for w in [&mut alice, &mut bob, &mut carol] {
        w.addr = server.http();
    }
    let (s, me) = alice.get("/api/account").await;
    assert_eq!(s, 200, "the session survives");
    assert_eq!(
        (me["bio"].as_str(), me["avatar"].as_str()),
        (Some("hello"), Some(avatar.as_str()))
    );
    assert_eq!(alice.raw("GET", &avatar, b"", "text/plain", "").await.status, 200);
    let (_, f) = alice.get("/api/friends").await;
    assert_eq!(f["friends"][0]["username"], "bob");
    assert_eq!(f["incoming"][0]["username"], "carol");
    assert_eq!(f["blocked"], json!([{"username":"dave"}]));
    let (_, rooms) = alice.get("/api/account/rooms").await;
    assert_eq!(rooms[0]["id"], room.as_str());
    assert_eq!(rooms[0]["visibility"], "public");
    let (s, _) = Web::new(&server)
        .call(
            "POST",
            "/api/session",
            json!({"username":"bob","password":"correct horse"}),
        )
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn openapi_document_is_served() {
    let server = accounts_server().await;
    let (s, v) = Web::new(&server).get("/api/openapi.json").await;
    assert_eq!(s, 200);
    assert!(v["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/api/accounts",
        "/api/session",
        "/api/tray/events",
        "/api/friends/requests",
        "/api/rooms",
    ] {
        assert!(v["paths"][p].is_object(), "{p}");
    }
    assert!(v["components"]["schemas"]["ErrorBody"].is_object());
}
