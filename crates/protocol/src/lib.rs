//! The signaling protocol: JSON messages over one WebSocket (`/ws`).
//! Its own crate because two programs speak it: the server and the load tool.
//!
//! Every message is one JSON object whose `type` names it; PROTOCOL.md
//! describes each with examples and must change with this file. Types only:
//! no I/O here, so a load tool or another client can reuse them.
//!
//! Why tagged enums with `deny_unknown_fields`: a message either is exactly
//! one of these shapes or it is rejected with `bad_message`; the session code
//! never sees half-valid input.
//!
//! This crate parses network input, so (as str0m does) it denies `unwrap`,
//! unchecked indexing and unchecked arithmetic outside tests; each allowed
//! exception carries a comment saying why it cannot fail.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use serde::{Deserialize, Serialize};

/// Bumped on any incompatible change. A client announces the version it
/// speaks in `hello`; the server refuses others with `unsupported_version`.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest text message accepted from a client, in bytes; larger ones get
/// `message_too_large`. A join offer is about 5 KiB, but an *answer* grows
/// with the room: ~100 m-lines in a 50-person room are ~80 KiB, so this
/// leaves room for rooms of a few hundred.
pub const MAX_MESSAGE_BYTES: usize = 512 * 1024;

/// Hard cap at the WebSocket layer: beyond this the connection is closed.
pub const MAX_FRAME_BYTES: usize = 1024 * 1024;

/// Most tiles a `view` message may list.
pub const MAX_VIEW_TILES: usize = 256;

/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 40;

/// Messages from the browser.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMsg {
    /// First message: the protocol version the client speaks.
    Hello {
        version: u32,
    },
    /// Enter a room with a display name and the SDP offer for our own tracks.
    /// `invite`: a token from the host's roster, to skip the waiting room.
    Join {
        room: String,
        name: String,
        offer: String,
        #[serde(default)]
        invite: Option<String>,
    },
    /// The answer to an `offer` from the server.
    Answer {
        sdp: String,
    },
    /// Our microphone / camera / screen share is on or off (shown to others).
    State {
        audio: bool,
        video: bool,
        #[serde(default)]
        screen: bool,
    },
    /// The tiles our screen shows now, with their height in device pixels.
    /// Video of people not listed is not sent; the others come in the
    /// simulcast layer that fits. At most [`MAX_VIEW_TILES`] entries.
    View {
        tiles: Vec<Tile>,
    },
    /// Keepalive; the server replies `pong`. Also the server's liveness
    /// signal: a joined session that sends nothing for a while is suspended.
    Ping {},
    /// Instead of `join`, after `hello`: take our participant back after a
    /// dropped connection, with the token `joined` gave us. Answered with
    /// `resumed`, or `error` `resume_failed` (then `join` afresh).
    Resume {
        token: String,
    },
    /// Replace our media connection (a new RTCPeerConnection) while staying
    /// the same participant: after `media_failed`, a failed ICE connection
    /// or a network change. Answered with `republished`.
    Republish {
        offer: String,
    },
    /// Leave the room (closing the socket does the same).
    Leave {},

    // Host commands: refused with `forbidden` unless sent by the host or a co-host.
    /// Lock (nobody new may enter) or unlock the room.
    Lock {
        locked: bool,
    },
    /// Remove a participant from this session; `ban`: also for good.
    Remove {
        id: String,
        #[serde(default)]
        ban: bool,
    },
    /// End the room for everyone (host only, not co-hosts).
    EndRoom {},
    /// Let someone in from the waiting room, or turn them away.
    Admit {
        id: String,
    },
    Deny {
        id: String,
    },
    AdmitAll {},
    /// Mute one participant, or everyone but the hosts (enforced by the SFU).
    Mute {
        id: String,
    },
    MuteAll {},
    /// Let a participant unmute when participants cannot unmute themselves.
    AllowUnmute {
        id: String,
    },
    /// Ask someone to turn their camera on (they decide).
    AskVideo {
        id: String,
    },
    /// Show one participant large for everyone; `null` ends the spotlight.
    Spotlight {
        id: Option<String>,
    },
    /// Make a participant co-host or take it back (host only).
    Cohost {
        id: String,
        on: bool,
    },
    /// Room policies; kept with the room.
    Policy {
        waiting_room: bool,
        mute_on_entry: bool,
        self_unmute: bool,
    },
    /// Put a hand down (hosts: anyone's).
    LowerHand {
        id: String,
    },
    /// Put every raised hand down at once (hosts and co-hosts).
    LowerAllHands {},

    // Everyone in the room.
    /// A chat line (1 to [`MAX_CHAT_CHARS`] characters).
    Chat {
        text: String,
    },
    /// Raise or lower our hand.
    Hand {
        raised: bool,
    },
    /// A short reaction, one of [`REACTIONS`].
    React {
        emoji: String,
    },
    /// Report the room (`id` null) or a participant to the instance operator.
    Report {
        #[serde(default)]
        id: Option<String>,
        reason: String,
    },
}

