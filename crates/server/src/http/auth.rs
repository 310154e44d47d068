//! Who is asking: the session cookie, password hashing, and the helpers
//! every account handler uses.
//!
//! The cookie `salon_session` holds a 256-bit random token (HttpOnly so page
//! scripts never see it, SameSite=Lax so other sites' forms and fetches do
//! not carry it, Secure under HTTPS). CSRF is also refused by the Origin
//! check in `mod.rs`, which guards every non-GET request.
//!
//! argon2id hashing takes tens of milliseconds of CPU on purpose, so it runs
//! on the blocking pool, never on the async workers that carry media signaling.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use rand::RngCore;

use super::AppError;
use crate::store::{Account, SESSION_DAYS};
use crate::AppState;

pub const COOKIE: &str = "salon_session";
pub const MIN_PASSWORD_CHARS: usize = 8;
/// argon2 accepts long inputs, but hashing megabytes is a cheap way to burn
/// CPU. Counted in characters, as JSON Schema counts (see openapi.rs).
pub const MAX_PASSWORD_CHARS: usize = 128;
/// Bytes of the longest password (4 per character at most): checked first, cheaply.
pub const MAX_PASSWORD_BYTES: usize = 4 * MAX_PASSWORD_CHARS;

/// The session token in the request's cookies, if any.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// The signed-in account of a request, if any. An unknown or expired token
/// is the same as none.
pub async fn current_account(state: &AppState, headers: &HeaderMap) -> Result<Option<Account>, AppError> {
    match session_token(headers) {
        Some(token) => state.store.session_account(&token).await.map_err(AppError::internal),
        None => Ok(None),
    }
}

/// Like `current_account`, but a request without a session gets 401.
pub async fn require_account(state: &AppState, headers: &HeaderMap) -> Result<Account, AppError> {
    current_account(state, headers)
        .await?
        .ok_or_else(|| AppError::new(StatusCode::UNAUTHORIZED, "not_signed_in", "sign in first"))
}

pub fn set_cookie(state: &AppState, token: &str) -> HeaderValue {
    cookie(token, SESSION_DAYS * 86_400, state.accounts.secure_cookies)
}

pub fn clear_cookie(state: &AppState) -> HeaderValue {
    cookie("", 0, state.accounts.secure_cookies)
}

fn cookie(token: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    // Invariant: the token is base64url (or empty), always a valid header value.
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .expect("base64url cookie is a valid header")
}

pub fn check_password_shape(password: &str) -> Result<(), AppError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "weak_password",
            "a password has at least 8 characters",
        ));
    }
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "weak_password",
            "a password has at most 128 characters",
        ));
    }
    Ok(())
}

/// Unwraps a JSON body, turning a rejection into `{code, message}`.
pub fn json<T>(body: Result<axum::Json<T>, axum::extract::rejection::JsonRejection>) -> Result<T, AppError> {
    body.map(|axum::Json(b)| b).map_err(|e| {
        let code = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            "too_large"
        } else {
            "bad_request"
        };
        AppError::new(e.status(), code, e.body_text())
    })
}

/// 128 random bits from the OS-seeded CSPRNG (the one room ids use).
fn new_salt() -> Result<SaltString, argon2::password_hash::Error> {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    SaltString::encode_b64(&bytes)
}

/// argon2id with the crate's default parameters, on the blocking pool.
pub async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let salt = new_salt()?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(AppError::internal)?
    .map_err(AppError::internal)
}

/// Checks `password` against a PHC string, or against a dummy hash when the
/// account does not exist, so both cases take the same time.
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool, AppError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    tokio::task::spawn_blocking(move || {
        let dummy = DUMMY.get_or_init(|| {
            new_salt()
                .and_then(|salt| {
                    Argon2::default()
                        .hash_password(b"not a real password", &salt)
                        .map(|h| h.to_string())
                })
                .unwrap_or_default()
        });
        let real = hash.is_some();
        let hash = hash.unwrap_or_else(|| dummy.clone());
        let ok = PasswordHash::new(&hash)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false);
        real && ok
    })
    .await
    .map_err(AppError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_session_cookie() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; salon_session=tok; b=2"));
        assert_eq!(session_token(&h).as_deref(), Some("tok"));
        assert_eq!(session_token(&HeaderMap::new()), None);
    }

    #[test]
    fn cookies_are_http_only_lax_and_secure_under_tls() {
        let c = cookie("tok", 60, true);
        assert_eq!(
            c.to_str().unwrap(),
            "salon_session=tok; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure"
        );
        assert!(!cookie("tok", 60, false).to_str().unwrap().contains("Secure"));
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let h = hash_password("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse".into(), Some(h.clone())).await.unwrap());
        assert!(!verify_password("wrong".into(), Some(h)).await.unwrap());
        assert!(!verify_password("x".into(), None).await.unwrap());
    }
}
