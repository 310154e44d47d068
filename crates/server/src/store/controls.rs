//! What host controls and practitioner sessions keep: room policies, bans,
//! the invite roster, schedules and reports.
//!
//! Secrets that identify a browser (the device cookie) are stored only as
//! SHA-256 hashes, so a copy of the database does not let anyone act as a
//! host or lift a ban.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{new_room_id, unix_now, Store};
use crate::rooms::{Report, Settings};

/// SHA-256, hex: how device tokens are kept and compared.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A scheduled session of a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Unix seconds.
    #[serde(deserialize_with = "integer")]
    pub starts_at: i64,
    #[serde(deserialize_with = "integer")]
    pub duration_min: i64,
    /// The room opens to participants this many minutes before the start.
    #[serde(default = "default_opens_before", deserialize_with = "integer")]
    pub opens_before_min: i64,
}

fn default_opens_before() -> i64 {
    10
}

/// A JSON integer, also written as an integral float (`60.0`): JSON Schema
/// calls both an integer, and so do some clients.
fn integer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    match n.as_f64() {
        // In range and integral: the cast is exact.
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        _ => Err(serde::de::Error::custom(format!("{n} is not an integer"))),
    }
}

/// Seconds in a day.
const DAY: i64 = 86_400;

impl Schedule {
    /// Checks and trims a schedule from the network.
    pub fn validated(mut self, now: i64) -> Result<Schedule, &'static str> {
        self.title = self.title.trim().to_string();
        self.description = self.description.trim().to_string();
        if self.title.is_empty() || self.title.chars().count() > 120 {
            return Err("the title must have 1 to 120 characters");
        }
        if self.description.chars().count() > 2000 {
            return Err("the description is longer than 2000 characters");
        }
        if self.title.chars().any(char::is_control) || self.description.chars().any(|c| c.is_control() && c != '\n') {
            return Err("the text contains control characters");
        }
        if !(5..=600).contains(&self.duration_min) {
            return Err("the duration must be 5 to 600 minutes");
        }
        if !(0..=120).contains(&self.opens_before_min) {
            return Err("the room may open 0 to 120 minutes early");
        }
        let (earliest, latest) = Schedule::start_window(now);
        if self.starts_at < earliest || self.starts_at > latest {
            return Err("the start must be within the next two years");
        }
        Ok(self)
    }

    /// The earliest and latest `starts_at` accepted at `now`: from the start
    /// of yesterday (UTC) to two years after the start of today. Whole days,
    /// so the OpenAPI document can state the same bounds (they move once a day).
    pub fn start_window(now: i64) -> (i64, i64) {
        let today = now - now.rem_euclid(DAY);
        (today - DAY, today + 2 * 365 * DAY)
    }

    /// When participants may enter (unix seconds).
    pub fn opens_at(&self) -> i64 {
        self.starts_at - self.opens_before_min * 60
    }
}

/// One entry of a room's roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    pub token: String,
    pub label: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportRow {
    pub id: i64,
    pub room_id: String,
    pub room_name: String,
    pub reporter: String,
    pub target: Option<String>,
    pub reason: String,
    pub created_at: i64,
    pub resolved_at: Option<i64>,
}

/// A signed-in client on a room's roster: the username only (a profile's
/// display name is for friends).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RosterEntry {
    pub username: String,
}

/// Most invites per room.
pub const MAX_INVITES: i64 = 200;

