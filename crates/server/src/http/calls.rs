//! Calls: ring one to seven friends into a private room (eight people in
//! all, like Messenger's and WhatsApp's video calls).
//!
//! - **A call is a room** owned by the caller, private (in no tray), whose
//!   admission is limited to the caller and the people called: the
//!   WebSocket `join` checks `may_enter` and answers `not_invited` to
//!   anyone else, link or not. The people called may come in while the call
//!   lasts whatever they answered (declining is not a ban).
//! - **Ringing goes through the tray's event stream** (`/api/tray/events`,
//!   event `calls`): every open Salon tab of a callee already follows it, so
//!   a ring reaches them without another connection. Each change (a call,
//!   an answer, the end) fires the social change feed; the stream
//!   recomputes `calls_now` and sends it if it changed, like the tray.
//! - **Timeout**: a ring lasts `RING_MS` (30 s). The store reads an older
//!   ring as missed, and a timer fires the change feed once it runs out, so
//!   open tabs stop ringing even if the client's own timer did not run.
//! - **Busy**: someone in a room when called is not rung; the caller sees
//!   `busy` next to their name.
//! - **The end**: when the last person leaves the call's room, a watcher of
//!   the room feed marks the call ended; rings still pending become missed.

use std::collections::HashSet;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth;
use super::openapi::ErrorBody;
use super::AppError;
use crate::store::{self, Account, Answer, CallRow};
use crate::AppState;

/// People in a call at most, the caller included.
pub const MAX_IN_CALL: usize = 8;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CallPerson {
    pub username: String,
    pub display_name: String,
    pub avatar: Option<String>,
}

impl From<&Account> for CallPerson {
    fn from(a: &Account) -> CallPerson {
        CallPerson {
            username: a.username.clone(),
            display_name: a.display_name.clone(),
            avatar: a.avatar_url(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Callee {
    pub username: String,
    pub display_name: String,
    pub answer: Answer,
}

/// A call as its caller and the people called see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CallView {
    /// The call's room id.
    pub id: String,
    /// Path of the call's room.
    pub path: String,
    pub caller: CallPerson,
    pub callees: Vec<Callee>,
    /// Its last participant left.
    pub ended: bool,
}

/// A call ringing for me.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Ring {
    pub id: String,
    pub path: String,
    pub caller: CallPerson,
    /// Display names of the others called with me.
    pub others: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MissedCall {
    pub id: String,
    pub caller: CallPerson,
    /// When it rang (unix milliseconds).
    pub at: i64,
}

/// My calls now: what rings, the calls I am making, what I missed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CallsNow {
    pub ringing: Vec<Ring>,
    pub mine: Vec<CallView>,
    pub missed: Vec<MissedCall>,
}

/// Friends to call (by username): 1 to 7 for a new call; for adding to a
/// call, as many as keep it within 8 people.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallPeople {
    #[schema(min_items = 1, max_items = 7)]
    pub usernames: Vec<String>,
}

fn bad(message: &'static str) -> AppError {
    AppError::new(StatusCode::BAD_REQUEST, "invalid_call", message)
}

fn not_found() -> AppError {
    AppError::new(StatusCode::NOT_FOUND, "call_not_found", "no such call of yours")
}

/// Whoever may enter the room `room_id`: anyone unless it is a call; a
/// call's caller and the people called.
pub async fn may_enter(state: &AppState, room_id: &str, account: Option<&Account>) -> Result<bool, sqlx::Error> {
    let Some(call) = state.store.call(room_id).await? else {
        return Ok(true);
    };
    let Some(a) = account else { return Ok(false) };
    if call.caller_id == a.id {
        return Ok(true);
    }
    Ok(state.store.invitees(room_id).await?.iter().any(|i| i.user_id == a.id))
}

/// Resolves usernames to friends of `me`, checking the list's length.
/// Unknown people, non-friends and oneself get the same `404`, as in
/// friends.rs; a name given twice counts once.
async fn friends_named(state: &AppState, me: &Account, names: &[String]) -> Result<Vec<Account>, AppError> {
    if names.is_empty() {
        return Err(bad("name at least one friend to call"));
    }
    if names.len() > MAX_IN_CALL - 1 {
        return Err(bad("a call has at most 8 people"));
    }
    let friends = state.store.friends(&me.id).await.map_err(AppError::internal)?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for n in names {
        let n = n.trim().to_ascii_lowercase();
        if !seen.insert(n.clone()) {
            continue;
        }
        let Some(f) = friends.iter().find(|f| f.username == n) else {
            return Err(AppError::new(
                StatusCode::NOT_FOUND,
                "user_not_found",
                "you can call only your friends",
            ));
        };
        out.push(f.clone());
    }
    Ok(out)
}

/// Ringing or busy, for each person about to be rung.
fn ring_or_busy(state: &AppState, people: &[Account]) -> Vec<(String, Answer)> {
    people
        .iter()
        .map(|p| {
            let busy = state.rooms.account_present(&p.id);
            (p.id.clone(), if busy { Answer::Busy } else { Answer::Ringing })
        })
        .collect()
}

/// Tells every stream now, and again when these rings run out.
fn rang(state: &AppState) {
    state.accounts.changed();
    let accounts = state.accounts.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(store::RING_MS as u64 + 200)).await;
        accounts.changed();
    });
}

