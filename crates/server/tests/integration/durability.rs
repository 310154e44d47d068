//! `kill -9` during a stream of writes loses nothing that was answered 2xx:
//! the real binary as a child process, writers on several addresses, a
//! SIGKILL while requests are in flight, then the database reopened.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::web::Web;

fn free_port() -> u16 {
    // Invariant: binding port 0 on loopback always works here.
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn spawn_salon(dir: &std::path::Path, port: u16) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_salon"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir)
        .args(["--media-port", "0", "--media-loops", "1", "--public-ip", "127.0.0.1"])
        .args(["--room-creation", "anyone"])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("salon starts")
}

async fn wait_up(addr: SocketAddr) {
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        if let Ok((200, _)) = salon_load::http::request(addr, "GET", "/healthz", "", "").await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not come up");
}

#[derive(Default)]
struct Committed {
    accounts: HashSet<String>,
    rooms: HashSet<String>,
    friendships: HashSet<(String, String)>,
}

#[tokio::test]
async fn kill_9_during_writes_loses_no_committed_account_room_or_friendship() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut child = spawn_salon(dir.path(), port);
    wait_up(addr).await;

    let done = Arc::new(Mutex::new(Committed::default()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..6u8 {
        let (done, stop) = (done.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            // Each writer its own address: sign-up is limited per address.
            let from = Some(std::net::IpAddr::from([127, 0, 3, w + 1]));
            let web = |_: ()| Web {
                addr,
                cookie: None,
                device: None,
                from,
            };
            let mut prev: Option<(String, Web)> = None;
            for i in 0.. {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let name = format!("w{w}u{i}");
                let mut me = web(());
                let body = json!({"username": name, "display_name": name, "password": "correct horse"});
                let Some((s, _)) = try_call(&mut me, "POST", "/api/accounts", body).await else {
                    break;
                };
                if s != 201 {
                    continue;
                }
                done.lock().unwrap().accounts.insert(name.clone());
                if let Some((s, v)) = try_call(&mut me, "POST", "/api/rooms", json!({"name": name})).await {
                    if s == 201 {
                        let id = v["id"].as_str().unwrap_or_default().to_string();
                        done.lock().unwrap().rooms.insert(id);
                    }
                }
                if let Some((other, mut other_web)) = prev.take() {
                    let req = json!({"username": other});
                    if let Some((201 | 204 | 200, _)) = try_call(&mut me, "POST", "/api/friends/requests", req).await {
                        let path = format!("/api/friends/requests/{name}/accept");
                        if let Some((s, _)) = try_call(&mut other_web, "POST", &path, serde_json::Value::Null).await {
                            if (200..300).contains(&s) {
                                done.lock().unwrap().friendships.insert((name.clone(), other.clone()));
                            }
                        }
                    }
                }
                prev = Some((name, me));
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // SIGKILL while the writers are mid-request.
    // std's Child::kill is SIGKILL on Unix.
    child.kill().expect("kill -9");
    let _ = child.wait();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        let _ = w.await;
    }

    // The server starts again on the same data...
    let mut child = spawn_salon(dir.path(), port);
    wait_up(addr).await;
    let _ = child.kill();
    let _ = child.wait();
    // ...and every answered write is in the database.
    let store = salon::store::Store::open(dir.path()).await.expect("reopens");
    let done = std::mem::take(&mut *done.lock().unwrap());
    assert!(
        done.accounts.len() >= 10 && !done.rooms.is_empty() && !done.friendships.is_empty(),
        "the test wrote something: {} accounts, {} rooms, {} friendships",
        done.accounts.len(),
        done.rooms.len(),
        done.friendships.len()
    );
    for name in &done.accounts {
        assert!(
            store.account_by_username(name).await.unwrap().is_some(),
            "account {name} survived"
        );
    }
    for id in &done.rooms {
        assert!(store.room(id).await.unwrap().is_some(), "room {id} survived");
    }
    for (a, b) in &done.friendships {
        let a = store.account_by_username(a).await.unwrap().expect("a");
        let b = store.account_by_username(b).await.unwrap().expect("b");
        assert!(
            store.relation(&a.id, &b.id).await.unwrap().friends,
            "friendship {a:?}-{b:?} survived"
        );
    }
    println!(
        "kill -9 after {} accounts, {} rooms, {} friendships answered 2xx: all there after restart",
        done.accounts.len(),
        done.rooms.len(),
        done.friendships.len()
    );
}

/// One call that may fail because the server was killed (None then).
async fn try_call(w: &mut Web, method: &str, path: &str, body: serde_json::Value) -> Option<(u16, serde_json::Value)> {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        w.try_raw(method, path, body.as_bytes(), "application/json", ""),
    )
    .await
    .ok()??;
    Some((r.status, r.json()))
}
