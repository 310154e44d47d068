//! Commands sent by people in a room: the host's controls (lock, remove,
//! waiting room, mute, spotlight, co-hosts, policies) and everyone's room
//! life (chat, hands, reactions, reports).
//!
//! Each command is checked against the sender's role and applied under the
//! rooms lock in one step, so a refused command changes nothing. What must
//! reach the media loop or the database is returned as [`Effects`] for the
//! session to carry out; this module stays synchronous and testable.

use salon_sfu::PeerId;

use super::fanout::{broadcast, mute_keys, send, send_controls, send_hands, send_lobby};
use super::{forget_member, LiveRoom, Refusal, Rooms, Settings, CHAT_HISTORY};
use crate::protocol::{self, ChatLine, ClientMsg, ErrorCode, Role, ServerMsg};

/// Reports one browser or account may file per room while it lives (each is
/// a database row for the operator to read).
pub const MAX_REPORTS: u32 = 5;

/// A report for the instance operator, by display names (ids are
/// meaningless once the room is gone).
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    pub reporter: String,
    pub target: Option<String>,
    pub reason: String,
}

/// Who to ban for good.
#[derive(Debug, PartialEq, Eq)]
pub struct Ban {
    pub device: String,
    pub account: Option<String>,
    pub name: String,
}

/// What the session must do after a command succeeded.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// `(peer, muted)`: tell the SFU to stop or resume forwarding audio.
    pub mutes: Vec<(PeerId, bool)>,
    /// Orders these mutes against other decisions (see `next_mute_seq`).
    pub mute_seq: u64,
    /// Take these peers out of the media core now. Their own sessions do it
    /// too once they read `removed`/`ended`, but a client that stops reading
    /// must not keep its media meanwhile.
    pub kicked: Vec<PeerId>,
    /// Ban this device (and account, if signed in) from the room for good.
    pub ban: Option<Ban>,
    /// Members were taken out: the friends' tray must hear of it.
    pub changed: bool,
    /// Store the room's new policies.
    pub settings: Option<Settings>,
    /// Record a report.
    pub report: Option<Report>,
}

impl Rooms {
    /// Applies one room command from participant `actor` of `room`.
    pub fn command(&self, room: &str, actor: &str, cmd: &ClientMsg) -> Result<Effects, Refusal> {
        let mut live = self.lock();
        let Some(r) = live.get_mut(room) else {
            return Err(Refusal::new(ErrorCode::NotJoined, "join a room first"));
        };
        let Some(me) = r.member(actor) else {
            return Err(Refusal::new(ErrorCode::NotJoined, "join a room first"));
        };
        let role = me.info.role;
        let result = apply(r, actor, role, cmd);
        if r.is_empty() {
            live.remove(room);
        }
        if result.as_ref().is_ok_and(|fx| fx.changed) {
            // People were removed or the room ended: the tray must know.
            let _ = self.changes.send(room.to_string());
        }
        result
    }
}

fn need_moderator(role: Role, what: &str) -> Result<(), Refusal> {
    if role.moderates() {
        Ok(())
    } else {
        Err(Refusal::forbidden(what))
    }
}

fn unknown() -> Refusal {
    Refusal::new(ErrorCode::UnknownParticipant, "nobody with that id is in the room")
}

/// The index of a member a moderator acts on; the host is out of reach.
fn target(r: &LiveRoom, id: &str, actor_role: Role, what: &str) -> Result<usize, Refusal> {
    let pos = r.members.iter().position(|m| m.info.id == id).ok_or_else(unknown)?;
    let role = r.members[pos].info.role;
    if role == Role::Host || (role == Role::Cohost && actor_role != Role::Host) {
        return Err(Refusal::new(ErrorCode::Forbidden, format!("you cannot {what} a host")));
    }
    Ok(pos)
}

pub(super) fn updated(r: &LiveRoom, pos: usize) {
    let msg = ServerMsg::ParticipantUpdated {
        participant: r.members[pos].info.clone(),
    };
    broadcast(r, "", msg);
}

fn mute(r: &mut LiveRoom, pos: usize, fx: &mut Effects) {
    let m = &mut r.members[pos];
    m.may_unmute = false;
    if !m.audio_blocked {
        m.audio_blocked = true;
        fx.mutes.push((m.peer, true));
    }
    for k in mute_keys(m) {
        r.muted.insert(k);
    }
    let m = &mut r.members[pos];
    m.info.audio = false;
    send(m, ServerMsg::Muted {});
    updated(r, pos);
}

