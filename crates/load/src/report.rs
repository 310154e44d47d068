//! Benchmark results: one [`Report`] per run, as JSON, a table, and an SVG
//! plot for participant sweeps.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    pub scenario: String,
    /// "salon" or "janus".
    pub server: String,
    pub participants: usize,
    pub rooms: usize,
    pub duration_s: f64,
    pub server_cpu_s: f64,
    /// server_cpu_s / duration_s: cores busy on average.
    pub server_cores: f64,
    pub server_rss_mib: f64,
    pub rss_per_participant_mib: f64,
    pub egress_packets: u64,
    pub egress_pps: f64,
    pub egress_pps_per_cpu: f64,
    pub ingress_pps: f64,
    pub loss_pct: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_samples: usize,
    /// CPU the load tool itself used: it shares the machine with the server.
    pub load_tool_cpu_s: f64,
    /// From the server's `/metrics` (Salon only; see `scrape.rs`): the p99 of
    /// the time a forwarded datagram spent in the server, over the window.
    #[serde(default)]
    pub server_added_p99_ms: Option<f64>,
    /// Peer polls, and str0m `poll_output` calls, per packet forwarded.
    #[serde(default)]
    pub polls_per_egress_packet: Option<f64>,
    #[serde(default)]
    pub poll_outputs_per_egress_packet: Option<f64>,
    /// UDP datagrams per send call (above 1 with GSO runs).
    #[serde(default)]
    pub datagrams_per_send: Option<f64>,
    /// Over the joins (warm-up included): offers sent per join, their mean size.
    #[serde(default)]
    pub offers_per_join: Option<f64>,
    #[serde(default)]
    pub offer_kib_mean: Option<f64>,
}

impl Report {
    pub fn table_header() -> String {
        format!(
            "{:<14} {:>6} {:>5} {:>6} {:>7} {:>8} {:>9} {:>11} {:>9} {:>6} {:>8} {:>8}",
            "scenario",
            "server",
            "ppl",
            "rooms",
            "cores",
            "rss MiB",
            "egress/s",
            "egress/cpu-s",
            "ingress/s",
            "loss%",
            "p50 ms",
            "p99 ms"
        )
    }

    pub fn table_row(&self) -> String {
        format!(
            "{:<14} {:>6} {:>5} {:>6} {:>7.3} {:>8.1} {:>9.0} {:>11.0} {:>9.0} {:>6.2} {:>8.2} {:>8.2}",
            self.scenario,
            self.server,
            self.participants,
            self.rooms,
            self.server_cores,
            self.server_rss_mib,
            self.egress_pps,
            self.egress_pps_per_cpu,
            self.ingress_pps,
            self.loss_pct,
            self.latency_p50_ms,
            self.latency_p99_ms
        )
    }
}

impl Report {
    /// The server's own figures, when it exposed them.
    pub fn server_line(&self) -> Option<String> {
        let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
        self.polls_per_egress_packet.is_some().then(|| {
            format!(
                "server: added p99 {} ms, polls/pkt {}, poll_output/pkt {}, datagrams/send {}, offers/join {}, offer KiB {}",
                f(self.server_added_p99_ms),
                f(self.polls_per_egress_packet),
                f(self.poll_outputs_per_egress_packet),
                f(self.datagrams_per_send),
                f(self.offers_per_join),
                f(self.offer_kib_mean)
            )
        })
    }
}

/// The p-th percentile (0..=100) of samples in µs, as ms.
pub fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * (sorted_us.len() - 1) as f64).round() as usize;
    f64::from(sorted_us[i.min(sorted_us.len() - 1)]) / 1000.0
}

/// A line plot of server cores and p99 latency against participants.
pub fn sweep_svg(reports: &[Report]) -> String {
    let (w, h, pad) = (720.0, 420.0, 60.0);
    let max_x = reports.iter().map(|r| r.participants as f64).fold(1.0, f64::max);
    let max_cpu = reports.iter().map(|r| r.server_cores).fold(0.1, f64::max) * 1.15;
    let max_lat = reports.iter().map(|r| r.latency_p99_ms).fold(1.0, f64::max) * 1.15;
    let x = |v: f64| pad + v / max_x * (w - 2.0 * pad);
    let y = |v: f64, max: f64| h - pad - v / max * (h - 2.0 * pad);
    let line = |f: &dyn Fn(&Report) -> f64, max: f64| {
        reports
            .iter()
            .map(|r| format!("{:.1},{:.1}", x(r.participants as f64), y(f(r), max)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">Salon: server CPU and p99 latency vs participants (rooms of 10)</text>\n\
         <line x1=\"{pad}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n\
         <line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{}\" stroke=\"black\"/>\n\
         <line x1=\"{}\" y1=\"{pad}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n",
        w / 2.0,
        h - pad,
        w - pad,
        h - pad,
        h - pad,
        w - pad,
        w - pad,
        h - pad
    );
    s += &format!(
        "<polyline fill=\"none\" stroke=\"#3f6f62\" stroke-width=\"2.5\" points=\"{}\"/>\n",
        line(&|r| r.server_cores, max_cpu)
    );
    s += &format!(
        "<polyline fill=\"none\" stroke=\"#a4473b\" stroke-width=\"2.5\" stroke-dasharray=\"6 4\" points=\"{}\"/>\n",
        line(&|r| r.latency_p99_ms, max_lat)
    );
    for r in reports {
        let px = x(r.participants as f64);
        s += &format!(
            "<text x=\"{px:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
            h - pad + 18.0,
            r.participants
        );
        s += &format!(
            "<circle cx=\"{px:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"#3f6f62\"/>\n",
            y(r.server_cores, max_cpu)
        );
        s += &format!(
            "<circle cx=\"{px:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"#a4473b\"/>\n",
            y(r.latency_p99_ms, max_lat)
        );
    }
    for i in 0..=4 {
        let f = f64::from(i) / 4.0;
        s += &format!(
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{:.2}</text>\n",
            pad - 6.0,
            y(f * max_cpu, max_cpu) + 4.0,
            f * max_cpu
        );
        s += &format!(
            "<text x=\"{}\" y=\"{:.1}\">{:.1}</text>\n",
            w - pad + 6.0,
            y(f * max_lat, max_lat) + 4.0,
            f * max_lat
        );
    }
    s += &format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">participants</text>\n\
         <text x=\"16\" y=\"{}\" transform=\"rotate(-90 16 {})\" text-anchor=\"middle\" fill=\"#3f6f62\">server CPU (cores)</text>\n\
         <text x=\"{}\" y=\"{}\" transform=\"rotate(90 {} {})\" text-anchor=\"middle\" fill=\"#a4473b\">p99 latency (ms, dashed)</text>\n</svg>\n",
        w / 2.0,
        h - 14.0,
        h / 2.0,
        h / 2.0,
        w - 14.0,
        h / 2.0,
        w - 14.0,
        h / 2.0
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&v, 50.0), 51.0);
        assert_eq!(percentile_ms(&v, 99.0), 99.0);
        assert_eq!(percentile_ms(&[], 50.0), 0.0);
    }

    #[test]
    fn svg_has_a_point_per_report() {
        let r = |n| Report {
            participants: n,
            server_cores: 0.1,
            latency_p99_ms: 2.0,
            ..Default::default()
        };
        let svg = sweep_svg(&[r(10), r(50)]);
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(svg.starts_with("<svg"));
    }
}