/// One entry of `RTCConfiguration.iceServers`: TURN URLs and the
/// time-limited credentials that open them.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct IceServer {
    pub urls: Vec<String>,
    pub username: String,
    pub credential: String,
}

/// Messages to the browser.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    Hello {
        version: u32,
        server: String,
        /// ICE servers for the RTCPeerConnection (Salon's own TURN relay,
        /// with credentials for this session). Absent from older servers.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ice_servers: Vec<IceServer>,
    },
    /// We are in: who we are, who is here, and the answer to our offer.
    Joined {
        you: Participant,
        room: RoomInfo,
        participants: Vec<Participant>,
        answer: String,
        controls: Controls,
        /// The chat so far (kept while the room lives).
        chat: Vec<ChatLine>,
        /// Secret to `resume` this participant after a dropped connection
        /// (valid while we are in the room or within the grace period).
        #[serde(default)]
        resume: String,
    },
    /// Our participant is back after `resume`: the room as it is now (the
    /// same shape as `joined`, without an answer). `media`: the SFU still
    /// holds our media connection; if false, or if ours failed, `republish`.
    Resumed {
        you: Participant,
        room: RoomInfo,
        participants: Vec<Participant>,
        controls: Controls,
        chat: Vec<ChatLine>,
        media: bool,
    },
    /// We fell behind: this replaces everything we knew about the room's
    /// people, controls and chat (hosts also get `lobby` and `hands` after it).
    Resync {
        participants: Vec<Participant>,
        controls: Controls,
        chat: Vec<ChatLine>,
    },
    /// The answer to our `republish` offer.
    Republished {
        answer: String,
    },
    /// The server is going away (restart or update): reconnect now; a
    /// `resume` that fails means a full `join`.
    Reconnect {},
    /// The room has a waiting room: wait until a host admits (`admitted`)
    /// or denies (`denied`) us.
    Waiting {
        room: RoomInfo,
    },
    /// A host let us in: send `join` again.
    Admitted {},
    /// A host turned us away from the waiting room.
    Denied {},
    /// To hosts: who is waiting, in order of arrival (a knock when it grows).
    Lobby {
        waiting: Vec<LobbyEntry>,
    },
    /// The room's controls changed.
    Controls {
        controls: Controls,
    },
    /// A host muted us: turn the microphone off (the SFU already stopped
    /// forwarding our audio).
    Muted {},
    /// A host lets us unmute.
    MayUnmute {},
    /// A host asks us to turn our camera on.
    VideoRequested {},
    /// To hosts: raised hands, first raised first.
    Hands {
        ids: Vec<String>,
    },
    Chat {
        line: ChatLine,
    },
    Reaction {
        id: String,
        emoji: String,
    },
    /// We were removed from the room (`banned`: for good).
    Removed {
        banned: bool,
    },
    /// The host ended the room.
    Ended {},
    /// Our report was recorded.
    Reported {},
    /// New tracks to receive (or old ones to stop). Reply with `answer`.
    Offer {
        sdp: String,
    },
    ParticipantJoined {
        participant: Participant,
    },
    ParticipantUpdated {
        participant: Participant,
    },
    ParticipantLeft {
        id: String,
    },
    /// The loudest voices right now (participant ids, loudest first, at most 3).
    Speakers {
        ids: Vec<String>,
    },
    /// To a publisher: encode only these simulcast layers (rids) of the video
    /// sent on `mid`; the others have no viewer. Empty: pause the video encoding.
    Layers {
        mid: String,
        active: Vec<String>,
    },
    /// To a publisher: it sent more than the server's cap (`max_kbps`, all
    /// its tracks together) and the excess was dropped. Repeated at most
    /// every 5 s while it lasts.
    PublishCapped {
        max_kbps: u64,
    },
    Pong {},
    Error {
        code: ErrorCode,
        message: String,
    },
}

/// A person in a room, as others see them. `id` is also the stream id (msid)
/// of their tracks in our SDP, which is how a browser matches video to tile.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Participant {
    pub id: String,
    pub name: String,
    pub audio: bool,
    pub video: bool,
    #[serde(default)]
    pub role: Role,
    /// Hand raised.
    #[serde(default)]
    pub hand: bool,
    /// Sharing a screen: its tracks come under the stream id `<id>-screen`.
    #[serde(default)]
    pub screen: bool,
    /// URL path of the person's avatar, if signed in with one (seen by all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// The account's username: sent only to the person's friends (and to
    /// themselves); absent for guests and towards non-friends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Their connection dropped and they are expected back (the tile stays,
    /// dimmed); they leave for good if not back within the grace period.
    #[serde(default, skip_serializing_if = "is_false")]
    pub reconnecting: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What a person may do in a room. Checked by the server on every command.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Created the room (or owns it): every control.
    Host,
    /// Granted by the host: every control but ending the room and naming co-hosts.
    Cohost,
    /// Signed in.
    Participant,
    /// Joined by link with just a name.
    #[default]
    Guest,
}

