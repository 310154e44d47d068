//! Operations: `/metrics` (Prometheus text format), `/healthz`, `/readyz`.
//!
//! Why the `metrics` crate with its Prometheus exporter rather than counters
//! of our own: the rest of the code records with one-line macros
//! (`metrics::counter!`), and the exporter renders the text format, types
//! and help lines. Its own HTTP listener is left out (no default features):
//! Salon serves `/metrics` from its router, so there is one port to run.
//!
//! Who may read `/metrics`: loopback, and the networks given by
//! `--metrics-allow`. The address checked is the TCP peer's, never a
//! forwarding header: the figures (rooms, participants, load) are for the
//! operator, not for visitors.
//!
//! What is exported (all prefixed `salon_`):
//! - gauges set at each scrape: `rooms`, `participants`, `waiting`,
//!   `ws_sessions`;
//! - per media loop (`loop` label), from the core's counters each second:
//!   `media_peers`, `media_packets_forwarded_total`,
//!   `media_frames_forwarded_total`, `media_keyframe_requests_total`,
//!   `media_packets_over_cap_total`, `media_datagrams_unrouted_total`,
//!   `media_send_drops_total`, and `media_busy_microseconds_total` (time the
//!   loop spent working rather than waiting: its CPU share);
//!   `media_polls_total` and `media_poll_outputs_total` (work per egress
//!   packet), `media_offers_total`, `media_offer_bytes_total` and
//!   `media_joins_total` (renegotiation per join), `media_udp_sends_total`
//!   and `media_udp_datagrams_total` (datagrams per send call, GSO);
//! - the histogram `media_added_latency_seconds`, with buckets (a benchmark
//!   subtracts two scrapes to get its own window's p99);
//!   `media_loop_restarts_total` after a panic;
//! - signaling: `signaling_coalesced_total` (room-state messages replaced by
//!   a resync), `signaling_resyncs_total`, and `reconnects_total` with
//!   `kind` = `resume` (the same participant back on a new WebSocket) or
//!   `republish` (a new media connection after ICE failed). A full rejoin
//!   after a server restart is an ordinary `join` and is not told apart.

use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Time a forwarded datagram spent in the server, from the media loop's
/// wake-up with received datagrams to the end of the send that forwarded it
/// (an upper bound per datagram; time queued in the kernel before the
/// wake-up is not seen).
pub const ADDED_LATENCY: &str = "salon_media_added_latency_seconds";
const ADDED_LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_2, 0.000_3, 0.000_5, 0.000_75, 0.001, 0.001_5, 0.002, 0.003, 0.005, 0.01, 0.02, 0.05, 0.1,
    0.2, 0.5, 1.0,
];

use crate::AppState;

/// The process-wide recorder: installed once (tests start many servers in
/// one process), shared by every server.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        // A histogram with buckets (not a summary): a benchmark subtracts two
        // scrapes and reads the p99 of just its window.
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(ADDED_LATENCY.into()), ADDED_LATENCY_BUCKETS)
            .unwrap_or_else(|e| {
                tracing::warn!("latency buckets refused: {e}");
                PrometheusBuilder::new()
            });
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder is installed; then ours renders nothing new.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed");
        }
        describe();
        handle
    })
}

