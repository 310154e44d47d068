//! The session's side of "never drop out" (see `../resume.rs` and
//! PROTOCOL.md): `resume` a participant on a new socket, `republish` its
//! media, and `suspend` it when its socket goes. A child module of `ws`, so
//! it works on the session's own fields.

use salon_sfu::{PeerEvent, PeerId};
use tokio::sync::mpsc;

use super::super::resume::{self, Suspended};
use super::{short, Joined, Phase, Session, NEXT_PEER};
use crate::media::MediaError;
use crate::protocol::{ErrorCode, RoomInfo, ServerMsg};
use salon_sfu::SfuError;
use std::sync::atomic::Ordering;

impl Session {
    /// `resume`: takes our participant back from a dropped connection (or
    /// from the old connection, if the server has not noticed it is gone).
    pub(super) async fn resume(&mut self, token: &str) {
        let hash = resume::hash(token);
        let failed = "nothing to resume (the server restarted or the grace period is over); join again";
        if token.len() > 64 {
            return self.error(ErrorCode::ResumeFailed, failed);
        }
        let Some(mut sus) = self.state.resumes.take(&hash, &self.device.0).await else {
            return self.error(ErrorCode::ResumeFailed, failed);
        };
        // What the media core said while nobody listened: keep whether media
        // still lives and the latest layer choice per video; the pending
        // offer, if any, is sent again below.
        let mut layers = std::collections::HashMap::new();
        while let Ok((peer, event)) = sus.media_rx.try_recv() {
            match event {
                PeerEvent::Closed(_) | PeerEvent::Restarted if peer == sus.peer => sus.media_alive = false,
                PeerEvent::Layers { mid, active } if peer == sus.peer => {
                    layers.insert(mid, active);
                }
                _ => {}
            }
        }
        let store_room = self.state.store.room(&sus.room).await.ok().flatten();
        let info = RoomInfo {
            id: sus.room.clone(),
            name: store_room.map_or_else(|| sus.room_name.clone(), |r| r.name),
            max_participants: self.state.rooms.max_participants,
        };
        let resumed = self.state.rooms.resume(
            &sus.room,
            &sus.pid,
            &self.device.0,
            self.outbox.clone(),
            info,
            sus.media_alive,
        );
        let Some(resumed) = resumed else {
            // Removed, ended or expired meanwhile: nothing of it may linger.
            self.state.media.leave(sus.core_room, sus.peer).await;
            return self.error(ErrorCode::ResumeFailed, failed);
        };
        tracing::info!(room = %short(&sus.room), participant = %sus.pid, "resumed");
        metrics::counter!("salon_reconnects_total", "kind" => "resume").increment(1);
        if sus.media_alive {
            let seq = resumed.mute_seq;
            self.state
                .media
                .mute_audio(sus.core_room, sus.peer, resumed.audio_muted, seq)
                .await;
            for (mid, active) in layers {
                self.reply(ServerMsg::Layers { mid, active });
            }
            self.state.media.resend_offer(sus.core_room, sus.peer).await;
        }
        self.state
            .resumes
            .live(hash, self.takeover.clone(), self.device.0.clone());
        self.media_events = sus.media_tx;
        self.adopt = Some(sus.media_rx);
        self.phase = Phase::Joined(Joined {
            room: sus.room,
            room_name: sus.room_name,
            core_room: sus.core_room,
            pid: sus.pid,
            peer: sus.peer,
            resume: hash,
            media_alive: sus.media_alive,
        });
    }

    /// `republish`: a new media connection for the same participant.
    pub(super) async fn republish(&mut self, offer: String) {
        let Phase::Joined(j) = &self.phase else { return };
        let (room, core, pid, old) = (j.room.clone(), j.core_room, j.pid.clone(), j.peer);
        self.state.media.leave(core, old).await;
        let peer = PeerId(NEXT_PEER.fetch_add(1, Ordering::Relaxed));
        match self
            .state
            .media
            .join(core, peer, pid.clone(), offer, self.media_events.clone())
            .await
        {
            Ok(answer) => {
                self.state.rooms.set_peer(&room, &pid, peer);
                let (blocked, seq) = self.state.rooms.audio_blocked(&room, &pid);
                if blocked {
                    self.state.media.mute_audio(core, peer, true, seq).await;
                }
                if let Phase::Joined(j) = &mut self.phase {
                    j.peer = peer;
                    j.media_alive = true;
                }
                tracing::info!(room = %short(&room), participant = %pid, "media republished");
                metrics::counter!("salon_reconnects_total", "kind" => "republish").increment(1);
                self.reply(ServerMsg::Republished { answer });
            }
            Err(e) => {
                if let Phase::Joined(j) = &mut self.phase {
                    j.media_alive = false;
                }
                let code = match &e {
                    MediaError::Sfu(SfuError::BadSdp(_) | SfuError::TooManyMedia) => ErrorCode::InvalidSdp,
                    _ => ErrorCode::NegotiationFailed,
                };
                self.error(code, e.to_string());
            }
        }
    }

    /// The socket is gone but the participant may come back: keep it in the
    /// room as reconnecting, and out of it for good after the grace period.
    pub(super) fn suspend(&mut self, j: Joined, media_rx: mpsc::UnboundedReceiver<(PeerId, PeerEvent)>) {
        tracing::info!(room = %short(&j.room), participant = %j.pid, "connection dropped; waiting for a resume");
        self.state.rooms.suspend(&j.room, &j.pid);
        let token = j.resume;
        let generation = self.state.resumes.suspend(
            token,
            Suspended {
                room: j.room,
                room_name: j.room_name,
                core_room: j.core_room,
                pid: j.pid,
                peer: j.peer,
                device: self.device.0.clone(),
                media_alive: j.media_alive,
                media_tx: self.media_events.clone(),
                media_rx,
                generation: 0,
            },
        );
        let state = self.state.clone();
        tokio::spawn(async move {
            tokio::time::sleep(state.resumes.grace).await;
            if let Some(s) = state.resumes.expire(&token, generation) {
                tracing::info!(room = %short(&s.room), participant = %s.pid, "not back in time: left");
                state.rooms.leave(&s.room, &s.pid);
                state.media.leave(s.core_room, s.peer).await;
            }
        });
    }
}
