//! HTTP: the router (`app`), the REST API, the WebSocket upgrade and the
//! browser client's files.
//!
//! `app(state)` builds the whole `Router` without binding anything, so tests
//! can call it with `oneshot` and `lib::start` can serve it over TCP or TLS.

pub mod accounts;
mod api;
mod assets;
pub mod auth;
pub mod calls;
pub mod device;
mod embed;
mod friends;
pub mod limits;
pub mod openapi;
mod owned_rooms;
mod patterns;
pub mod resume;
pub mod schedule;
mod share;
pub mod site;
pub mod tray;
pub mod ws;

use axum::extract::{Path, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::PublicUrl;
use crate::protocol;
use crate::AppState;

pub fn app(state: AppState) -> Router {
    let secure = state.secure_cookies;
    let trusted = state.trusted_proxies.clone();
    let public = state.public_url.clone();
    let origin_public = state.public_url.clone();
    let tls = state.tls;
    Router::new()
        .route("/", get(|| async { assets::page("index.html", StatusCode::OK) }))
        .route("/r/{id}", get(room_page))
        .route("/embed/r/{id}", get(embed::page))
        .route("/api/rooms", post(api::create_room))
        .route("/api/rooms/{id}", get(api::get_room))
        .route("/api/rooms/{id}/settings", axum::routing::put(api::put_settings))
        .route(
            "/api/rooms/{id}/invites",
            get(api::list_invites).post(api::create_invite),
        )
        .route(
            "/api/rooms/{id}/invites/{token}",
            axum::routing::delete(api::delete_invite),
        )
        .route(
            "/api/rooms/{id}/schedule",
            axum::routing::put(api::put_schedule).delete(api::delete_schedule),
        )
        .route("/api/rooms/{id}/roster", get(api::list_roster).post(api::add_to_roster))
        .route(
            "/api/rooms/{id}/roster/{username}",
            axum::routing::delete(api::remove_from_roster),
        )
        .route("/r/{id}/invite.ics", get(schedule::ics))
        .route("/r/{id}/qr.svg", get(share::qr))
        .route("/api/calls", get(calls::list).post(calls::start))
        .route("/api/calls/{id}", get(calls::get_call))
        .route("/api/calls/{id}/people", post(calls::add_people))
        .route("/api/calls/{id}/accept", post(calls::accept))
        .route("/api/calls/{id}/decline", post(calls::decline))
        .route("/ws", get(ws_upgrade))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(crate::telemetry::ready))
        .route("/metrics", get(crate::telemetry::metrics))
        .merge(accounts::routes())
        .fallback(assets::file)
        // `304` for a known ETag, inside compression: nothing to compress.
        .layer(middleware::from_fn(assets::conditional))
        // gzip and brotli for text, JSON and wasm (never event streams or
        // images: tower-http's default predicate). Compressed per response, so a
        // middle level (4) rather than brotli's slowest, meant for files
        // compressed ahead of time.
        .layer(
            tower_http::compression::CompressionLayer::new()
                .quality(tower_http::compression::CompressionLevel::Precise(4)),
        )
        // Per route: 16 KiB of JSON (the avatar route sets its own 1 MiB);
        // the outer cap refuses any larger Content-Length before reading.
        .layer(axum::extract::DefaultBodyLimit::max(16 * 1024))
        .layer(middleware::from_fn(limits::json_objects_only))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(limits::MAX_BODY_BYTES))
        .layer(middleware::from_fn(limits::declared_body_size))
        // A request, its body included, is answered within 30 s (a slow
        // body cannot hold a task); WebSockets and event streams are
        // answered at once and live on outside this.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            crate::REQUEST_TIMEOUT,
        ))
        .layer(middleware::from_fn(move |req, next| device::layer(secure, req, next)))
        .layer(middleware::from_fn(move |req, next| {
            check_origin(origin_public.clone(), req, next)
        }))
        .layer(middleware::from_fn(move |req, next| {
            site::layer(public.clone(), tls, req, next)
        }))
        .layer(middleware::from_fn(move |req, next| {
            crate::client_addr::layer(trusted.clone(), req, next)
        }))
        // The import map is allowed by its hash (http/assets.rs). The embed
        // page sets its own (frame-ancestors from --embed-origins).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&assets::csp()).expect("cannot fail: a literal and base64, all ASCII"),
        ))
        // Room links are secrets: never leak them to other sites in Referer.
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(self), microphone=(self), display-capture=(self)"),
        ))
        .with_state(state)
}

