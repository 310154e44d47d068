//! A session's outgoing message queue, which never silently loses what
//! matters.
//!
//! Why not a bounded channel with `try_send`: when a client fell behind (a
//! slow phone, a loaded machine, 20 people joining at once), a full channel
//! dropped whatever came next, offers and `removed` included, and the client
//! was left with a wrong picture of the room or waiting forever for an offer.
//!
//! The rule here:
//! - **Critical** messages (offers, answers to our requests, `removed`,
//!   `ended`, `admitted`, errors…) are always queued.
//! - **Room state** (participant events, controls, lobby, hands, chat) is
//!   queued while the queue is short. Once it holds [`SOFT_CAP`] messages,
//!   the room state queued so far is thrown away and the session owes its
//!   client a `resync`: a fresh snapshot of the room, built under the rooms
//!   lock when the session next reads the queue ([`Next::Resync`]). Nothing
//!   is lost, it is replaced by something newer.
//! - **Latest-wins** messages (`speakers`, `layers` per video) replace an
//!   older one of their kind still in the queue.
//! - Past [`HARD_CAP`] the client is hopeless: the queue closes and the
//!   session ends (the client then resumes on a new connection).
//!
//! Pushes happen under the rooms lock (for room state) or from the session
//! itself, never blocking, so one slow reader costs nobody else anything.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::protocol::ServerMsg;

/// Queue length past which room state is replaced by a `resync`.
pub const SOFT_CAP: usize = 256;
/// Queue length past which the session is closed.
pub const HARD_CAP: usize = 4096;

/// What the session should send next. (Boxing the message would cost an
/// allocation per message for a value that lives a moment on the stack.)
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Next {
    Msg(ServerMsg),
    /// Build a snapshot of the room (see `Rooms::resync`) and send it.
    Resync,
    /// The queue was closed (overflow or takeover): end the session.
    Closed,
}

#[derive(Default)]
struct State {
    queue: VecDeque<ServerMsg>,
    resync: bool,
    closed: bool,
    /// Room-state messages replaced by a resync, for metrics and tests.
    coalesced: u64,
}

/// The sending side is cloned into `rooms`; the session reads with [`Outbox::next`].
#[derive(Clone, Default)]
pub struct Outbox {
    inner: Arc<(Mutex<State>, Notify)>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Outbox")
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Critical,
    RoomState,
    /// Replaces an older queued message with the same key.
    Latest(String),
}

fn kind(msg: &ServerMsg) -> Kind {
    match msg {
        ServerMsg::ParticipantJoined { .. }
        | ServerMsg::ParticipantUpdated { .. }
        | ServerMsg::ParticipantLeft { .. }
        | ServerMsg::Controls { .. }
        | ServerMsg::Lobby { .. }
        | ServerMsg::Hands { .. }
        | ServerMsg::Chat { .. }
        | ServerMsg::Reaction { .. } => Kind::RoomState,
        ServerMsg::Speakers { .. } => Kind::Latest("speakers".into()),
        ServerMsg::Layers { mid, .. } => Kind::Latest(format!("layers {mid}")),
        ServerMsg::PublishCapped { .. } => Kind::Latest("publish_capped".into()),
        _ => Kind::Critical,
    }
}

impl Outbox {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Every critical section below is short and cannot panic halfway.
        self.inner.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a message; false if the session is gone (closed queue).
    pub fn send(&self, msg: ServerMsg) -> bool {
        let mut s = self.state();
        if s.closed {
            return false;
        }
        match kind(&msg) {
            Kind::Critical => {}
            Kind::RoomState if s.resync => {
                s.coalesced += 1;
                metrics::counter!("salon_signaling_coalesced_total").increment(1);
                return true;
            }
            Kind::RoomState if s.queue.len() >= SOFT_CAP => {
                let before = s.queue.len();
                s.queue.retain(|m| kind(m) != Kind::RoomState);
                let dropped = (before - s.queue.len()) as u64 + 1;
                s.coalesced += dropped;
                s.resync = true;
                metrics::counter!("salon_signaling_coalesced_total").increment(dropped);
                metrics::counter!("salon_signaling_resyncs_total").increment(1);
                tracing::debug!("outbox: {dropped} room messages replaced by a resync");
                drop(s);
                self.inner.1.notify_one();
                return true;
            }
            Kind::RoomState => {}
            Kind::Latest(key) => s.queue.retain(|m| kind(m) != Kind::Latest(key.clone())),
        }
        if s.queue.len() >= HARD_CAP {
            tracing::info!("outbox: client too far behind, closing its session");
            s.closed = true;
            s.queue.clear();
        } else {
            s.queue.push_back(msg);
        }
        drop(s);
        self.inner.1.notify_one();
        true
    }

