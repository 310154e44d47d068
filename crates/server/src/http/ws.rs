//! One WebSocket signaling session: `hello`, then `join` a room, then answer
//! the SFU's offers until `leave` or the socket drops.
//!
//! The session task is the only owner of its participant: whatever way the
//! loop ends (leave, close, error, keepalive timeout, media failure), the
//! cleanup at the bottom removes the participant from the room and the media
//! core, so no tile or track is left behind.
//!
//! Input discipline: every frame is size-checked, parsed into exactly one
//! `ClientMsg`, and rate-limited; a bad message gets an `error` reply and the
//! session, the room and everyone else carry on.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use rand::RngCore;
use salon_sfu::{PeerEvent, PeerId, RoomId, SfuError};
use tokio::sync::{mpsc, oneshot};

use super::device::Device;
use super::resume::{self, Takeover, TokenHash};
use crate::media::MediaError;
use crate::protocol::{self, ClientMsg, ErrorCode, Participant, RoomInfo, ServerMsg, PROTOCOL_VERSION};
use crate::rooms::outbox::{Next, Outbox};
use crate::rooms::{EnterError, Entered, Entrant, Entry, MemberAccount};
use crate::AppState;

mod resuming;

/// The client sends `ping` every 5 s; silence this long means the peer is
/// gone. Only protocol messages count: the automatic WebSocket pong does
/// not, or a socket that never speaks would live for ever.
const IDLE_TIMEOUT: Duration = Duration::from_secs(12);
/// A session must say `hello` this soon after the upgrade...
pub const HELLO_DEADLINE: Duration = Duration::from_secs(10);
/// ...and then join (or wait in a waiting room) this soon, so idle sockets
/// give their places back.
pub const JOIN_DEADLINE: Duration = Duration::from_secs(120);
const SERVER_PING: Duration = Duration::from_secs(4);
/// A client that accepts nothing for this long is gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Token bucket: sustained messages per second, and burst.
const RATE_PER_SEC: f64 = 20.0;
const RATE_BURST: f64 = 60.0;
/// Chat lines and reactions: 2 per second, bursts of 6.
const CHAT_PER_SEC: f64 = 2.0;
const CHAT_BURST: f64 = 6.0;

static NEXT_PEER: AtomicU64 = AtomicU64::new(1);

enum Phase {
    Greeting,
    Ready,
    /// In a room's waiting room, as `id`.
    Waiting {
        room: String,
        id: String,
    },
    Joined(Joined),
}

struct Joined {
    room: String,
    room_name: String,
    /// The media core's id of the room (which media loop owns it).
    core_room: RoomId,
    pid: String,
    peer: PeerId,
    /// Hash of the resume token given in `joined` (see `resume.rs`).
    resume: TokenHash,
    /// The media core still holds our peer (false after `PeerEvent::Closed`
    /// until the client republishes).
    media_alive: bool,
}

/// Why a session's loop ended.
enum End {
    /// The socket closed or failed, the client went silent, or its queue
    /// overflowed: keep a joined participant for the grace period.
    Dropped,
    /// A newer connection of the same participant resumes it.
    Takeover(oneshot::Sender<()>),
    /// The account signed out (or changed its password, or was deleted):
    /// the participant leaves for good.
    Revoked,
}

struct Session {
    state: AppState,
    device: Device,
    /// The signed-in account of the upgrade request, if any.
    account: Option<crate::store::Account>,
    phase: Phase,
    outbox: Outbox,
    media_events: mpsc::UnboundedSender<(PeerId, PeerEvent)>,
    /// A media event channel taken over by `resume`, for `run` to read from.
    adopt: Option<mpsc::UnboundedReceiver<(PeerId, PeerEvent)>>,
    takeover: Takeover,
    tokens: f64,
    refilled: Instant,
    chatty: crate::RateLimit,
    last_limit_error: Option<Instant>,
}

