//! Persistent state in one embedded SQLite database (`DATA_DIR/salon.db`)
//! through sqlx, with migrations from `migrations/` run at start.
//!
//! Why one `Store` type: every query lives here, so moving to Postgres when
//! one machine is outgrown means changing this module, not the handlers.
//! Only durable things live here (rooms; accounts, sessions and friendships
//! in `accounts.rs` and `social.rs`). Who is in a room right now is live
//! state in `rooms.rs`, rebuilt naturally as people reconnect after a restart.

use std::path::Path;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::rooms::Settings;
use base64::Engine;
use rand::RngCore;

mod controls;
pub use controls::{hash_token, Invite, ReportRow, RosterEntry, Schedule, MAX_INVITES};
mod accounts;
mod calls;
pub mod expiry;
mod social;
pub use calls::{now_ms, Answer, CallRow, InviteeRow, RING_MS};

pub use accounts::*;
pub use social::*;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

/// Longest room name, in characters.
pub const MAX_ROOM_NAME_CHARS: usize = 80;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    /// SHA-256 of the creator's device cookie: that browser hosts the room.
    pub host_key: Option<String>,
    /// The account that owns the room (issue 4); its owner is also a host.
    pub owner_id: Option<String>,
    pub settings: Settings,
}

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating if needed) the database in `dir` and migrates it.
    pub async fn open(dir: &Path) -> anyhow::Result<Store> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("salon.db");
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL: committed data survives a crash of the process.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Store { pool })
    }

    /// Whether the database answers (readiness).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }

    /// Creates a room hosted by the browser whose device cookie hashes to `host_key`.
    pub async fn create_room(
        &self,
        name: &str,
        host_key: Option<&str>,
        settings: Settings,
    ) -> Result<Room, sqlx::Error> {
        self.create_room_with(name, host_key, settings, None, None).await
    }

    /// Creates a room with its owner and schedule in one transaction: a
    /// crash leaves either all of it or nothing.
    pub async fn create_room_with(
        &self,
        name: &str,
        host_key: Option<&str>,
        settings: Settings,
        owner: Option<(&str, Visibility)>,
        schedule: Option<&Schedule>,
    ) -> Result<Room, sqlx::Error> {
        let room = Room {
            id: new_room_id(),
            name: name.to_string(),
            created_at: unix_now(),
            host_key: host_key.map(str::to_string),
            owner_id: owner.map(|(o, _)| o.to_string()),
            settings,
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO rooms (id, name, created_at, host_key, waiting_room, mute_on_entry, self_unmute, \
             last_active_at, owner_id, visibility) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&room.id)
        .bind(&room.name)
        .bind(room.created_at)
        .bind(&room.host_key)
        .bind(settings.waiting_room)
        .bind(settings.mute_on_entry)
        .bind(settings.self_unmute)
        .bind(room.created_at)
        .bind(&room.owner_id)
        .bind(owner.map_or(Visibility::Private, |(_, v)| v).as_str())
        .execute(&mut *tx)
        .await?;
        if let Some(s) = schedule {
            controls::insert_schedule(&mut tx, &room.id, s).await?;
        }
        tx.commit().await?;
        Ok(room)
    }

    pub async fn room(&self, id: &str) -> Result<Option<Room>, sqlx::Error> {
        if !is_room_id(id) {
            return Ok(None);
        }
        type Row = (String, String, i64, Option<String>, Option<String>, bool, bool, bool);
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, name, created_at, host_key, owner_id, waiting_room, mute_on_entry, self_unmute \
             FROM rooms WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(
            |(id, name, created_at, host_key, owner_id, waiting_room, mute_on_entry, self_unmute)| Room {
                id,
                name,
                created_at,
                host_key,
                owner_id,
                settings: Settings {
                    waiting_room,
                    mute_on_entry,
                    self_unmute,
                },
            },
        ))
    }
}

/// 128 random bits from the OS-seeded CSPRNG, base64url without padding (22 characters).
pub fn new_room_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The shape of a room id, checked before any lookup.
pub fn is_room_id(id: &str) -> bool {
    id.len() == 22 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Trims a room name; empty is allowed (the UI shows a default).
pub fn validate_room_name(name: &str) -> Result<String, &'static str> {
    let name = name.trim();
    if name.chars().count() > MAX_ROOM_NAME_CHARS {
        return Err("the room name is longer than 80 characters");
    }
    if name.chars().any(char::is_control) {
        return Err("the room name contains control characters");
    }
    Ok(name.to_string())
}

/// Now, in unix seconds.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rooms_persist_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let room = store
            .create_room("Yoga du mardi", Some("k"), Settings::default())
            .await
            .unwrap();
        assert!(is_room_id(&room.id));
        drop(store);
        let store = Store::open(dir.path()).await.unwrap();
        assert_eq!(store.room(&room.id).await.unwrap(), Some(room));
        assert_eq!(store.room("nope").await.unwrap(), None);
        assert_eq!(store.room(&new_room_id()).await.unwrap(), None);
    }

    #[test]
    fn ids_are_unique_and_url_safe() {
        let a = new_room_id();
        assert!(is_room_id(&a));
        assert_ne!(a, new_room_id());
        assert!(!is_room_id("../../etc/passwd"));
    }
}
