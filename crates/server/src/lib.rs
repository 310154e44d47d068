//! # salon: the I/O shell around the media core
//!
//! Code map (imports point inward: http -> rooms/store/media -> salon-sfu):
//! - [`config`]: flags and `SALON_*` variables.
//! - [`protocol`]: signaling message types, no I/O (crate `salon-protocol`).
//! - [`http`]: router, REST API, WebSocket sessions, client files.
//! - [`rooms`]: live presence (who is in which room now), capacity.
//! - [`media`]: the UDP socket and the task that drives `salon_sfu::Sfu`.
//! - [`store`]: SQLite through sqlx (durable rooms, accounts, friendships).
//! - [`accounts`]: shared state of the accounts side (policy, login limits, change feed).
//! - [`tls`]: HTTPS certificates.
//! - [`admin`]: `salon admin ...`, the operator's commands.
//!
//! [`start`] binds everything and returns the bound addresses, so `main`
//! stays a few lines and tests run servers on port 0 side by side.

pub mod accounts;
pub mod admin;
pub mod config;
pub mod http;
pub mod media;
pub use salon_protocol as protocol;
pub mod rooms;
pub mod store;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;

pub use config::Config;

/// What every request handler and session shares.
#[derive(Clone)]
pub struct AppState {
    pub store: store::Store,
    pub rooms: Arc<rooms::Rooms>,
    pub media: media::MediaHandle,
    /// One permit per WebSocket session: bounds memory and sockets.
    pub sessions: Arc<tokio::sync::Semaphore>,
    /// Room creation, instance-wide: bounds how fast the database can grow.
    pub room_creation: Arc<RateLimit>,
    /// Reached over HTTPS (TLS here, or an `https` --public-url): cookies get `Secure`.
    pub secure_cookies: bool,
    /// Served with TLS by Salon itself (the scheme of links without --public-url).
    pub tls: bool,
    /// `--public-url`: the base of absolute links and an accepted Origin.
    pub public_url: Option<config::PublicUrl>,
    /// Accounts, sessions, friends and the tray (issue 4).
    pub accounts: Arc<accounts::Accounts>,
    /// Participants whose connection dropped, kept for a grace period.
    pub resumes: Arc<http::resume::Resumes>,
}

/// Most WebSocket sessions at once (each may hold a media peer of a few MiB).
pub const MAX_SESSIONS: usize = 2048;

/// A token bucket shared across requests.
pub struct RateLimit {
    per_sec: f64,
    burst: f64,
    state: std::sync::Mutex<(f64, std::time::Instant)>,
}

impl RateLimit {
    pub fn new(per_sec: f64, burst: f64) -> Self {
        RateLimit {
            per_sec,
            burst,
            state: std::sync::Mutex::new((burst, std::time::Instant::now())),
        }
    }

    /// True when one more event is allowed now.
    pub fn admit(&self) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        s.0 = (s.0 + now.duration_since(s.1).as_secs_f64() * self.per_sec).min(self.burst);
        s.1 = now;
        if s.0 >= 1.0 {
            s.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A running server.
pub struct Salon {
    pub http_addr: SocketAddr,
    /// The UDP address of each media loop.
    pub media_addrs: Vec<SocketAddr>,
    /// The URL to open in a browser.
    pub url: String,
    pub media_candidates: Vec<SocketAddr>,
    rooms: Arc<rooms::Rooms>,
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Opens the database, binds the HTTP and media sockets, and starts serving.
pub async fn start(config: Config) -> anyhow::Result<Salon> {
    let store = store::Store::open(&config.data_dir)
        .await
        .with_context(|| format!("opening the database in {}", config.data_dir.display()))?;
    let opts = media::MediaOptions {
        public_ip: config.public_ip,
        port: config.media_port,
        loops: config
            .media_loops
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        bwe: config.bwe,
        coalesce_ms: config.poll_coalesce_ms,
    };
    let media = media::spawn(&opts)
        .await
        .with_context(|| format!("binding the media UDP port(s) from {}", config.media_port))?;
    let rooms = Arc::new(rooms::Rooms::new(config.max_participants));
    let state = AppState {
        store,
        rooms: rooms.clone(),
        media: media.clone(),
        sessions: Arc::new(tokio::sync::Semaphore::new(MAX_SESSIONS)),
        room_creation: Arc::new(RateLimit::new(5.0, 200.0)),
        secure_cookies: config.secure_cookies(),
        tls: config.tls_enabled(),
        public_url: config.public_url.clone(),
        accounts: Arc::new(accounts::Accounts::new(config.room_creation, config.secure_cookies())),
        resumes: Arc::new(http::resume::Resumes::new(std::time::Duration::from_secs(
            config.resume_grace_secs,
        ))),
    };
    // With the peer address, for the per-address login limit.
    let app = http::app(state).into_make_service_with_connect_info::<SocketAddr>();

    let listener =
        std::net::TcpListener::bind(config.listen).with_context(|| format!("listening on {}", config.listen))?;
    listener.set_nonblocking(true)?;
    let http_addr = listener.local_addr()?;
    let handle = axum_server::Handle::new();

    let scheme = if config.tls_enabled() { "https" } else { "http" };
    let host = if http_addr.ip().is_unspecified() || http_addr.ip().is_loopback() {
        "localhost".to_string()
    } else {
        http_addr.ip().to_string()
    };
    let url = match &config.public_url {
        Some(public) => public.join("/"),
        None => format!("{scheme}://{host}:{}/", http_addr.port()),
    };

    let task = if config.tls_enabled() {
        let (cert, key) = match (&config.tls_cert, &config.tls_key) {
            (Some(c), Some(k)) => (c.clone(), k.clone()),
            _ => {
                let ips: Vec<_> = media.candidates().iter().map(|a| a.ip()).collect();
                tls::self_signed(&config.data_dir, &ips)?
            }
        };
        let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
            .await
            .with_context(|| format!("loading TLS certificate {} and key {}", cert.display(), key.display()))?;
        let server = axum_server::tls_rustls::from_tcp_rustls(listener, tls)?.handle(handle.clone());
        tokio::spawn(server.serve(app))
    } else {
        let server = axum_server::from_tcp(listener)?.handle(handle.clone());
        tokio::spawn(server.serve(app))
    };

    Ok(Salon {
        http_addr,
        media_addrs: media.local_addrs(),
        url,
        media_candidates: media.candidates(),
        rooms,
        handle,
        task,
    })
}

impl Salon {
    /// Stops accepting, lets requests finish (up to 2 s), then returns.
    /// Everyone in a room is told to reconnect first, so their pages come
    /// back at once to whatever serves next, instead of waiting for a timeout.
    pub async fn stop(self) {
        self.rooms.reconnect_all();
        // Let the sessions write it out before their sockets close.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        self.handle.graceful_shutdown(Some(std::time::Duration::from_secs(2)));
        let _ = self.task.await;
    }

    /// Serves until the HTTP server fails.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await??;
        Ok(())
    }
}
