//! Resume: a participant outlives its WebSocket for a grace period.
//!
//! Why: phones change networks, Wi-Fi drops for a few seconds, a laptop lid
//! closes. Ending the participant with the socket meant leave-then-join for
//! everyone else, a new id, a lost raised hand and a host's mute undone.
//! Instead, each joined session is registered here under the hash of a
//! random *resume token* given to its client in `joined`:
//!
//! - **Live**: the session runs. A `resume` with its token (the client
//!   reconnected before the server noticed the old socket die) asks it to
//!   step aside ([`Slot::Live`]'s takeover channel), then takes over.
//! - **Suspended**: the socket is gone; the participant stays in the room,
//!   shown as reconnecting, with its media peer and media events kept here.
//!   A `resume` within the grace period takes it back; otherwise the grace
//!   timer takes it out of the room and the media core for good.
//!
//! Only the token's SHA-256 is kept. A token is good for the browser
//! (device cookie) that joined with it, and for one room life.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rand::RngCore;
use salon_sfu::{PeerEvent, PeerId, RoomId};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

/// What a session hands over when it steps aside.
pub struct Suspended {
    pub room: String,
    pub room_name: String,
    pub core_room: RoomId,
    pub pid: String,
    pub peer: PeerId,
    /// Hash of the device cookie it joined with.
    pub device: String,
    pub media_alive: bool,
    pub media_tx: mpsc::UnboundedSender<(PeerId, PeerEvent)>,
    pub media_rx: mpsc::UnboundedReceiver<(PeerId, PeerEvent)>,
    /// Which suspension this is, for its grace timer (set by `suspend`).
    pub generation: u64,
}

/// Asks a live session to suspend itself; it answers once it has.
pub type Takeover = mpsc::Sender<oneshot::Sender<()>>;

enum Slot {
    /// A running session, with the device hash it belongs to.
    Live(Takeover, String),
    Suspended(Box<Suspended>),
}

pub type TokenHash = [u8; 32];

pub struct Resumes {
    slots: Mutex<HashMap<TokenHash, Slot>>,
    next_gen: std::sync::atomic::AtomicU64,
    pub grace: Duration,
}

/// A new random token (hex, 128 bits) and its hash.
pub fn new_token() -> (String, TokenHash) {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    let token: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let hash = hash(&token);
    (token, hash)
}

pub fn hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

impl Resumes {
    pub fn new(grace: Duration) -> Self {
        Resumes {
            slots: Mutex::new(HashMap::new()),
            next_gen: Default::default(),
            grace,
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<TokenHash, Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A joined session runs under this token.
    pub fn live(&self, token: TokenHash, takeover: Takeover, device: String) {
        self.slots().insert(token, Slot::Live(takeover, device));
    }

    /// The participant left for good.
    pub fn forget(&self, token: &TokenHash) {
        self.slots().remove(token);
    }

    /// Keeps a participant whose socket is gone; returns the generation the
    /// grace timer must match to expire it.
    pub fn suspend(&self, token: TokenHash, mut s: Suspended) -> u64 {
        let generation = self.next_gen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        s.generation = generation;
        self.slots().insert(token, Slot::Suspended(Box::new(s)));
        generation
    }

    /// The grace period is over: the suspended participant, if it is still
    /// the same suspension, for its final cleanup.
    pub fn expire(&self, token: &TokenHash, generation: u64) -> Option<Suspended> {
        let mut slots = self.slots();
        match slots.get(token) {
            Some(Slot::Suspended(s)) if s.generation == generation => match slots.remove(token) {
                Some(Slot::Suspended(s)) => Some(*s),
                _ => None,
            },
            _ => None,
        }
    }

    /// Takes a participant back for a new connection from browser `device`:
    /// a suspended one at once, a live one after asking its session to step
    /// aside. Another browser's token is refused and changes nothing.
    pub async fn take(&self, token: &TokenHash, device: &str) -> Option<Suspended> {
        let takeover = match self.slots().get(token)? {
            Slot::Live(t, d) if d == device => Some(t.clone()),
            Slot::Suspended(s) if s.device == device => None,
            _ => return None,
        };
        if let Some(t) = takeover {
            let (done, wait) = oneshot::channel();
            t.send(done).await.ok()?;
            // The old session suspends itself, then answers.
            tokio::time::timeout(Duration::from_secs(3), wait).await.ok()?.ok()?;
        }
        let slot = self.slots().remove(token)?;
        match slot {
            Slot::Suspended(s) => Some(*s),
            live @ Slot::Live(..) => {
                // Raced with a newer live session: leave it alone.
                self.slots().insert(*token, live);
                None
            }
        }
    }
}
