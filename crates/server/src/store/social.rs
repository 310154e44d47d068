//! Friends, friend requests, blocks and owned rooms (`impl Store`).
//!
//! Friendships are stored both ways so "friends of X" is one index lookup.
//! Blocking removes any friendship and request between the two in the same
//! transaction, so no later query has to remember to look at blocks for
//! those; queries about rooms and joins still check blocks explicitly.

use std::collections::HashSet;

use super::{new_room_id, unix_now, Account, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Link only.
    Private,
    /// Shown in the owner's friends' tray while someone is in it.
    Public,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Private => "private",
            Visibility::Public => "public",
        }
    }
    fn parse(s: &str) -> Visibility {
        if s == "public" {
            Visibility::Public
        } else {
            Visibility::Private
        }
    }
}

/// A room with its owner (None for rooms made anonymously) and visibility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRoom {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub owner_id: Option<String>,
    pub visibility: Visibility,
}

/// How `me` stands towards `other`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relation {
    pub friends: bool,
    /// I asked them.
    pub outgoing: bool,
    /// They asked me.
    pub incoming: bool,
    pub i_blocked: bool,
    pub blocked_me: bool,
}

type RoomRow = (String, String, i64, Option<String>, String);

fn owned((id, name, created_at, owner_id, visibility): RoomRow) -> OwnedRoom {
    OwnedRoom {
        id,
        name,
        created_at,
        owner_id,
        visibility: Visibility::parse(&visibility),
    }
}

async fn exists(pool: &sqlx::SqlitePool, sql: &str, a: &str, b: &str) -> Result<bool, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as(sql).bind(a).bind(b).fetch_optional(pool).await?;
    Ok(row.is_some())
}

impl Store {
    pub async fn relation(&self, me: &str, other: &str) -> Result<Relation, sqlx::Error> {
        let p = &self.pool;
        let req = "SELECT 1 FROM friend_requests WHERE from_id = ? AND to_id = ?";
        let blk = "SELECT 1 FROM blocks WHERE blocker_id = ? AND blocked_id = ?";
        Ok(Relation {
            friends: exists(p, "SELECT 1 FROM friendships WHERE a_id = ? AND b_id = ?", me, other).await?,
            outgoing: exists(p, req, me, other).await?,
            incoming: exists(p, req, other, me).await?,
            i_blocked: exists(p, blk, me, other).await?,
            blocked_me: exists(p, blk, other, me).await?,
        })
    }

