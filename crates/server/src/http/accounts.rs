//! Accounts: sign up, log in and out, profile, password, avatar, deletion,
//! and reading a friend's profile. `routes()` gathers every route of the
//! accounts side (this file, `friends.rs`, `owned_rooms.rs`, `tray.rs`,
//! `openapi.rs`) so the main router adds them in one line.
//!
//! Privacy rule: a profile is readable by its owner and their friends only;
//! anyone else gets exactly the 404 of a missing user, so a username's
//! existence leaks only through the search that asks for it by exact name.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Extension;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{self, json};
use super::{friends, openapi, owned_rooms, tray, AppError};
use crate::client_addr::ClientAddr;
use crate::config::RoomCreation;
use crate::store::{self, Account, CreateAccountError};
use crate::AppState;

/// Largest avatar upload (the body), before decoding.
pub const MAX_AVATAR_BYTES: usize = 1024 * 1024;
/// Avatars are re-encoded to this square PNG.
pub const AVATAR_SIZE: u32 = crate::avatar::AVATAR_SIZE;

pub fn routes() -> Router<AppState> {
    let page = |name: &'static str| get(move || async move { super::assets::page(name, StatusCode::OK) });
    Router::new()
        .route("/account", page("account.html"))
        .route("/friends", page("friends.html"))
        .route("/sessions", page("sessions.html"))
        .route("/api/accounts", post(sign_up))
        .route("/api/session", get(session).post(log_in).delete(log_out))
        .route("/api/account", get(me).patch(update_profile).delete(delete_account))
        .route("/api/account/password", put(change_password))
        .route(
            "/api/account/avatar",
            put(upload_avatar)
                .delete(remove_avatar)
                .layer(DefaultBodyLimit::max(MAX_AVATAR_BYTES + 4096)),
        )
        .route("/api/avatars/{id}", get(avatar))
        .route("/api/users/{username}", get(profile))
        .route("/api/account/rooms", get(owned_rooms::list))
        .route(
            "/api/rooms/{id}",
            axum::routing::patch(owned_rooms::update).delete(owned_rooms::remove),
        )
        .route("/api/users", get(friends::search))
        .route("/api/friends", get(friends::list))
        .route("/api/friends/{username}", delete(friends::unfriend))
        .route("/api/friends/requests", post(friends::request))
        .route("/api/friends/requests/{username}", delete(friends::cancel))
        .route("/api/friends/requests/{username}/accept", post(friends::accept))
        .route("/api/friends/requests/{username}/decline", post(friends::decline))
        .route("/api/blocks", post(friends::block))
        .route("/api/blocks/{username}", delete(friends::unblock))
        .route("/api/tray", get(tray::get_tray))
        .route("/api/tray/events", get(tray::events))
        .route("/api/openapi.json", get(openapi::document))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    /// 3 to 32 of a-z, 0-9, `_`, `.`, `-` (stored lower-case).
    pub username: String,
    /// 1 to 40 characters.
    pub display_name: String,
    /// 8 to 128 characters.
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogIn {
    pub username: String,
    pub password: String,
}

/// The signed-in person's own view of their account.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub username: String,
    pub display_name: String,
    pub bio: String,
    /// URL path of the avatar (PNG), if any.
    pub avatar: Option<String>,
}

impl From<&Account> for Me {
    fn from(a: &Account) -> Me {
        Me {
            username: a.username.clone(),
            display_name: a.display_name.clone(),
            bio: a.bio.clone(),
            avatar: a.avatar_url(),
        }
    }
}

/// A profile as its owner's friends see it (same shape as `Me`).
pub type Profile = Me;

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// The signed-in account, or null.
    pub account: Option<Me>,
    /// Who may create rooms on this server.
    pub room_creation: RoomCreation,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    pub display_name: Option<String>,
    /// Up to 280 characters.
    pub bio: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccount {
    /// The current password, to confirm.
    pub password: String,
}

type JsonBody<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

fn bad(code: &'static str, message: impl Into<String>) -> AppError {
    AppError::new(StatusCode::BAD_REQUEST, code, message)
}

fn wrong_credentials() -> AppError {
    AppError::new(
        StatusCode::UNAUTHORIZED,
        "wrong_credentials",
        "wrong username or password",
    )
}

fn with_cookie(cookie: axum::http::HeaderValue, status: StatusCode, body: impl IntoResponse) -> Response {
    let mut res = (status, body).into_response();
    res.headers_mut().append(header::SET_COOKIE, cookie);
    res
}

fn rate_limited() -> AppError {
    AppError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "too many attempts; wait a minute",
    )
}

