//! Live rooms: who is in which room right now, who is waiting to get in, and
//! the room's controls (lock, spotlight, hands, chat) while it lives.
//!
//! This is presence, not media: media lives in the media loop (`media.rs`)
//! and durable rooms in the store. A live room exists while someone is in it
//! or waiting at its door; what must outlive it (settings, bans, reports) is
//! returned to the caller as [`Effects`] to persist.
//!
//! Entering is two-step: `enter` reserves a place (capacity, lock, bans and the
//! waiting room are checked under the lock, so the 51st person cannot slip
//! in), then `announce` tells the others once media is set up; a join that
//! fails in between is never seen.
//!
//! Why the permission checks live here and not in the UI: every host command
//! arrives as a signaling message, and [`Rooms::command`] checks the sender's
//! role under the same lock that applies the change, so a participant who
//! sends a host command by hand is refused and nothing changes.
//!
//! Accounts (issue 4): a member may carry its account (`MemberAccount`) so
//! that people who blocked someone keep them out, each recipient gets
//! participant details redacted to what it may see (a `username` only
//! between friends, see PROTOCOL.md), and the friends' tray can list who is
//! inside (`members`). Every join and leave is sent on a change feed
//! (`subscribe`) that the tray follows.
//!
//! Plain synchronous state behind one mutex: every operation is short, and
//! messages go out through each session's bounded channel without waiting.

mod control;
mod fanout;
pub mod outbox;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use salon_sfu::{PeerId, RoomId};
use tokio::sync::broadcast;

use crate::protocol::{ChatLine, Controls, ErrorCode, LobbyEntry, Participant, Role, RoomInfo, ServerMsg};

pub use control::{Ban, Effects, Report};

pub use outbox::Outbox;

use fanout::{
    account_key, broadcast, mute_keys, redact, send, send_controls, send_hands, send_lobby, send_moderation, snapshot,
};

/// Orders the mute decisions sent to the media loop: each is numbered under
/// the rooms lock, and the loop ignores one older than the last it applied
/// for that peer, so a host's mute and a self-unmute sent from two session
/// tasks cannot land in the wrong order.
static MUTE_SEQ: AtomicU64 = AtomicU64::new(1);

fn next_mute_seq() -> u64 {
    MUTE_SEQ.fetch_add(1, Ordering::Relaxed)
}

/// Places kept for hosts and co-hosts beyond `max_participants`, so a full
/// room never keeps its own host out.
pub const MODERATOR_RESERVE: usize = 3;

/// Chat lines kept per live room (older ones are dropped).
pub const CHAT_HISTORY: usize = 200;
/// Most people waiting at one room's door.
pub const MAX_WAITING: usize = 100;
/// After a host turns someone away, that browser cannot knock again for this long.
pub const DENY_COOLDOWN: std::time::Duration = std::time::Duration::from_secs(60);

/// A room's durable policies, as stored with the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub waiting_room: bool,
    pub mute_on_entry: bool,
    pub self_unmute: bool,
}

impl Default for Settings {
    /// An ordinary room: no waiting room, people unmute as they like.
    fn default() -> Self {
        Settings {
            waiting_room: false,
            mute_on_entry: false,
            self_unmute: true,
        }
    }
}

/// The signed-in account behind a member, with its friends as of the join
/// (a friendship made or ended during a call applies from the next join).
#[derive(Debug, Clone, Default)]
pub struct MemberAccount {
    pub id: String,
    pub friends: HashSet<String>,
}

/// A member as the friends' tray sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    pub name: String,
    pub account: Option<String>,
}

/// Sizes of what lives in memory, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub rooms: usize,
    pub participants: usize,
    pub waiting: usize,
}

/// Someone asking to enter a room.
pub struct Entrant {
    /// Id and name; role and state are decided here.
    pub info: Participant,
    /// Hash of the browser's device cookie: what removals and bans hold on to.
    pub device: String,
    /// The room's host (its creator or owner).
    pub host: bool,
    /// On the room's roster (a valid invite): skips the waiting room.
    pub invited: bool,
    /// Signed in (a participant rather than a guest).
    pub account: Option<MemberAccount>,
    /// Accounts that blocked this one: none of them may be in the room.
    pub blockers: HashSet<String>,
    pub peer: PeerId,
    pub outbox: Outbox,
}

