//! Calls (`impl Store`): who called whom into which private room, and how
//! each person answered. See `http/calls.rs` for the rules.
//!
//! Why a missed call is not stored as such: a ring is `ringing` with the
//! time it started; past the ring timeout, or once the call has ended, the
//! same row reads as missed. No timer has to survive a restart for a
//! missed call to be listed.

use super::Store;

/// How long a call rings before it counts as missed.
pub const RING_MS: i64 = 30_000;

/// What one invitee did with a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Ringing,
    Accepted,
    Declined,
    /// Already in a call (or a room) when called: not rung.
    Busy,
    /// Rang out (or the call ended first) without an answer.
    Missed,
}

impl Answer {
    fn as_str(self) -> &'static str {
        match self {
            Answer::Ringing | Answer::Missed => "ringing",
            Answer::Accepted => "accepted",
            Answer::Declined => "declined",
            Answer::Busy => "busy",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRow {
    pub room_id: String,
    pub caller_id: String,
    pub created_at: i64,
    pub ended_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteeRow {
    pub user_id: String,
    pub answer: Answer,
    pub rang_at: i64,
}

/// The answer as it reads at `now` (a stale ring is a missed call).
fn effective(state: &str, rang_at: i64, ended: bool, now: i64) -> Answer {
    match state {
        "accepted" => Answer::Accepted,
        "declined" => Answer::Declined,
        "busy" => Answer::Busy,
        _ if ended || now - rang_at >= RING_MS => Answer::Missed,
        _ => Answer::Ringing,
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Store {
    /// Records a call into `room_id` (already created) with its invitees.
    pub async fn create_call(
        &self,
        room_id: &str,
        caller: &str,
        invitees: &[(String, Answer)],
    ) -> Result<(), sqlx::Error> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO calls (room_id, caller_id, created_at) VALUES (?, ?, ?)")
            .bind(room_id)
            .bind(caller)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        for (user, answer) in invitees {
            insert_invitee(&mut tx, room_id, user, *answer, now).await?;
        }
        tx.commit().await
    }

    /// Adds people to a call, or rings again someone who had not taken it.
    pub async fn add_invitees(&self, room_id: &str, invitees: &[(String, Answer)]) -> Result<(), sqlx::Error> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        for (user, answer) in invitees {
            insert_invitee(&mut tx, room_id, user, *answer, now).await?;
        }
        tx.commit().await
    }

    pub async fn call(&self, room_id: &str) -> Result<Option<CallRow>, sqlx::Error> {
        let row: Option<(String, String, i64, Option<i64>)> =
            sqlx::query_as("SELECT room_id, caller_id, created_at, ended_at FROM calls WHERE room_id = ?")
                .bind(room_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(room_id, caller_id, created_at, ended_at)| CallRow {
            room_id,
            caller_id,
            created_at,
            ended_at,
        }))
    }

    /// Everyone called into `room_id`, in the order they were called.
    pub async fn invitees(&self, room_id: &str) -> Result<Vec<InviteeRow>, sqlx::Error> {
        let ended = self.call(room_id).await?.is_some_and(|c| c.ended_at.is_some());
        let now = now_ms();
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT user_id, state, rang_at FROM call_invitees WHERE room_id = ? ORDER BY rowid")
                .bind(room_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(user_id, state, rang_at)| InviteeRow {
                answer: effective(&state, rang_at, ended, now),
                user_id,
                rang_at,
            })
            .collect())
    }

    /// Sets one invitee's answer; false if they were not called.
    pub async fn answer_call(&self, room_id: &str, user: &str, answer: Answer) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("UPDATE call_invitees SET state = ? WHERE room_id = ? AND user_id = ?")
            .bind(answer.as_str())
            .bind(room_id)
            .bind(user)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks a call ended (its last participant left); true if it was not already.
    pub async fn end_call(&self, room_id: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("UPDATE calls SET ended_at = ? WHERE room_id = ? AND ended_at IS NULL")
            .bind(now_ms())
            .bind(room_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Calls ringing for `user` now (newest first).
    pub async fn ringing_for(&self, user: &str) -> Result<Vec<CallRow>, sqlx::Error> {
        let since = now_ms() - RING_MS;
        self.calls_where(
            "SELECT c.room_id, c.caller_id, c.created_at, c.ended_at FROM call_invitees i \
             JOIN calls c ON c.room_id = i.room_id \
             WHERE i.user_id = ? AND i.state = 'ringing' AND i.rang_at > ? AND c.ended_at IS NULL \
             ORDER BY i.rang_at DESC",
            user,
            since,
        )
        .await
    }

    /// The last 20 calls `user` missed (newest first).
    pub async fn missed_by(&self, user: &str) -> Result<Vec<(CallRow, i64)>, sqlx::Error> {
        let since = now_ms() - RING_MS;
        let rows: Vec<(String, String, i64, Option<i64>, i64)> = sqlx::query_as(
            "SELECT c.room_id, c.caller_id, c.created_at, c.ended_at, i.rang_at FROM call_invitees i \
             JOIN calls c ON c.room_id = i.room_id \
             WHERE i.user_id = ? AND i.state = 'ringing' AND (i.rang_at <= ? OR c.ended_at IS NOT NULL) \
             ORDER BY i.rang_at DESC LIMIT 20",
        )
        .bind(user)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(room_id, caller_id, created_at, ended_at, rang_at)| {
                (
                    CallRow {
                        room_id,
                        caller_id,
                        created_at,
                        ended_at,
                    },
                    rang_at,
                )
            })
            .collect())
    }

    /// The calls `user` made that have not ended, started in the last hour.
    pub async fn open_calls_of(&self, user: &str) -> Result<Vec<CallRow>, sqlx::Error> {
        self.calls_where(
            "SELECT room_id, caller_id, created_at, ended_at FROM calls \
             WHERE caller_id = ? AND ended_at IS NULL AND created_at > ? ORDER BY created_at DESC LIMIT 5",
            user,
            now_ms() - 3_600_000,
        )
        .await
    }

    async fn calls_where(&self, sql: &str, user: &str, since: i64) -> Result<Vec<CallRow>, sqlx::Error> {
        let rows: Vec<(String, String, i64, Option<i64>)> =
            sqlx::query_as(sql).bind(user).bind(since).fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(|(room_id, caller_id, created_at, ended_at)| CallRow {
                room_id,
                caller_id,
                created_at,
                ended_at,
            })
            .collect())
    }
}

