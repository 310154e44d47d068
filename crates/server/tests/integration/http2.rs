//! HTTPS as browsers speak it: HTTP/2 over TLS (ALPN `h2`), where the host
//! travels as `:authority` and there is no `Host` header.
//!
//! A real HTTP/2 client (reqwest over rustls, trusting the server's own
//! self-signed certificate) signs up, logs out and in, creates a room and
//! schedules it, with the `Origin` a browser sends; the `.ics` link and the
//! share links use `--public-url`. Then two str0m participants join that room
//! over `wss://` on the same TLS listener (browsers open WebSockets over
//! HTTP/1.1: Salon does not offer RFC 8441), carrying the cookies the HTTP/2
//! responses set, and exchange media.

use std::sync::Arc;

use reqwest::cookie::CookieStore;
use reqwest::{header, StatusCode, Version};
use salon::config::{PublicUrl, RoomCreation};
use salon::protocol::{ClientMsg, ServerMsg};
use salon_load::participant::{JoinAs, Participant, Traffic};
use salon_sfu::testkit::Publish;
use serde_json::{json, Value};

use crate::helpers::*;

const PUBLIC: &str = "https://salon.example";

struct H2 {
    client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    base: String,
    /// What a browser on a page of this server sends as Origin.
    origin: String,
}

impl H2 {
    fn new(server: &TestServer) -> H2 {
        let pem = std::fs::read(server.dir.path().join("tls/self-signed-cert.pem")).expect("certificate");
        let cert = reqwest::Certificate::from_pem(&pem).expect("pem");
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .tls_certs_only([cert])
            .resolve("localhost", server.http())
            .cookie_provider(jar.clone())
            .build()
            .expect("client");
        let base = format!("https://localhost:{}", server.http().port());
        H2 {
            client,
            jar,
            origin: base.clone(),
            base,
        }
    }

    /// A request as a browser on one of Salon's pages makes it (with Origin).
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        origin: &str,
    ) -> (StatusCode, String) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header(header::ORIGIN, origin);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("HTTP/2 request completes (no stream error)");
        assert_eq!(resp.version(), Version::HTTP_2, "{path} over HTTP/2");
        let status = resp.status();
        (status, resp.text().await.expect("body"))
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, String) {
        self.send(method, path, body, &self.origin).await
    }

    /// The Cookie header this client sends to the server.
    fn cookies(&self) -> String {
        let url = self.base.parse().expect("url");
        self.jar
            .cookies(&url)
            .expect("cookies were set")
            .to_str()
            .expect("ascii")
            .to_string()
    }
}

/// A signaling connection over TLS to `server`, with `cookie`, past hello.
async fn wss(server: &TestServer, cookie: &str) -> salon_load::participant::Ws {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let pem = std::fs::read(server.dir.path().join("tls/self-signed-cert.pem")).expect("certificate");
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.expect("pem")).expect("root");
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut req = format!("wss://localhost:{}/ws", server.http().port())
        .into_client_request()
        .expect("request");
    req.headers_mut().insert("cookie", cookie.parse().expect("cookie"));
    req.headers_mut().insert(
        "origin",
        format!("https://localhost:{}", server.http().port())
            .parse()
            .expect("origin"),
    );
    let tcp = tokio::net::TcpStream::connect(server.http()).await.expect("tcp");
    let connector = tokio_tungstenite::Connector::Rustls(Arc::new(config));
    let (ws, _) = tokio_tungstenite::client_async_tls_with_config(req, tcp, None, Some(connector))
        .await
        .expect("wss upgrade");
    salon_load::participant::hello(ws).await.expect("hello")
}