/// Creates an account and signs it in.
#[utoipa::path(post, path = "/api/accounts", tag = "accounts", request_body = SignUp,
    responses((status = 201, body = Me, description = "signed up and signed in (Set-Cookie)"),
              (status = 400, body = super::openapi::ErrorBody), (status = 409, body = super::openapi::ErrorBody),
              (status = 429, body = super::openapi::ErrorBody)))]
pub async fn sign_up(
    State(state): State<AppState>,
    Extension(ClientAddr(ip)): Extension<ClientAddr>,
    body: JsonBody<SignUp>,
) -> Result<Response, AppError> {
    let body = json(body)?;
    if !state.accounts.login_by_addr.admit(&ip) {
        return Err(rate_limited());
    }
    let username = store::validate_username(&body.username).map_err(|e| bad("invalid_username", e))?;
    let display_name = crate::protocol::validate_name(&body.display_name).map_err(|e| bad("invalid_name", e))?;
    auth::check_password_shape(&body.password)?;
    let hash = auth::hash_password(body.password).await?;
    let account = match state.store.create_account(&username, &display_name, &hash).await {
        Ok(a) => a,
        Err(CreateAccountError::Taken) => {
            return Err(AppError::new(
                StatusCode::CONFLICT,
                "username_taken",
                "this username is taken",
            ))
        }
        Err(CreateAccountError::Db(e)) => return Err(AppError::internal(e)),
    };
    let token = state
        .store
        .create_session(&account.id)
        .await
        .map_err(AppError::internal)?;
    tracing::info!("account created");
    Ok(with_cookie(
        auth::set_cookie(&state, &token),
        StatusCode::CREATED,
        Json(Me::from(&account)),
    ))
}

/// Who is signed in (or null), and who may create rooms.
#[utoipa::path(get, path = "/api/session", tag = "accounts", responses((status = 200, body = SessionView)))]
pub async fn session(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<SessionView>, AppError> {
    let account = auth::current_account(&state, &headers).await?;
    Ok(Json(SessionView {
        account: account.as_ref().map(Me::from),
        room_creation: state.accounts.room_creation,
    }))
}

/// Logs in. Rate-limited per address and per account; a wrong username and
/// a wrong password get the same answer.
#[utoipa::path(post, path = "/api/session", tag = "accounts", request_body = LogIn,
    responses((status = 200, body = Me, description = "signed in (Set-Cookie)"),
              (status = 401, body = super::openapi::ErrorBody, description = "wrong username or password"),
              (status = 429, body = super::openapi::ErrorBody)))]
pub async fn log_in(
    State(state): State<AppState>,
    Extension(ClientAddr(ip)): Extension<ClientAddr>,
    body: JsonBody<LogIn>,
) -> Result<Response, AppError> {
    let body = json(body)?;
    let username = body.username.trim().to_ascii_lowercase();
    if !state.accounts.login_by_addr.admit(&ip) {
        return Err(rate_limited());
    }
    if username.len() > store::MAX_USERNAME_CHARS || body.password.len() > auth::MAX_PASSWORD_BYTES {
        return Err(wrong_credentials());
    }
    let key = (username.clone(), ip);
    if !state.accounts.login_failures.check(&key) {
        return Err(rate_limited());
    }
    if !state.accounts.login_slow.check(&username) {
        tokio::time::sleep(crate::accounts::SLOW_LOGIN).await;
    }
    let found = state.store.credentials(&username).await.map_err(AppError::internal)?;
    let (account, hash) = match found {
        Some((a, h)) => (Some(a), Some(h)),
        None => (None, None),
    };
    let ok = auth::verify_password(body.password, hash).await?;
    let Some(account) = account.filter(|_| ok) else {
        state.accounts.login_failures.charge(&key);
        state.accounts.login_slow.charge(&username);
        return Err(wrong_credentials());
    };
    let token = state
        .store
        .create_session(&account.id)
        .await
        .map_err(AppError::internal)?;
    Ok(with_cookie(
        auth::set_cookie(&state, &token),
        StatusCode::OK,
        Json(Me::from(&account)),
    ))
}

/// Logs out: ends this session.
#[utoipa::path(delete, path = "/api/session", tag = "accounts", responses((status = 204, description = "signed out")))]
pub async fn log_out(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    if let Some(token) = auth::session_token(&headers) {
        state.store.delete_session(&token).await.map_err(AppError::internal)?;
        // Its WebSockets and tray streams end too.
        state.limits.live.revoke_session(&store::hash_token(&token));
    }
    Ok(with_cookie(auth::clear_cookie(&state), StatusCode::NO_CONTENT, ()))
}

