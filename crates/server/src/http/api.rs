//! The REST API under `/api`: create a room, look one up, and the host's
//! settings, roster (invites) and schedule.
//! Errors are `{code, message}` with a proper status (see `AppError`).
//!
//! The host of a room is the browser that created it (its device cookie,
//! see `device.rs`); every host-only route checks it and answers 403
//! `forbidden` to anyone else.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::device::Device;
use super::site::BaseUrl;
use super::AppError;
use crate::rooms::Settings;
use crate::store::{self, Account, Invite, Room, RosterEntry, Schedule};
use crate::AppState;

type JsonBody<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

/// Unwraps a JSON body, turning a bad or oversized one into `{code, message}`.
fn body<T>(b: JsonBody<T>) -> Result<T, AppError> {
    b.map(|Json(t)| t).map_err(|e| {
        let code = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            "too_large"
        } else {
            "bad_request"
        };
        AppError::new(e.status(), code, e.body_text())
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoom {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub settings: Option<Settings>,
    /// Makes it a scheduled session.
    #[serde(default)]
    pub schedule: Option<Schedule>,
    /// Only for signed-in creators (accounts, issue 4); default private.
    #[serde(default)]
    pub visibility: Option<store::Visibility>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoomView {
    pub id: String,
    pub name: String,
    /// Path of the room's link, e.g. `/r/<id>`.
    pub path: String,
    /// The whole link to share: `--public-url` (else the host asked) + `path`.
    pub url: String,
    pub participants: usize,
    pub max_participants: usize,
    /// The asking browser is this room's host.
    pub host: bool,
    pub settings: Settings,
    pub schedule: Option<Schedule>,
    /// When participants may enter (unix seconds), for a scheduled session.
    pub opens_at: Option<i64>,
    /// The server's clock (unix seconds), so a countdown ignores a wrong local clock.
    pub now: i64,
    /// The display name of the room's owner (signed-in creator), if any:
    /// the waiting room says whose session it is.
    pub host_name: Option<String>,
    /// The asking account's display name, to prefill the name on pre-join.
    pub your_name: Option<String>,
    /// The room is a call (calls.rs): only the people called may enter.
    pub call: bool,
    /// The asking account may enter (always true for a room that is no call).
    pub may_enter: bool,
}

async fn view(
    state: &AppState,
    room: Room,
    device: &Device,
    headers: &HeaderMap,
    base: &BaseUrl,
) -> Result<RoomView, AppError> {
    let account = super::auth::current_account(state, headers).await?;
    let schedule = state.store.schedule(&room.id).await.map_err(AppError::internal)?;
    let path = format!("/r/{}", room.id);
    let call = state.store.call(&room.id).await.map_err(AppError::internal)?.is_some();
    let may_enter = super::calls::may_enter(state, &room.id, account.as_ref())
        .await
        .map_err(AppError::internal)?;
    let host_name = match &room.owner_id {
        Some(owner) => state
            .store
            .account(owner)
            .await
            .map_err(AppError::internal)?
            .map(|a| a.display_name),
        None => None,
    };
    Ok(RoomView {
        host_name,
        your_name: account.as_ref().map(|a| a.display_name.clone()),
        call,
        may_enter,
        url: base.join(&path),
        path,
        participants: state.rooms.count(&room.id),
        max_participants: state.rooms.max_participants,
        host: is_host(&room, device, account.as_ref()),
        settings: room.settings,
        opens_at: schedule.as_ref().map(Schedule::opens_at),
        schedule,
        now: store::unix_now(),
        id: room.id,
        name: room.name,
    })
}

/// The room's host: the browser that created it, or its owner's account.
pub fn is_host(room: &Room, device: &Device, account: Option<&Account>) -> bool {
    room.host_key.as_deref() == Some(device.0.as_str())
        || matches!((&room.owner_id, account), (Some(owner), Some(a)) if *owner == a.id)
}

/// The room, if the asking browser hosts it.
async fn hosted(state: &AppState, id: &str, device: &Device, headers: &HeaderMap) -> Result<Room, AppError> {
    let account = super::auth::current_account(state, headers).await?;
    let room = state
        .store
        .room(id)
        .await
        .map_err(AppError::internal)?
        .ok_or_else(AppError::room_not_found)?;
    if !is_host(&room, device, account.as_ref()) {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only the room's host can do that",
        ));
    }
    Ok(room)
}

/// Invites and accounts on a roster are capped per room.
fn roster_full() -> AppError {
    AppError::new(
        StatusCode::CONFLICT,
        "roster_full",
        format!("a room's roster holds at most {} people", store::MAX_INVITES),
    )
}

fn invalid(code: &'static str) -> impl Fn(&'static str) -> AppError {
    move |e| AppError::new(StatusCode::BAD_REQUEST, code, e)
}

/// Creates a room; the asking browser (and signed-in account) becomes its
/// host. Who may create rooms: see `room_creation` in `GET /api/session`.
#[utoipa::path(post, path = "/api/rooms", tag = "rooms", request_body = CreateRoom,
    responses((status = 201, body = RoomView), (status = 400, body = super::openapi::ErrorBody),
              (status = 401, body = super::openapi::ErrorBody, description = "account_required"),
              (status = 413, body = super::openapi::ErrorBody), (status = 429, body = super::openapi::ErrorBody)))]
