//! Accounts and sessions (`impl Store`).
//!
//! Why sessions are stored hashed: the cookie holds 256 random bits and the
//! database only their SHA-256, so a copy of `salon.db` opens no session.
//! A plain hash suffices (no salt, no slow hash) because the token has full
//! entropy, unlike a password. Passwords are argon2id PHC strings, hashed by
//! the HTTP layer on a blocking thread; the store only keeps the string.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{new_room_id, unix_now, Store};

/// How long a session lasts without logging in again.
pub const SESSION_DAYS: i64 = 30;
pub const MAX_USERNAME_CHARS: usize = 32;
pub const MAX_BIO_CHARS: usize = 280;

/// A signed-in person, as the server knows them (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub bio: String,
    pub avatar_id: Option<String>,
    pub created_at: i64,
}

impl Account {
    /// URL path of the avatar image, if any. The id is random per upload, so
    /// the URL says nothing about its owner.
    pub fn avatar_url(&self) -> Option<String> {
        self.avatar_id.as_ref().map(|a| format!("/api/avatars/{a}"))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CreateAccountError {
    #[error("this username is taken")]
    Taken,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

type AccountRow = (String, String, String, String, Option<String>, i64);
const ACCOUNT_COLS: &str = "id, username, display_name, bio, avatar_id, created_at";

fn account((id, username, display_name, bio, avatar_id, created_at): AccountRow) -> Account {
    Account {
        id,
        username,
        display_name,
        bio,
        avatar_id,
        created_at,
    }
}

/// 256 random bits, base64url (43 characters).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Lower-cases and checks a username: 3 to 32 of a-z, 0-9, `_`, `.`, `-`.
pub fn validate_username(name: &str) -> Result<String, &'static str> {
    let name = name.trim().to_ascii_lowercase();
    if name.len() < 3 || name.len() > MAX_USERNAME_CHARS {
        return Err("a username has 3 to 32 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.' || b == b'-')
    {
        return Err("a username uses only letters a-z, digits, '_', '.' and '-'");
    }
    Ok(name)
}

pub fn validate_bio(bio: &str) -> Result<String, &'static str> {
    let bio = bio.trim();
    if bio.chars().count() > MAX_BIO_CHARS {
        return Err("the bio is longer than 280 characters");
    }
    if bio.chars().any(|c| c.is_control() && c != '\n') {
        return Err("the bio contains control characters");
    }
    Ok(bio.to_string())
}

impl Store {
    pub async fn create_account(
        &self,
        username: &str,
        display_name: &str,
        password_hash: &str,
    ) -> Result<Account, CreateAccountError> {
        let a = Account {
            id: new_room_id(),
            username: username.to_string(),
            display_name: display_name.to_string(),
            bio: String::new(),
            avatar_id: None,
            created_at: unix_now(),
        };
        let res = sqlx::query(
            "INSERT INTO users (id, username, display_name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&a.id)
        .bind(&a.username)
        .bind(&a.display_name)
        .bind(password_hash)
        .bind(a.created_at)
        .execute(&self.pool)
        .await;
        match res {
            Ok(_) => Ok(a),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(CreateAccountError::Taken),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn account(&self, id: &str) -> Result<Option<Account>, sqlx::Error> {
        let row: Option<AccountRow> = sqlx::query_as(&format!("SELECT {ACCOUNT_COLS} FROM users WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(account))
    }

    pub async fn account_by_username(&self, username: &str) -> Result<Option<Account>, sqlx::Error> {
        let row: Option<AccountRow> = sqlx::query_as(&format!("SELECT {ACCOUNT_COLS} FROM users WHERE username = ?"))
            .bind(username.trim().to_ascii_lowercase())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(account))
    }

    /// The account and its password hash, for logging in.
    pub async fn credentials(&self, username: &str) -> Result<Option<(Account, String)>, sqlx::Error> {
        let Some(a) = self.account_by_username(username).await? else {
            return Ok(None);
        };
        let hash: (String,) = sqlx::query_as("SELECT password_hash FROM users WHERE id = ?")
            .bind(&a.id)
            .fetch_one(&self.pool)
            .await?;
        Ok(Some((a, hash.0)))
    }

    pub async fn password_hash(&self, user_id: &str) -> Result<Option<String>, sqlx::Error> {
        let row: Option<(String,)> = sqlx::query_as("SELECT password_hash FROM users WHERE id = ?")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.0))
    }

    /// Sets a new password and ends every other session of the account.
    pub async fn set_password(&self, user_id: &str, hash: &str, keep_token: &str) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = ? AND token_hash != ?")
            .bind(user_id)
            .bind(token_hash(keep_token))
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// Deletes the account; its sessions, rooms, requests, friendships and
    /// blocks go with it (ON DELETE CASCADE).
    pub async fn delete_account(&self, user_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn update_profile(&self, user_id: &str, display_name: &str, bio: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET display_name = ?, bio = ? WHERE id = ?")
            .bind(display_name)
            .bind(bio)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Replaces (Some) or removes (None) the avatar; a new random id each time.
    pub async fn set_avatar(&self, user_id: &str, png: Option<Vec<u8>>) -> Result<Option<String>, sqlx::Error> {
        let id = png.as_ref().map(|_| new_room_id());
        sqlx::query("UPDATE users SET avatar_id = ?, avatar_png = ? WHERE id = ?")
            .bind(&id)
            .bind(png)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(id)
    }

    pub async fn avatar(&self, avatar_id: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
        if !super::is_room_id(avatar_id) {
            return Ok(None);
        }
        let row: Option<(Option<Vec<u8>>,)> = sqlx::query_as("SELECT avatar_png FROM users WHERE avatar_id = ?")
            .bind(avatar_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.and_then(|r| r.0))
    }

    /// Starts a session; returns the token for the cookie (kept only hashed).
    pub async fn create_session(&self, user_id: &str) -> Result<String, sqlx::Error> {
        let token = new_token();
        let now = unix_now();
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)")
            .bind(token_hash(&token))
            .bind(user_id)
            .bind(now)
            .bind(now + SESSION_DAYS * 86_400)
            .execute(&self.pool)
            .await?;
        // Expired sessions are swept now and then, here, rather than by a timer.
        sqlx::query("DELETE FROM sessions WHERE expires_at < ?")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(token)
    }

    pub async fn session_account(&self, token: &str) -> Result<Option<Account>, sqlx::Error> {
        if token.len() != 43 {
            return Ok(None);
        }
        let row: Option<AccountRow> = sqlx::query_as(
            "SELECT u.id, u.username, u.display_name, u.bio, u.avatar_id, u.created_at \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires_at >= ?",
        )
        .bind(token_hash(token))
        .bind(unix_now())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(account))
    }

    pub async fn delete_session(&self, token: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
            .bind(token_hash(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(validate_username("  Alice_1 ").unwrap(), "alice_1");
        assert!(validate_username("al").is_err());
        assert!(validate_username("a l i").is_err());
        assert!(validate_username("émile").is_err());
        assert!(validate_username(&"a".repeat(33)).is_err());
    }

    #[tokio::test]
    async fn sessions_are_stored_hashed_and_end() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let a = store.create_account("alice", "Alice", "h").await.unwrap();
        assert!(matches!(
            store.create_account("alice", "Other", "h").await,
            Err(CreateAccountError::Taken)
        ));
        let token = store.create_session(&a.id).await.unwrap();
        assert_eq!(token.len(), 43);
        assert_eq!(store.session_account(&token).await.unwrap(), Some(a.clone()));
        let stored: (Vec<u8>,) = sqlx::query_as("SELECT token_hash FROM sessions")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_ne!(stored.0, token.as_bytes(), "only the hash is stored");
        store.delete_session(&token).await.unwrap();
        assert_eq!(store.session_account(&token).await.unwrap(), None);
    }
}
