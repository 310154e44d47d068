//! The HTTP side: room creation and lookup, 404s, Origin checks, persistence.

use crate::helpers::*;

#[tokio::test]
async fn rooms_are_created_found_and_survive_a_restart() {
    let mut server = spawn_server().await;
    let (status, body) = http(server.http(), "POST", "/api/rooms", r#"{"name":"  Sophrologie  "}"#, "").await;
    assert_eq!(status, 201);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 22, "128 bits, base64url");
    assert_eq!(v["name"], "Sophrologie");
    assert_eq!(v["path"], format!("/r/{id}"));

    let (status, page) = http(server.http(), "GET", &format!("/r/{id}"), "", "").await;
    assert_eq!(status, 200);
    assert!(page.contains("room.js"));

    server.restart().await;
    let (status, body) = http(server.http(), "GET", &format!("/api/rooms/{id}"), "", "").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Sophrologie"));
}

#[tokio::test]
async fn unknown_rooms_and_bad_requests_get_clear_errors() {
    let server = spawn_server().await;
    let (status, page) = http(server.http(), "GET", "/r/AAAAAAAAAAAAAAAAAAAAAA", "", "").await;
    assert_eq!(status, 404);
    assert!(page.contains("notfound"), "the not-found page");
    let (status, body) = http(server.http(), "GET", "/api/rooms/nope", "", "").await;
    assert_eq!(status, 404);
    assert!(body.contains(r#""code":"room_not_found""#), "{body}");
    let (status, body) = http(server.http(), "POST", "/api/rooms", "{not json", "").await;
    assert_eq!(status, 400);
    assert!(body.contains(r#""code":"bad_request""#), "{body}");
    let long = "x".repeat(81);
    let (status, body) = http(
        server.http(),
        "POST",
        "/api/rooms",
        &format!(r#"{{"name":"{long}"}}"#),
        "",
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("invalid_name"), "{body}");
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(20_000));
    let (status, _) = http(server.http(), "POST", "/api/rooms", &big, "").await;
    assert_eq!(status, 413, "bodies are size-capped");
}

#[tokio::test]
async fn cross_site_requests_are_refused() {
    let server = spawn_server().await;
    let (status, body) = http(
        server.http(),
        "POST",
        "/api/rooms",
        "{}",
        "Origin: https://evil.example\r\n",
    )
    .await;
    assert_eq!(status, 403);
    assert!(body.contains("bad_origin"));
    let origin = format!("Origin: http://{}\r\n", server.http());
    let (status, _) = http(server.http(), "POST", "/api/rooms", "{}", &origin).await;
    assert_eq!(status, 201);
    let (status, _) = http(server.http(), "GET", "/ws", "", "Origin: https://evil.example\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n").await;
    assert_eq!(status, 403, "cross-site WebSocket hijacking is refused");
}

#[tokio::test]
async fn security_headers_are_set() {
    let server = spawn_server().await;
    let mut s = tokio::net::TcpStream::connect(server.http()).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let lower = out.to_lowercase();
    assert!(
        lower.contains("referrer-policy: no-referrer"),
        "room links never leak via Referer"
    );
    assert!(lower.contains("content-security-policy: default-src 'self'"));
    assert!(lower.contains("x-content-type-options: nosniff"));
}