    pub async fn add_request(&self, from: &str, to: &str) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT OR IGNORE INTO friend_requests (from_id, to_id, created_at) VALUES (?, ?, ?)")
            .bind(from)
            .bind(to)
            .bind(unix_now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes the request from -> to; false if there was none.
    pub async fn remove_request(&self, from: &str, to: &str) -> Result<bool, sqlx::Error> {
        let r = sqlx::query("DELETE FROM friend_requests WHERE from_id = ? AND to_id = ?")
            .bind(from)
            .bind(to)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Turns the request from -> to into a friendship; false if there was none.
    pub async fn accept_request(&self, from: &str, to: &str) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let r =
            sqlx::query("DELETE FROM friend_requests WHERE (from_id = ? AND to_id = ?) OR (from_id = ? AND to_id = ?)")
                .bind(from)
                .bind(to)
                .bind(to)
                .bind(from)
                .execute(&mut *tx)
                .await?;
        if r.rows_affected() == 0 {
            return Ok(false);
        }
        let now = unix_now();
        for (a, b) in [(from, to), (to, from)] {
            sqlx::query("INSERT OR IGNORE INTO friendships (a_id, b_id, created_at) VALUES (?, ?, ?)")
                .bind(a)
                .bind(b)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Ends a friendship; false if there was none.
    pub async fn unfriend(&self, a: &str, b: &str) -> Result<bool, sqlx::Error> {
        let r = sqlx::query("DELETE FROM friendships WHERE (a_id = ? AND b_id = ?) OR (a_id = ? AND b_id = ?)")
            .bind(a)
            .bind(b)
            .bind(b)
            .bind(a)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Blocks `blocked`: also ends any friendship and request between the two.
    pub async fn block(&self, blocker: &str, blocked: &str) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT OR IGNORE INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, ?)")
            .bind(blocker)
            .bind(blocked)
            .bind(unix_now())
            .execute(&mut *tx)
            .await?;
        for table in [
            "DELETE FROM friendships WHERE (a_id = ?1 AND b_id = ?2) OR (a_id = ?2 AND b_id = ?1)",
            "DELETE FROM friend_requests WHERE (from_id = ?1 AND to_id = ?2) OR (from_id = ?2 AND to_id = ?1)",
        ] {
            sqlx::query(table).bind(blocker).bind(blocked).execute(&mut *tx).await?;
        }
        tx.commit().await
    }

    pub async fn unblock(&self, blocker: &str, blocked: &str) -> Result<bool, sqlx::Error> {
        let r = sqlx::query("DELETE FROM blocks WHERE blocker_id = ? AND blocked_id = ?")
            .bind(blocker)
            .bind(blocked)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn accounts_where(&self, sql: &str, id: &str) -> Result<Vec<Account>, sqlx::Error> {
        let rows: Vec<(String, String, String, String, Option<String>, i64)> =
            sqlx::query_as(sql).bind(id).fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(|(id, username, display_name, bio, avatar_id, created_at)| Account {
                id,
                username,
                display_name,
                bio,
                avatar_id,
                created_at,
            })
            .collect())
    }

    pub async fn friends(&self, me: &str) -> Result<Vec<Account>, sqlx::Error> {
        self.accounts_where(
            "SELECT u.id, u.username, u.display_name, u.bio, u.avatar_id, u.created_at FROM friendships f \
             JOIN users u ON u.id = f.b_id WHERE f.a_id = ? ORDER BY u.username",
            me,
        )
        .await
    }

    pub async fn friend_ids(&self, me: &str) -> Result<HashSet<String>, sqlx::Error> {
        Ok(self.friends(me).await?.into_iter().map(|a| a.id).collect())
    }

    /// People who asked me.
    pub async fn incoming_requests(&self, me: &str) -> Result<Vec<Account>, sqlx::Error> {
        self.accounts_where(
            "SELECT u.id, u.username, u.display_name, u.bio, u.avatar_id, u.created_at FROM friend_requests r \
             JOIN users u ON u.id = r.from_id WHERE r.to_id = ? ORDER BY r.created_at",
            me,
        )
        .await
    }

    /// People I asked.
    pub async fn outgoing_requests(&self, me: &str) -> Result<Vec<Account>, sqlx::Error> {
        self.accounts_where(
            "SELECT u.id, u.username, u.display_name, u.bio, u.avatar_id, u.created_at FROM friend_requests r \
             JOIN users u ON u.id = r.to_id WHERE r.from_id = ? ORDER BY r.created_at",
            me,
        )
        .await
    }

    pub async fn blocked_by_me(&self, me: &str) -> Result<Vec<Account>, sqlx::Error> {
        self.accounts_where(
            "SELECT u.id, u.username, u.display_name, u.bio, u.avatar_id, u.created_at FROM blocks b \
             JOIN users u ON u.id = b.blocked_id WHERE b.blocker_id = ? ORDER BY u.username",
            me,
        )
        .await
    }

    /// Ids of the people who blocked `me`.
    pub async fn blockers_of(&self, me: &str) -> Result<HashSet<String>, sqlx::Error> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT blocker_id FROM blocks WHERE blocked_id = ?")
            .bind(me)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    pub async fn create_owned_room(
        &self,
        name: &str,
        owner: &str,
        visibility: Visibility,
    ) -> Result<OwnedRoom, sqlx::Error> {
        let room = OwnedRoom {
            id: new_room_id(),
            name: name.to_string(),
            created_at: unix_now(),
            owner_id: Some(owner.to_string()),
            visibility,
        };
        sqlx::query("INSERT INTO rooms (id, name, created_at, owner_id, visibility) VALUES (?, ?, ?, ?, ?)")
            .bind(&room.id)
            .bind(&room.name)
            .bind(room.created_at)
            .bind(owner)
            .bind(visibility.as_str())
            .execute(&self.pool)
            .await?;
        Ok(room)
    }

    pub async fn owned_room(&self, id: &str) -> Result<Option<OwnedRoom>, sqlx::Error> {
        if !super::is_room_id(id) {
            return Ok(None);
        }
        let row: Option<RoomRow> =
            sqlx::query_as("SELECT id, name, created_at, owner_id, visibility FROM rooms WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(owned))
    }

    pub async fn rooms_of(&self, owner: &str) -> Result<Vec<OwnedRoom>, sqlx::Error> {
        let rows: Vec<RoomRow> = sqlx::query_as(
            "SELECT id, name, created_at, owner_id, visibility FROM rooms WHERE owner_id = ? ORDER BY created_at DESC, id",
        )
        .bind(owner)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(owned).collect())
    }

    /// Public rooms owned by `me`'s friends, for the tray.
    pub async fn friends_public_rooms(&self, me: &str) -> Result<Vec<OwnedRoom>, sqlx::Error> {
        let rows: Vec<RoomRow> = sqlx::query_as(
            "SELECT r.id, r.name, r.created_at, r.owner_id, r.visibility FROM rooms r \
             JOIN friendships f ON f.b_id = r.owner_id WHERE f.a_id = ? AND r.visibility = 'public' \
             ORDER BY r.created_at DESC, r.id",
        )
        .bind(me)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(owned).collect())
    }

    pub async fn update_room(&self, id: &str, name: &str, visibility: Visibility) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE rooms SET name = ?, visibility = ? WHERE id = ?")
            .bind(name)
            .bind(visibility.as_str())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_room(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM rooms WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_friendships_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).await.unwrap();
        let a = s.create_account("alice", "Alice", "h").await.unwrap();
        let b = s.create_account("bob", "Bob", "h").await.unwrap();
        s.add_request(&a.id, &b.id).await.unwrap();
        assert!(s.relation(&b.id, &a.id).await.unwrap().incoming);
        assert!(s.accept_request(&a.id, &b.id).await.unwrap());
        assert!(s.relation(&a.id, &b.id).await.unwrap().friends);
        assert!(s.relation(&b.id, &a.id).await.unwrap().friends);
        let room = s.create_owned_room("Yoga", &a.id, Visibility::Public).await.unwrap();
        assert_eq!(s.friends_public_rooms(&b.id).await.unwrap(), vec![room.clone()]);
        s.block(&b.id, &a.id).await.unwrap();
        let r = s.relation(&a.id, &b.id).await.unwrap();
        assert!(!r.friends && r.blocked_me);
        assert!(s.friends_public_rooms(&b.id).await.unwrap().is_empty());
        assert!(s.blockers_of(&a.id).await.unwrap().contains(&b.id));
        s.delete_account(&a.id).await.unwrap();
        assert_eq!(s.owned_room(&room.id).await.unwrap(), None, "rooms go with their owner");
        assert!(s.blockers_of(&a.id).await.unwrap().is_empty());
    }
}