/// My account.
#[utoipa::path(get, path = "/api/account", tag = "accounts",
    responses((status = 200, body = Me), (status = 401, body = super::openapi::ErrorBody)))]
pub async fn me(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Me>, AppError> {
    let a = auth::require_account(&state, &headers).await?;
    Ok(Json(Me::from(&a)))
}

/// Changes my display name and/or bio.
#[utoipa::path(patch, path = "/api/account", tag = "accounts", request_body = ProfilePatch,
    responses((status = 200, body = Me), (status = 400, body = super::openapi::ErrorBody),
              (status = 401, body = super::openapi::ErrorBody)))]
pub async fn update_profile(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: JsonBody<ProfilePatch>,
) -> Result<Json<Me>, AppError> {
    let mut a = auth::require_account(&state, &headers).await?;
    let body = json(body)?;
    if let Some(n) = body.display_name {
        a.display_name = crate::protocol::validate_name(&n).map_err(|e| bad("invalid_name", e))?;
    }
    if let Some(b) = body.bio {
        a.bio = store::validate_bio(&b).map_err(|e| bad("invalid_bio", e))?;
    }
    state
        .store
        .update_profile(&a.id, &a.display_name, &a.bio)
        .await
        .map_err(AppError::internal)?;
    state.accounts.changed();
    Ok(Json(Me::from(&a)))
}

/// Changes my password; my other sessions end.
#[utoipa::path(put, path = "/api/account/password", tag = "accounts", request_body = PasswordChange,
    responses((status = 204, description = "changed"), (status = 400, body = super::openapi::ErrorBody),
              (status = 401, body = super::openapi::ErrorBody),
              (status = 403, body = super::openapi::ErrorBody, description = "wrong_password"),
              (status = 429, body = super::openapi::ErrorBody)))]
pub async fn change_password(
    State(state): State<AppState>,
    Extension(addr): Extension<ClientAddr>,
    headers: HeaderMap,
    body: JsonBody<PasswordChange>,
) -> Result<StatusCode, AppError> {
    let a = auth::require_account(&state, &headers).await?;
    let body = json(body)?;
    confirm_password(&state, &a, addr, body.current_password).await?;
    auth::check_password_shape(&body.new_password)?;
    let hash = auth::hash_password(body.new_password).await?;
    let token = auth::session_token(&headers).unwrap_or_default();
    state
        .store
        .set_password(&a.id, &hash, &token)
        .await
        .map_err(AppError::internal)?;
    // The other sessions' WebSockets and tray streams end with them.
    let keep = store::hash_token(&token);
    state.limits.live.revoke_account(&a.id, Some(&keep));
    Ok(StatusCode::NO_CONTENT)
}

async fn confirm_password(state: &AppState, a: &Account, addr: ClientAddr, password: String) -> Result<(), AppError> {
    let key = (a.username.clone(), addr.0);
    if !state.accounts.login_failures.check(&key) {
        return Err(rate_limited());
    }
    let hash = state.store.password_hash(&a.id).await.map_err(AppError::internal)?;
    if password.len() > auth::MAX_PASSWORD_BYTES || !auth::verify_password(password, hash).await? {
        state.accounts.login_failures.charge(&key);
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "wrong_password",
            "the current password is wrong",
        ));
    }
    Ok(())
}

/// Deletes my account with its rooms, friendships, requests and blocks.
#[utoipa::path(delete, path = "/api/account", tag = "accounts", request_body = DeleteAccount,
    responses((status = 204, description = "deleted"), (status = 401, body = super::openapi::ErrorBody),
              (status = 403, body = super::openapi::ErrorBody), (status = 429, body = super::openapi::ErrorBody)))]
pub async fn delete_account(
    State(state): State<AppState>,
    Extension(addr): Extension<ClientAddr>,
    headers: HeaderMap,
    body: JsonBody<DeleteAccount>,
) -> Result<Response, AppError> {
    let a = auth::require_account(&state, &headers).await?;
    let body = json(body)?;
    confirm_password(&state, &a, addr, body.password).await?;
    state.store.delete_account(&a.id).await.map_err(AppError::internal)?;
    state.limits.live.revoke_account(&a.id, None);
    state.accounts.changed();
    tracing::info!("account deleted");
    Ok(with_cookie(auth::clear_cookie(&state), StatusCode::NO_CONTENT, ()))
}