pub async fn create_room(
    State(state): State<AppState>,
    Extension(device): Extension<Device>,
    Extension(addr): Extension<crate::client_addr::ClientAddr>,
    Extension(base): Extension<BaseUrl>,
    headers: HeaderMap,
    b: JsonBody<CreateRoom>,
) -> Result<(StatusCode, Json<RoomView>), AppError> {
    let b = body(b)?;
    let name = store::validate_room_name(&b.name).map_err(invalid("invalid_name"))?;
    let schedule = match b.schedule {
        Some(s) => Some(s.validated(store::unix_now()).map_err(invalid("invalid_schedule"))?),
        None => None,
    };
    // Who may create rooms (issue 4): an account, or anyone, by instance setting.
    let owner = super::accounts::room_creator(&state, &headers).await?;
    if owner.is_none() && b.visibility == Some(store::Visibility::Public) {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "account_required",
            "a public room needs an account",
        ));
    }
    // Fairness: per account (or per address for anonymous creators), then
    // instance-wide (which bounds how fast the database can grow).
    let fair = match &owner {
        Some(o) => state.accounts.rooms_by_account.admit(&o.id),
        None => state.accounts.rooms_by_addr.admit(&addr.0),
    };
    if !fair || !state.room_creation.admit() {
        return Err(AppError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many rooms are being created; try again in a moment",
        ));
    }
    let settings = b.settings.unwrap_or_default();
    let visibility = b.visibility.unwrap_or(store::Visibility::Private);
    let room = state
        .store
        .create_room_with(
            &name,
            Some(&device.0),
            settings,
            owner.as_ref().map(|o| (o.id.as_str(), visibility)),
            schedule.as_ref(),
        )
        .await
        .map_err(AppError::internal)?;
    if owner.is_some() {
        state.accounts.changed();
    }
    tracing::info!(room = %super::ws::short(&room.id), "room created");
    Ok((
        StatusCode::CREATED,
        Json(view(&state, room, &device, &headers, &base).await?),
    ))
}

/// Looks a room up by id (anyone with the link).
#[utoipa::path(get, path = "/api/rooms/{id}", tag = "rooms", params(("id" = String, Path)),
    responses((status = 200, body = RoomView), (status = 404, body = super::openapi::ErrorBody)))]
pub async fn get_room(
    State(state): State<AppState>,
    Extension(device): Extension<Device>,
    Extension(base): Extension<BaseUrl>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<RoomView>, AppError> {
    let room = state
        .store
        .room(&id)
        .await
        .map_err(AppError::internal)?
        .ok_or_else(AppError::room_not_found)?;
    Ok(Json(view(&state, room, &device, &headers, &base).await?))
}

/// Host only: the room's policies (waiting room, mute on entry, self-unmute).
/// They apply from the next time the room opens; in a live room the host
/// changes them over signaling (`policy`), which also stores them.
#[utoipa::path(put, path = "/api/rooms/{id}/settings", tag = "host", params(("id" = String, Path)),
    request_body = Settings, responses((status = 200, body = RoomView), (status = 403, body = super::openapi::ErrorBody, description = "forbidden: not the host"), (status = 404, body = super::openapi::ErrorBody)))]
