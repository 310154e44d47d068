//! A tiny HTTP client with a cookie jar, for the accounts tests: one
//! `Web` is one browser profile (its own session cookie). Also a signaling
//! connection that carries the cookie, and an SSE reader for the tray.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use salon::protocol::{ClientMsg, ServerMsg};
use salon_sfu::testkit::{Publish, TestPeer};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{Signal, TestServer};

pub struct Web {
    pub addr: SocketAddr,
    /// The session cookie (`salon_session`).
    pub cookie: Option<String>,
    /// The device cookie (`salon_device`), as a browser keeps it.
    pub device: Option<String>,
    /// The loopback address this browser connects from (127.0.0.1 unless set).
    pub from: Option<std::net::IpAddr>,
}

pub struct Resp {
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.header_all(name).into_iter().next()
    }
    /// Every value of a header that may repeat (Set-Cookie).
    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.headers
            .lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
            .collect()
    }
    /// The `salon_session` Set-Cookie header, if any.
    pub fn session_cookie(&self) -> Option<String> {
        self.header_all("set-cookie")
            .into_iter()
            .find(|c| c.starts_with("salon_session="))
    }
}

impl Web {
    pub fn new(server: &TestServer) -> Web {
        Web {
            addr: server.http(),
            cookie: None,
            device: None,
            from: None,
        }
    }

    /// A browser connecting from another loopback address.
    pub fn new_from(server: &TestServer, from: &str) -> Web {
        Web {
            from: Some(from.parse().expect("an IP")),
            ..Web::new(server)
        }
    }

    async fn connect(&self) -> TcpStream {
        match self.from {
            Some(ip) => crate::helpers::connect_from(self.addr, ip).await,
            None => TcpStream::connect(self.addr).await.expect("connect"),
        }
    }

    pub async fn raw(&mut self, method: &str, path: &str, body: &[u8], content_type: &str, extra: &str) -> Resp {
        self.try_raw(method, path, body, content_type, extra)
            .await
            .expect("a complete HTTP answer")
    }