use rustls_pki_types::pem::PemObject;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_over_tls_sign_up_log_in_create_schedule_and_join() {
    let server = spawn_server_with(|c| {
        c.tls_self_signed = true;
        c.room_creation = RoomCreation::Accounts;
        c.public_url = Some(PublicUrl::parse(PUBLIC).expect("valid"));
    })
    .await;
    let alice = H2::new(&server);
    use reqwest::Method;

    let (status, _) = alice.call(Method::GET, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = alice
        .call(
            Method::POST,
            "/api/accounts",
            Some(json!({"username": "alice", "display_name": "Alice", "password": "correct horse"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "sign-up over HTTP/2: {body}");
    assert!(alice.cookies().contains("salon_session="), "{}", alice.cookies());

    let (status, body) = alice.call(Method::DELETE, "/api/session", None).await;
    assert!(status.is_success(), "log-out: {status} {body}");
    let (status, body) = alice
        .call(
            Method::POST,
            "/api/session",
            Some(json!({"username": "alice", "password": "correct horse"})),
        )
        .await;
    assert!(status.is_success(), "log-in over HTTP/2: {status} {body}");

    // The public URL is an accepted Origin too; another site is not, and its
    // 403 always arrives whole: the refused body is read before answering,
    // else HTTP/2 resets the stream and clients often lose the response.
    for _ in 0..20 {
        let (status, body) = alice
            .send(
                Method::POST,
                "/api/rooms",
                Some(json!({"name": "x".repeat(60)})),
                "https://evil.example",
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(body.contains("bad_origin"), "{body}");
    }
    let (status, body) = alice
        .send(
            Method::POST,
            "/api/rooms",
            Some(json!({"name": "Via the proxy"})),
            PUBLIC,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (status, body) = alice
        .call(Method::POST, "/api/rooms", Some(json!({"name": "Yoga over h2"})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "room creation over HTTP/2: {body}");
    let room: Value = serde_json::from_str(&body).expect("json");
    let id = room["id"].as_str().expect("id").to_string();
    assert_eq!(room["url"], format!("{PUBLIC}/r/{id}"), "share link uses --public-url");
    assert_eq!(room["host"], true);

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let starts_at = now + 300; // open already (10 min before)
    let (status, body) = alice
        .call(
            Method::PUT,
            &format!("/api/rooms/{id}/schedule"),
            Some(json!({"title": "Sophrologie", "description": "", "starts_at": starts_at, "duration_min": 45, "opens_before_min": 10})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "scheduling over HTTP/2: {body}");
    let (status, ics) = alice.call(Method::GET, &format!("/r/{id}/invite.ics"), None).await;
    assert_eq!(status, StatusCode::OK, "{ics}");
    let unfolded = ics.replace("\r\n ", "");
    assert!(unfolded.contains(&format!("URL:{PUBLIC}/r/{id}\r\n")), "{ics}");

    let (status, body) = alice
        .call(
            Method::POST,
            &format!("/api/rooms/{id}/invites"),
            Some(json!({"label": "Bob"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let invite: Value = serde_json::from_str(&body).expect("json");
    assert!(
        invite["url"]
            .as_str()
            .is_some_and(|u| u.starts_with(&format!("{PUBLIC}/r/{id}?invite="))),
        "{invite}"
    );

    // The WebSocket join on the same TLS listener, with the cookies set over
    // HTTP/2: Alice is the host (device cookie and account), so her lock works.
    let traffic = Arc::new(Traffic::default());
    let host = Participant::join_on(
        wss(&server, &alice.cookies()).await,
        server.http(),
        &id,
        "Alice",
        Publish::av(),
        traffic.clone(),
        JoinAs::default(),
    )
    .await
    .expect("host joins over wss");
    let guest_ws = wss(&server, "").await;
    let guest = Participant::join_on(
        guest_ws,
        server.http(),
        &id,
        "Bob",
        Publish::av(),
        traffic,
        JoinAs::default(),
    )
    .await
    .expect("guest joins over wss");
    for (me, other) in [(&host, &guest), (&guest, &host)] {
        eventually(20, "media both ways after a join over TLS", || {
            let r = me.received_from(other);
            r.video_frames >= 30 && r.audio_frames >= 50
        })
        .await;
    }
    host.send(ClientMsg::Lock { locked: true });
    eventually(10, "the host's lock reaches the guest", || {
        guest.saw(|m| matches!(m, ServerMsg::Controls { controls } if controls.locked))
    })
    .await;
}

/// Without --public-url, links name the host the HTTP/2 request was
/// addressed to (`:authority`), with https.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_links_use_the_authority_without_public_url() {
    let server = spawn_server_with(|c| c.tls_self_signed = true).await;
    let client = H2::new(&server);
    let (status, body) = client
        .call(reqwest::Method::POST, "/api/rooms", Some(json!({"name": "Plain"})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let room: Value = serde_json::from_str(&body).expect("json");
    let id = room["id"].as_str().expect("id");
    assert_eq!(room["url"], format!("{}/r/{id}", client.base));
}
