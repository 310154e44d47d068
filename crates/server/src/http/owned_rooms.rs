//! A signed-in person's rooms: list, rename, change visibility, delete.
//! Creation stays in `api.rs` (`POST /api/rooms`), which asks
//! `accounts::room_creator` who is creating.
//!
//! Only the owner may change or delete a room; others get 403 (anyone with
//! the link knows the room exists, so hiding it would protect nothing).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{self, json};
use super::openapi::ErrorBody;
use super::AppError;
use crate::store::{self, OwnedRoom, Visibility};
use crate::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MyRoom {
    pub id: String,
    pub name: String,
    /// Path of the room's link, `/r/<id>`.
    pub path: String,
    pub visibility: Visibility,
    /// People in it now.
    pub participants: usize,
    pub created_at: i64,
    /// Its scheduled session, if any (My sessions).
    pub schedule: Option<store::Schedule>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomPatch {
    pub name: Option<String>,
    pub visibility: Option<Visibility>,
}

pub fn my_room(state: &AppState, r: OwnedRoom) -> MyRoom {
    MyRoom {
        path: format!("/r/{}", r.id),
        participants: state.rooms.count(&r.id),
        id: r.id,
        name: r.name,
        visibility: r.visibility,
        created_at: r.created_at,
        schedule: None,
    }
}

/// My rooms, newest first.
#[utoipa::path(get, path = "/api/account/rooms", tag = "rooms",
    responses((status = 200, body = Vec<MyRoom>), (status = 401, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Vec<MyRoom>>, AppError> {
    let me = auth::require_account(&state, &headers).await?;
    let rooms = state.store.rooms_of(&me.id).await.map_err(AppError::internal)?;
    let mut out = Vec::with_capacity(rooms.len());
    for r in rooms {
        let schedule = state.store.schedule(&r.id).await.map_err(AppError::internal)?;
        out.push(MyRoom {
            schedule,
            ..my_room(&state, r)
        });
    }
    Ok(Json(out))
}

async fn mine(state: &AppState, headers: &HeaderMap, id: &str) -> Result<OwnedRoom, AppError> {
    let me = auth::require_account(state, headers).await?;
    let Some(room) = state.store.owned_room(id).await.map_err(AppError::internal)? else {
        return Err(AppError::room_not_found());
    };
    if room.owner_id.as_deref() != Some(me.id.as_str()) {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "not_owner",
            "only the room's owner may change it",
        ));
    }
    Ok(room)
}

/// Renames a room and/or changes its visibility.
#[utoipa::path(patch, path = "/api/rooms/{id}", tag = "rooms", params(("id" = String, Path)), request_body = RoomPatch,
    responses((status = 200, body = MyRoom), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<RoomPatch>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<MyRoom>, AppError> {
    let body = json(body)?;
    let mut room = mine(&state, &headers, &id).await?;
    if let Some(name) = body.name {
        room.name =
            store::validate_room_name(&name).map_err(|e| AppError::new(StatusCode::BAD_REQUEST, "invalid_name", e))?;
    }
    if let Some(v) = body.visibility {
        room.visibility = v;
    }
    state
        .store
        .update_room(&room.id, &room.name, room.visibility)
        .await
        .map_err(AppError::internal)?;
    state.accounts.changed();
    Ok(Json(my_room(&state, room)))
}

/// Deletes a room (people inside stay until they leave; the link stops working).
#[utoipa::path(delete, path = "/api/rooms/{id}", tag = "rooms", params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let room = mine(&state, &headers, &id).await?;
    state.store.delete_room(&room.id).await.map_err(AppError::internal)?;
    state.accounts.changed();
    Ok(StatusCode::NO_CONTENT)
}
