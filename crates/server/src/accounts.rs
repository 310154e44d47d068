//! What the accounts side shares across requests: the room-creation policy,
//! whether cookies are `Secure`, the login rate limits, and a feed of social
//! changes (friendships, blocks, rooms' visibility) that the tray follows.
//!
//! Why limits per address *and* per account: per address alone lets a
//! botnet guess one person's password; per account alone lets one machine
//! try a common password against everyone, and lets anyone lock a known
//! account out. So failed tries are counted per (account, address), which
//! refuses the guessing address only, and per account, which only slows
//! every try down (a delay, never a lock: OWASP ASVS V2.2). All are token
//! buckets in memory; a restart forgets them, which costs an attacker no
//! more than a few tries. Addresses are client addresses after trusted
//! proxies (`client_addr.rs`).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use tokio::sync::broadcast;

use crate::config::RoomCreation;

/// The pause before checking a password for an account under attack.
pub const SLOW_LOGIN: std::time::Duration = std::time::Duration::from_secs(1);

pub struct Accounts {
    pub room_creation: RoomCreation,
    pub secure_cookies: bool,
    pub login_by_addr: Limiter<IpAddr>,
    /// Failed password checks per (account, address): an attacker elsewhere
    /// does not use up the owner's tries (OWASP ASVS V2.2).
    pub login_failures: Limiter<(String, IpAddr)>,
    /// Failed password checks per account from anywhere: past this, every
    /// try waits [`SLOW_LOGIN`] first. A delay, never a lock: the owner
    /// still gets in with the right password.
    pub login_slow: Limiter<String>,
    /// Room creation per signed-in account, and per address for anonymous creators.
    pub rooms_by_account: Limiter<String>,
    pub rooms_by_addr: Limiter<IpAddr>,
    /// Avatar uploads per account (each is a decode and an encode).
    pub avatars_by_account: Limiter<String>,
    changes: broadcast::Sender<()>,
}

impl Accounts {
    pub fn new(room_creation: RoomCreation, secure_cookies: bool) -> Self {
        Accounts {
            room_creation,
            secure_cookies,
            // 30 tries at once from one address, then one every 2 s.
            login_by_addr: Limiter::new(0.5, 30.0),
            // 5 failed tries on one account from one address, then one every 20 s.
            login_failures: Limiter::new(0.05, 5.0),
            login_slow: Limiter::new(0.2, 10.0),
            // 30 rooms at once, then one a minute per account; 100 then one
            // every 6 s per address (load tests create rooms anonymously).
            rooms_by_account: Limiter::new(1.0 / 60.0, 30.0),
            rooms_by_addr: Limiter::new(1.0 / 6.0, 100.0),
            // 10 uploads at once, then one every 10 s.
            avatars_by_account: Limiter::new(0.1, 10.0),
            changes: broadcast::channel(64).0,
        }
    }

    /// Tells tray followers that friendships, blocks or rooms changed.
    pub fn changed(&self) {
        let _ = self.changes.send(());
    }

    pub fn subscribe(&self) -> broadcast::Receiver<()> {
        self.changes.subscribe()
    }
}

/// Token buckets by key.
pub struct Limiter<K> {
    per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

/// Beyond this many keys, full buckets are forgotten (they hold no state worth keeping).
const MAX_KEYS: usize = 10_000;

impl<K: Hash + Eq + Clone> Limiter<K> {
    pub fn new(per_sec: f64, burst: f64) -> Self {
        Limiter {
            per_sec,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// True when one more try for `key` is allowed now (and counts it).
    pub fn admit(&self, key: &K) -> bool {
        self.take(key, true)
    }

    /// True when `key` has a try left, without counting one: with `charge`
    /// after a failure, this limits failed attempts only.
    pub fn check(&self, key: &K) -> bool {
        self.take(key, false)
    }

    /// Counts one (failed) try for `key`.
    pub fn charge(&self, key: &K) {
        self.take(key, true);
    }

    fn take(&self, key: &K, spend: bool) -> bool {
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if map.len() > MAX_KEYS {
            let (rate, burst) = (self.per_sec, self.burst);
            map.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * rate < burst);
        }
        let b = map.entry(key.clone()).or_insert((self.burst, now));
        b.0 = (b.0 + now.duration_since(b.1).as_secs_f64() * self.per_sec).min(self.burst);
        b.1 = now;
        if b.0 >= 1.0 {
            if spend {
                b.0 -= 1.0;
            }
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_is_per_key() {
        let l = Limiter::new(0.0, 2.0);
        assert!(l.admit(&"a"));
        assert!(l.admit(&"a"));
        assert!(!l.admit(&"a"));
        assert!(l.admit(&"b"));
        assert!(
            l.check(&"c") && l.check(&"c") && l.check(&"c"),
            "checking costs nothing"
        );
        l.charge(&"c");
        l.charge(&"c");
        assert!(!l.check(&"c"));
    }
}
