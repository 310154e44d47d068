//! Friends: find someone by exact username, send/cancel/accept/decline
//! requests, unfriend, block and unblock.
//!
//! A person who blocked you does not exist as far as you can tell: search,
//! requests and profiles answer with the 404 of a missing user. Their
//! requests to you are deleted by the block, and new ones are refused.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::accounts::{user_not_found, Me};
use super::auth::{self, json};
use super::openapi::ErrorBody;
use super::AppError;
use crate::store::Account;
use crate::AppState;

/// How I stand towards someone.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    None,
    Friend,
    /// I sent them a request.
    Outgoing,
    /// They sent me a request.
    Incoming,
    /// I blocked them.
    Blocked,
    /// It is me.
    Me,
}

/// A search hit: only the username and how we stand (no profile).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Person {
    pub username: String,
    pub relation: Relation,
}

/// Someone who sent me a request: they chose to show their display name.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Requester {
    pub username: String,
    pub display_name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Username {
    pub username: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FriendsView {
    pub friends: Vec<Me>,
    pub incoming: Vec<Requester>,
    pub outgoing: Vec<Username>,
    pub blocked: Vec<Username>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// The exact username (any case).
    pub username: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsernameBody {
    pub username: String,
}

type JsonBody<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

fn db(e: sqlx::Error) -> AppError {
    AppError::internal(e)
}

/// The other person, unless missing or they blocked me (both: 404).
async fn other(state: &AppState, me: &Account, username: &str) -> Result<(Account, crate::store::Relation), AppError> {
    let Some(o) = state.store.account_by_username(username).await.map_err(db)? else {
        return Err(user_not_found());
    };
    let rel = state.store.relation(&me.id, &o.id).await.map_err(db)?;
    if rel.blocked_me {
        return Err(user_not_found());
    }
    Ok((o, rel))
}

fn relation(me: &Account, o: &Account, r: crate::store::Relation) -> Relation {
    if me.id == o.id {
        Relation::Me
    } else if r.i_blocked {
        Relation::Blocked
    } else if r.friends {
        Relation::Friend
    } else if r.outgoing {
        Relation::Outgoing
    } else if r.incoming {
        Relation::Incoming
    } else {
        Relation::None
    }
}

/// Finds a person by exact username.
#[utoipa::path(get, path = "/api/users", tag = "friends", params(SearchQuery),
    responses((status = 200, body = Person), (status = 400, body = ErrorBody, description = "bad_request: no username"),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Person>, AppError> {
    let me = auth::require_account(&state, &headers).await?;
    let Query(q) = q.map_err(|e| AppError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    let (o, rel) = other(&state, &me, &q.username).await?;
    Ok(Json(Person {
        relation: relation(&me, &o, rel),
        username: o.username,
    }))
}

/// My friends, requests both ways, and the people I blocked.
#[utoipa::path(get, path = "/api/friends", tag = "friends",
    responses((status = 200, body = FriendsView), (status = 401, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<FriendsView>, AppError> {
    let me = auth::require_account(&state, &headers).await?;
    let s = &state.store;
    let names = |v: Vec<Account>| v.into_iter().map(|a| Username { username: a.username }).collect();
    Ok(Json(FriendsView {
        friends: s.friends(&me.id).await.map_err(db)?.iter().map(Me::from).collect(),
        incoming: s
            .incoming_requests(&me.id)
            .await
            .map_err(db)?
            .into_iter()
            .map(|a| Requester {
                username: a.username,
                display_name: a.display_name,
            })
            .collect(),
        outgoing: names(s.outgoing_requests(&me.id).await.map_err(db)?),
        blocked: names(s.blocked_by_me(&me.id).await.map_err(db)?),
    }))
}

/// Sends a friend request (or accepts theirs if they already asked me).
#[utoipa::path(post, path = "/api/friends/requests", tag = "friends", request_body = UsernameBody,
    responses((status = 201, body = Person), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn request(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: JsonBody<UsernameBody>,
) -> Result<(StatusCode, Json<Person>), AppError> {
    let me = auth::require_account(&state, &headers).await?;
    let body = json(body)?;
    let (o, rel) = other(&state, &me, &body.username).await?;
    if o.id == me.id {
        return Err(AppError::new(
            // 409: the request is well formed; it conflicts with who is asking.
            StatusCode::CONFLICT,
            "self_request",
            "you cannot befriend yourself",
        ));
    }
    if rel.i_blocked {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "blocked",
            "unblock this person first",
        ));
    }
    if rel.friends {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "already_friends",
            "you are already friends",
        ));
    }
    let relation = if rel.incoming {
        state.store.accept_request(&o.id, &me.id).await.map_err(db)?;
        state.accounts.changed();
        Relation::Friend
    } else {
        state.store.add_request(&me.id, &o.id).await.map_err(db)?;
        Relation::Outgoing
    };
    Ok((
        StatusCode::CREATED,
        Json(Person {
            username: o.username,
            relation,
        }),
    ))
}

/// Cancels my request to someone.
#[utoipa::path(delete, path = "/api/friends/requests/{username}", tag = "friends", params(("username" = String, Path)),
    responses((status = 204, description = "cancelled"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(username): Path<String>,
) -> Result<StatusCode, AppError> {
    let me = auth::require_account(&state, &headers).await?;
    let (o, _) = other(&state, &me, &username).await?;
    if !state.store.remove_request(&me.id, &o.id).await.map_err(db)? {
        return Err(no_request());
    }
    Ok(StatusCode::NO_CONTENT)
}

fn no_request() -> AppError {
    AppError::new(
        StatusCode::NOT_FOUND,
        "request_not_found",
        "there is no such friend request",
    )
}

/// Accepts someone's request: we become friends.
#[utoipa::path(post, path = "/api/friends/requests/{username}/accept", tag = "friends", params(("username" = String, Path)),
    responses((status = 204, description = "friends now"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn accept(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(username): Path<String>,
) -> Result<StatusCode, AppError> {
    let me = auth::require_account(&state, &headers).await?;
    let (o, _) = other(&state, &me, &username).await?;
    if !state.store.accept_request(&o.id, &me.id).await.map_err(db)? {
        return Err(no_request());
    }
    state.accounts.changed();
    Ok(StatusCode::NO_CONTENT)
}

/// Declines someone's request (they are not told).
#[utoipa::path(post, path = "/api/friends/requests/{username}/decline", tag = "friends", params(("username" = String, Path)),
    responses((status = 204, description = "declined"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn decline(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(username): Path<String>,
) -> Result<StatusCode, AppError> {
    let me = auth::require_account(&state, &headers).await?;
    let (o, _) = other(&state, &me, &username).await?;
    if !state.store.remove_request(&o.id, &me.id).await.map_err(db)? {
        return Err(no_request());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Ends a friendship.
#[utoipa::path(delete, path = "/api/friends/{username}", tag = "friends", params(("username" = String, Path)),
    responses((status = 204, description = "no longer friends"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn unfriend(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(username): Path<String>,
) -> Result<StatusCode, AppError> {
    let me = auth::require_account(&state, &headers).await?;
    let (o, _) = other(&state, &me, &username).await?;
    if !state.store.unfriend(&me.id, &o.id).await.map_err(db)? {
        return Err(AppError::new(
            StatusCode::NOT_FOUND,
            "not_friends",
            "you are not friends",
        ));
    }
    state.accounts.changed();
    Ok(StatusCode::NO_CONTENT)
}

/// Blocks someone: ends any friendship and request between us; they can no
/// longer see my rooms, join a room I am in, or send me requests.
#[utoipa::path(post, path = "/api/blocks", tag = "friends", request_body = UsernameBody,
    responses((status = 204, description = "blocked"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "self_block")))]
pub async fn block(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: JsonBody<UsernameBody>,
) -> Result<StatusCode, AppError> {
    let me = auth::require_account(&state, &headers).await?;
    let body = json(body)?;
    // Blocking works even on someone who blocked me first.
    let Some(o) = state.store.account_by_username(&body.username).await.map_err(db)? else {
        return Err(user_not_found());
    };
    if o.id == me.id {
        return Err(AppError::new(
            // 409: the request is well formed; it conflicts with who is asking.
            StatusCode::CONFLICT,
            "self_block",
            "you cannot block yourself",
        ));
    }
    state.store.block(&me.id, &o.id).await.map_err(db)?;
    state.accounts.changed();
    Ok(StatusCode::NO_CONTENT)
}

/// Unblocks someone (no friendship comes back by itself). Idempotent, and
/// the same `204` whether the name exists, is blocked, or blocked me: the
/// answer tells nothing about anyone else.
#[utoipa::path(delete, path = "/api/blocks/{username}", tag = "friends", params(("username" = String, Path)),
    responses((status = 204, description = "not blocked (any more)"), (status = 401, body = ErrorBody)))]
pub async fn unblock(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(username): Path<String>,
) -> Result<StatusCode, AppError> {
    let me = auth::require_account(&state, &headers).await?;
    if let Some(o) = state.store.account_by_username(&username).await.map_err(db)? {
        if state.store.unblock(&me.id, &o.id).await.map_err(db)? {
            state.accounts.changed();
        }
    }
    Ok(StatusCode::NO_CONTENT)
}