async fn view_of(state: &AppState, call: &CallRow) -> Result<CallView, sqlx::Error> {
    let caller = state.store.account(&call.caller_id).await?;
    let mut callees = Vec::new();
    for i in state.store.invitees(&call.room_id).await? {
        if let Some(a) = state.store.account(&i.user_id).await? {
            callees.push(Callee {
                username: a.username,
                display_name: a.display_name,
                answer: i.answer,
            });
        }
    }
    Ok(CallView {
        id: call.room_id.clone(),
        path: format!("/r/{}", call.room_id),
        caller: caller.as_ref().map(CallPerson::from).unwrap_or(CallPerson {
            username: String::new(),
            display_name: String::new(),
            avatar: None,
        }),
        callees,
        ended: call.ended_at.is_some(),
    })
}

/// My calls now (also the `calls` event of `/api/tray/events`).
pub async fn calls_now(state: &AppState, me: &Account) -> Result<CallsNow, sqlx::Error> {
    let mut ringing = Vec::new();
    for c in state.store.ringing_for(&me.id).await? {
        let Some(caller) = state.store.account(&c.caller_id).await? else {
            continue;
        };
        let mut others = Vec::new();
        for i in state.store.invitees(&c.room_id).await? {
            if i.user_id != me.id {
                if let Some(a) = state.store.account(&i.user_id).await? {
                    others.push(a.display_name);
                }
            }
        }
        ringing.push(Ring {
            path: format!("/r/{}", c.room_id),
            id: c.room_id,
            caller: CallPerson::from(&caller),
            others,
        });
    }
    let mut mine = Vec::new();
    for c in state.store.open_calls_of(&me.id).await? {
        mine.push(view_of(state, &c).await?);
    }
    let mut missed = Vec::new();
    for (c, at) in state.store.missed_by(&me.id).await? {
        let Some(caller) = state.store.account(&c.caller_id).await? else {
            continue;
        };
        missed.push(MissedCall {
            id: c.room_id,
            caller: CallPerson::from(&caller),
            at,
        });
    }
    Ok(CallsNow { ringing, mine, missed })
}

/// The call `id` if I am its caller or one of the people called.
async fn mine(state: &AppState, me: &Account, id: &str) -> Result<CallRow, AppError> {
    if !store::is_room_id(id) {
        return Err(not_found());
    }
    let call = state
        .store
        .call(id)
        .await
        .map_err(AppError::internal)?
        .ok_or_else(not_found)?;
    if call.caller_id == me.id {
        return Ok(call);
    }
    let called = state.store.invitees(id).await.map_err(AppError::internal)?;
    if called.iter().any(|i| i.user_id == me.id) {
        Ok(call)
    } else {
        Err(not_found())
    }
}

type JsonBody<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

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

/// What rings for me, the calls I am making and my missed calls.
#[utoipa::path(get, path = "/api/calls", tag = "calls",
    responses((status = 200, body = CallsNow), (status = 401, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<CallsNow>, AppError> {
    let me = auth::require_account(&state, &headers).await?;
    Ok(Json(calls_now(&state, &me).await.map_err(AppError::internal)?))
}

/// Calls 1 to 7 friends into a new private room (8 people in all). Those
/// in a room already are `busy` and not rung; the others ring for 30 s.
#[utoipa::path(post, path = "/api/calls", tag = "calls", request_body = CallPeople,
    responses((status = 201, body = CallView),
              (status = 400, body = ErrorBody, description = "invalid_call: nobody, or more than 7"),
              (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "user_not_found: not a friend (or no such user, or yourself)"),
              (status = 429, body = ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    b: JsonBody<CallPeople>,
) -> Result<(StatusCode, Json<CallView>), AppError> {
    let me = auth::require_account(&state, &headers).await?;
    let b = body(b)?;
    let people = friends_named(&state, &me, &b.usernames).await?;
    if !state.accounts.rooms_by_account.admit(&me.id) || !state.room_creation.admit() {
        return Err(AppError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many calls are being made; try again in a moment",
        ));
    }
    let room = state
        .store
        .create_room_with(
            "",
            None,
            Default::default(),
            Some((&me.id, store::Visibility::Private)),
            None,
        )
        .await
        .map_err(AppError::internal)?;
    let rings = ring_or_busy(&state, &people);
    state
        .store
        .create_call(&room.id, &me.id, &rings)
        .await
        .map_err(AppError::internal)?;
    rang(&state);
    tracing::info!(room = %super::ws::short(&room.id), people = rings.len(), "call started");
    let call = state
        .store
        .call(&room.id)
        .await
        .map_err(AppError::internal)?
        .ok_or_else(not_found)?;
    Ok((
        StatusCode::CREATED,
        Json(view_of(&state, &call).await.map_err(AppError::internal)?),
    ))
}

/// A call I make or was called into.
#[utoipa::path(get, path = "/api/calls/{id}", tag = "calls", params(("id" = String, Path)),
    responses((status = 200, body = CallView), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "call_not_found: no such call, or not yours")))]