fn describe() {
    use metrics::{describe_counter, describe_gauge};
    describe_gauge!("salon_rooms", "Live rooms on this node.");
    describe_gauge!(
        "salon_participants",
        "Participants in live rooms (reconnecting ones included)."
    );
    describe_gauge!("salon_waiting", "People in waiting rooms.");
    describe_gauge!("salon_ws_sessions", "Open WebSocket sessions.");
    describe_gauge!("salon_media_peers", "Media connections held by a media loop.");
    describe_counter!(
        "salon_media_packets_forwarded_total",
        "RTP packets written to subscribers."
    );
    describe_counter!("salon_media_frames_forwarded_total", "Frames written to subscribers.");
    describe_counter!(
        "salon_media_keyframe_requests_total",
        "Keyframe requests sent to publishers."
    );
    describe_counter!(
        "salon_media_packets_over_cap_total",
        "Received packets dropped over the per-publisher bitrate cap."
    );
    describe_counter!("salon_media_datagrams_unrouted_total", "Datagrams no peer accepted.");
    describe_counter!(
        "salon_media_send_drops_total",
        "Datagrams the socket refused (full buffers)."
    );
    describe_counter!("salon_media_polls_total", "Times a peer's connection was polled.");
    describe_counter!(
        "salon_media_poll_outputs_total",
        "Calls to str0m's poll_output (each walks the peer's m-lines)."
    );
    describe_counter!("salon_media_offers_total", "SDP offers sent to browsers.");
    describe_counter!("salon_media_offer_bytes_total", "Bytes of the SDP offers sent.");
    describe_counter!("salon_media_joins_total", "Media connections added.");
    describe_counter!("salon_media_udp_sends_total", "UDP send calls (one per GSO run).");
    describe_counter!("salon_media_udp_datagrams_total", "UDP datagrams sent.");
    metrics::describe_histogram!(
        ADDED_LATENCY,
        metrics::Unit::Seconds,
        "From the wake-up that received media to the send that forwarded it."
    );
    describe_counter!(
        "salon_media_busy_microseconds_total",
        "Time a media loop spent working rather than waiting."
    );
    describe_counter!(
        "salon_media_loop_restarts_total",
        "Media loops restarted after a panic."
    );
    describe_counter!(
        "salon_signaling_coalesced_total",
        "Room-state messages replaced by a resync for a client that fell behind."
    );
    describe_counter!(
        "salon_signaling_resyncs_total",
        "Resyncs owed to clients that fell behind."
    );
    describe_counter!(
        "salon_reconnects_total",
        "Participants back after a dropped connection."
    );
}

/// Whether `peer` may read `/metrics`.
pub fn allowed(peer: IpAddr, allow: &[ipnet::IpNet]) -> bool {
    let peer = match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
        v4 => v4,
    };
    peer.is_loopback() || allow.iter().any(|n| n.contains(&peer))
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>, ConnectInfo(peer): ConnectInfo<SocketAddr>) -> Response {
    if !allowed(peer.ip(), &state.metrics_allow) {
        return (
            StatusCode::FORBIDDEN,
            "metrics are for the operator (see --metrics-allow)\n",
        )
            .into_response();
    }
    let c = state.rooms.counts();
    metrics::gauge!("salon_rooms").set(c.rooms as f64);
    metrics::gauge!("salon_participants").set(c.participants as f64);
    metrics::gauge!("salon_waiting").set(c.waiting as f64);
    let open = crate::MAX_SESSIONS.saturating_sub(state.sessions.available_permits());
    metrics::gauge!("salon_ws_sessions").set(open as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        handle().render(),
    )
        .into_response()
}

/// `GET /readyz`: 200 when the database answers and every media loop runs.
pub async fn ready(State(state): State<AppState>) -> Response {
    if let Err(e) = state.store.ping().await {
        tracing::warn!("not ready: database: {e}");
        return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response();
    }
    if !state.media.running() {
        return (StatusCode::SERVICE_UNAVAILABLE, "a media loop stopped\n").into_response();
    }
    (StatusCode::OK, "ready\n").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_and_allowed_networks_read_metrics() {
        let allow: Vec<ipnet::IpNet> = vec!["10.1.0.0/16".parse().unwrap()];
        assert!(allowed("127.0.0.1".parse().unwrap(), &[]));
        assert!(allowed("::1".parse().unwrap(), &[]));
        assert!(allowed("::ffff:127.0.0.1".parse().unwrap(), &[]));
        assert!(allowed("10.1.2.3".parse().unwrap(), &allow));
        assert!(!allowed("10.2.0.1".parse().unwrap(), &allow));
        assert!(!allowed("192.0.2.7".parse().unwrap(), &[]));
    }
}
