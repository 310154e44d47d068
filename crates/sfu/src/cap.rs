//! The per-publisher bitrate cap.
//!
//! Why: the SFU forwards what a publisher sends to everyone who watches it,
//! so a modified client sending 50 Mb/s would cost the server 49 × 50 Mb/s
//! of egress and flood every subscriber. Browsers running Salon's own client
//! never come close: simulcast tops out near 2.2 Mb/s (150 + 500 + 1500 kb/s),
//! a screen share at 2.5 Mb/s and original sound at 128 kb/s.
//!
//! How: a token bucket per publisher over every RTP payload it sends (all
//! tracks and layers together), refilled at the cap and holding two seconds
//! of it so keyframes and start-up bursts pass. A packet that finds the bucket
//! empty is dropped before any subscriber sees it. The publisher is told at
//! its first drop and then at most every [`NOTIFY_EVERY`], so its client can
//! say so and lower its send rate.

use std::time::{Duration, Instant};

/// The bucket holds this much of the cap, so bursts up to it pass.
const BURST: Duration = Duration::from_secs(2);
/// Shortest interval between two notices to one publisher.
pub(crate) const NOTIFY_EVERY: Duration = Duration::from_secs(5);

/// What to do with one received packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    Forward,
    /// Over the cap: drop it. `notify`: tell the publisher now.
    Drop {
        notify: bool,
    },
}

/// A publisher's token bucket, in bytes.
#[derive(Debug, Clone)]
pub(crate) struct PublishCap {
    /// Bytes per second allowed.
    rate: u64,
    /// Bytes the bucket holds when full.
    capacity: u64,
    tokens: u64,
    last: Option<Instant>,
    notified: Option<Instant>,
    /// Packets dropped over the cap so far.
    pub dropped: u64,
}

impl PublishCap {
    /// A bucket for `bits_per_sec`, full at creation.
    pub fn new(bits_per_sec: u64) -> Self {
        let rate = (bits_per_sec / 8).max(1);
        let capacity = rate.saturating_mul(BURST.as_secs()).max(1);
        PublishCap {
            rate,
            capacity,
            tokens: capacity,
            last: None,
            notified: None,
            dropped: 0,
        }
    }

    /// The cap in kb/s, as told to the publisher.
    pub fn kbps(&self) -> u64 {
        self.rate.saturating_mul(8) / 1000
    }

    /// Accounts one packet of `bytes` received at `now`.
    pub fn admit(&mut self, now: Instant, bytes: usize) -> Admit {
        let elapsed = self.last.map_or(Duration::ZERO, |l| now.saturating_duration_since(l));
        self.last = Some(now);
        // Whole microseconds keep the refill exact over many small steps.
        let refill = u64::try_from(elapsed.as_micros())
            .unwrap_or(u64::MAX)
            .saturating_mul(self.rate)
            / 1_000_000;
        self.tokens = self.tokens.saturating_add(refill).min(self.capacity);
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        if let Some(left) = self.tokens.checked_sub(bytes) {
            self.tokens = left;
            return Admit::Forward;
        }
        self.dropped = self.dropped.saturating_add(1);
        let notify = self
            .notified
            .is_none_or(|at| now.saturating_duration_since(at) >= NOTIFY_EVERY);
        if notify {
            self.notified = Some(now);
        }
        Admit::Drop { notify }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sender_within_the_cap_loses_nothing() {
        let t0 = Instant::now();
        let mut cap = PublishCap::new(1_000_000); // 125 000 B/s
                                                  // 1000 B every 10 ms = 800 kb/s, for 10 s.
        for i in 0..1000u64 {
            let now = t0 + Duration::from_millis(i * 10);
            assert_eq!(cap.admit(now, 1000), Admit::Forward, "packet {i}");
        }
        assert_eq!(cap.dropped, 0);
    }

    #[test]
    fn a_burst_passes_then_excess_is_dropped_at_the_cap_rate() {
        let t0 = Instant::now();
        let mut cap = PublishCap::new(1_000_000);
        assert_eq!(cap.kbps(), 1000);
        // 10 s at 4 Mb/s: 5000 B/s... in 1000 B packets every 2 ms.
        let mut forwarded = 0u64;
        let mut notices = 0;
        for i in 0..5000u64 {
            match cap.admit(t0 + Duration::from_millis(i * 2), 1000) {
                Admit::Forward => forwarded += 1000,
                Admit::Drop { notify } => notices += usize::from(notify),
            }
        }
        // The 2 s burst (250 000 B) plus 10 s at 125 000 B/s, within a packet.
        let allowed = 250_000 + 125_000 * 10;
        assert!(forwarded <= allowed + 1000, "forwarded {forwarded} > {allowed}");
        assert!(forwarded >= allowed - 2000, "forwarded {forwarded} < {allowed}");
        assert!(cap.dropped > 3000);
        // One notice at the first drop, then one per 5 s at most.
        assert!((1..=2).contains(&notices), "{notices} notices");
    }

    #[test]
    fn huge_or_odd_inputs_do_not_overflow() {
        let t0 = Instant::now();
        let mut cap = PublishCap::new(u64::MAX);
        assert_eq!(cap.admit(t0, usize::MAX), Admit::Drop { notify: true });
        assert_eq!(cap.admit(t0 + Duration::from_secs(1 << 20), 10), Admit::Forward);
        let mut zero = PublishCap::new(0);
        assert!(matches!(zero.admit(t0, 3), Admit::Drop { .. }));
        // Time going backwards refills nothing and does not panic.
        assert!(matches!(zero.admit(t0 - Duration::from_secs(1), 3), Admit::Drop { .. }));
    }
}