fn lower_hand(r: &mut LiveRoom, id: &str) {
    if let Some(pos) = r.members.iter().position(|m| m.info.id == id) {
        if r.members[pos].info.hand {
            r.members[pos].info.hand = false;
            updated(r, pos);
        }
    }
    if r.hands.iter().any(|h| h == id) {
        r.hands.retain(|h| h != id);
        send_hands(r);
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn apply(r: &mut LiveRoom, actor: &str, role: Role, cmd: &ClientMsg) -> Result<Effects, Refusal> {
    let mut fx = Effects {
        mute_seq: super::next_mute_seq(),
        ..Effects::default()
    };
    match cmd {
        ClientMsg::Lock { locked } => {
            need_moderator(role, "lock the room")?;
            r.controls.locked = *locked;
            send_controls(r);
        }
        ClientMsg::Remove { id, ban } => {
            need_moderator(role, "remove people")?;
            let (device, account, name) = if let Some(w) = r.lobby.iter().find(|w| &w.entry.id == id) {
                (w.device.clone(), None, w.entry.name.clone())
            } else {
                let m = &r.members[target(r, id, role, "remove")?];
                let account = m.account.as_ref().map(|a| a.id.clone());
                (m.device.clone(), account, m.info.name.clone())
            };
            // The person, not one tab: every member and waiter of that browser goes.
            let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut r.members)
                .into_iter()
                .partition(|m| m.device == device);
            r.members = kept;
            for m in &gone {
                send(m, ServerMsg::Removed { banned: *ban });
                fx.kicked.push(m.peer);
                forget_member(r, m);
            }
            let waiting = r.lobby.len();
            r.lobby.retain(|w| {
                if w.device == device {
                    w.outbox.send(ServerMsg::Removed { banned: *ban });
                }
                w.device != device
            });
            if r.lobby.len() != waiting {
                send_lobby(r);
            }
            r.removed.insert(device.clone());
            r.admitted.remove(&device);
            r.cohosts.remove(&device);
            fx.changed = !gone.is_empty();
            if *ban {
                fx.ban = Some(Ban { device, account, name });
            }
        }
        ClientMsg::EndRoom {} => {
            if role != Role::Host {
                return Err(Refusal::forbidden("end the room"));
            }
            fx.changed = true;
            for m in r.members.drain(..) {
                send(&m, ServerMsg::Ended {});
                if m.info.id != actor {
                    fx.kicked.push(m.peer);
                }
            }
            for w in r.lobby.drain(..) {
                w.outbox.send(ServerMsg::Ended {});
            }
        }
        ClientMsg::Admit { id } | ClientMsg::Deny { id } => {
            need_moderator(role, "answer the waiting room")?;
            let pos = r.lobby.iter().position(|w| &w.entry.id == id).ok_or_else(unknown)?;
            let w = r.lobby.remove(pos);
            if matches!(cmd, ClientMsg::Admit { .. }) {
                r.admitted.insert(w.device.clone());
                w.outbox.send(ServerMsg::Admitted {});
            } else {
                r.denied.insert(w.device.clone(), std::time::Instant::now());
                w.outbox.send(ServerMsg::Denied {});
            }
            send_lobby(r);
        }
        ClientMsg::AdmitAll {} => {
            need_moderator(role, "answer the waiting room")?;
            for w in std::mem::take(&mut r.lobby) {
                r.admitted.insert(w.device.clone());
                w.outbox.send(ServerMsg::Admitted {});
            }
            send_lobby(r);
        }
        ClientMsg::Mute { id } => {
            need_moderator(role, "mute people")?;
            let pos = target(r, id, role, "mute")?;
            mute(r, pos, &mut fx);
        }
        ClientMsg::MuteAll {} => {
            need_moderator(role, "mute everyone")?;
            for pos in 0..r.members.len() {
                if !r.members[pos].info.role.moderates() {
                    mute(r, pos, &mut fx);
                }
            }
        }
        ClientMsg::AllowUnmute { id } => {
            need_moderator(role, "let people unmute")?;
            let pos = r.members.iter().position(|m| &m.info.id == id).ok_or_else(unknown)?;
            r.members[pos].may_unmute = true;
            for k in mute_keys(&r.members[pos]) {
                r.muted.remove(&k);
            }
            send(&r.members[pos], ServerMsg::MayUnmute {});
            lower_hand(r, id);
        }
        ClientMsg::AskVideo { id } => {
            need_moderator(role, "ask for a camera")?;
            let m = r.member(id).ok_or_else(unknown)?;
            send(m, ServerMsg::VideoRequested {});
        }
        ClientMsg::Spotlight { id } => {
            need_moderator(role, "spotlight someone")?;
            if let Some(id) = id {
                r.member(id).ok_or_else(unknown)?;
            }
            r.controls.spotlight = id.clone();
            send_controls(r);
        }
        ClientMsg::Cohost { id, on } => {
            if role != Role::Host {
                return Err(Refusal::forbidden("name co-hosts"));
            }
            let device = r.members[target(r, id, role, "change")?].device.clone();
            if *on {
                r.cohosts.insert(device.clone());
            } else {
                r.cohosts.remove(&device);
            }
            // Every tab of that browser: co-host belongs to the person.
            for pos in 0..r.members.len() {
                let m = &mut r.members[pos];
                if m.device != device || m.info.role == Role::Host {
                    continue;
                }
                m.info.role = if *on {
                    Role::Cohost
                } else if m.account.is_some() {
                    Role::Participant
                } else {
                    Role::Guest
                };
                updated(r, pos);
                if *on {
                    let m = &r.members[pos];
                    send(
                        m,
                        ServerMsg::Lobby {
                            waiting: r.lobby_entries(),
                        },
                    );
                    send(m, ServerMsg::Hands { ids: r.hands.clone() });
                }
            }
        }
        ClientMsg::Policy {
            waiting_room,
            mute_on_entry,
            self_unmute,
        } => {
            need_moderator(role, "change the room's rules")?;
            r.controls.waiting_room = *waiting_room;
            if !*waiting_room && !r.lobby.is_empty() {
                // No waiting room any more: nobody is left waiting at the door.
                for w in std::mem::take(&mut r.lobby) {
                    r.admitted.insert(w.device.clone());
                    w.outbox.send(ServerMsg::Admitted {});
                }
                send_lobby(r);
            }
            r.controls.mute_on_entry = *mute_on_entry;
            r.controls.self_unmute = *self_unmute;
            fx.settings = Some(Settings {
                waiting_room: *waiting_room,
                mute_on_entry: *mute_on_entry,
                self_unmute: *self_unmute,
            });
            send_controls(r);
        }
        ClientMsg::LowerHand { id } => {
            if id != actor {
                need_moderator(role, "lower someone's hand")?;
            }
            r.member(id).ok_or_else(unknown)?;
            lower_hand(r, id);
        }
        ClientMsg::LowerAllHands {} => {
            need_moderator(role, "lower everyone's hand")?;
            for id in std::mem::take(&mut r.hands) {
                if let Some(pos) = r.members.iter().position(|m| m.info.id == id) {
                    r.members[pos].info.hand = false;
                    updated(r, pos);
                }
            }
            send_hands(r);
        }
        ClientMsg::Hand { raised } => {
            if *raised {
                let pos = r.members.iter().position(|m| m.info.id == actor).ok_or_else(unknown)?;
                if !r.members[pos].info.hand {
                    r.members[pos].info.hand = true;
                    r.hands.push(actor.to_string());
                    updated(r, pos);
                    send_hands(r);
                }
            } else {
                lower_hand(r, actor);
            }
        }
        ClientMsg::Chat { text } => {
            let text = protocol::validate_text(text, protocol::MAX_CHAT_CHARS)
                .map_err(|e| Refusal::new(ErrorCode::InvalidText, e))?;
            let name = r.member(actor).map(|m| m.info.name.clone()).unwrap_or_default();
            let line = ChatLine {
                from: actor.to_string(),
                name,
                text,
                at: now_ms(),
            };
            if r.chat.len() >= CHAT_HISTORY {
                r.chat.pop_front();
            }
            r.chat.push_back(line.clone());
            broadcast(r, "", ServerMsg::Chat { line });
        }
        ClientMsg::React { emoji } => {
            if !protocol::REACTIONS.contains(&emoji.as_str()) {
                return Err(Refusal::new(ErrorCode::InvalidText, "not one of the reactions"));
            }
            let msg = ServerMsg::Reaction {
                id: actor.to_string(),
                emoji: emoji.clone(),
            };
            broadcast(r, "", msg);
        }
        ClientMsg::Report { id, reason } => {
            let reason = protocol::validate_text(reason, protocol::MAX_REASON_CHARS)
                .map_err(|e| Refusal::new(ErrorCode::InvalidText, e))?;
            let target = match id {
                Some(id) => Some(r.member(id).ok_or_else(unknown)?.info.name.clone()),
                None => None,
            };
            let keys = r.member(actor).map(mute_keys).unwrap_or_default();
            if keys.iter().any(|k| r.reports.get(k).is_some_and(|n| *n >= MAX_REPORTS)) {
                return Err(Refusal::new(
                    ErrorCode::RateLimited,
                    "you have already sent several reports about this room",
                ));
            }
            for k in keys {
                *r.reports.entry(k).or_default() += 1;
            }
            let reporter = r.member(actor).map(|m| m.info.name.clone()).unwrap_or_default();
            fx.report = Some(Report {
                reporter,
                target,
                reason,
            });
        }
        _ => return Err(Refusal::new(ErrorCode::BadMessage, "not a room command")),
    }
    Ok(fx)
}