/// Sets my avatar from a PNG, JPEG or WebP body (at most 1 MiB); it is
/// decoded under limits and re-encoded as a 256x256 PNG.
#[utoipa::path(put, path = "/api/account/avatar", tag = "accounts",
    request_body(content = Vec<u8>, content_type = "image/png", description = "PNG, JPEG or WebP, at most 1 MiB"),
    responses((status = 200, body = Me), (status = 400, body = super::openapi::ErrorBody),
              (status = 401, body = super::openapi::ErrorBody), (status = 413, body = super::openapi::ErrorBody),
              (status = 429, body = super::openapi::ErrorBody, description = "rate_limited: 10 uploads, then one every 10 s")))]
pub async fn upload_avatar(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<Me>, AppError> {
    let mut a = auth::require_account(&state, &headers).await?;
    if !state.accounts.avatars_by_account.admit(&a.id) {
        return Err(AppError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many avatar uploads; wait a minute",
        ));
    }
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::new(e.status(), "too_large", "an avatar is at most 1 MiB")
        } else {
            AppError::new(e.status(), "bad_request", e.body_text())
        }
    })?;
    if body.len() > MAX_AVATAR_BYTES {
        return Err(AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "an avatar is at most 1 MiB",
        ));
    }
    let png = tokio::task::spawn_blocking(move || reencode_avatar(&body))
        .await
        .map_err(AppError::internal)?
        .map_err(|e| bad("invalid_image", e))?;
    a.avatar_id = state
        .store
        .set_avatar(&a.id, Some(png))
        .await
        .map_err(AppError::internal)?;
    Ok(Json(Me::from(&a)))
}

/// Removes my avatar.
#[utoipa::path(delete, path = "/api/account/avatar", tag = "accounts",
    responses((status = 200, body = Me), (status = 401, body = super::openapi::ErrorBody)))]
pub async fn remove_avatar(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Me>, AppError> {
    let mut a = auth::require_account(&state, &headers).await?;
    a.avatar_id = state.store.set_avatar(&a.id, None).await.map_err(AppError::internal)?;
    Ok(Json(Me::from(&a)))
}

/// Decodes PNG, JPEG or WebP under limits and encodes a 256x256 PNG (see `crate::avatar`).
pub fn reencode_avatar(bytes: &[u8]) -> Result<Vec<u8>, String> {
    crate::avatar::reencode(bytes).map_err(|e| e.to_string())
}

/// An avatar image. Its URL is a random id, readable by whoever was given it
/// (people in the same room see each other's).
#[utoipa::path(get, path = "/api/avatars/{id}", tag = "accounts", params(("id" = String, Path)),
    responses((status = 200, content_type = "image/png", body = Vec<u8>), (status = 404, body = super::openapi::ErrorBody)))]
pub async fn avatar(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, AppError> {
    match state.store.avatar(&id).await.map_err(AppError::internal)? {
        Some(png) => Ok((
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "private, max-age=86400, immutable"),
            ],
            png,
        )
            .into_response()),
        None => Err(AppError::new(StatusCode::NOT_FOUND, "not_found", "no such avatar")),
    }
}

pub fn user_not_found() -> AppError {
    AppError::new(StatusCode::NOT_FOUND, "user_not_found", "no such user")
}

/// A person's profile: for themselves and their friends only; everyone else
/// gets the same 404 as for a missing user.
#[utoipa::path(get, path = "/api/users/{username}", tag = "friends", params(("username" = String, Path)),
    responses((status = 200, body = Me), (status = 401, body = super::openapi::ErrorBody),
              (status = 404, body = super::openapi::ErrorBody)))]
pub async fn profile(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(username): Path<String>,
) -> Result<Json<Profile>, AppError> {
    let viewer = auth::current_account(&state, &headers).await?;
    let Some(viewer) = viewer else {
        return Err(user_not_found());
    };
    let Some(other) = state
        .store
        .account_by_username(&username)
        .await
        .map_err(AppError::internal)?
    else {
        return Err(user_not_found());
    };
    if other.id != viewer.id
        && !state
            .store
            .relation(&viewer.id, &other.id)
            .await
            .map_err(AppError::internal)?
            .friends
    {
        return Err(user_not_found());
    }
    Ok(Json(Me::from(&other)))
}

/// Whether this request may create a room, and as whom: `Ok(Some(owner))`
/// for a signed-in person, `Ok(None)` for an anonymous one where anyone may.
pub async fn room_creator(state: &AppState, headers: &HeaderMap) -> Result<Option<Account>, AppError> {
    let account = auth::current_account(state, headers).await?;
    if account.is_none() && state.accounts.room_creation == RoomCreation::Accounts {
        return Err(AppError::new(
            StatusCode::UNAUTHORIZED,
            "account_required",
            "on this server, creating a room needs an account; sign in or sign up",
        ));
    }
    Ok(account)
}