/// What a successful `enter` hands back to the session.
pub enum Entry {
    In(Box<Entered>),
    /// Put in the waiting room; `Admitted` or `Denied` will follow.
    Waiting,
}

pub struct Entered {
    pub core: RoomId,
    pub you: Participant,
    pub others: Vec<Participant>,
    pub controls: Controls,
    pub chat: Vec<ChatLine>,
    /// The SFU must not forward this person's audio yet (mute on entry, or
    /// muted by a host earlier in this room's life).
    pub audio_muted: bool,
    pub mute_seq: u64,
}

/// What the session needs after `Rooms::resume` (the client got `resumed`).
pub struct Resumed {
    /// The SFU's current mute for this member, to re-apply in order.
    pub audio_muted: bool,
    pub mute_seq: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum EnterError {
    Full,
    Locked,
    Removed,
    LobbyFull,
    /// Turned away from the waiting room less than `DENY_COOLDOWN` ago.
    Denied,
    /// Someone in the room blocked the person entering.
    Blocked,
}

/// A refused command: a stable code and a message for people.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: String,
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
        }
    }
    fn forbidden(what: &str) -> Self {
        Refusal::new(ErrorCode::Forbidden, format!("only a host can {what}"))
    }
}

struct Member {
    info: Participant,
    outbox: Outbox,
    announced: bool,
    device: String,
    peer: PeerId,
    /// The SFU drops this member's audio (muted by a host or on entry).
    audio_blocked: bool,
    /// A host allowed this member to unmute although self-unmute is off.
    may_unmute: bool,
    /// Signed in: the role to return to when co-host is taken back, and
    /// what blocks and friend-only details hold on to.
    account: Option<MemberAccount>,
    /// The others as given to this member at `enter`, until it is announced.
    seen: Vec<Participant>,
}

struct Waiter {
    entry: LobbyEntry,
    device: String,
    outbox: Outbox,
}

struct LiveRoom {
    core: RoomId,
    members: Vec<Member>,
    lobby: Vec<Waiter>,
    controls: Controls,
    /// Raised hands, first raised first.
    hands: Vec<String>,
    chat: std::collections::VecDeque<ChatLine>,
    /// Devices removed during this session: they cannot come back while it lives.
    removed: HashSet<String>,
    /// Devices a host let in from the waiting room.
    admitted: HashSet<String>,
    /// Devices made co-host by the host.
    cohosts: HashSet<String>,
    /// Devices turned away from the waiting room, and when.
    denied: HashMap<String, std::time::Instant>,
    /// Devices and accounts a host muted: leaving and coming back does not
    /// undo it (until a host lets them unmute, or the room ends).
    muted: HashSet<String>,
    /// Reports sent, per device and per account (`mute_keys`): reconnecting
    /// or opening another tab does not give more.
    reports: HashMap<String, u32>,
}

