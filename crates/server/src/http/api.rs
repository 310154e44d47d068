//! The REST API under `/api`: create a room, look one up.
//! Errors are `{code, message}` with a proper status (see `AppError`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::AppError;
use crate::store::{self, Room};
use crate::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRoom {
    #[serde(default)]
    pub name: String,
    /// Only for signed-in creators (accounts, issue 4); default private.
    #[serde(default)]
    pub visibility: Option<store::Visibility>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RoomView {
    pub id: String,
    pub name: String,
    /// Path of the room's link, e.g. `/r/<id>`.
    pub path: String,
    pub participants: usize,
    pub max_participants: usize,
}

fn view(state: &AppState, room: Room) -> RoomView {
    RoomView {
        path: format!("/r/{}", room.id),
        participants: state.rooms.count(&room.id),
        max_participants: state.rooms.max_participants,
        id: room.id,
        name: room.name,
    }
}

pub async fn create_room(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    body: Result<Json<CreateRoom>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<RoomView>), AppError> {
    let Json(body) = body.map_err(|e| {
        let code = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            "too_large"
        } else {
            "bad_request"
        };
        AppError::new(e.status(), code, e.body_text())
    })?;
    let name =
        store::validate_room_name(&body.name).map_err(|e| AppError::new(StatusCode::BAD_REQUEST, "invalid_name", e))?;
    let room = match super::accounts::room_creator(&state, &headers).await? {
        Some(owner) => {
            let visibility = body.visibility.unwrap_or(store::Visibility::Private);
            let r = state
                .store
                .create_owned_room(&name, &owner.id, visibility)
                .await
                .map_err(AppError::internal)?;
            state.accounts.changed();
            Room {
                id: r.id,
                name: r.name,
                created_at: r.created_at,
            }
        }
        None if body.visibility == Some(store::Visibility::Public) => {
            return Err(AppError::new(
                StatusCode::BAD_REQUEST,
                "account_required",
                "a public room needs an account",
            ))
        }
        None => state.store.create_room(&name).await.map_err(AppError::internal)?,
    };
    tracing::info!(room = %super::ws::short(&room.id), "room created");
    Ok((StatusCode::CREATED, Json(view(&state, room))))
}

pub async fn get_room(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<RoomView>, AppError> {
    match state.store.room(&id).await.map_err(AppError::internal)? {
        Some(room) => Ok(Json(view(&state, room))),
        None => Err(AppError::new(
            StatusCode::NOT_FOUND,
            "room_not_found",
            "this room does not exist",
        )),
    }
}
