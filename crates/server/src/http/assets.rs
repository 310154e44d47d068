//! The browser client's files (`web/`), embedded in the binary by rust-embed
//! in every profile (`debug-embed`): a debug build that read them from the
//! path it was compiled at served another checkout's files, or none, once the
//! target directory was shared between clones. Editing a module needs a
//! `cargo build` (rustc tracks the embedded files).

use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../../web/"]
struct Web;

/// An HTML page with the given status (used for `/`, `/r/<id>` and 404s).
pub fn page(name: &str, status: StatusCode) -> Response {
    match Web::get(name) {
        Some(f) => (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            f.data,
        )
            .into_response(),
        None => (StatusCode::INTERNAL_SERVER_ERROR, "client files missing").into_response(),
    }
}

/// Any other path: a client file, or the 404 page.
pub async fn file(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path.is_empty() || path.ends_with(".html") {
        return page("notfound.html", StatusCode::NOT_FOUND);
    }
    match Web::get(path) {
        Some(f) => {
            let mime = mime_guess::from_path(path).first_or_octet_stream();
            (
                [
                    (header::CONTENT_TYPE, mime.as_ref().to_string()),
                    (header::CACHE_CONTROL, "no-cache".to_string()),
                ],
                f.data,
            )
                .into_response()
        }
        None => page("notfound.html", StatusCode::NOT_FOUND),
    }
}
