//! The server's own figures, read from its `/metrics` (Prometheus text
//! format) before and after a measurement: work per egress packet,
//! datagrams per send call, offers per join and the server's added latency.
//! Only Salon has them; a Janus run leaves these fields empty.

use std::collections::BTreeMap;
use std::net::SocketAddr;

/// The server's added-latency histogram: the name `telemetry.rs` in the
/// server crate exports (this crate does not depend on the server).
pub const ADDED_LATENCY: &str = "salon_media_added_latency_seconds";

/// One scrape: every sample summed over its labels (all media loops), and
/// the buckets of histograms by their `le` bound.
#[derive(Debug, Default, Clone)]
pub struct Scrape {
    totals: BTreeMap<String, f64>,
    buckets: BTreeMap<String, BTreeMap<u64, f64>>,
}

impl Scrape {
    /// Parses the text format; lines it does not understand are skipped.
    pub fn parse(text: &str) -> Scrape {
        let mut s = Scrape::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((key, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.trim().parse::<f64>() else {
                continue;
            };
            let (name, labels) = key.split_once('{').unwrap_or((key, ""));
            if let Some(hist) = name.strip_suffix("_bucket") {
                let le = labels
                    .split(',')
                    .find_map(|l| l.trim().strip_prefix("le=\""))
                    .and_then(|v| v.trim_end_matches(['"', '}']).parse::<f64>().ok());
                if let Some(le) = le.filter(|l| l.is_finite()) {
                    // Bounds in nanoseconds as keys: ordered and exact enough.
                    let key = (le * 1e9).round() as u64;
                    *s.buckets.entry(hist.to_string()).or_default().entry(key).or_default() += value;
                }
                continue;
            }
            *s.totals.entry(name.to_string()).or_default() += value;
        }
        s
    }

    pub fn total(&self, name: &str) -> f64 {
        self.totals.get(name).copied().unwrap_or(0.0)
    }

    /// What grew between `self` (earlier) and `later`.
    pub fn delta(&self, later: &Scrape, name: &str) -> f64 {
        later.total(name) - self.total(name)
    }

    /// The bucket bound (in the metric's unit) under which fraction `q` of
    /// the observations made between the two scrapes fall; `None` without
    /// observations, or when they lie beyond the last finite bucket.
    pub fn quantile_between(&self, later: &Scrape, hist: &str, q: f64) -> Option<f64> {
        let after = later.buckets.get(hist)?;
        let before = self.buckets.get(hist);
        let count = later.total(&format!("{hist}_count")) - self.total(&format!("{hist}_count"));
        if count <= 0.0 {
            return None;
        }
        after.iter().find_map(|(le, n)| {
            let grew = n - before.and_then(|b| b.get(le)).copied().unwrap_or(0.0);
            (grew >= q * count).then_some(*le as f64 / 1e9)
        })
    }
}

/// Reads `/metrics` from the server (loopback may read it).
pub async fn fetch(addr: SocketAddr) -> Option<Scrape> {
    let (status, body) = crate::http::request(addr, "GET", "/metrics", "", "").await.ok()?;
    (status == 200).then(|| Scrape::parse(&body))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "# TYPE x counter\nsalon_media_polls_total{loop=\"0\"} 10\nsalon_media_polls_total{loop=\"1\"} 5\n\
        h_bucket{loop=\"0\",le=\"0.001\"} 90\nh_bucket{loop=\"0\",le=\"0.002\"} 99\nh_bucket{loop=\"0\",le=\"+Inf\"} 100\nh_count{loop=\"0\"} 100\n";
    const B: &str = "salon_media_polls_total{loop=\"0\"} 30\nsalon_media_polls_total{loop=\"1\"} 5\n\
        h_bucket{loop=\"0\",le=\"0.001\"} 180\nh_bucket{loop=\"0\",le=\"0.002\"} 198\nh_bucket{loop=\"0\",le=\"+Inf\"} 200\nh_count{loop=\"0\"} 200\n";

    #[test]
    fn totals_sum_over_labels_and_subtract() {
        let (a, b) = (Scrape::parse(A), Scrape::parse(B));
        assert_eq!(a.total("salon_media_polls_total"), 15.0);
        assert_eq!(a.delta(&b, "salon_media_polls_total"), 20.0);
    }

    #[test]
    fn quantiles_come_from_the_window_only() {
        let (a, b) = (Scrape::parse(A), Scrape::parse(B));
        // In the window: 100 observations, 90 within 1 ms, 99 within 2 ms.
        assert_eq!(a.quantile_between(&b, "h", 0.5), Some(0.001));
        assert_eq!(a.quantile_between(&b, "h", 0.99), Some(0.002));
        assert_eq!(b.quantile_between(&b, "h", 0.99), None);
        assert_eq!(a.quantile_between(&b, "missing", 0.99), None);
    }
}