impl Role {
    /// Host or co-host.
    pub fn moderates(self) -> bool {
        matches!(self, Role::Host | Role::Cohost)
    }
}

/// A room's controls, as everyone in it sees them.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Controls {
    pub locked: bool,
    pub waiting_room: bool,
    pub mute_on_entry: bool,
    /// Participants may unmute themselves (otherwise they raise a hand).
    pub self_unmute: bool,
    /// The participant shown large for everyone.
    pub spotlight: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct ChatLine {
    /// Participant id of the sender.
    pub from: String,
    pub name: String,
    pub text: String,
    /// Unix time, milliseconds.
    pub at: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct LobbyEntry {
    pub id: String,
    pub name: String,
}

/// Longest chat line, in characters.
pub const MAX_CHAT_CHARS: usize = 1000;
/// Longest report reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;
/// The reactions a participant may send.
pub const REACTIONS: [&str; 8] = ["👏", "❤️", "😂", "😮", "🙏", "👍", "🌿", "✨"];

/// Trims a chat line or report reason and checks it: 1 to `max` characters,
/// no control characters but newlines.
pub fn validate_text(text: &str, max: usize) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the text is empty".into());
    }
    if text.chars().count() > max {
        return Err(format!("the text is longer than {max} characters"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err("the text contains control characters".into());
    }
    Ok(text.to_string())
}

/// One visible tile in a `view` report.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Tile {
    pub id: String,
    pub height: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct RoomInfo {
    pub id: String,
    pub name: String,
    pub max_participants: usize,
}

/// Stable error codes for programs; the `message` is for people.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadMessage,
    MessageTooLarge,
    RateLimited,
    UnsupportedVersion,
    NotJoined,
    AlreadyJoined,
    RoomNotFound,
    RoomFull,
    InvalidName,
    /// Someone in the room does not want this person there (kept neutral).
    Blocked,
    InvalidSdp,
    NegotiationFailed,
    MediaFailed,
    Internal,
    /// Only a host (or co-host) may do that.
    Forbidden,
    /// The room is locked: nobody new may enter.
    RoomLocked,
    /// Removed from this room for good (or for this session).
    Banned,
    /// A scheduled session that is not open yet.
    NotOpen,
    /// No such participant in this room.
    UnknownParticipant,
    /// A chat line, reaction or reason that is not acceptable.
    InvalidText,
    /// A host turned us away from the waiting room a moment ago.
    Denied,
    /// `resume` found nothing to resume (unknown or expired token, or the
    /// server restarted): `join` afresh.
    ResumeFailed,
    /// A call is only for the people called into it: its link alone does
    /// not let anyone in.
    NotInvited,
}

impl ServerMsg {
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        ServerMsg::Error {
            code,
            message: message.into(),
        }
    }
}

/// Trims a display name and checks it: 1 to [`MAX_NAME_CHARS`] characters,
/// no control characters.
pub fn validate_name(name: &str) -> Result<String, &'static str> {
    let name = name.trim();
    if name.is_empty() {
        return Err("the name is empty");
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err("the name is longer than 40 characters");
    }
    if name.chars().any(char::is_control) {
        return Err("the name contains control characters");
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let m: ClientMsg = serde_json::from_str(r#"{"type":"hello","version":1}"#).unwrap();
        assert_eq!(m, ClientMsg::Hello { version: 1 });
        assert!(serde_json::from_str::<ClientMsg>(r#"{"type":"hello","version":1,"x":2}"#).is_err());
        assert!(serde_json::from_str::<ClientMsg>(r#"{"type":"fly"}"#).is_err());
        assert!(serde_json::from_str::<ClientMsg>(r#"{"version":1}"#).is_err());
        let e = serde_json::to_string(&ServerMsg::error(ErrorCode::RoomFull, "full")).unwrap();
        assert_eq!(e, r#"{"type":"error","code":"room_full","message":"full"}"#);
    }

    #[test]
    fn names() {
        assert_eq!(validate_name("  Léa  ").unwrap(), "Léa");
        assert!(validate_name("   ").is_err());
        assert!(validate_name("a\u{7}b").is_err());
        assert!(validate_name(&"é".repeat(41)).is_err());
        assert!(validate_name(&"é".repeat(40)).is_ok());
    }
}