/// Runs one session; `places` holds its places under the session caps
/// (global, per address, per account) until it ends, and ends it when its
/// account's session is revoked (logout, password change, deletion).
pub async fn run(
    socket: WebSocket,
    state: AppState,
    device: Device,
    places: (tokio::sync::OwnedSemaphorePermit, super::limits::Place),
    account: Option<crate::store::Account>,
) {
    let (mut sink, mut stream) = socket.split();
    let outbox = Outbox::new();
    let (media_tx, mut media_rx) = mpsc::unbounded_channel::<(PeerId, PeerEvent)>();
    let (takeover, mut takeover_rx) = mpsc::channel::<oneshot::Sender<()>>(1);
    let mut s = Session {
        state,
        device,
        account,
        phase: Phase::Greeting,
        outbox: outbox.clone(),
        media_events: media_tx,
        adopt: None,
        takeover,
        tokens: RATE_BURST,
        refilled: Instant::now(),
        chatty: crate::RateLimit::new(CHAT_PER_SEC, CHAT_BURST),
        last_limit_error: None,
    };
    let started = Instant::now();
    let mut last_seen = started;
    // When the session last entered `Ready` (after hello, or after leaving).
    let mut ready_since: Option<Instant> = None;
    let mut ping = tokio::time::interval(SERVER_PING);

    let end = loop {
        if let Some(rx) = s.adopt.take() {
            media_rx = rx;
        }
        tokio::select! {
            frame = stream.next() => {
                let Some(Ok(frame)) = frame else { break End::Dropped };
                // Liveness is the client's own messages (it pings every 2 s),
                // not the automatic pong a browser sends without the page.
                if matches!(frame, Message::Text(_) | Message::Binary(_)) {
                    last_seen = Instant::now();
                }
                match frame {
                    Message::Text(text) => s.on_text(text.as_str()).await,
                    Message::Binary(_) => s.reply(ServerMsg::error(ErrorCode::BadMessage, "binary messages are not part of the protocol")),
                    Message::Close(_) => break End::Dropped,
                    Message::Ping(_) | Message::Pong(_) => {}
                }
            }
            next = outbox.next() => {
                let msg = match next {
                    Next::Msg(m) => m,
                    Next::Resync => {
                        if let Phase::Joined(j) = &s.phase {
                            s.state.rooms.resync(&j.room, &j.pid);
                        } else {
                            outbox.take_resync();
                        }
                        continue;
                    }
                    Next::Closed => break End::Dropped,
                };
                // Invariant: our message types always serialize.
                let json = serde_json::to_string(&msg).expect("server messages serialize");
                if !send_within(&mut sink, Message::Text(json.into())).await {
                    break End::Dropped;
                }
                s.after_sent(&msg).await;
            }
            Some((peer, event)) = media_rx.recv() => s.on_media_event(peer, event),
            Some(done) = takeover_rx.recv() => break End::Takeover(done),
            _ = places.1.revoked() => {
                tracing::debug!("signaling session revoked (signed out)");
                let _ = send_within(&mut sink, Message::Close(None)).await;
                break End::Revoked;
            }
            _ = ping.tick() => {
                if last_seen.elapsed() > IDLE_TIMEOUT {
                    tracing::debug!("signaling session timed out");
                    break End::Dropped;
                }
                let late = match s.phase {
                    Phase::Greeting => started.elapsed() > HELLO_DEADLINE,
                    Phase::Ready => ready_since.get_or_insert_with(Instant::now).elapsed() > JOIN_DEADLINE,
                    Phase::Waiting { .. } | Phase::Joined(_) => {
                        ready_since = None;
                        false
                    }
                };
                if late {
                    tracing::debug!("signaling session closed: no hello or join in time");
                    break End::Dropped;
                }
                if !send_within(&mut sink, Message::Ping(Default::default())).await {
                    break End::Dropped;
                }
            }
        }
    };
    outbox.close();
    match (end, std::mem::replace(&mut s.phase, Phase::Ready)) {
        (End::Revoked, other) => {
            s.phase = other;
            s.leave_room().await;
        }
        (end, Phase::Joined(j)) => {
            s.suspend(j, media_rx);
            if let End::Takeover(done) = end {
                let _ = done.send(());
            }
        }
        (_, other) => {
            s.phase = other;
            s.leave_room().await;
        }
    }
    // Closing the socket tells a replaced client's page it is no longer in charge.
    let _ = sink.close().await;
}

impl Session {
    fn reply(&self, msg: ServerMsg) {
        if !self.outbox.send(msg) {
            tracing::debug!("reply not queued: session closing");
        }
    }

    fn error(&self, code: ErrorCode, message: impl Into<String>) {
        self.reply(ServerMsg::error(code, message));
    }

