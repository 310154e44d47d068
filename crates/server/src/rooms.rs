//! Live rooms: who is in which room right now, and telling the others.
//!
//! This is presence, not media: media lives in the media loop (`media.rs`)
//! and durable rooms in the store. A live room exists while someone is in it.
//! Entering is two-step: `enter` reserves a place (capacity is checked under
//! the lock, so the 51st person cannot slip in), then `announce` tells the
//! others once media is set up; a join that fails in between is never seen.
//!
//! Plain synchronous state behind one mutex: every operation is short, and
//! messages go out through each session's bounded channel without waiting.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use salon_sfu::RoomId;
use tokio::sync::mpsc;

use crate::protocol::{Participant, ServerMsg};

/// A session's outgoing message queue.
pub type Outbox = mpsc::Sender<ServerMsg>;

struct Member {
    info: Participant,
    outbox: Outbox,
    announced: bool,
}

struct LiveRoom {
    core: RoomId,
    members: Vec<Member>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum EnterError {
    Full,
}

pub struct Rooms {
    live: Mutex<HashMap<String, LiveRoom>>,
    next_core_id: AtomicU64,
    pub max_participants: usize,
}

impl Rooms {
    pub fn new(max_participants: usize) -> Self {
        Rooms {
            live: Mutex::new(HashMap::new()),
            next_core_id: AtomicU64::new(1),
            max_participants,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, LiveRoom>> {
        // A panic while holding this lock would be a bug in this module; the
        // map itself stays consistent, so keep serving rather than poison everyone.
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves a place in `room` and returns the media core's room id and the
    /// participants already announced there.
    pub fn enter(
        &self,
        room: &str,
        info: Participant,
        outbox: Outbox,
    ) -> Result<(RoomId, Vec<Participant>), EnterError> {
        let mut live = self.lock();
        let r = live.entry(room.to_string()).or_insert_with(|| LiveRoom {
            core: RoomId(self.next_core_id.fetch_add(1, Ordering::Relaxed)),
            members: Vec::new(),
        });
        if r.members.len() >= self.max_participants {
            return Err(EnterError::Full);
        }
        let others = r
            .members
            .iter()
            .filter(|m| m.announced)
            .map(|m| m.info.clone())
            .collect();
        r.members.push(Member {
            info,
            outbox,
            announced: false,
        });
        Ok((r.core, others))
    }

    /// Makes an entered participant visible to the others.
    pub fn announce(&self, room: &str, id: &str) {
        let mut live = self.lock();
        let Some(r) = live.get_mut(room) else { return };
        let Some(me) = r.members.iter_mut().find(|m| m.info.id == id) else {
            return;
        };
        me.announced = true;
        let msg = ServerMsg::ParticipantJoined {
            participant: me.info.clone(),
        };
        broadcast(r, id, msg);
    }

    /// Records a microphone/camera change and tells the others.
    pub fn update(&self, room: &str, id: &str, audio: bool, video: bool) {
        let mut live = self.lock();
        let Some(r) = live.get_mut(room) else { return };
        let Some(me) = r.members.iter_mut().find(|m| m.info.id == id) else {
            return;
        };
        me.info.audio = audio;
        me.info.video = video;
        if me.announced {
            let msg = ServerMsg::ParticipantUpdated {
                participant: me.info.clone(),
            };
            broadcast(r, id, msg);
        }
    }

    /// Removes a participant; the room is forgotten when it empties.
    pub fn leave(&self, room: &str, id: &str) {
        let mut live = self.lock();
        let Some(r) = live.get_mut(room) else { return };
        let Some(pos) = r.members.iter().position(|m| m.info.id == id) else {
            return;
        };
        let gone = r.members.remove(pos);
        if gone.announced {
            broadcast(r, id, ServerMsg::ParticipantLeft { id: id.to_string() });
        }
        if r.members.is_empty() {
            live.remove(room);
        }
    }

    /// How many people are in `room` now.
    pub fn count(&self, room: &str) -> usize {
        self.lock().get(room).map_or(0, |r| r.members.len())
    }
}

fn broadcast(room: &LiveRoom, except: &str, msg: ServerMsg) {
    for m in room.members.iter().filter(|m| m.info.id != except && m.announced) {
        if m.outbox.try_send(msg.clone()).is_err() {
            // The session is gone or hopelessly behind; it will be cleaned up by its own task.
            tracing::debug!("presence message to {} dropped", m.info.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: &str) -> Participant {
        Participant {
            id: id.into(),
            name: id.into(),
            audio: false,
            video: true,
        }
    }

    #[test]
    fn capacity_and_presence() {
        let rooms = Rooms::new(2);
        let (a_tx, mut a_rx) = mpsc::channel(8);
        let (b_tx, _b_rx) = mpsc::channel(8);
        let (c_tx, _c_rx) = mpsc::channel(8);
        let (core, others) = rooms.enter("r", person("a"), a_tx).unwrap();
        assert!(others.is_empty());
        rooms.announce("r", "a");
        let (core_b, others) = rooms.enter("r", person("b"), b_tx).unwrap();
        assert_eq!(core, core_b);
        assert_eq!(others, vec![person("a")]);
        assert!(a_rx.try_recv().is_err(), "b is not announced yet");
        assert_eq!(rooms.enter("r", person("c"), c_tx.clone()), Err(EnterError::Full));
        rooms.announce("r", "b");
        assert_eq!(
            a_rx.try_recv().unwrap(),
            ServerMsg::ParticipantJoined {
                participant: person("b")
            }
        );
        rooms.update("r", "b", true, false);
        assert!(matches!(a_rx.try_recv().unwrap(), ServerMsg::ParticipantUpdated { participant } if participant.audio));
        rooms.leave("r", "b");
        assert_eq!(a_rx.try_recv().unwrap(), ServerMsg::ParticipantLeft { id: "b".into() });
        assert!(rooms.enter("r", person("c"), c_tx).is_ok(), "a place freed up");
        rooms.leave("r", "a");
        rooms.leave("r", "c");
        assert_eq!(rooms.count("r"), 0);
    }
}
