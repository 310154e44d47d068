//! Rooms expire: a room nobody entered for `--room-expiry-days` is deleted
//! with its invites, roster, bans and schedule (foreign keys cascade).
//!
//! Why: room links never stop working on their own, so without expiry the
//! database only grows. "Entered" is recorded from the rooms' announce feed
//! (`Rooms::subscribe`), so the signaling path does no extra write; a room
//! with people inside, or with a scheduled session still ahead, is never
//! idle.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;

use super::{unix_now, Store};
use crate::rooms::Rooms;

/// How often idle rooms are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

impl Store {
    /// Records that someone is in the room now.
    pub async fn touch_room(&self, room: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE rooms SET last_active_at = ? WHERE id = ?")
            .bind(unix_now())
            .bind(room)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Rooms idle since before `before` whose schedule (if any) has ended by `now`.
    pub async fn idle_rooms(&self, before: i64, now: i64) -> Result<Vec<String>, sqlx::Error> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM rooms WHERE last_active_at < ? AND NOT EXISTS \
             (SELECT 1 FROM schedules s WHERE s.room_id = rooms.id AND s.starts_at + s.duration_min * 60 > ?)",
        )
        .bind(before)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Sets a room's last activity (tests and operators).
    pub async fn set_last_active(&self, room: &str, at: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE rooms SET last_active_at = ? WHERE id = ?")
            .bind(at)
            .bind(room)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// One sweep: deletes rooms idle for `days` days (except those with people
/// inside now, which are touched instead). Returns how many were deleted.
pub async fn sweep(store: &Store, rooms: &Rooms, days: u32) -> Result<usize, sqlx::Error> {
    let now = unix_now();
    let before = now.saturating_sub(i64::from(days).saturating_mul(86_400));
    let mut deleted = 0usize;
    for id in store.idle_rooms(before, now).await? {
        if rooms.count(&id) > 0 {
            store.touch_room(&id).await?;
        } else {
            store.delete_room(&id).await?;
            deleted = deleted.saturating_add(1);
        }
    }
    if deleted > 0 {
        tracing::info!("{deleted} room(s) idle for {days} days expired");
    }
    Ok(deleted)
}

/// Follows entries into rooms and sweeps idle rooms every hour (`days` 0: never).
pub fn spawn(store: Store, rooms: Arc<Rooms>, days: u32) {
    let mut entered = rooms.subscribe();
    let touch_store = store.clone();
    tokio::spawn(async move {
        loop {
            match entered.recv().await {
                Ok(room) => {
                    if let Err(e) = touch_store.touch_room(&room).await {
                        tracing::warn!("recording room activity: {e}");
                    }
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    });
    if days == 0 {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        loop {
            tick.tick().await;
            if let Err(e) = sweep(&store, &rooms, days).await {
                tracing::warn!("expiring idle rooms: {e}");
            }
        }
    });
}