    /// Like `raw`, but None when the connection fails or the answer is cut.
    pub async fn try_raw(
        &mut self,
        method: &str,
        path: &str,
        body: &[u8],
        content_type: &str,
        extra: &str,
    ) -> Option<Resp> {
        let mut s = match self.from {
            Some(ip) => {
                let sock = tokio::net::TcpSocket::new_v4().ok()?;
                sock.bind(SocketAddr::new(ip, 0)).ok()?;
                sock.connect(self.addr).await.ok()?
            }
            None => TcpStream::connect(self.addr).await.ok()?,
        };
        let cookie = self
            .cookie_header()
            .map(|c| format!("Cookie: {c}\r\n"))
            .unwrap_or_default();
        // Like a browser on our own page, unless the test sends another Origin.
        let origin = if extra.to_ascii_lowercase().contains("origin:") {
            String::new()
        } else {
            format!("Origin: http://{}\r\n", self.addr)
        };
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{origin}Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n{cookie}{extra}\r\n",
            self.addr,
            body.len()
        );
        s.write_all(head.as_bytes()).await.ok()?;
        s.write_all(body).await.ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.ok()?;
        let split = out.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let headers = String::from_utf8_lossy(&out[..split]).to_string();
        let status = headers
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let r = Resp {
            status,
            headers,
            body: out[split..].to_vec(),
        };
        for c in r.header_all("set-cookie") {
            let pair = c.split(';').next().unwrap_or("");
            if let Some(v) = pair.strip_prefix("salon_session=") {
                self.cookie = (!v.is_empty()).then(|| v.to_string());
            } else if let Some(v) = pair.strip_prefix("salon_device=") {
                self.device = Some(v.to_string());
            }
        }
        Some(r)
    }

    /// The Cookie header a browser with this profile sends.
    pub fn cookie_header(&self) -> Option<String> {
        let parts: Vec<String> = [("salon_session", &self.cookie), ("salon_device", &self.device)]
            .into_iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    pub async fn call(&mut self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let r = self.raw(method, path, body.as_bytes(), "application/json", "").await;
        (r.status, r.json())
    }

    pub async fn get(&mut self, path: &str) -> (u16, Value) {
        self.call("GET", path, Value::Null).await
    }

    /// Signs up (username = display name lower-cased) and keeps the cookie.
    pub async fn sign_up(server: &TestServer, name: &str) -> Web {
        let mut w = Web::new(server);
        let (status, body) = w
            .call(
                "POST",
                "/api/accounts",
                serde_json::json!({"username": name.to_lowercase(), "display_name": name, "password": "correct horse"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        assert!(w.cookie.is_some());
        w
    }

    /// Makes `self` and `other` friends.
    pub async fn befriend(&mut self, other: &mut Web) {
        let them = other.get("/api/account").await.1["username"]
            .as_str()
            .unwrap()
            .to_string();
        let me = self.get("/api/account").await.1["username"]
            .as_str()
            .unwrap()
            .to_string();
        let (s, b) = self
            .call("POST", "/api/friends/requests", serde_json::json!({ "username": them }))
            .await;
        assert_eq!(s, 201, "{b}");
        let (s, b) = other
            .call("POST", &format!("/api/friends/requests/{me}/accept"), Value::Null)
            .await;
        assert_eq!(s, 204, "{b}");
    }

    pub async fn create_room(&mut self, name: &str, visibility: &str) -> String {
        let (s, b) = self
            .call(
                "POST",
                "/api/rooms",
                serde_json::json!({"name": name, "visibility": visibility}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        b["id"].as_str().unwrap().to_string()
    }

    /// A signaling connection with this profile's cookie, after `hello`.
    pub async fn signal(&self) -> Signal {
        let mut req = format!("ws://{}/ws", self.addr).into_client_request().expect("request");
        if let Some(c) = self.cookie_header() {
            req.headers_mut().insert("cookie", c.parse().expect("header"));
        }
        let stream = tokio_tungstenite::MaybeTlsStream::Plain(self.connect().await);
        let (ws, _) = tokio_tungstenite::client_async(req, stream)
            .await
            .expect("websocket connects");
        let mut s = Signal { ws };
        s.send(&ClientMsg::Hello { version: 1 }).await;
        assert!(matches!(s.recv().await, ServerMsg::Hello { .. }));
        s
    }

    /// Opens the tray's event stream.
    pub async fn tray_events(&self) -> TrayEvents {
        let mut s = self.connect().await;
        let cookie = self.cookie_header().unwrap_or_default();
        let head = format!(
            "GET /api/tray/events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\nCookie: {cookie}\r\n\r\n",
            self.addr
        );
        s.write_all(head.as_bytes()).await.expect("write");
        let mut r = BufReader::new(s);
        let mut line = String::new();
        r.read_line(&mut line).await.expect("status line");
        assert!(line.contains(" 200 "), "{line}");
        TrayEvents { r }
    }
}

/// Joins `room` over a signaling connection (media is offered but never
/// connected: these tests look at signaling). Returns the connection and
/// the `joined` message, or the error.
pub async fn join(sig: &mut Signal, room: &str, name: &str) -> ServerMsg {
    let (_peer, offer) = TestPeer::with(Instant::now(), "127.0.0.1:9".parse().unwrap(), Publish::av());
    sig.send(&ClientMsg::Join {
        room: room.into(),
        name: name.into(),
        offer,
        invite: None,
    })
    .await;
    sig.recv().await
}

pub struct TrayEvents {
    r: BufReader<TcpStream>,
}

impl TrayEvents {
    /// The next `tray` event's data, within `secs`.
    pub async fn next(&mut self, secs: u64) -> Value {
        self.next_of("tray", secs).await
    }

    /// The next event `kind`'s data (`tray` or `calls`), within `secs`;
    /// events of the other kind are skipped.
    pub async fn next_of(&mut self, kind: &str, secs: u64) -> Value {
        let end = Instant::now() + Duration::from_secs(secs);
        let mut line = String::new();
        let mut event = String::new();
        loop {
            line.clear();
            let left = end.saturating_duration_since(Instant::now());
            let n = tokio::time::timeout(left, self.r.read_line(&mut line))
                .await
                .expect("a tray event in time")
                .expect("read");
            assert!(n > 0, "stream closed");
            if let Some(e) = line.trim_end().strip_prefix("event: ") {
                event = e.to_string();
            } else if let Some(data) = line.trim_end().strip_prefix("data: ") {
                if event == kind {
                    return serde_json::from_str(data).expect("event JSON");
                }
            }
        }
    }

    /// True when the server ends the stream within `secs`.
    pub async fn closed_within(&mut self, secs: u64) -> bool {
        let end = Instant::now() + Duration::from_secs(secs);
        let mut line = String::new();
        loop {
            line.clear();
            let left = end.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.r.read_line(&mut line)).await {
                Err(_) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                // The chunked body's last chunk ends the stream too.
                Ok(Ok(_)) if line.trim_end() == "0" => return true,
                Ok(Ok(_)) => continue,
            }
        }
    }

    /// Waits for a tray event satisfying `f`, within `secs` in all.
    pub async fn until(&mut self, secs: u64, f: impl Fn(&Value) -> bool) -> Value {
        self.until_of("tray", secs, f).await
    }

    /// Waits for an event `kind` satisfying `f`, within `secs` in all.
    pub async fn until_of(&mut self, kind: &str, secs: u64, f: impl Fn(&Value) -> bool) -> Value {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            let left = end.saturating_duration_since(Instant::now()).as_secs().max(1);
            let v = self.next_of(kind, left).await;
            if f(&v) {
                return v;
            }
            assert!(Instant::now() < end, "no matching tray event; last {v}");
        }
    }
}