async fn room_page(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.store.room(&id).await {
        Ok(Some(_)) => assets::page("room.html", StatusCode::OK),
        Ok(None) => assets::page("notfound.html", StatusCode::NOT_FOUND),
        Err(e) => AppError::internal(e).into_response(),
    }
}

async fn ws_upgrade(
    State(state): State<AppState>,
    axum::Extension(device): axum::Extension<device::Device>,
    axum::Extension(addr): axum::Extension<crate::client_addr::ClientAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // The signed-in account, if any, for blocks and per-recipient details.
    let account = match auth::current_account(&state, &headers).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    // Its places per address and account, and its revocation signal.
    let token = auth::session_token(&headers);
    let place = match state.limits.admit(
        limits::Kind::WebSocket,
        addr.0,
        account.as_ref().map(|a| a.id.as_str()),
        token.as_deref(),
    ) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let Ok(permit) = state.sessions.clone().try_acquire_owned() else {
        return AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_full",
            "too many connections; try again later",
        )
        .into_response();
    };
    ws.max_message_size(protocol::MAX_FRAME_BYTES)
        .max_frame_size(protocol::MAX_FRAME_BYTES)
        .on_upgrade(move |socket| ws::run(socket, state, device, (permit, place), account))
}

/// How much of a refused request's body is read before answering (the API's own body limit).
const REFUSED_BODY_DRAIN: usize = 16 * 1024;

/// Cross-site request forgery and cross-site WebSocket hijacking guard: a
/// state-changing request or a WebSocket upgrade that carries an Origin must
/// come from this very host (HTTP/1.1 `Host` or HTTP/2 `:authority`) or from
/// `--public-url`. (Non-browser clients send no Origin.) See `site.rs`.
async fn check_origin(public: Option<PublicUrl>, req: Request<axum::body::Body>, next: Next) -> Response {
    let guarded = req.method() != Method::GET || req.uri().path() == "/ws";
    if guarded && !site::same_origin(req.uri(), req.headers(), public.as_ref()) {
        // Read the (small) body first. Over HTTP/2, a response sent while the
        // request body is still unread ends the stream with RST_STREAM, and
        // clients then often lose the response: curl and browsers reported a
        // stream error instead of this 403 (see RELIABILITY.md).
        let _ = axum::body::to_bytes(req.into_body(), REFUSED_BODY_DRAIN).await;
        return AppError::new(StatusCode::FORBIDDEN, "bad_origin", "request from another site refused").into_response();
    }
    next.run(req).await
}

/// Every API error: a status, a stable `code` for programs, a `message` for people.
#[derive(Debug)]
pub struct AppError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {e}");
        AppError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on the server",
        )
    }

    /// `404 room_not_found`, the same for every route that takes a room id.
    pub fn room_not_found() -> Self {
        AppError::new(StatusCode::NOT_FOUND, "room_not_found", "this room does not exist")
    }
}

/// The room with this id, or `404 room_not_found`.
pub(crate) async fn existing_room(state: &AppState, id: &str) -> Result<crate::store::Room, AppError> {
    state
        .store
        .room(id)
        .await
        .map_err(AppError::internal)?
        .ok_or_else(AppError::room_not_found)
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            message: &self.message,
        };
        (self.status, Json(body)).into_response()
    }
}