    /// Token bucket; true when this message may be handled.
    fn admit(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.refilled).as_secs_f64() * RATE_PER_SEC;
        self.tokens = (self.tokens + refill).min(RATE_BURST);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return true;
        }
        // One error a second at most, so a flood does not turn into a flood back.
        if self
            .last_limit_error
            .is_none_or(|t| now.duration_since(t) > Duration::from_secs(1))
        {
            self.last_limit_error = Some(now);
            self.error(ErrorCode::RateLimited, "too many messages; slow down");
        }
        false
    }

    async fn on_text(&mut self, text: &str) {
        if !self.admit() {
            return;
        }
        if text.len() > protocol::MAX_MESSAGE_BYTES {
            let msg = format!(
                "message of {} bytes exceeds {} bytes",
                text.len(),
                protocol::MAX_MESSAGE_BYTES
            );
            return self.error(ErrorCode::MessageTooLarge, msg);
        }
        let msg: ClientMsg = match serde_json::from_str(text) {
            Ok(m) => m,
            Err(e) => return self.error(ErrorCode::BadMessage, format!("not a valid message: {e}")),
        };
        match (msg, &self.phase) {
            (ClientMsg::Hello { version }, Phase::Greeting) => {
                if version != PROTOCOL_VERSION {
                    return self.error(
                        ErrorCode::UnsupportedVersion,
                        format!(
                            "this server speaks protocol version {PROTOCOL_VERSION}, not {version}; reload the page"
                        ),
                    );
                }
                self.phase = Phase::Ready;
                // TURN credentials for this session: the browser needs its ICE
                // servers before it builds the offer it sends in `join`.
                let mut tag = [0u8; 8];
                rand::rng().fill_bytes(&mut tag);
                let tag: String = tag.iter().map(|b| format!("{b:02x}")).collect();
                let ice_servers = self.state.turn.ice_servers(&tag);
                self.reply(ServerMsg::Hello {
                    version: PROTOCOL_VERSION,
                    server: format!("salon/{}", env!("CARGO_PKG_VERSION")),
                    ice_servers,
                });
            }
            (ClientMsg::Hello { .. }, _) => self.error(ErrorCode::BadMessage, "hello was already received"),
            (ClientMsg::Ping {}, _) => self.reply(ServerMsg::Pong {}),
            (ClientMsg::Resume { token }, Phase::Ready) => self.resume(&token).await,
            (ClientMsg::Resume { .. }, _) => self.error(ErrorCode::AlreadyJoined, "already in a room"),
            (_, Phase::Greeting) => self.error(ErrorCode::BadMessage, "send hello first"),
            (
                ClientMsg::Join {
                    room,
                    name,
                    offer,
                    invite,
                },
                Phase::Ready,
            ) => self.join(room, name, offer, invite).await,
            (ClientMsg::Join { .. }, Phase::Joined(_) | Phase::Waiting { .. }) => {
                self.error(ErrorCode::AlreadyJoined, "already in a room")
            }
            (ClientMsg::Leave {}, Phase::Waiting { .. }) => self.leave_room().await,
            (_, Phase::Waiting { .. }) => self.error(ErrorCode::NotJoined, "wait until a host lets you in"),
            (ClientMsg::Answer { sdp }, Phase::Joined(j)) => {
                let (room, peer) = (j.core_room, j.peer);
                let looks_like_sdp = sdp.starts_with("v=");
                match self.state.media.answer(room, peer, sdp).await {
                    Ok(()) => {}
                    // A late answer to an offer sent twice (after a resume or
                    // a re-send): the first answer was applied; nothing to do.
                    Err(MediaError::Sfu(SfuError::NoPendingOffer)) if looks_like_sdp => {
                        tracing::debug!("answer without a pending offer ignored")
                    }
                    Err(MediaError::Sfu(SfuError::NoPendingOffer)) => {
                        self.error(ErrorCode::BadMessage, "no offer is waiting for an answer")
                    }
                    Err(MediaError::Sfu(e)) => self.error(ErrorCode::InvalidSdp, e.to_string()),
                    Err(e) => self.error(ErrorCode::Internal, e.to_string()),
                }
            }
            (ClientMsg::State { audio, video, screen }, Phase::Joined(j)) => {
                let (room, peer) = (j.core_room, j.peer);
                match self.state.rooms.set_state(&j.room, &j.pid, audio, video, screen) {
                    Ok(Some(seq)) => self.state.media.mute_audio(room, peer, false, seq).await,
                    Ok(None) => {}
                    Err(r) => self.error(r.code, r.message),
                }
            }
            (ClientMsg::Republish { offer }, Phase::Joined(_)) => self.republish(offer).await,
            (ClientMsg::View { tiles }, Phase::Joined(j)) => {
                if tiles.len() > protocol::MAX_VIEW_TILES {
                    let msg = format!("a view lists at most {} tiles", protocol::MAX_VIEW_TILES);
                    return self.error(ErrorCode::BadMessage, msg);
                }
                let (room, peer) = (j.core_room, j.peer);
                let tiles = tiles.into_iter().map(|t| (t.id, t.height.min(8192))).collect();
                self.state.media.view(room, peer, tiles).await;
            }
            (ClientMsg::Leave {}, Phase::Joined(_)) => self.leave_room().await,
            (_, Phase::Ready) => self.error(ErrorCode::NotJoined, "join a room first"),
            (cmd, Phase::Joined(_)) => self.command(cmd).await,
        }
    }

    /// A host command or room-life message: checked and applied by `rooms`,
    /// then its effects carried out here (media mutes, database writes).
    async fn command(&mut self, cmd: ClientMsg) {
        // Room life that others see or that is stored gets its own, lower limits.
        match &cmd {
            ClientMsg::Chat { .. } | ClientMsg::React { .. } if !self.chatty.admit() => {
                return self.error(ErrorCode::RateLimited, "too many messages; slow down");
            }
            _ => {}
        }
        let Phase::Joined(j) = &self.phase else { return };
        let fx = match self.state.rooms.command(&j.room, &j.pid, &cmd) {
            Ok(fx) => fx,
            Err(r) => return self.error(r.code, r.message),
        };
        let (room, core, room_name) = (j.room.clone(), j.core_room, j.room_name.clone());
        for (peer, muted) in fx.mutes {
            self.state.media.mute_audio(core, peer, muted, fx.mute_seq).await;
        }
        for peer in fx.kicked {
            self.state.media.leave(core, peer).await;
        }
        let store = &self.state.store;
        if let Some(ban) = fx.ban {
            if let Err(e) = store.ban(&room, &ban.device, ban.account.as_deref(), &ban.name).await {
                tracing::error!("storing a ban failed: {e}");
                self.error(ErrorCode::Internal, "removed, but the ban could not be saved");
            }
        }
        if let Some(settings) = fx.settings {
            if let Err(e) = store.set_settings(&room, settings).await {
                tracing::error!("storing room settings failed: {e}");
                self.error(
                    ErrorCode::Internal,
                    "changed for now, but the change could not be saved",
                );
            }
        }
        if let Some(report) = fx.report {
            match store.add_report(&room, &room_name, &report).await {
                Ok(()) => {
                    tracing::info!(room = %short(&room), "report filed");
                    self.reply(ServerMsg::Reported {});
                }
                Err(e) => {
                    tracing::error!("storing a report failed: {e}");
                    self.error(ErrorCode::Internal, "the report could not be saved; try again");
                }
            }
        }
    }

    /// Some messages from the room change this session's phase once sent.
    async fn after_sent(&mut self, msg: &ServerMsg) {
        match msg {
            ServerMsg::Removed { .. } | ServerMsg::Ended {} => self.leave_room().await,
            ServerMsg::Admitted {} | ServerMsg::Denied {} => {
                if matches!(self.phase, Phase::Waiting { .. }) {
                    self.phase = Phase::Ready;
                }
            }
            _ => {}
        }
    }

    async fn join(&mut self, room_id: String, name: String, offer: String, invite: Option<String>) {
        let name = match protocol::validate_name(&name) {
            Ok(n) => n,
            Err(e) => return self.error(ErrorCode::InvalidName, e),
        };
        let store = &self.state.store;
        let room = match store.room(&room_id).await {
            Ok(Some(r)) => r,
            Ok(None) => return self.error(ErrorCode::RoomNotFound, "this room does not exist; check the link"),
            Err(e) => {
                tracing::error!("room lookup failed: {e}");
                return self.error(ErrorCode::Internal, "the server could not read its database");
            }
        };
        // A call is for the people called into it (calls.rs), link or not.
        match super::calls::may_enter(&self.state, &room.id, self.account.as_ref()).await {
            Ok(true) => {}
            Ok(false) => return self.error(ErrorCode::NotInvited, "this call is only for the people called into it"),
            Err(e) => {
                tracing::error!("call lookup failed: {e}");
                return self.error(ErrorCode::Internal, "the server could not read its database");
            }
        }
        let host = super::api::is_host(&room, &self.device, self.account.as_ref());
        let checks = async {
            let account = self.account.as_ref().map(|a| a.id.as_str());
            let banned = !host && store.is_banned(&room.id, &self.device.0, account).await?;
            let schedule = store.schedule(&room.id).await?;
            let invited = match &invite {
                Some(t) if t.len() <= 64 => store.invite_valid(&room.id, t).await?,
                _ => false,
            };
            // A signed-in client on the room's roster of accounts.
            let invited = invited
                || match &self.account {
                    Some(a) => store.on_roster(&room.id, &a.id).await?,
                    None => false,
                };
            Ok::<_, sqlx::Error>((banned, schedule, invited))
        };
        let (banned, schedule, invited) = match checks.await {
            Ok(x) => x,
            Err(e) => {
                tracing::error!("room checks failed: {e}");
                return self.error(ErrorCode::Internal, "the server could not read its database");
            }
        };
        if banned {
            return self.error(ErrorCode::Banned, "the host removed you from this room");
        }
        if let Some(s) = schedule.filter(|s| !host && crate::store::unix_now() < s.opens_at()) {
            return self.error(
                ErrorCode::NotOpen,
                format!("this session opens at {} (unix time)", s.opens_at()),
            );
        }
        let info = RoomInfo {
            id: room.id.clone(),
            name: room.name.clone(),
            max_participants: self.state.rooms.max_participants,
        };
        let me = Participant {
            id: new_participant_id(),
            name,
            audio: false,
            video: false,
            role: Default::default(),
            hand: false,
            screen: false,
            avatar: self.account.as_ref().and_then(|a| a.avatar_url()),
            username: self.account.as_ref().map(|a| a.username.clone()),
            reconnecting: false,
        };
        let (account, blockers) = match self.member_account().await {
            Ok(x) => x,
            Err(e) => {
                tracing::error!("account lookup failed: {e}");
                return self.error(ErrorCode::Internal, "the server could not read its database");
            }
        };
        let peer = PeerId(NEXT_PEER.fetch_add(1, Ordering::Relaxed));
        let entrant = Entrant {
            info: me.clone(),
            device: self.device.clone().0,
            host,
            invited,
            account,
            blockers,
            peer,
            outbox: self.outbox.clone(),
        };
        let entered = match self.state.rooms.enter(&room.id, room.settings, entrant) {
            Ok(Entry::In(e)) => e,
            Ok(Entry::Waiting) => {
                tracing::info!(room = %short(&room.id), participant = %me.id, "waiting");
                self.reply(ServerMsg::Waiting { room: info });
                self.phase = Phase::Waiting {
                    room: room.id,
                    id: me.id,
                };
                return;
            }
            Err(e) => {
                let max = self.state.rooms.max_participants;
                return match e {
                    EnterError::Full => self.error(ErrorCode::RoomFull, format!("this room is full ({max} people)")),
                    EnterError::LobbyFull => self.error(ErrorCode::RoomFull, "too many people are waiting; try later"),
                    EnterError::Locked => self.error(ErrorCode::RoomLocked, "the host has locked this room"),
                    EnterError::Removed => self.error(ErrorCode::Banned, "the host removed you from this room"),
                    EnterError::Blocked => self.error(ErrorCode::Blocked, "you cannot join this room"),
                    EnterError::Denied => self.error(ErrorCode::Denied, "the host did not let you in; try again later"),
                };
            }
        };
        let core_room = entered.core;
        let answer = match self
            .state
            .media
            .join(core_room, peer, me.id.clone(), offer, self.media_events.clone())
            .await
        {
            Ok(a) => a,
            Err(e) => {
                self.state.rooms.leave(&room.id, &me.id);
                let code = match &e {
                    MediaError::Sfu(SfuError::BadSdp(_) | SfuError::TooManyMedia) => ErrorCode::InvalidSdp,
                    _ => ErrorCode::NegotiationFailed,
                };
                return self.error(code, e.to_string());
            }
        };
        // Re-read under the rooms lock: a host may have muted everyone while
        // the media join was under way.
        let (blocked, seq) = self.state.rooms.audio_blocked(&room.id, &me.id);
        if entered.audio_muted || blocked {
            // Queued behind the join, so it applies before any media can arrive.
            self.state
                .media
                .mute_audio(core_room, peer, true, seq.max(entered.mute_seq))
                .await;
        }
        tracing::info!(room = %short(&room.id), participant = %me.id, role = ?entered.you.role, "joined");
        let Entered {
            you,
            others,
            controls,
            chat,
            ..
        } = *entered;
        let (token, resume) = resume::new_token();
        self.state
            .resumes
            .live(resume, self.takeover.clone(), self.device.0.clone());
        self.reply(ServerMsg::Joined {
            you,
            room: info,
            participants: others,
            answer,
            controls,
            chat,
            resume: token,
        });
        // Announcing also catches us up (controls, lobby, hands, who came or went).
        self.state.rooms.announce(&room.id, &me.id);
        self.phase = Phase::Joined(Joined {
            room: room.id,
            room_name: room.name,
            core_room,
            pid: me.id,
            peer,
            resume,
            media_alive: true,
        });
    }

    /// The signed-in member's friends and the people who blocked them.
    async fn member_account(&self) -> Result<(Option<MemberAccount>, HashSet<String>), sqlx::Error> {
        let Some(a) = &self.account else {
            return Ok((None, HashSet::new()));
        };
        let friends = self.state.store.friend_ids(&a.id).await?;
        let blockers = self.state.store.blockers_of(&a.id).await?;
        Ok((
            Some(MemberAccount {
                id: a.id.clone(),
                friends,
            }),
            blockers,
        ))
    }

    fn on_media_event(&mut self, peer: PeerId, event: PeerEvent) {
        // An event of a peer this session already left (then joined again) is stale.
        let Phase::Joined(j) = &self.phase else {
            return;
        };
        if j.peer != peer {
            return;
        }
        match event {
            // Its media loop restarted after a panic: as lost as a closed connection.
            PeerEvent::Restarted => self.on_media_event(peer, PeerEvent::Closed("the media server restarted".into())),
            PeerEvent::Offer(sdp) => self.reply(ServerMsg::Offer { sdp }),
            PeerEvent::Connected => tracing::debug!(participant = %j.pid, "media connected"),
            PeerEvent::Speakers(ids) => self.reply(ServerMsg::Speakers { ids }),
            PeerEvent::Layers { mid, active } => self.reply(ServerMsg::Layers { mid, active }),
            PeerEvent::PublishCapped { max_kbps } => self.reply(ServerMsg::PublishCapped { max_kbps }),
            PeerEvent::Closed(reason) => {
                // The participant stays: its client republishes (a new
                // media connection) and is the same person to everyone.
                tracing::info!(participant = %j.pid, "media closed: {reason}");
                self.error(
                    ErrorCode::MediaFailed,
                    format!("the media connection was lost: {reason}; republish"),
                );
                if let Phase::Joined(j) = &mut self.phase {
                    j.media_alive = false;
                }
            }
        }
    }

    async fn leave_room(&mut self) {
        match std::mem::replace(&mut self.phase, Phase::Ready) {
            Phase::Joined(j) => {
                tracing::info!(room = %short(&j.room), participant = %j.pid, "left");
                self.state.resumes.forget(&j.resume);
                self.state.rooms.leave(&j.room, &j.pid);
                self.state.media.leave(j.core_room, j.peer).await;
            }
            Phase::Waiting { room, id } => self.state.rooms.leave(&room, &id),
            other => self.phase = other,
        }
    }
}

/// Sends one frame, giving up on a client that has stopped reading (its TCP
/// window full) so the session ends and frees its place.
async fn send_within(sink: &mut futures_util::stream::SplitSink<WebSocket, Message>, msg: Message) -> bool {
    matches!(tokio::time::timeout(SEND_TIMEOUT, sink.send(msg)).await, Ok(Ok(())))
}

/// 64 random bits, hex: unique within a room, and not the room's secret.
fn new_participant_id() -> String {
    let mut b = [0u8; 8];
    rand::rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Room ids are secrets (the link is the key): log only a prefix.
pub fn short(room: &str) -> &str {
    room.get(..6).unwrap_or(room)
}
