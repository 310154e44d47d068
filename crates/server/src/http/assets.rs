//! The browser client's files (`web/`), embedded in the binary by rust-embed
//! in every profile (`debug-embed`): a debug build that read them from the
//! path it was compiled at served another checkout's files, or none, once the
//! target directory was shared between clones. Editing a module needs a
//! `cargo build` (rustc tracks the embedded files).
//!
//! Caching, without a bundler or renamed files:
//! - Every file has a weak ETag (its SHA-256, which rust-embed computes at
//!   build time), and [`conditional`] answers `If-None-Match` with `304`.
//! - The build has a [`version`]: a hash over every embedded file. Pages are
//!   rewritten once at start so that their stylesheets and scripts are asked
//!   for as `/x.js?v=<version>`, and an import map sends every module import
//!   (`./i18n.js` from any module) to its `?v=` address too. A request that
//!   carries the current version is cached for a year (`immutable`); any other
//!   is `no-cache` (revalidated with the ETag). A new build has a new version,
//!   so nothing stale survives an upgrade. The segmentation wasm is asked for
//!   with the same `?v=` (effects/segmenter.js), so its 5.7 MB come once.
//! - The import map is an inline script: its SHA-256 is added to the
//!   Content-Security-Policy ([`csp`]) instead of allowing inline scripts.
//! - Compression (gzip, brotli) is tower-http's layer in `http/mod.rs`.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

#[derive(RustEmbed)]
#[folder = "../../web/"]
struct Web;

/// A year: the longest lifetime browsers honour.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

struct Built {
    version: String,
    import_map: String,
    /// The import map's CSP source (`'sha256-…'`).
    import_map_hash: String,
    /// Rewritten pages by file name.
    pages: HashMap<String, Vec<u8>>,
}

static BUILT: LazyLock<Built> = LazyLock::new(build);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn build() -> Built {
    let mut names: Vec<String> = Web::iter().map(|p| p.into_owned()).collect();
    names.sort();
    let mut all = Sha256::new();
    for name in &names {
        if let Some(f) = Web::get(name) {
            all.update(name.as_bytes());
            all.update(f.metadata.sha256_hash());
        }
    }
    let version = hex(&all.finalize()[..6]);
    let imports: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .filter(|n| n.ends_with(".js") && !n.starts_with("vendor/"))
        .map(|n| (format!("/{n}"), serde_json::Value::String(format!("/{n}?v={version}"))))
        .collect();
    let import_map = serde_json::json!({ "imports": imports }).to_string();
    let import_map_hash = format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(import_map.as_bytes()))
    );
    let mut pages = HashMap::new();
    for name in names.iter().filter(|n| n.ends_with(".html")) {
        let Some(f) = Web::get(name) else { continue };
        let html = String::from_utf8_lossy(&f.data);
        pages.insert(name.clone(), rewrite(&html, &version, &import_map).into_bytes());
    }
    Built {
        version,
        import_map,
        import_map_hash,
        pages,
    }
}

/// Versions a page's own stylesheets and scripts and puts the import map
/// before its first script (an import map must come before any module).
fn rewrite(html: &str, version: &str, import_map: &str) -> String {
    let css = versioned(html, "href=\"/", ".css", version);
    let js = versioned(&css, "src=\"/", ".js", version);
    // <link rel="modulepreload" href="/….js">: the same address as the import map's.
    let mut out = versioned(&js, "href=\"/", ".js", version);
    if let Some(i) = out.find("<script") {
        out.insert_str(i, &format!("<script type=\"importmap\">{import_map}</script>\n  "));
    }
    out
}