pub async fn get_call(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<CallView>, AppError> {
    let me = auth::require_account(&state, &headers).await?;
    let call = mine(&state, &me, &id).await?;
    Ok(Json(view_of(&state, &call).await.map_err(AppError::internal)?))
}

/// The caller adds friends to a call in progress (or rings again someone
/// who missed or declined it), up to 8 people in all.
#[utoipa::path(post, path = "/api/calls/{id}/people", tag = "calls", params(("id" = String, Path)),
    request_body = CallPeople,
    responses((status = 200, body = CallView),
              (status = 400, body = ErrorBody, description = "invalid_call"),
              (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "not_caller: only the caller adds people"),
              (status = 404, body = ErrorBody, description = "call_not_found or user_not_found"),
              (status = 409, body = ErrorBody, description = "call_full: past 8 people"),
              (status = 410, body = ErrorBody, description = "call_ended")))]
pub async fn add_people(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    b: JsonBody<CallPeople>,
) -> Result<Json<CallView>, AppError> {
    let me = auth::require_account(&state, &headers).await?;
    let b = body(b)?;
    let call = mine(&state, &me, &id).await?;
    if call.caller_id != me.id {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "not_caller",
            "only the caller adds people",
        ));
    }
    if call.ended_at.is_some() {
        return Err(call_ended());
    }
    let people = friends_named(&state, &me, &b.usernames).await?;
    let called = state.store.invitees(&id).await.map_err(AppError::internal)?;
    // Places: everyone called who did not decline or miss it, and the caller.
    let taken: HashSet<&str> = called
        .iter()
        .filter(|i| matches!(i.answer, Answer::Ringing | Answer::Accepted | Answer::Busy))
        .map(|i| i.user_id.as_str())
        .collect();
    let new = people.iter().filter(|p| !taken.contains(p.id.as_str())).count();
    if 1 + taken.len() + new > MAX_IN_CALL {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "call_full",
            format!("a call has at most {MAX_IN_CALL} people"),
        ));
    }
    let fresh: Vec<Account> = people.into_iter().filter(|p| !taken.contains(p.id.as_str())).collect();
    let rings = ring_or_busy(&state, &fresh);
    state
        .store
        .add_invitees(&id, &rings)
        .await
        .map_err(AppError::internal)?;
    rang(&state);
    Ok(Json(view_of(&state, &call).await.map_err(AppError::internal)?))
}

fn call_ended() -> AppError {
    AppError::new(StatusCode::GONE, "call_ended", "this call has ended")
}

/// A callee takes the call: then join its room (`path`).
#[utoipa::path(post, path = "/api/calls/{id}/accept", tag = "calls", params(("id" = String, Path)),
    responses((status = 200, body = CallView), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "call_not_found: no such call, or not called into it"),
              (status = 410, body = ErrorBody, description = "call_ended")))]
pub async fn accept(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<CallView>, AppError> {
    answer(state, headers, id, Answer::Accepted).await.map(Json)
}

/// A callee declines the call; the caller sees it.
#[utoipa::path(post, path = "/api/calls/{id}/decline", tag = "calls", params(("id" = String, Path)),
    responses((status = 200, body = CallView), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "call_not_found: no such call, or not called into it"),
              (status = 410, body = ErrorBody, description = "call_ended")))]
pub async fn decline(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<CallView>, AppError> {
    answer(state, headers, id, Answer::Declined).await.map(Json)
}

async fn answer(state: AppState, headers: HeaderMap, id: String, a: Answer) -> Result<CallView, AppError> {
    let me = auth::require_account(&state, &headers).await?;
    let call = mine(&state, &me, &id).await?;
    if call.ended_at.is_some() {
        return Err(call_ended());
    }
    if !state
        .store
        .answer_call(&id, &me.id, a)
        .await
        .map_err(AppError::internal)?
    {
        return Err(not_found());
    }
    state.accounts.changed();
    view_of(&state, &call).await.map_err(AppError::internal)
}

/// Marks a call ended when its room empties (rings still pending become
/// missed). Follows the room feed for as long as the server runs.
pub fn spawn_watcher(state: AppState) {
    let mut feed = state.rooms.subscribe();
    tokio::spawn(async move {
        loop {
            let room = match feed.recv().await {
                Ok(r) => r,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return,
            };
            if state.rooms.count(&room) > 0 {
                continue;
            }
            match state.store.end_call(&room).await {
                Ok(true) => {
                    tracing::info!(room = %super::ws::short(&room), "call ended");
                    state.accounts.changed();
                }
                Ok(false) => {}
                Err(e) => tracing::error!("call end: {e}"),
            }
        }
    });
}
