//! Embedding a room in another site: `/embed/r/<id>` is the room page with
//! a `frame-ancestors` of the sites named by `--embed-origins`, so only
//! they can frame it (every other page keeps `frame-ancestors 'none'`).
//! The page talks to the site around it with `postMessage`
//! (`web/embed.js`, PROTOCOL.md "Embedding").
//!
//! Why a route of its own rather than relaxing the room page: a room link
//! shared by people must never be frameable by just anyone (clickjacking
//! of the camera prompt); the embed route is opt-in per site.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{assets, AppError};
use crate::AppState;

pub async fn page(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    if state.embed_origins.is_empty() {
        return AppError::new(
            StatusCode::NOT_FOUND,
            "embedding_disabled",
            "this server does not allow embedding rooms (--embed-origins)",
        )
        .into_response();
    }
    match state.store.room(&id).await {
        Ok(Some(_)) => {}
        Ok(None) => return assets::page("notfound.html", StatusCode::NOT_FOUND),
        Err(e) => return AppError::internal(e).into_response(),
    }
    let mut res = assets::page("room.html", StatusCode::OK);
    // The origins were checked at start (config::parse_origin): ASCII, no spaces or quotes.
    match HeaderValue::from_str(&assets::csp_framed_by(&state.embed_origins.join(" "))) {
        Ok(csp) => {
            res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, csp);
            res
        }
        Err(e) => AppError::internal(e).into_response(),
    }
}