/// Writes a room's schedule on `conn` (a transaction when creating the room).
pub(super) async fn insert_schedule(
    conn: &mut sqlx::SqliteConnection,
    room: &str,
    s: &Schedule,
) -> Result<(), sqlx::Error> {
    // A change keeps the row and counts one more SEQUENCE for the `.ics`.
    sqlx::query(
        "INSERT INTO schedules \
         (room_id, title, description, starts_at, duration_min, opens_before_min) \
         VALUES (?, ?, ?, ?, ?, ?) \
         ON CONFLICT(room_id) DO UPDATE SET title = excluded.title, description = excluded.description, \
         starts_at = excluded.starts_at, duration_min = excluded.duration_min, \
         opens_before_min = excluded.opens_before_min, sequence = schedules.sequence + 1",
    )
    .bind(room)
    .bind(&s.title)
    .bind(&s.description)
    .bind(s.starts_at)
    .bind(s.duration_min)
    .bind(s.opens_before_min)
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    /// Gives a room created by a signed-in person to their account (issue 4).
    pub async fn set_owner(&self, room: &str, owner: &str, visibility: super::Visibility) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE rooms SET owner_id = ?, visibility = ? WHERE id = ?")
            .bind(owner)
            .bind(visibility.as_str())
            .bind(room)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn set_settings(&self, room: &str, s: Settings) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE rooms SET waiting_room = ?, mute_on_entry = ?, self_unmute = ? WHERE id = ?")
            .bind(s.waiting_room)
            .bind(s.mute_on_entry)
            .bind(s.self_unmute)
            .bind(room)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Bans a device (its hash) from a room for good.
    /// Bans a device, and the account signed in on it if any (which also
    /// leaves the room's roster).
    pub async fn ban(&self, room: &str, device: &str, account: Option<&str>, name: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT OR REPLACE INTO room_bans (room_id, device, account_id, name, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(room)
        .bind(device)
        .bind(account)
        .bind(name)
        .bind(unix_now())
        .execute(&self.pool)
        .await?;
        if let Some(a) = account {
            self.remove_from_roster(room, a).await?;
        }
        Ok(())
    }

    /// True when this device, or this account, is banned from the room.
    pub async fn is_banned(&self, room: &str, device: &str, account: Option<&str>) -> Result<bool, sqlx::Error> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT 1 FROM room_bans WHERE room_id = ? AND (device = ? OR (account_id IS NOT NULL AND account_id = ?))",
        )
        .bind(room)
        .bind(device)
        .bind(account)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Adds a person to the roster; `None` when the roster is full.
    ///
    /// The count and the insert are one statement: SQLite runs it under its
    /// write lock, so concurrent requests cannot pass the limit together.
    pub async fn create_invite(&self, room: &str, label: &str) -> Result<Option<Invite>, sqlx::Error> {
        let invite = Invite {
            token: new_room_id(),
            label: label.to_string(),
            created_at: unix_now(),
        };
        let r = sqlx::query(
            "INSERT INTO room_invites (token, room_id, label, created_at) SELECT ?, ?, ?, ? \
             WHERE (SELECT COUNT(*) FROM room_invites WHERE room_id = ?) < ?",
        )
        .bind(&invite.token)
        .bind(room)
        .bind(&invite.label)
        .bind(invite.created_at)
        .bind(room)
        .bind(MAX_INVITES)
        .execute(&self.pool)
        .await?;
        Ok((r.rows_affected() > 0).then_some(invite))
    }

    pub async fn invites(&self, room: &str) -> Result<Vec<Invite>, sqlx::Error> {
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT token, label, created_at FROM room_invites WHERE room_id = ? ORDER BY created_at")
                .bind(room)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(token, label, created_at)| Invite {
                token,
                label,
                created_at,
            })
            .collect())
    }

    /// True when `token` is on `room`'s roster.
    pub async fn invite_valid(&self, room: &str, token: &str) -> Result<bool, sqlx::Error> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM room_invites WHERE room_id = ? AND token = ?")
            .bind(room)
            .bind(token)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Removes a roster entry; false when there was none.
    pub async fn delete_invite(&self, room: &str, token: &str) -> Result<bool, sqlx::Error> {
        let r = sqlx::query("DELETE FROM room_invites WHERE room_id = ? AND token = ?")
            .bind(room)
            .bind(token)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Puts an account on the roster; `false` when the roster is full.
    pub async fn add_to_roster(&self, room: &str, account: &str) -> Result<bool, sqlx::Error> {
        // One statement: the count and the insert cannot be split by a concurrent request.
        let r = sqlx::query(
            "INSERT OR IGNORE INTO room_roster (room_id, account_id, created_at) SELECT ?, ?, ? \
             WHERE (SELECT COUNT(*) FROM room_roster WHERE room_id = ?) < ?",
        )
        .bind(room)
        .bind(account)
        .bind(unix_now())
        .bind(room)
        .bind(MAX_INVITES)
        .execute(&self.pool)
        .await?;
        if r.rows_affected() > 0 {
            return Ok(true);
        }
        self.on_roster(room, account).await
    }

    pub async fn remove_from_roster(&self, room: &str, account: &str) -> Result<bool, sqlx::Error> {
        let r = sqlx::query("DELETE FROM room_roster WHERE room_id = ? AND account_id = ?")
            .bind(room)
            .bind(account)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn roster(&self, room: &str) -> Result<Vec<RosterEntry>, sqlx::Error> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT u.username FROM room_roster r JOIN users u ON u.id = r.account_id \
             WHERE r.room_id = ? ORDER BY r.created_at",
        )
        .bind(room)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(username,)| RosterEntry { username }).collect())
    }

    pub async fn on_roster(&self, room: &str, account: &str) -> Result<bool, sqlx::Error> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM room_roster WHERE room_id = ? AND account_id = ?")
            .bind(room)
            .bind(account)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    pub async fn set_schedule(&self, room: &str, s: Option<&Schedule>) -> Result<(), sqlx::Error> {
        match s {
            None => {
                sqlx::query("DELETE FROM schedules WHERE room_id = ?")
                    .bind(room)
                    .execute(&self.pool)
                    .await?;
            }
            Some(s) => {
                let mut conn = self.pool.acquire().await?;
                insert_schedule(&mut conn, room, s).await?;
            }
        }
        Ok(())
    }

    pub async fn schedule(&self, room: &str) -> Result<Option<Schedule>, sqlx::Error> {
        let row: Option<(String, String, i64, i64, i64)> = sqlx::query_as(
            "SELECT title, description, starts_at, duration_min, opens_before_min FROM schedules WHERE room_id = ?",
        )
        .bind(room)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(
            |(title, description, starts_at, duration_min, opens_before_min)| Schedule {
                title,
                description,
                starts_at,
                duration_min,
                opens_before_min,
            },
        ))
    }

    /// How many times the room's schedule changed since it was set (the `.ics` SEQUENCE).
    pub async fn schedule_sequence(&self, room: &str) -> Result<i64, sqlx::Error> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT sequence FROM schedules WHERE room_id = ?")
            .bind(room)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map_or(0, |r| r.0))
    }

    pub async fn add_report(&self, room: &str, room_name: &str, r: &Report) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO reports (room_id, room_name, reporter, target, reason, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(room)
        .bind(room_name)
        .bind(&r.reporter)
        .bind(&r.target)
        .bind(&r.reason)
        .bind(unix_now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Reports, oldest first; only the open ones unless `all`.
    pub async fn reports(&self, all: bool) -> Result<Vec<ReportRow>, sqlx::Error> {
        let sql = if all {
            "SELECT id, room_id, room_name, reporter, target, reason, created_at, resolved_at FROM reports ORDER BY id"
        } else {
            "SELECT id, room_id, room_name, reporter, target, reason, created_at, resolved_at FROM reports \
             WHERE resolved_at IS NULL ORDER BY id"
        };
        type Row = (i64, String, String, String, Option<String>, String, i64, Option<i64>);
        let rows: Vec<Row> = sqlx::query_as(sql).fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, room_id, room_name, reporter, target, reason, created_at, resolved_at)| ReportRow {
                    id,
                    room_id,
                    room_name,
                    reporter,
                    target,
                    reason,
                    created_at,
                    resolved_at,
                },
            )
            .collect())
    }

    /// Marks a report resolved; false when there is no such open report.
    pub async fn resolve_report(&self, id: i64) -> Result<bool, sqlx::Error> {
        let r = sqlx::query("UPDATE reports SET resolved_at = ? WHERE id = ? AND resolved_at IS NULL")
            .bind(unix_now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }
}
