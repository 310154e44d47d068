//! The invitation to a scheduled session: an iCalendar file (RFC 5545) the
//! host downloads and sends to clients, or that a client adds to a calendar.
//!
//! Hand-written rather than a crate: one VEVENT with six properties, whose
//! only subtleties (escaping, 75-octet line folding, UTC times) are tested below.

// The schedule and its `.ics` come from a host's form: no unwrap, no
// unchecked index and no overflowing arithmetic here (tests excepted).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;

use super::site::BaseUrl;
use super::AppError;
use crate::store::{hash_token, Schedule};
use crate::AppState;

/// The scheduled session as an iCalendar (RFC 5545) invitation.
#[utoipa::path(get, path = "/r/{id}/invite.ics", tag = "rooms", params(("id" = String, Path)),
    responses((status = 200, content_type = "text/calendar", description = "the invitation"),
              (status = 404, body = super::openapi::ErrorBody, description = "room_not_found or not_scheduled")))]
pub async fn ics(
    State(state): State<AppState>,
    Extension(base): Extension<BaseUrl>,
    Path(id): Path<String>,
) -> Response {
    let room = match super::existing_room(&state, &id).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let schedule = match state.store.schedule(&room.id).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return AppError::new(
                StatusCode::NOT_FOUND,
                "not_scheduled",
                "this room has no scheduled session",
            )
            .into_response()
        }
        Err(e) => return AppError::internal(e).into_response(),
    };
    // --public-url, else the host the request was addressed to (site.rs).
    let link = base.join(&format!("/r/{}", room.id));
    let uid = format!("{}@salon", &hash_token(&room.id)[..24]);
    let sequence = match state.store.schedule_sequence(&room.id).await {
        Ok(n) => n,
        Err(e) => return AppError::internal(e).into_response(),
    };
    let body = calendar(&schedule, &link, &uid, sequence, crate::store::unix_now());
    (
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"invitation.ics\""),
        ],
        body,
    )
        .into_response()
}

/// One VEVENT for `s`, with `link` as its URL and location. `sequence`
/// counts the changes: with the same UID, a calendar replaces its copy.
pub fn calendar(s: &Schedule, link: &str, uid: &str, sequence: i64, now: i64) -> String {
    let mut description = s.description.clone();
    if !description.is_empty() {
        description.push_str("\n\n");
    }
    description.push_str(link);
    let lines = [
        "BEGIN:VCALENDAR".to_string(),
        "VERSION:2.0".to_string(),
        "PRODID:-//Salon//Salon video rooms//EN".to_string(),
        "CALSCALE:GREGORIAN".to_string(),
        "METHOD:PUBLISH".to_string(),
        "BEGIN:VEVENT".to_string(),
        format!("UID:{uid}"),
        format!("DTSTAMP:{}", utc(now)),
        format!("SEQUENCE:{sequence}"),
        format!("DTSTART:{}", utc(s.starts_at)),
        format!(
            "DTEND:{}",
            utc(s.starts_at.saturating_add(s.duration_min.saturating_mul(60)))
        ),
        format!("SUMMARY:{}", escape(&s.title)),
        format!("DESCRIPTION:{}", escape(&description)),
        format!("LOCATION:{}", escape(link)),
        format!("URL:{link}"),
        "END:VEVENT".to_string(),
        "END:VCALENDAR".to_string(),
    ];
    lines.iter().map(|l| fold(l)).collect()
}

/// TEXT escaping (RFC 5545 §3.3.11).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds a content line at 75 octets, never inside a UTF-8 character, and
/// ends it with CRLF (RFC 5545 §3.1).
fn fold(line: &str) -> String {
    let mut out = String::new();
    let mut width = 0usize;
    for c in line.chars() {
        let n = c.len_utf8();
        if width.saturating_add(n) > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width = width.saturating_add(n);
    }
    out.push_str("\r\n");
    out
}

/// `YYYYMMDDTHHMMSSZ` for unix seconds. Stored schedules are validated to
/// start within two years, so the epoch stands in only for a corrupt row.
fn utc(t: i64) -> String {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(format).ok())
        .unwrap_or_else(|| "19700101T000000Z".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times() {
        assert_eq!(utc(0), "19700101T000000Z");
        assert_eq!(utc(951_782_400), "20000229T000000Z");
        assert_eq!(utc(1_795_000_000), "20261118T110640Z");
    }

    #[test]
    fn escapes_and_folds() {
        let s = Schedule {
            title: "Sophrologie; détente, respiration".into(),
            description: "Apportez un tapis.\nÀ bientôt ".repeat(5),
            starts_at: 1_795_000_000,
            duration_min: 45,
            opens_before_min: 10,
        };
        let ics = calendar(&s, "https://salon.example/r/AAAAAAAAAAAAAAAAAAAAAA", "x@salon", 2, 0);
        assert!(ics.contains("\r\nSEQUENCE:2\r\n"), "{ics}");
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"));
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
        assert!(ics.contains("SUMMARY:Sophrologie\\; détente\\, respiration\r\n"));
        assert!(ics.contains("DTSTART:20261118T110640Z\r\nDTEND:20261118T115140Z\r\n"));
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75, "folded: {line:?}");
            assert!(!line.contains('\n'));
        }
        // Unfolding gives back the escaped description with the link.
        let unfolded = ics.replace("\r\n ", "");
        assert!(unfolded.contains("DESCRIPTION:Apportez un tapis.\\nÀ bientôt"));
        assert!(unfolded.contains("https://salon.example/r/AAAAAAAAAAAAAAAAAAAAAA\r\n"));
    }
}
