//! The rooms tray: my friends' public rooms that are open right now, with
//! the host, the friends inside and how many others. `GET /api/tray` gives
//! it once; `GET /api/tray/events` (Server-Sent Events) pushes it again
//! whenever it changes.
//!
//! Why recompute instead of diffing: a tray is one indexed query plus a look
//! at live presence, and it is recomputed only when the room change feed
//! (joins, leaves) or the social change feed (friendships, blocks, rooms'
//! visibility) fires, after a 150 ms pause that folds bursts into one
//! update, and sent only if it differs. That keeps every rule in one
//! function (`tray_for`) and the push well inside the 2 s promise.
//!
//! The same stream carries the account's calls (event `calls`, see
//! `calls.rs`): every open Salon tab of a signed-in person already follows
//! it, so a ring reaches all of them without another connection.
//!
//! Privacy: only friends' rooms appear; a room is hidden from someone who
//! was blocked by anyone inside (they could not join it anyway); of the
//! people inside, only the viewer's friends are named.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream::{self, Stream};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use utoipa::ToSchema;

use super::auth;
use super::openapi::ErrorBody;
use super::AppError;
use crate::store::Account;
use crate::AppState;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Host {
    pub username: String,
    pub display_name: String,
    pub avatar: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TrayRoom {
    pub id: String,
    pub name: String,
    /// Path of the room's link.
    pub path: String,
    pub host: Host,
    /// Names (as shown in the room) of my friends inside, the host included.
    pub friends_inside: Vec<String>,
    /// How many other people are inside (neither my friends nor me).
    pub others: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Tray {
    pub rooms: Vec<TrayRoom>,
}

/// The tray of `me`, now.
pub async fn tray_for(state: &AppState, me: &Account) -> Result<Tray, sqlx::Error> {
    let friends = state.store.friends(&me.id).await?;
    let rooms = state.store.friends_public_rooms(&me.id).await?;
    let blockers = state.store.blockers_of(&me.id).await?;
    let mut out = Vec::new();
    for r in rooms {
        let members = state.rooms.members(&r.id);
        if members.is_empty() {
            continue;
        }
        if members
            .iter()
            .any(|m| m.account.as_ref().is_some_and(|a| blockers.contains(a)))
        {
            continue;
        }
        let Some(host) = friends.iter().find(|f| Some(&f.id) == r.owner_id.as_ref()) else {
            continue;
        };
        let is_me = |a: &Option<String>| a.as_deref() == Some(me.id.as_str());
        let friends_inside: Vec<String> = members
            .iter()
            .filter(|m| m.account.as_ref().is_some_and(|a| friends.iter().any(|f| &f.id == a)))
            .map(|m| m.name.clone())
            .collect();
        let mine = members.iter().filter(|m| is_me(&m.account)).count();
        out.push(TrayRoom {
            path: format!("/r/{}", r.id),
            others: members.len().saturating_sub(friends_inside.len() + mine),
            friends_inside,
            host: Host {
                username: host.username.clone(),
                display_name: host.display_name.clone(),
                avatar: host.avatar_url(),
            },
            id: r.id,
            name: r.name,
        });
    }
    Ok(Tray { rooms: out })
}

/// My friends' public rooms open now.
#[utoipa::path(get, path = "/api/tray", tag = "rooms",
    responses((status = 200, body = Tray), (status = 401, body = ErrorBody)))]
pub async fn get_tray(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Tray>, AppError> {
    let me = auth::require_account(&state, &headers).await?;
    Ok(Json(tray_for(&state, &me).await.map_err(AppError::internal)?))
}

/// The tray as Server-Sent Events: an event `tray` (data: the `Tray` JSON)
/// at once and after every change, and an event `calls` (data: the
/// `CallsNow` JSON of `GET /api/calls`) likewise.
#[utoipa::path(get, path = "/api/tray/events", tag = "rooms",
    responses((status = 200, content_type = "text/event-stream", body = Tray,
               description = "event `tray` with the Tray JSON and event `calls` with the CallsNow JSON, at once and on each change"),
              (status = 401, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn events(
    State(state): State<AppState>,
    axum::Extension(addr): axum::Extension<crate::client_addr::ClientAddr>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let me = auth::require_account(&state, &headers).await?;
    // Its places per address and account, ended on logout or password change.
    let token = auth::session_token(&headers);
    let place = state
        .limits
        .admit(super::limits::Kind::Tray, addr.0, Some(&me.id), token.as_deref())?;
    // Each stream holds a connection: it counts under the session cap.
    let Ok(permit) = state.sessions.clone().try_acquire_owned() else {
        return Err(AppError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "server_full",
            "too many connections; try again later",
        ));
    };
    let follower = Follower {
        rooms: state.rooms.subscribe(),
        social: state.accounts.subscribe(),
        state,
        me,
        last: None,
        last_calls: None,
        pending: None,
        _permit: permit,
        place,
    };
    Ok(Sse::new(stream(follower))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

struct Follower {
    state: AppState,
    me: Account,
    rooms: tokio::sync::broadcast::Receiver<String>,
    social: tokio::sync::broadcast::Receiver<()>,
    last: Option<Tray>,
    last_calls: Option<super::calls::CallsNow>,
    /// An event computed with the last one, sent next.
    pending: Option<Event>,
    _permit: tokio::sync::OwnedSemaphorePermit,
    place: super::limits::Place,
}

impl Follower {
    /// Waits for any change; false when the server is shutting down or
    /// the session was revoked.
    async fn changed(&mut self) -> bool {
        let alive = |r: Result<(), RecvError>| !matches!(r, Err(RecvError::Closed));
        tokio::select! {
            r = self.rooms.recv() => alive(r.map(|_| ())),
            r = self.social.recv() => alive(r),
            _ = self.place.revoked() => false,
        }
    }
}

fn stream(f: Follower) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(f, |mut f| async move {
        loop {
            if let Some(ev) = f.pending.take() {
                return Some((Ok(ev), f));
            }
            if f.last.is_some() {
                if !f.changed().await {
                    return None;
                }
                // Fold a burst of changes into one update.
                tokio::time::sleep(Duration::from_millis(150)).await;
                while f.rooms.try_recv().is_ok() || f.social.try_recv().is_ok() {}
            }
            let tray = match tray_for(&f.state, &f.me).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!("tray: {e}");
                    return None;
                }
            };
            match super::calls::calls_now(&f.state, &f.me).await {
                Ok(calls) if f.last_calls.as_ref() != Some(&calls) => {
                    // Invariant: the call types always serialize.
                    let data = serde_json::to_string(&calls).expect("calls serialize");
                    f.last_calls = Some(calls);
                    f.pending = Some(Event::default().event("calls").data(data));
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!("calls: {e}");
                    return None;
                }
            }
            if f.last.as_ref() == Some(&tray) {
                continue;
            }
            // Invariant: the tray types always serialize.
            let data = serde_json::to_string(&tray).expect("tray serializes");
            f.last = Some(tray);
            return Some((Ok(Event::default().event("tray").data(data)), f));
        }
    })
}
