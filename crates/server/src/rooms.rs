//! Live rooms: who is in which room right now, and telling the others.
//!
//! This is presence, not media: media lives in the media loop (`media.rs`)
//! and durable rooms in the store. A live room exists while someone is in it.
//! Entering is two-step: `enter` reserves a place (capacity is checked under
//! the lock, so the 51st person cannot slip in), then `announce` tells the
//! others once media is set up; a join that fails in between is never seen.
//!
//! Accounts (issue 4): a member may carry its account (`MemberAccount`) so
//! that people who blocked someone keep them out (`enter_with`), each
//! recipient gets participant details redacted to what it may see (a
//! `username` only between friends, see PROTOCOL.md), and the friends' tray
//! can list who is inside (`members`). Every join and leave is sent on a
//! change feed (`subscribe`) that the tray follows.
//!
//! Plain synchronous state behind one mutex: every operation is short, and
//! messages go out through each session's bounded channel without waiting.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use salon_sfu::RoomId;
use tokio::sync::{broadcast, mpsc};

use crate::protocol::{Participant, ServerMsg};

/// A session's outgoing message queue.
pub type Outbox = mpsc::Sender<ServerMsg>;

/// The signed-in account behind a member, with its friends as of the join
/// (a friendship made or ended during a call applies from the next join).
#[derive(Debug, Clone, Default)]
pub struct MemberAccount {
    pub id: String,
    pub friends: HashSet<String>,
}

struct Member {
    info: Participant,
    account: Option<MemberAccount>,
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
    /// Someone in the room blocked the person entering.
    Blocked,
}

/// A member as the friends' tray sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    pub name: String,
    pub account: Option<String>,
}

pub struct Rooms {
    live: Mutex<HashMap<String, LiveRoom>>,
    next_core_id: AtomicU64,
    pub max_participants: usize,
    /// Room ids whose membership changed (announce, leave); lagging is fine.
    changes: broadcast::Sender<String>,
}