async fn insert_invitee(
    tx: &mut sqlx::SqliteConnection,
    room_id: &str,
    user: &str,
    answer: Answer,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO call_invitees (room_id, user_id, state, rang_at) VALUES (?, ?, ?, ?) \
         ON CONFLICT (room_id, user_id) DO UPDATE SET state = excluded.state, rang_at = excluded.rang_at",
    )
    .bind(room_id)
    .bind(user)
    .bind(answer.as_str())
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rooms::Settings;

    #[tokio::test]
    async fn a_call_rings_is_answered_and_a_stale_ring_is_missed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let mut ids = Vec::new();
        for name in ["alice", "bob", "carol", "dave"] {
            ids.push(store.create_account(name, name, "x").await.unwrap().id);
        }
        let (alice, bob, carol, dave) = (&ids[0], &ids[1], &ids[2], &ids[3]);
        let room = store
            .create_room_with(
                "",
                None,
                Settings::default(),
                Some((alice, super::super::Visibility::Private)),
                None,
            )
            .await
            .unwrap();
        store
            .create_call(
                &room.id,
                alice,
                &[
                    (bob.clone(), Answer::Ringing),
                    (carol.clone(), Answer::Ringing),
                    (dave.clone(), Answer::Busy),
                ],
            )
            .await
            .unwrap();
        assert_eq!(store.ringing_for(bob).await.unwrap().len(), 1);
        assert!(
            store.ringing_for(dave).await.unwrap().is_empty(),
            "busy people are not rung"
        );
        assert!(store.answer_call(&room.id, bob, Answer::Accepted).await.unwrap());
        assert!(store.answer_call(&room.id, carol, Answer::Declined).await.unwrap());
        assert!(
            !store.answer_call(&room.id, alice, Answer::Accepted).await.unwrap(),
            "the caller is no invitee"
        );
        let answers: Vec<Answer> = store
            .invitees(&room.id)
            .await
            .unwrap()
            .iter()
            .map(|i| i.answer)
            .collect();
        assert_eq!(answers, [Answer::Accepted, Answer::Declined, Answer::Busy]);
        assert_eq!(store.open_calls_of(alice).await.unwrap().len(), 1);

        // Ringing again, then the ring goes stale: missed, listed, no longer ringing.
        store
            .add_invitees(&room.id, &[(carol.clone(), Answer::Ringing)])
            .await
            .unwrap();
        assert_eq!(store.ringing_for(carol).await.unwrap().len(), 1);
        sqlx::query("UPDATE call_invitees SET rang_at = rang_at - 31000")
            .execute(&store.pool)
            .await
            .unwrap();
        assert!(store.ringing_for(carol).await.unwrap().is_empty());
        assert_eq!(store.missed_by(carol).await.unwrap().len(), 1);
        assert!(
            store.missed_by(bob).await.unwrap().is_empty(),
            "an answered call is not missed"
        );

        // An ended call rings no more; its pending rings are missed at once.
        store
            .add_invitees(&room.id, &[(carol.clone(), Answer::Ringing)])
            .await
            .unwrap();
        assert!(store.end_call(&room.id).await.unwrap());
        assert!(!store.end_call(&room.id).await.unwrap(), "ends once");
        assert!(store.ringing_for(carol).await.unwrap().is_empty());
        assert_eq!(store.invitees(&room.id).await.unwrap()[1].answer, Answer::Missed);
        assert!(store.open_calls_of(alice).await.unwrap().is_empty());

        // Deleting the caller deletes the room and the call with it.
        store.delete_account(alice).await.unwrap();
        assert!(store.call(&room.id).await.unwrap().is_none());
    }
}
