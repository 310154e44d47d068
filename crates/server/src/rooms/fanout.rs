//! What live-room members are sent, and what each may see of the others.
//!
//! Why apart from `mod.rs`: every message to a member goes through these few
//! functions, so the two rules that must never be skipped live in one place:
//! a message to a gone session is dropped quietly (it gets a snapshot when
//! it resumes), and participant details are redacted per recipient (a
//! `username` only between friends, PROTOCOL.md).

use super::{LiveRoom, Member, MemberAccount};
use crate::protocol::{Participant, ServerMsg};

pub(super) fn send(m: &Member, msg: ServerMsg) {
    // A closed queue is a suspended or finished session: a suspended one
    // gets a fresh snapshot when it resumes.
    if !m.outbox.send(msg) {
        tracing::debug!("message to {} not queued: its session is gone", m.info.id);
    }
}

/// After a snapshot, a host or co-host also gets the lobby and the hands.
pub(super) fn send_moderation(r: &LiveRoom, me: &Member) {
    if me.info.role.moderates() {
        send(
            me,
            ServerMsg::Lobby {
                waiting: r.lobby_entries(),
            },
        );
        send(me, ServerMsg::Hands { ids: r.hands.clone() });
    }
}

/// The others as member `pos` may see them, for a snapshot.
pub(super) fn snapshot(r: &LiveRoom, pos: usize) -> Vec<Participant> {
    let me = &r.members[pos];
    r.members
        .iter()
        .filter(|m| m.announced && m.info.id != me.info.id)
        .map(|m| redact(m.info.clone(), m.account.as_ref(), me.account.as_ref()))
        .collect()
}

pub(super) fn account_key(id: &str) -> String {
    format!("account:{id}")
}

/// What a host's mute holds on to: the browser, and the account if signed in.
pub(super) fn mute_keys(m: &Member) -> Vec<String> {
    let mut keys = vec![m.device.clone()];
    if let Some(a) = &m.account {
        keys.push(account_key(&a.id));
    }
    keys
}

/// What `to` may see of a participant with account `of`: the `username`
/// only between friends (and never to guests); name and avatar for all.
pub(super) fn redact(mut p: Participant, of: Option<&MemberAccount>, to: Option<&MemberAccount>) -> Participant {
    let friends = matches!((of, to), (Some(of), Some(to)) if to.friends.contains(&of.id));
    if !friends {
        p.username = None;
    }
    p
}

/// To every announced member but `except`; details about a participant are
/// redacted per recipient (a person always sees their own).
pub(super) fn broadcast(room: &LiveRoom, except: &str, msg: ServerMsg) {
    let subject = match &msg {
        ServerMsg::ParticipantJoined { participant } | ServerMsg::ParticipantUpdated { participant } => room
            .members
            .iter()
            .find(|m| m.info.id == participant.id)
            .and_then(|m| m.account.as_ref()),
        _ => None,
    };
    for m in room.members.iter().filter(|m| m.info.id != except && m.announced) {
        let msg = match &msg {
            ServerMsg::ParticipantJoined { participant } => ServerMsg::ParticipantJoined {
                participant: redact(participant.clone(), subject, m.account.as_ref()),
            },
            ServerMsg::ParticipantUpdated { participant } if participant.id != m.info.id => {
                ServerMsg::ParticipantUpdated {
                    participant: redact(participant.clone(), subject, m.account.as_ref()),
                }
            }
            other => other.clone(),
        };
        send(m, msg);
    }
}

/// To announced hosts and co-hosts (a newcomer is caught up in `announce`).
pub(super) fn to_moderators(room: &LiveRoom, msg: ServerMsg) {
    for m in room.members.iter().filter(|m| m.announced && m.info.role.moderates()) {
        send(m, msg.clone());
    }
}

pub(super) fn send_lobby(r: &LiveRoom) {
    to_moderators(
        r,
        ServerMsg::Lobby {
            waiting: r.lobby_entries(),
        },
    );
}

pub(super) fn send_hands(r: &LiveRoom) {
    to_moderators(r, ServerMsg::Hands { ids: r.hands.clone() });
}

pub(super) fn send_controls(r: &LiveRoom) {
    let msg = ServerMsg::Controls {
        controls: r.controls.clone(),
    };
    for m in r.members.iter().filter(|m| m.announced) {
        send(m, msg.clone());
    }
}