pub async fn put_settings(
    State(state): State<AppState>,
    Extension(device): Extension<Device>,
    Extension(base): Extension<BaseUrl>,
    headers: HeaderMap,
    Path(id): Path<String>,
    b: JsonBody<Settings>,
) -> Result<Json<RoomView>, AppError> {
    let settings = body(b)?;
    let mut room = hosted(&state, &id, &device, &headers).await?;
    state
        .store
        .set_settings(&room.id, settings)
        .await
        .map_err(AppError::internal)?;
    room.settings = settings;
    Ok(Json(view(&state, room, &device, &headers, &base).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvite {
    /// Who it is for, e.g. a client's name (1 to 40 characters).
    pub label: String,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InviteView {
    pub token: String,
    pub label: String,
    pub created_at: i64,
    /// The personal link: `/r/<id>?invite=<token>`.
    pub path: String,
    /// The whole personal link: `--public-url` (else the host asked) + `path`.
    pub url: String,
}

fn invite_view(room: &str, i: Invite, base: &BaseUrl) -> InviteView {
    let path = format!("/r/{room}?invite={}", i.token);
    InviteView {
        url: base.join(&path),
        path,
        token: i.token,
        label: i.label,
        created_at: i.created_at,
    }
}

/// The room's roster: personal links that skip the waiting room.
#[utoipa::path(get, path = "/api/rooms/{id}/invites", tag = "host", params(("id" = String, Path)),
    responses((status = 200, body = Vec<InviteView>), (status = 403, body = super::openapi::ErrorBody, description = "forbidden: not the host"), (status = 404, body = super::openapi::ErrorBody)))]
pub async fn list_invites(
    State(state): State<AppState>,
    Extension(device): Extension<Device>,
    Extension(base): Extension<BaseUrl>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Vec<InviteView>>, AppError> {
    let room = hosted(&state, &id, &device, &headers).await?;
    let invites = state.store.invites(&room.id).await.map_err(AppError::internal)?;
    Ok(Json(
        invites.into_iter().map(|i| invite_view(&room.id, i, &base)).collect(),
    ))
}

/// Adds someone to the roster.
#[utoipa::path(post, path = "/api/rooms/{id}/invites", tag = "host", params(("id" = String, Path)),
    request_body = CreateInvite,
    responses((status = 201, body = InviteView), (status = 409, body = super::openapi::ErrorBody, description = "roster_full"), (status = 403, body = super::openapi::ErrorBody, description = "forbidden: not the host"), (status = 404, body = super::openapi::ErrorBody)))]
pub async fn create_invite(
    State(state): State<AppState>,
    Extension(device): Extension<Device>,
    Extension(base): Extension<BaseUrl>,
    headers: HeaderMap,
    Path(id): Path<String>,
    b: JsonBody<CreateInvite>,
) -> Result<(StatusCode, Json<InviteView>), AppError> {
    let b = body(b)?;
    let room = hosted(&state, &id, &device, &headers).await?;
    let label = crate::protocol::validate_name(&b.label).map_err(invalid("invalid_label"))?;
    match state
        .store
        .create_invite(&room.id, &label)
        .await
        .map_err(AppError::internal)?
    {
        Some(i) => Ok((StatusCode::CREATED, Json(invite_view(&room.id, i, &base)))),
        None => Err(roster_full()),
    }
}

/// Removes someone from the roster.
#[utoipa::path(delete, path = "/api/rooms/{id}/invites/{token}", tag = "host",
    params(("id" = String, Path), ("token" = String, Path)),
    responses((status = 204), (status = 403, body = super::openapi::ErrorBody, description = "forbidden: not the host"), (status = 404, body = super::openapi::ErrorBody)))]
pub async fn delete_invite(
    State(state): State<AppState>,
    Extension(device): Extension<Device>,
    headers: HeaderMap,
    Path((id, token)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let room = hosted(&state, &id, &device, &headers).await?;
    if state
        .store
        .delete_invite(&room.id, &token)
        .await
        .map_err(AppError::internal)?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::new(
            StatusCode::NOT_FOUND,
            "invite_not_found",
            "no such invite",
        ))
    }
}

/// Schedules the room's session (or moves it).
#[utoipa::path(put, path = "/api/rooms/{id}/schedule", tag = "host", params(("id" = String, Path)),
    request_body = Schedule,
    responses((status = 200, body = RoomView), (status = 400, body = super::openapi::ErrorBody, description = "invalid_schedule"), (status = 403, body = super::openapi::ErrorBody, description = "forbidden: not the host"), (status = 404, body = super::openapi::ErrorBody)))]
pub async fn put_schedule(
    State(state): State<AppState>,
    Extension(device): Extension<Device>,
    Extension(base): Extension<BaseUrl>,
    headers: HeaderMap,
    Path(id): Path<String>,
    b: JsonBody<Schedule>,
) -> Result<Json<RoomView>, AppError> {
    let s = body(b)?
        .validated(store::unix_now())
        .map_err(invalid("invalid_schedule"))?;
    let room = hosted(&state, &id, &device, &headers).await?;
    state
        .store
        .set_schedule(&room.id, Some(&s))
        .await
        .map_err(AppError::internal)?;
    Ok(Json(view(&state, room, &device, &headers, &base).await?))
}

