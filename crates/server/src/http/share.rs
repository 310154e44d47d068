//! Sharing a room: the QR code of its link, drawn by Salon itself (the
//! `qrcode` crate, as SVG), so a phone in the room can show it to a phone
//! across the table and nothing is asked of another service.
//!
//! The code carries the room's link as the share panel shows it
//! (`--public-url`, else the host the request was addressed to). Anyone who
//! may see the link may see its code: the route tells nothing the link does
//! not, and a call's link lets no one in by itself (`calls.rs`).

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;

use super::site::BaseUrl;
use super::AppError;
use crate::AppState;

/// The QR code of a room's link, as an SVG picture.
#[utoipa::path(get, path = "/r/{id}/qr.svg", tag = "rooms", params(("id" = String, Path)),
    responses((status = 200, content_type = "image/svg+xml", description = "the QR code of the room's link"),
              (status = 404, body = super::openapi::ErrorBody, description = "room_not_found")))]
pub async fn qr(
    State(state): State<AppState>,
    Extension(base): Extension<BaseUrl>,
    Path(id): Path<String>,
) -> Response {
    let room = match super::existing_room(&state, &id).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let link = base.join(&format!("/r/{}", room.id));
    match svg(&link) {
        Some(svg) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "image/svg+xml"),
                (header::CACHE_CONTROL, "private, max-age=3600"),
            ],
            svg,
        )
            .into_response(),
        None => AppError::internal("the link does not fit in a QR code").into_response(),
    }
}

/// `text` as a QR code (error correction M, a quiet zone of 4 modules), or
/// None if it is too long for any QR version (a link is ~80 bytes; the
/// limit at level M is 2331).
pub fn svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(240, 240)
            .dark_color(qrcode::render::svg::Color("#000000"))
            .light_color(qrcode::render::svg::Color("#ffffff"))
            .build(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_link_becomes_an_svg_and_an_oversized_text_does_not_panic() {
        let s = super::svg("https://salon.example.org/r/0123456789abcdef0123456789abcdef").unwrap();
        assert!(s.starts_with("<?xml") && s.contains("<svg") && s.contains("#000000"));
        assert!(super::svg(&"x".repeat(5000)).is_none());
    }
}