impl LiveRoom {
    fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.info.id == id)
    }
    fn member_mut(&mut self, id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.info.id == id)
    }
    fn lobby_entries(&self) -> Vec<LobbyEntry> {
        self.lobby.iter().map(|w| w.entry.clone()).collect()
    }
    fn is_empty(&self) -> bool {
        self.members.is_empty() && self.lobby.is_empty()
    }
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

    /// How many live rooms, participants and waiting people (metrics).
    pub fn counts(&self) -> Counts {
        let live = self.lock();
        Counts {
            rooms: live.len(),
            participants: live.values().map(|r| r.members.len()).sum(),
            waiting: live.values().map(|r| r.lobby.len()).sum(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, LiveRoom>> {
        // A panic while holding this lock would be a bug in this module; the
        // map itself stays consistent, so keep serving rather than poison everyone.
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lets `who` into `room`, or into its waiting room, or refuses.
    pub fn enter(&self, room: &str, settings: Settings, who: Entrant) -> Result<Entry, EnterError> {
        let mut live = self.lock();
        let r = live.entry(room.to_string()).or_insert_with(|| LiveRoom {
            core: RoomId(self.next_core_id.fetch_add(1, Ordering::Relaxed)),
            members: Vec::new(),
            lobby: Vec::new(),
            controls: Controls {
                waiting_room: settings.waiting_room,
                mute_on_entry: settings.mute_on_entry,
                self_unmute: settings.self_unmute,
                ..Controls::default()
            },
            hands: Vec::new(),
            chat: Default::default(),
            removed: HashSet::new(),
            admitted: HashSet::new(),
            cohosts: HashSet::new(),
            denied: HashMap::new(),
            muted: HashSet::new(),
            reports: HashMap::new(),
        });
        let result = admit(r, who, self.max_participants);
        if r.is_empty() {
            live.remove(room);
        }
        result
    }

    /// Makes an entered participant visible to the others.
    ///
    /// Between `enter` and now, the newcomer was not announced, so nothing
    /// was sent to it: it is caught up here (who came, went or changed since
    /// its snapshot, and the room's controls, lobby and hands as they are
    /// now), after its `joined`, in order, under the same lock.
    pub fn announce(&self, room: &str, id: &str) {
        let mut live = self.lock();
        let Some(r) = live.get_mut(room) else { return };
        let Some(pos) = r.members.iter().position(|m| m.info.id == id) else {
            return;
        };
        r.members[pos].announced = true;
        let seen = std::mem::take(&mut r.members[pos].seen);
        let msg = ServerMsg::ParticipantJoined {
            participant: r.members[pos].info.clone(),
        };
        broadcast(r, id, msg);
        let me = &r.members[pos];
        let now: Vec<Participant> = r
            .members
            .iter()
            .filter(|m| m.announced && m.info.id != id)
            .map(|m| redact(m.info.clone(), m.account.as_ref(), me.account.as_ref()))
            .collect();
        for p in &now {
            match seen.iter().find(|s| s.id == p.id) {
                None => send(me, ServerMsg::ParticipantJoined { participant: p.clone() }),
                Some(s) if s != p => send(me, ServerMsg::ParticipantUpdated { participant: p.clone() }),
                Some(_) => {}
            }
        }
        for s in seen.iter().filter(|s| !now.iter().any(|p| p.id == s.id)) {
            send(me, ServerMsg::ParticipantLeft { id: s.id.clone() });
        }
        send(
            me,
            ServerMsg::Controls {
                controls: r.controls.clone(),
            },
        );
        if me.info.role.moderates() {
            if !r.lobby.is_empty() {
                send(
                    me,
                    ServerMsg::Lobby {
                        waiting: r.lobby_entries(),
                    },
                );
            }
            if !r.hands.is_empty() {
                send(me, ServerMsg::Hands { ids: r.hands.clone() });
            }
        }
        let _ = self.changes.send(room.to_string());
    }

    /// Records a microphone/camera change and tells the others. Unmuting
    /// after a host's mute needs self-unmute on or a host's permission;
    /// `Ok(Some(seq))` means the SFU must forward this member's audio again
    /// (`seq` orders it against other mute decisions).
    pub fn set_state(
        &self,
        room: &str,
        id: &str,
        audio: bool,
        video: bool,
        screen: bool,
    ) -> Result<Option<u64>, Refusal> {
        let mut live = self.lock();
        let Some(r) = live.get_mut(room) else { return Ok(None) };
        let self_unmute = r.controls.self_unmute;
        let Some(pos) = r.members.iter().position(|m| m.info.id == id) else {
            return Ok(None);
        };
        let mut reopen = None;
        let me = &mut r.members[pos];
        let mut refused = None;
        let mut audio = audio;
        if audio && me.audio_blocked {
            if self_unmute || me.may_unmute || me.info.role.moderates() {
                me.audio_blocked = false;
                reopen = Some(next_mute_seq());
            } else {
                // The camera and screen change still apply; the microphone stays off.
                audio = false;
                refused = Some(Refusal::new(
                    ErrorCode::Forbidden,
                    "the host has turned off unmuting; raise your hand to ask",
                ));
            }
        }
        me.info.audio = audio;
        me.info.video = video;
        me.info.screen = screen;
        if reopen.is_some() {
            // Allowed to speak again: a later rejoin is not muted either.
            for k in mute_keys(me) {
                r.muted.remove(&k);
            }
        }
        let me = &r.members[pos];
        if me.announced {
            let msg = ServerMsg::ParticipantUpdated {
                participant: me.info.clone(),
            };
            broadcast(r, id, msg);
        }
        match refused {
            Some(r) => Err(r),
            None => Ok(reopen),
        }
    }

    /// Removes a participant or a waiting person; the room is forgotten
    /// when nobody is left in it or at its door.
    pub fn leave(&self, room: &str, id: &str) {
        let mut live = self.lock();
        let Some(r) = live.get_mut(room) else { return };
        if let Some(pos) = r.lobby.iter().position(|w| w.entry.id == id) {
            r.lobby.remove(pos);
            send_lobby(r);
        } else if let Some(pos) = r.members.iter().position(|m| m.info.id == id) {
            let gone = r.members.remove(pos);
            forget_member(r, &gone);
            if gone.announced {
                let _ = self.changes.send(room.to_string());
            }
        }
        if r.is_empty() {
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

    /// Whether the SFU must hold this member's audio now, numbered like
    /// every mute decision (re-read after the media join, so a mute that
    /// came meanwhile is not lost).
    pub fn audio_blocked(&self, room: &str, id: &str) -> (bool, u64) {
        let live = self.lock();
        let blocked = live
            .get(room)
            .and_then(|r| r.member(id))
            .is_some_and(|m| m.audio_blocked);
        (blocked, next_mute_seq())
    }

    /// A member's connection dropped: keep its place, tell the others it is
    /// reconnecting (the tile stays, dimmed). Messages to its old queue are
    /// lost; `resume` sends a fresh snapshot.
    pub fn suspend(&self, room: &str, id: &str) {
        let mut live = self.lock();
        let Some(r) = live.get_mut(room) else { return };
        let Some(pos) = r.members.iter().position(|m| m.info.id == id) else {
            return;
        };
        r.members[pos].info.reconnecting = true;
        if r.members[pos].announced {
            control::updated(r, pos);
        }
    }

    /// Takes a suspended (or still connected) member back on a new
    /// connection: same id, name, role, hand and mutes. `None` if it is no
    /// longer in the room (removed, ended, or the grace period ran out), or
    /// if `device` is not the browser it belongs to.
    pub fn resume(
        &self,
        room: &str,
        id: &str,
        device: &str,
        outbox: Outbox,
        info: RoomInfo,
        media: bool,
    ) -> Option<Resumed> {
        let mut live = self.lock();
        let r = live.get_mut(room)?;
        let pos = r.members.iter().position(|m| m.info.id == id && m.device == device)?;
        let m = &mut r.members[pos];
        m.outbox = outbox;
        m.info.reconnecting = false;
        m.announced = true;
        m.seen.clear();
        let resumed = Resumed {
            audio_muted: m.audio_blocked,
            mute_seq: next_mute_seq(),
        };
        let msg = ServerMsg::Resumed {
            you: m.info.clone(),
            room: info,
            participants: snapshot(r, pos),
            controls: r.controls.clone(),
            chat: r.chat.iter().cloned().collect(),
            media,
        };
        send(&r.members[pos], msg);
        control::updated(r, pos);
        let me = &r.members[pos];
        send_moderation(r, me);
        Some(resumed)
    }

    /// Sends a member that fell behind a fresh snapshot (`resync`), under
    /// the lock, so every later message is newer than it.
    pub fn resync(&self, room: &str, id: &str) {
        let mut live = self.lock();
        let Some(r) = live.get_mut(room) else { return };
        let Some(pos) = r.members.iter().position(|m| m.info.id == id) else {
            return;
        };
        let me = &r.members[pos];
        if !me.outbox.take_resync() {
            return;
        }
        let msg = ServerMsg::Resync {
            participants: snapshot(r, pos),
            controls: r.controls.clone(),
            chat: r.chat.iter().cloned().collect(),
        };
        send(me, msg);
        send_moderation(r, me);
    }

    /// The member's media connection was replaced (`republish`).
    pub fn set_peer(&self, room: &str, id: &str, peer: PeerId) {
        if let Some(m) = self.lock().get_mut(room).and_then(|r| r.member_mut(id)) {
            m.peer = peer;
        }
    }

    /// Tells every session to reconnect at once (graceful shutdown).
    pub fn reconnect_all(&self) {
        for r in self.lock().values() {
            for m in &r.members {
                send(m, ServerMsg::Reconnect {});
            }
            for w in &r.lobby {
                w.outbox.send(ServerMsg::Reconnect {});
            }
        }
    }

    /// How many people are in `room` now (not counting the waiting room).
    pub fn count(&self, room: &str) -> usize {
        self.lock().get(room).map_or(0, |r| r.members.len())
    }

    /// Whether this account is in any room now (a callee "busy"): one pass
    /// over live rooms, small at the scale of one server.
    pub fn account_present(&self, account: &str) -> bool {
        self.lock().values().any(|r| {
            r.members
                .iter()
                .any(|m| m.account.as_ref().is_some_and(|a| a.id == account))
        })
    }
}

fn admit(r: &mut LiveRoom, who: Entrant, max: usize) -> Result<Entry, EnterError> {
    let cohost = r.cohosts.contains(&who.device);
    let moderates = who.host || cohost;
    if !who.host && r.removed.contains(&who.device) {
        return Err(EnterError::Removed);
    }
    let blocked = r
        .members
        .iter()
        .any(|m| m.account.as_ref().is_some_and(|a| who.blockers.contains(&a.id)));
    // A host is never kept out of their own room by someone who blocked them.
    if blocked && !moderates {
        return Err(EnterError::Blocked);
    }
    // Someone a host admitted from the waiting room may come in even if the
    // room was locked meanwhile.
    if !moderates && r.controls.locked && !r.admitted.contains(&who.device) {
        return Err(EnterError::Locked);
    }
    if !moderates && r.controls.waiting_room && !who.invited && !r.admitted.contains(&who.device) {
        r.denied.retain(|_, at| at.elapsed() < DENY_COOLDOWN);
        if r.denied.contains_key(&who.device) {
            return Err(EnterError::Denied);
        }
        // One place at the door per browser: a new knock replaces an old one.
        if let Some(pos) = r.lobby.iter().position(|w| w.device == who.device) {
            let old = r.lobby.remove(pos);
            old.outbox.send(ServerMsg::Denied {});
        }
        if r.lobby.len() >= MAX_WAITING {
            return Err(EnterError::LobbyFull);
        }
        r.lobby.push(Waiter {
            entry: LobbyEntry {
                id: who.info.id,
                name: who.info.name,
            },
            device: who.device,
            outbox: who.outbox,
        });
        send_lobby(r);
        return Ok(Entry::Waiting);
    }
    // A browser that joins afresh while its earlier participant waits to
    // resume (after a server restart, or a reconnect that lost its token)
    // is back: that place is stale, and the others must not keep a ghost
    // tile for the grace period. Its grace timer still ends its media.
    while let Some(pos) = r
        .members
        .iter()
        .position(|m| m.info.reconnecting && m.device == who.device)
    {
        let gone = r.members.remove(pos);
        forget_member(r, &gone);
    }
    // Hosts and co-hosts have a few places of their own beyond the cap.
    let cap = if moderates { max + MODERATOR_RESERVE } else { max };
    if r.members.len() >= cap {
        return Err(EnterError::Full);
    }
    let mut info = who.info;
    info.role = if who.host {
        Role::Host
    } else if cohost {
        Role::Cohost
    } else if who.account.is_some() {
        Role::Participant
    } else {
        Role::Guest
    };
    info.hand = false;
    info.reconnecting = false;
    let muted_before = !moderates
        && (r.muted.contains(&who.device)
            || who
                .account
                .as_ref()
                .is_some_and(|a| r.muted.contains(&account_key(&a.id))));
    let audio_blocked = (r.controls.mute_on_entry && !moderates) || muted_before;
    let others: Vec<Participant> = r
        .members
        .iter()
        .filter(|m| m.announced)
        .map(|m| redact(m.info.clone(), m.account.as_ref(), who.account.as_ref()))
        .collect();
    let entered = Entered {
        core: r.core,
        you: info.clone(),
        others: others.clone(),
        controls: r.controls.clone(),
        chat: r.chat.iter().cloned().collect(),
        audio_muted: audio_blocked,
        mute_seq: next_mute_seq(),
    };
    r.members.push(Member {
        info,
        outbox: who.outbox,
        announced: false,
        device: who.device,
        peer: who.peer,
        audio_blocked,
        may_unmute: false,
        account: who.account,
        seen: others.clone(),
    });
    Ok(Entry::In(Box::new(entered)))
}

/// Tells the others a member is gone and drops their hand and spotlight.
fn forget_member(r: &mut LiveRoom, gone: &Member) {
    let id = gone.info.id.as_str();
    if gone.announced {
        broadcast(r, id, ServerMsg::ParticipantLeft { id: id.to_string() });
    }
    if r.hands.iter().any(|h| h == id) {
        r.hands.retain(|h| h != id);
        send_hands(r);
    }
    if r.controls.spotlight.as_deref() == Some(id) {
        r.controls.spotlight = None;
        send_controls(r);
    }
}

#[cfg(test)]
mod tests;
