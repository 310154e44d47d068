//! Sending what one pass of the core produced, with as few system calls as
//! the kernel allows (issue 14, step 1).
//!
//! Why: every forwarded packet was its own `sendmsg`, and on the 50-person
//! benchmark the system calls were a large share of the server's CPU. The
//! core's output comes in runs: `drive` polls each subscriber once per
//! receive batch, and str0m emits that subscriber's packets one after the
//! other, to one address. A run whose datagrams have one size (the last may
//! be shorter) goes out as one GSO send (`UDP_SEGMENT`): one call, and the
//! kernel cuts the buffer into datagrams. Runs are found by [`plan`], a pure
//! function with unit tests; quinn-udp does the send, and turns GSO off
//! (every datagram alone again) where the kernel or the NIC refuses it.
//!
//! Not done: `sendmmsg` across destinations. quinn-udp, which also sets the
//! source address per datagram, has no such call; how much it would add is
//! measured in BENCHMARKS.md ("Engine v2, step 1") as datagrams per send.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;

use quinn_udp::UdpSocketState;
use str0m::net::Transmit;
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// The most bytes one GSO send may carry (a UDP datagram's limit, with room
/// for the headers).
const MAX_GSO_BYTES: usize = 64_000;

/// What one datagram needs for grouping: where it goes, from which local
/// address, and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Shape {
    pub to: SocketAddr,
    pub from: Option<IpAddr>,
    pub len: usize,
}

/// Splits datagrams, in order, into runs that can be one GSO send: the same
/// destination and source, every datagram but the last of the size of the
/// first, at most `max_segments` of them and [`MAX_GSO_BYTES`] in all.
/// Order is kept, so a subscriber's packets leave in the order str0m made them.
pub(super) fn plan(shapes: &[Shape], max_segments: usize) -> Vec<Range<usize>> {
    let max_segments = max_segments.max(1);
    let mut runs = Vec::new();
    let mut start = 0;
    while start < shapes.len() {
        let Some(first) = shapes.get(start) else { break };
        let mut end = start.saturating_add(1);
        let mut bytes = first.len;
        while let Some(next) = shapes.get(end) {
            let fits = next.to == first.to
                && next.from == first.from
                && next.len <= first.len
                && next.len > 0
                && end.saturating_sub(start) < max_segments
                && bytes.saturating_add(next.len) <= MAX_GSO_BYTES;
            if !fits {
                break;
            }
            bytes = bytes.saturating_add(next.len);
            end = end.saturating_add(1);
            // A shorter datagram can only end a run.
            if next.len < first.len {
                break;
            }
        }
        runs.push(start..end);
        start = end;
    }
    runs
}

/// Totals for `/metrics`: datagrams per send is `datagrams / sends`.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct SendStats {
    /// Send calls made (one per run).
    pub sends: u64,
    /// Datagrams handed to the kernel, refused ones included.
    pub datagrams: u64,
    /// Datagrams the socket refused (full buffer): each one is lost, as UDP may.
    pub drops: u64,
}

/// Sends queued UDP transmits in runs; keeps its buffers between passes.
#[derive(Default)]
pub(super) struct Sender {
    queue: Vec<Transmit>,
    shapes: Vec<Shape>,
    joined: Vec<u8>,
    pub stats: SendStats,
}

impl Sender {
    pub fn push(&mut self, t: Transmit) {
        self.queue.push(t);
    }

    /// Sends everything queued. `local_ips` are the addresses the socket may
    /// send from explicitly (a transmit's source elsewhere is left to the kernel).
    pub fn send_all(&mut self, socket: &UdpSocket, state: &UdpSocketState, local_ips: &HashSet<IpAddr>) {
        if self.queue.is_empty() {
            return;
        }
        self.shapes.clear();
        self.shapes.extend(self.queue.iter().map(|t| Shape {
            to: t.destination,
            from: Some(t.source.ip()).filter(|ip| local_ips.contains(ip) && !ip.is_unspecified()),
            len: t.contents.len(),
        }));
        for run in plan(&self.shapes, state.max_gso_segments()) {
            let Some(first) = self.shapes.get(run.start).copied() else {
                continue;
            };
            let count = run.len();
            let contents: &[u8] = if count == 1 {
                self.queue.get(run.start).map(|t| &t.contents[..]).unwrap_or_default()
            } else {
                self.joined.clear();
                for t in self.queue.get(run.clone()).unwrap_or_default() {
                    self.joined.extend_from_slice(&t.contents);
                }
                &self.joined
            };
            let transmit = quinn_udp::Transmit {
                destination: first.to,
                ecn: None,
                contents,
                segment_size: (count > 1).then_some(first.len),
                src_ip: first.from,
            };
            let res = socket.try_io(Interest::WRITABLE, || state.try_send(socket.into(), &transmit));
            self.stats.sends = self.stats.sends.saturating_add(1);
            self.stats.datagrams = self.stats.datagrams.saturating_add(count as u64);
            if let Err(e) = res {
                // UDP may drop: a full send buffer loses these packets only (NACK repairs video).
                let before = self.stats.drops;
                self.stats.drops = self.stats.drops.saturating_add(count as u64);
                if before.leading_zeros() != self.stats.drops.leading_zeros() {
                    tracing::debug!("media send dropped ({} so far): {e}", self.stats.drops);
                }
            }
        }
        self.queue.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(port: u16, len: usize) -> Shape {
        Shape {
            to: SocketAddr::from(([127, 0, 0, 1], port)),
            from: None,
            len,
        }
    }

    fn lens(runs: &[Range<usize>]) -> Vec<usize> {
        runs.iter().map(|r| r.len()).collect()
    }

    #[test]
    fn equal_sizes_to_one_address_are_one_run() {
        let s = [shape(1, 1200), shape(1, 1200), shape(1, 1200)];
        assert_eq!(plan(&s, 64), vec![0..3]);
    }

    #[test]
    fn a_shorter_datagram_ends_a_run() {
        let s = [shape(1, 1200), shape(1, 900), shape(1, 1200), shape(1, 1200)];
        assert_eq!(plan(&s, 64), vec![0..2, 2..4]);
    }

    #[test]
    fn a_longer_datagram_starts_a_new_run() {
        let s = [shape(1, 900), shape(1, 1200), shape(1, 1200)];
        assert_eq!(plan(&s, 64), vec![0..1, 1..3]);
    }

    #[test]
    fn another_address_or_source_starts_a_new_run() {
        let mut other_source = shape(1, 1200);
        other_source.from = Some(IpAddr::from([10, 0, 0, 1]));
        let s = [shape(1, 1200), shape(2, 1200), shape(2, 1200), other_source];
        assert_eq!(plan(&s, 64), vec![0..1, 1..3, 3..4]);
    }

    #[test]
    fn runs_respect_the_segment_and_byte_limits() {
        let s = vec![shape(1, 1200); 10];
        assert_eq!(lens(&plan(&s, 4)), vec![4, 4, 2]);
        assert_eq!(lens(&plan(&s, 1)), vec![1; 10]);
        let big = vec![shape(1, 30_000); 3];
        assert_eq!(lens(&plan(&big, 64)), vec![2, 1]);
    }

    #[test]
    fn every_datagram_is_planned_once_in_order() {
        let s: Vec<Shape> = (0..200u16)
            .map(|i| shape(i % 3, 100 + usize::from(i % 5) * 10))
            .collect();
        let runs = plan(&s, 8);
        let flat: Vec<usize> = runs.iter().flat_map(|r| r.clone()).collect();
        assert_eq!(flat, (0..200).collect::<Vec<_>>());
        assert!(plan(&[], 8).is_empty());
    }
}