/// Appends `?v=<version>` to every `attr…ext"` address of the page.
fn versioned(html: &str, attr: &str, ext: &str, version: &str) -> String {
    let mut out = String::with_capacity(html.len() + 64);
    let mut rest = html;
    while let Some(i) = rest.find(attr) {
        let (head, tail) = rest.split_at(i + attr.len());
        out.push_str(head);
        rest = tail;
        if let Some(len) = rest.find('"') {
            if rest[..len].ends_with(ext) && !rest[..len].contains('?') {
                out.push_str(&rest[..len]);
                out.push_str("?v=");
                out.push_str(version);
                rest = &rest[len..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The build's version, a hash over every embedded file.
pub fn version() -> &'static str {
    &BUILT.version
}

/// The Content-Security-Policy, allowing the import map by its hash.
pub fn csp() -> String {
    csp_framed_by("'none'")
}

/// The policy with `frame-ancestors` set to `ancestors` (the embed page).
pub fn csp_framed_by(ancestors: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' {}; style-src 'self'; \
         img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; \
         worker-src 'self' blob:; frame-ancestors {ancestors}; base-uri 'none'; form-action 'self'",
        BUILT.import_map_hash
    )
}

/// The import map (for tests and the docs).
#[allow(dead_code)]
pub fn import_map() -> &'static str {
    &BUILT.import_map
}

fn etag(hash: &[u8]) -> String {
    format!("W/\"{}\"", hex(&hash[..12]))
}

/// An HTML page with the given status (used for `/`, `/r/<id>` and 404s).
pub fn page(name: &str, status: StatusCode) -> Response {
    match (BUILT.pages.get(name), Web::get(name)) {
        (Some(body), Some(f)) => (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
                (header::CACHE_CONTROL, "no-cache".to_string()),
                (header::ETAG, etag(&f.metadata.sha256_hash())),
            ],
            body.clone(),
        )
            .into_response(),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "client files missing").into_response(),
    }
}

/// Any other path: a client file, or the 404 page.
pub async fn file(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path.is_empty() || path.ends_with(".html") {
        return page("notfound.html", StatusCode::NOT_FOUND);
    }
    let versioned = uri
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv.strip_prefix("v=") == Some(version())));
    match Web::get(path) {
        Some(f) => {
            let mime = mime_guess::from_path(path).first_or_octet_stream();
            (
                [
                    (header::CONTENT_TYPE, mime.as_ref().to_string()),
                    (
                        header::CACHE_CONTROL,
                        if versioned { IMMUTABLE } else { "no-cache" }.to_string(),
                    ),
                    (header::ETAG, etag(&f.metadata.sha256_hash())),
                ],
                f.data,
            )
                .into_response()
        }
        None => page("notfound.html", StatusCode::NOT_FOUND),
    }
}

/// Answers a GET whose `If-None-Match` names the response's ETag with an
/// empty `304 Not Modified` (the browser keeps its copy).
pub async fn conditional(req: Request<Body>, next: Next) -> Response {
    let asked = req.headers().get(header::IF_NONE_MATCH).cloned();
    let get = req.method() == axum::http::Method::GET || req.method() == axum::http::Method::HEAD;
    let res = next.run(req).await;
    let (Some(asked), true) = (asked, get) else { return res };
    let Some(tag) = res.headers().get(header::ETAG) else {
        return res;
    };
    if !res.status().is_success() || !matches(&asked, tag) {
        return res;
    }
    let mut out = StatusCode::NOT_MODIFIED.into_response();
    for name in [header::ETAG, header::CACHE_CONTROL] {
        if let Some(v) = res.headers().get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}

/// `If-None-Match` uses weak comparison: `W/` prefixes do not matter.
fn matches(asked: &HeaderValue, tag: &HeaderValue) -> bool {
    let strip = |s: &str| s.trim().trim_start_matches("W/").to_string();
    let Ok(tag) = tag.to_str() else { return false };
    let tag = strip(tag);
    asked
        .to_str()
        .is_ok_and(|a| a.trim() == "*" || a.split(',').any(|x| strip(x) == tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_versioned_and_mapped() {
        let room = String::from_utf8(BUILT.pages["room.html"].clone()).unwrap();
        let v = version();
        assert!(room.contains(&format!("/style.css?v={v}\"")), "{room}");
        assert!(
            room.contains(&format!("rel=\"modulepreload\" href=\"/bar.js?v={v}\"")),
            "{room}"
        );
        assert!(room.contains(&format!("/room.js?v={v}\"")));
        let map = room.find("type=\"importmap\"").unwrap();
        assert!(
            map < room.find("type=\"module\"").unwrap(),
            "the map comes before the modules"
        );
        assert!(import_map().contains(&format!("\"/i18n.js\":\"/i18n.js?v={v}\"")));
        assert!(csp().contains("'sha256-"));
    }

    #[test]
    fn weak_etags_match() {
        let tag = HeaderValue::from_static("W/\"abc\"");
        assert!(matches(&HeaderValue::from_static("\"abc\""), &tag));
        assert!(matches(&HeaderValue::from_static("W/\"x\", W/\"abc\""), &tag));
        assert!(!matches(&HeaderValue::from_static("W/\"abd\""), &tag));
    }
}