/// Cancels the schedule (the room stays).
#[utoipa::path(delete, path = "/api/rooms/{id}/schedule", tag = "host", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = super::openapi::ErrorBody, description = "forbidden: not the host"), (status = 404, body = super::openapi::ErrorBody)))]
pub async fn delete_schedule(
    State(state): State<AppState>,
    Extension(device): Extension<Device>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let room = hosted(&state, &id, &device, &headers).await?;
    state
        .store
        .set_schedule(&room.id, None)
        .await
        .map_err(AppError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddToRoster {
    pub username: String,
}

/// The room's roster of accounts: signed-in clients who skip the waiting room.
#[utoipa::path(get, path = "/api/rooms/{id}/roster", tag = "host", params(("id" = String, Path)),
    responses((status = 200, body = Vec<RosterEntry>), (status = 403, body = super::openapi::ErrorBody, description = "forbidden: not the host"), (status = 404, body = super::openapi::ErrorBody)))]
pub async fn list_roster(
    State(state): State<AppState>,
    Extension(device): Extension<Device>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Vec<RosterEntry>>, AppError> {
    let room = hosted(&state, &id, &device, &headers).await?;
    Ok(Json(state.store.roster(&room.id).await.map_err(AppError::internal)?))
}

/// The account `username`, unless it does not exist or blocked the asker:
/// both give the same 404, as a profile lookup does.
async fn rostered_account(state: &AppState, headers: &HeaderMap, username: &str) -> Result<Account, AppError> {
    let missing = || AppError::new(StatusCode::NOT_FOUND, "user_not_found", "no such user");
    let account = state
        .store
        .account_by_username(username)
        .await
        .map_err(AppError::internal)?
        .ok_or_else(missing)?;
    if let Some(me) = super::auth::current_account(state, headers).await? {
        let relation = state
            .store
            .relation(&me.id, &account.id)
            .await
            .map_err(AppError::internal)?;
        if relation.blocked_me {
            return Err(missing());
        }
    }
    Ok(account)
}

/// Adds a signed-in client (by username) to the roster.
#[utoipa::path(post, path = "/api/rooms/{id}/roster", tag = "host", params(("id" = String, Path)),
    request_body = AddToRoster,
    responses((status = 201, body = RosterEntry), (status = 409, body = super::openapi::ErrorBody, description = "roster_full"), (status = 403, body = super::openapi::ErrorBody, description = "forbidden: not the host"), (status = 404, body = super::openapi::ErrorBody)))]
pub async fn add_to_roster(
    State(state): State<AppState>,
    Extension(device): Extension<Device>,
    headers: HeaderMap,
    Path(id): Path<String>,
    b: JsonBody<AddToRoster>,
) -> Result<(StatusCode, Json<RosterEntry>), AppError> {
    let b = body(b)?;
    let room = hosted(&state, &id, &device, &headers).await?;
    let account = rostered_account(&state, &headers, &b.username).await?;
    if !state
        .store
        .add_to_roster(&room.id, &account.id)
        .await
        .map_err(AppError::internal)?
    {
        return Err(roster_full());
    }
    let entry = RosterEntry {
        username: account.username,
    };
    Ok((StatusCode::CREATED, Json(entry)))
}

/// Takes a client off the roster.
#[utoipa::path(delete, path = "/api/rooms/{id}/roster/{username}", tag = "host",
    params(("id" = String, Path), ("username" = String, Path)),
    responses((status = 204), (status = 403, body = super::openapi::ErrorBody, description = "forbidden: not the host"), (status = 404, body = super::openapi::ErrorBody)))]
pub async fn remove_from_roster(
    State(state): State<AppState>,
    Extension(device): Extension<Device>,
    headers: HeaderMap,
    Path((id, username)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let room = hosted(&state, &id, &device, &headers).await?;
    // No block filter here: a host can always take someone off the roster.
    let account = state
        .store
        .account_by_username(&username)
        .await
        .map_err(AppError::internal)?
        .ok_or_else(|| {
            AppError::new(
                StatusCode::NOT_FOUND,
                "not_on_roster",
                "this person is not on the roster",
            )
        })?;
    if state
        .store
        .remove_from_roster(&room.id, &account.id)
        .await
        .map_err(AppError::internal)?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::new(
            StatusCode::NOT_FOUND,
            "not_on_roster",
            "this person is not on the roster",
        ))
    }
}
