//! Retransmissions towards subscribers on lossy links.
//!
//! str0m answers a subscriber's NACKs from each video stream's send buffer
//! (RTX), but by default it stops, and drops the queued resends, once
//! retransmitted bytes exceed 15% of what the stream sends. On a link that
//! loses 10% that cap is soon reached: a resend may be lost in turn, and a
//! keyframe lost in part is large. The subscriber then waits, frozen, for
//! the next keyframe. Measured in `e2e/network.test.mjs` (RELIABILITY.md):
//! with the default cap, 10% downlink loss froze videos for 2.5-7 s in 15 s.
//!
//! So each video copy's stream gets a higher cap once negotiated. The cap
//! still bounds what a hopeless link can cost: at most half of what is sent
//! to that subscriber is resent.

use std::collections::HashSet;
use std::time::Duration;

use str0m::media::{MediaKind, Mid};
use str0m::Rtc;

use crate::track::{TrackOut, TrackOutState};

/// Most of a video stream's bytes that may be retransmissions.
pub const VIDEO_RTX_RATIO_CAP: f32 = 0.5;
/// How old a NACKed packet may be (str0m's default).
const RTX_MAX_AGE: Duration = Duration::from_secs(3);

/// Raises the resend cap of every open video copy not yet tuned (`tuned`
/// holds the subscriber-side mids already done: re-configuring empties the
/// stream's send buffer, so each is done once).
pub(crate) fn tune(rtc: &mut Rtc, tracks_out: &[TrackOut], tuned: &mut HashSet<Mid>, buffer: usize) {
    for t in tracks_out.iter().filter(|t| t.kind == MediaKind::Video) {
        let TrackOutState::Open(mid) = t.state else { continue };
        if tuned.contains(&mid) {
            continue;
        }
        if let Some(stream) = rtc.direct_api().stream_tx_by_mid(mid, None) {
            stream.set_rtx_cache(buffer, RTX_MAX_AGE, Some(VIDEO_RTX_RATIO_CAP));
            tuned.insert(mid);
        }
    }
}
