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
//! - [`avatar`]: avatar uploads, bounded in memory by the output (decompression bombs).
//! - [`client_addr`]: the client address behind trusted proxies (every per-address limit).
//!
//! [`start`] binds everything and returns the bound addresses, so `main`
//! stays a few lines and tests run servers on port 0 side by side.

pub mod accounts;
pub mod admin;
pub mod avatar;
pub mod client_addr;
pub mod config;
pub mod http;
pub mod media;
pub use salon_protocol as protocol;
pub mod rooms;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod turn;

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
    /// The embedded TURN relay: each session's ICE servers come from it.
    pub turn: turn::TurnHandle,
    /// Per-address and per-account places of WebSockets and tray streams,
    /// and their revocation (logout, password change, deletion).
    pub limits: Arc<http::limits::Limits>,
    /// `--trusted-proxy`: peers whose forwarding headers name the client.
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    /// `--metrics-allow`: who besides loopback may read `/metrics`.
    pub metrics_allow: Arc<Vec<ipnet::IpNet>>,
    /// `--embed-origins`: who may frame `/embed/r/<id>`.
    pub embed_origins: Arc<Vec<String>>,
}

/// A request must send its whole header within this, and a kept-alive
/// connection that sends nothing is closed after it (slow-loris).
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// A request (body included, not a WebSocket or event stream once
/// answered) must be handled within this.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

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
    /// The ICE-TCP media listener.
    pub media_tcp_addr: SocketAddr,
    /// The TURN relay: over TCP, and over TLS.
    pub turn_addr: SocketAddr,
    pub turn_tls_addr: SocketAddr,
    media: media::MediaHandle,
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Opens the database, binds the HTTP and media sockets, and starts serving.
pub async fn start(config: Config) -> anyhow::Result<Salon> {
    // Before anything records: metrics recorded earlier would be lost.
    telemetry::handle();
    let store = store::Store::open(&config.data_dir)
        .await
        .with_context(|| format!("opening the database in {}", config.data_dir.display()))?;
    let opts = media::MediaOptions {
        public_ip: config.public_ip,
        port: config.media_port,
        loops: config
            .media_loops
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        tcp_port: config.media_tcp_port.unwrap_or(config.media_port),
        bwe: config.bwe,
        coalesce_ms: config.poll_coalesce_ms,
        max_publish_kbps: config.max_publish_kbps,
    };
    let media = media::spawn(&opts)
        .await
        .with_context(|| format!("binding the media UDP port(s) from {}", config.media_port))?;
    let rooms = Arc::new(rooms::Rooms::new(config.max_participants));
    let tls_rustls = if config.tls_enabled() {
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
        Some(tls)
    } else {
        None
    };
    let turn = start_turn(&config, &media, tls_rustls.as_ref()).await?;
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
        turn: turn.clone(),
        limits: Arc::new(http::limits::Limits::default()),
        trusted_proxies: Arc::new(config.trusted_proxy.clone()),
        metrics_allow: Arc::new(config.metrics_allow.clone()),
        embed_origins: Arc::new(config.embed_origins.clone()),
    };
    store::expiry::spawn(state.store.clone(), state.rooms.clone(), config.room_expiry_days);
    http::calls::spawn_watcher(state.clone());
    let rooms = state.rooms.clone();
    // With the peer address, for the per-address limits (`client_addr.rs`).
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

    let task = if let Some(tls) = tls_rustls {
        let mut server = axum_server::tls_rustls::from_tcp_rustls(listener, tls)?
            .handle(handle.clone())
            .first_request_timeout(HEADER_READ_TIMEOUT);
        http_timeouts(server.http_builder());
        tokio::spawn(server.serve(app))
    } else {
        let mut server = axum_server::from_tcp(listener)?
            .handle(handle.clone())
            .first_request_timeout(HEADER_READ_TIMEOUT);
        http_timeouts(server.http_builder());
        tokio::spawn(server.serve(app))
    };

    Ok(Salon {
        http_addr,
        media_addrs: media.local_addrs(),
        url,
        media_candidates: media.candidates(),
        rooms,
        media_tcp_addr: media.tcp_addr,
        turn_addr: turn.tcp_addr,
        turn_tls_addr: turn.tls_addr,
        media: media.clone(),
        handle,
        task,
    })
}

/// Slow-loris: a connection must finish each request header within
/// [`HEADER_READ_TIMEOUT`] (which also closes an idle kept-alive HTTP/1
/// connection); HTTP/2 connections are pinged and closed when silent. The
/// TLS handshake has axum-server's own 10 s limit, and a connection that
/// sends nothing at all meets `first_request_timeout`.
fn http_timeouts(b: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>) {
    b.http1().header_read_timeout(HEADER_READ_TIMEOUT);
    b.http2()
        .keep_alive_interval(std::time::Duration::from_secs(20))
        .keep_alive_timeout(HEADER_READ_TIMEOUT);
}

impl Salon {
    /// Test hook: makes every media loop panic once (each restarts).
    #[doc(hidden)]
    pub async fn crash_media_loops_for_tests(&self) {
        self.media.crash_all_for_tests().await;
    }

    /// Live presence (who is in which room now).
    pub fn rooms(&self) -> Arc<rooms::Rooms> {
        self.rooms.clone()
    }

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

/// Starts the TURN relay: TLS with Salon's own certificate when HTTPS is on,
/// else with a self-signed one in the data directory; it relays only to the
/// media loops' UDP addresses.
async fn start_turn(
    config: &Config,
    media: &media::MediaHandle,
    tls: Option<&axum_server::tls_rustls::RustlsConfig>,
) -> anyhow::Result<turn::TurnHandle> {
    let candidates = media.candidates();
    let ips: Vec<std::net::IpAddr> = candidates.iter().map(|a| a.ip()).collect();
    let rustls = match tls {
        Some(t) => t.get_inner(),
        None => {
            let (cert, key) = tls::self_signed(&config.data_dir, &ips)?;
            axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                .await
                .context("loading the TURN certificate")?
                .get_inner()
        }
    };
    let mut allowed: std::collections::HashSet<SocketAddr> = candidates.iter().copied().collect();
    allowed.extend(media.local_addrs().into_iter().filter(|a| !a.ip().is_unspecified()));
    let shared = Arc::new(turn::TurnShared::new(
        turn::TurnAuth::new(config.turn_secret.as_deref()),
        allowed,
        turn::TurnLimits::default(),
    ));
    // URLs name the announced addresses; loopback only when there is nothing else.
    let mut hosts: Vec<std::net::IpAddr> = ips.iter().copied().filter(|ip| !ip.is_loopback()).collect();
    if hosts.is_empty() {
        hosts = ips;
    }
    hosts.dedup();
    let hosts: Vec<String> = match &config.turn_host {
        Some(name) => vec![name.clone()],
        None => hosts.into_iter().map(turn::url_host).collect(),
    };
    let bind = if config.public_ip.is_some_and(|ip| ip.is_loopback()) {
        std::net::Ipv4Addr::LOCALHOST
    } else {
        std::net::Ipv4Addr::UNSPECIFIED
    };
    let (tcp, tls) = (
        SocketAddr::new(bind.into(), config.turn_port),
        SocketAddr::new(bind.into(), config.turn_tls_port),
    );
    turn::spawn(tcp, tls, hosts, rustls, shared).await.with_context(|| {
        format!(
            "binding the TURN ports {} and {}",
            config.turn_port, config.turn_tls_port
        )
    })
}