impl Rooms {
    pub fn new(max_participants: usize) -> Self {
        Rooms {
            live: Mutex::new(HashMap::new()),
            next_core_id: AtomicU64::new(1),
            max_participants,
            changes: broadcast::channel(256).0,
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
        self.enter_with(room, info, outbox, None, &HashSet::new())
    }

    /// `enter` for a member with an account: refused if anyone present is
    /// among `blockers` (the account ids that blocked this one). The list of
    /// others comes redacted for this member.
    pub fn enter_with(
        &self,
        room: &str,
        info: Participant,
        outbox: Outbox,
        account: Option<MemberAccount>,
        blockers: &HashSet<String>,
    ) -> Result<(RoomId, Vec<Participant>), EnterError> {
        let mut live = self.lock();
        let r = live.entry(room.to_string()).or_insert_with(|| LiveRoom {
            core: RoomId(self.next_core_id.fetch_add(1, Ordering::Relaxed)),
            members: Vec::new(),
        });
        if r.members.len() >= self.max_participants {
            return Err(EnterError::Full);
        }
        let blocked = r
            .members
            .iter()
            .any(|m| m.account.as_ref().is_some_and(|a| blockers.contains(&a.id)));
        if blocked {
            if r.members.is_empty() {
                live.remove(room);
            }
            return Err(EnterError::Blocked);
        }
        let others = r
            .members
            .iter()
            .filter(|m| m.announced)
            .map(|m| redact(m.info.clone(), m.account.as_ref(), account.as_ref()))
            .collect();
        r.members.push(Member {
            info,
            account,
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
        let _ = self.changes.send(room.to_string());
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
            let _ = self.changes.send(room.to_string());
        }
        if r.members.is_empty() {
            live.remove(room);
        }
    }

    /// Follows membership changes (room ids), for the friends' tray.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.changes.subscribe()
    }

    /// The announced members of `room` now, for the friends' tray.
    pub fn members(&self, room: &str) -> Vec<MemberView> {
        self.lock().get(room).map_or_else(Vec::new, |r| {
            r.members
                .iter()
                .filter(|m| m.announced)
                .map(|m| MemberView {
                    name: m.info.name.clone(),
                    account: m.account.as_ref().map(|a| a.id.clone()),
                })
                .collect()
        })
    }

    /// How many people are in `room` now.
    pub fn count(&self, room: &str) -> usize {
        self.lock().get(room).map_or(0, |r| r.members.len())
    }
}

/// What `to` may see of a participant with account `of`: the `username`
/// only between friends (and never to guests); name and avatar for all.
fn redact(mut p: Participant, of: Option<&MemberAccount>, to: Option<&MemberAccount>) -> Participant {
    let friends = matches!((of, to), (Some(of), Some(to)) if to.friends.contains(&of.id));
    if !friends {
        p.username = None;
    }
    p
}

/// Sends `msg` about member `except` to every other announced member,
/// redacted per recipient.
fn broadcast(room: &LiveRoom, except: &str, msg: ServerMsg) {
    let subject = room
        .members
        .iter()
        .find(|m| m.info.id == except)
        .and_then(|m| m.account.as_ref());
    for m in room.members.iter().filter(|m| m.info.id != except && m.announced) {
        let msg = match &msg {
            ServerMsg::ParticipantJoined { participant } => ServerMsg::ParticipantJoined {
                participant: redact(participant.clone(), subject, m.account.as_ref()),
            },
            ServerMsg::ParticipantUpdated { participant } => ServerMsg::ParticipantUpdated {
                participant: redact(participant.clone(), subject, m.account.as_ref()),
            },
            other => other.clone(),
        };
        if m.outbox.try_send(msg).is_err() {
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
            avatar: None,
            username: None,
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

    #[test]
    fn usernames_only_between_friends_and_blocks_keep_out() {
        let rooms = Rooms::new(10);
        let acct = |id: &str, friends: &[&str]| MemberAccount {
            id: id.into(),
            friends: friends.iter().map(|f| f.to_string()).collect(),
        };
        let named = |id: &str| Participant {
            username: Some(format!("user-{id}")),
            ..person(id)
        };
        let mut feed = rooms.subscribe();
        let (a_tx, mut a_rx) = mpsc::channel(8);
        let (b_tx, _b_rx) = mpsc::channel(8);
        let (c_tx, mut c_rx) = mpsc::channel(8);
        let none = HashSet::new();
        rooms
            .enter_with("r", named("a"), a_tx, Some(acct("A", &["B"])), &none)
            .unwrap();
        rooms.announce("r", "a");
        assert_eq!(feed.try_recv().unwrap(), "r");
        let (_, others) = rooms
            .enter_with("r", named("b"), b_tx, Some(acct("B", &["A"])), &none)
            .unwrap();
        assert_eq!(
            others[0].username.as_deref(),
            Some("user-a"),
            "friends see the username"
        );
        rooms.announce("r", "b");
        match a_rx.try_recv().unwrap() {
            ServerMsg::ParticipantJoined { participant } => assert_eq!(participant.username.as_deref(), Some("user-b")),
            other => panic!("{other:?}"),
        }
        // A guest sees names only.
        let (_, others) = rooms.enter("r", person("c"), c_tx).unwrap();
        assert!(others.iter().all(|p| p.username.is_none()));
        rooms.announce("r", "c");
        rooms.update("r", "a", true, true);
        match c_rx.try_recv().unwrap() {
            ServerMsg::ParticipantUpdated { participant } => assert_eq!(participant.username, None),
            other => panic!("{other:?}"),
        }
        // Someone A blocked cannot come in.
        let (d_tx, _d_rx) = mpsc::channel(8);
        let blockers: HashSet<String> = ["A".to_string()].into();
        let res = rooms.enter_with("r", named("d"), d_tx, Some(acct("D", &[])), &blockers);
        assert_eq!(res.err(), Some(EnterError::Blocked));
        assert_eq!(rooms.members("r").len(), 3);
        assert_eq!(rooms.members("r")[0].account.as_deref(), Some("A"));
    }
}