    /// Marks the queue closed: later sends fail, `next` returns `Closed`.
    pub fn close(&self) {
        self.state().closed = true;
        self.inner.1.notify_one();
    }

    /// Clears the owed resync; call under the rooms lock while building it.
    pub fn take_resync(&self) -> bool {
        std::mem::take(&mut self.state().resync)
    }

    /// How many room-state messages were replaced by resyncs so far.
    pub fn coalesced(&self) -> u64 {
        self.state().coalesced
    }

    /// Waits for the next thing to send. Critical messages queued before a
    /// resync was owed go first, in order; then the resync.
    pub async fn next(&self) -> Next {
        loop {
            let notified = self.inner.1.notified();
            {
                let mut s = self.state();
                if let Some(m) = s.queue.pop_front() {
                    return Next::Msg(m);
                }
                if s.closed {
                    return Next::Closed;
                }
                if s.resync {
                    return Next::Resync;
                }
            }
            notified.await;
        }
    }

    /// Non-blocking `next`, for tests.
    pub fn try_next(&self) -> Option<Next> {
        let mut s = self.state();
        if let Some(m) = s.queue.pop_front() {
            return Some(Next::Msg(m));
        }
        if s.closed {
            return Some(Next::Closed);
        }
        s.resync.then_some(Next::Resync)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn left(i: usize) -> ServerMsg {
        ServerMsg::ParticipantLeft { id: i.to_string() }
    }

    #[test]
    fn critical_messages_survive_a_flood() {
        let o = Outbox::new();
        o.send(ServerMsg::Offer { sdp: "1".into() });
        for i in 0..1000 {
            o.send(left(i));
        }
        o.send(ServerMsg::Removed { banned: false });
        assert!(matches!(o.try_next(), Some(Next::Msg(ServerMsg::Offer { .. }))));
        assert!(matches!(o.try_next(), Some(Next::Msg(ServerMsg::Removed { .. }))));
        assert!(matches!(o.try_next(), Some(Next::Resync)));
        assert!(o.take_resync());
        assert!(o.try_next().is_none());
        assert!(o.coalesced() >= 1000 - SOFT_CAP as u64);
    }

    #[test]
    fn short_queues_keep_every_event_in_order() {
        let o = Outbox::new();
        for i in 0..10 {
            o.send(left(i));
        }
        for i in 0..10 {
            match o.try_next() {
                Some(Next::Msg(ServerMsg::ParticipantLeft { id })) => assert_eq!(id, i.to_string()),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn latest_wins_replaces_older_of_its_kind() {
        let o = Outbox::new();
        o.send(ServerMsg::Speakers { ids: vec!["a".into()] });
        o.send(ServerMsg::Speakers { ids: vec!["b".into()] });
        match o.try_next() {
            Some(Next::Msg(ServerMsg::Speakers { ids })) => assert_eq!(ids, vec!["b".to_string()]),
            other => panic!("unexpected {other:?}"),
        }
        assert!(o.try_next().is_none());
    }

    #[test]
    fn hopeless_clients_are_closed_and_later_sends_fail() {
        let o = Outbox::new();
        for _ in 0..=HARD_CAP {
            o.send(ServerMsg::Pong {});
        }
        assert!(matches!(o.try_next(), Some(Next::Closed)));
        assert!(!o.send(ServerMsg::Pong {}));
    }
}
