//! A scenario run: create rooms, join participants (a progress bar on
//! stderr), have each report a grid view like a browser, warm up, then
//! measure the server's CPU and memory and the traffic for `duration`.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use salon_load::janus::{self, JanusParticipant};
use salon_load::participant::{lock, Participant, Traffic};
use salon_load::report::{percentile_ms, Report};
use salon_load::scrape::{self, Scrape};
use salon_load::{http, metrics};
use salon_protocol::{ClientMsg, Tile};
use salon_sfu::testkit::Publish;

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Salon's HTTP address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub server: SocketAddr,
    /// The server's process id, to read its CPU time and memory.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Scenario name written in the report.
    #[arg(long, default_value = "custom")]
    pub scenario: String,
    /// People per room.
    #[arg(long, default_value_t = 50)]
    pub room_size: usize,
    /// Seconds measured, after the warm-up.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Seconds of warm-up after everyone joined.
    #[arg(long, default_value_t = 8)]
    pub warmup: u64,
    /// Other people's tiles each participant sees (a grid page holds 25 with oneself).
    #[arg(long, default_value_t = 24)]
    pub visible: usize,
    /// Height of those tiles in device pixels (180: the low layer).
    #[arg(long, default_value_t = 180)]
    pub tile_height: u32,
    /// People speaking in each room (the others send DTX-like silence).
    #[arg(long, default_value_t = 3)]
    pub speakers: usize,
    /// Drive Janus VideoRoom (its WebSocket API at --server) instead of Salon.
    #[arg(long)]
    pub janus: bool,
    /// Local address for media sockets (Janus needs 127.0.0.2, see bench/janus-room50).
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
}

/// A participant of either server.
enum Member {
    Salon(Participant),
    Janus(JanusParticipant),
}

impl Member {
    fn loss(&self) -> (u64, f64) {
        match self {
            Member::Salon(p) => lock(&p.peer).loss(),
            Member::Janus(j) => j
                .peers
                .iter()
                .map(|p| lock(p).loss())
                .fold((0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1)),
        }
    }
}

fn progress(label: &str, done: usize, total: usize) {
    let width = 30;
    let filled = done * width / total.max(1);
    eprint!(
        "\r{label:<10} [{}{}] {done}/{total}  ",
        "#".repeat(filled),
        ".".repeat(width - filled)
    );
    let _ = std::io::stderr().flush();
    if done == total {
        eprintln!();
    }
}

pub async fn run(opts: &Options, participants: usize) -> anyhow::Result<Report> {
    let traffic = Arc::new(Traffic::default());
    // Janus has no such figures: its report leaves them empty.
    let scrape = || async {
        if opts.janus {
            None
        } else {
            scrape::fetch(opts.server).await
        }
    };
    let before_joins = scrape().await;
    let room_count = participants.div_ceil(opts.room_size.max(1));
    let people = if opts.janus {
        join_janus(opts, participants, room_count, &traffic).await?
    } else {
        join_salon(opts, participants, room_count, &traffic).await?
    };

    sleep_with_progress("warm-up", opts.warmup).await;
    let m0 = scrape().await;
    let cpu0 = opts.server_pid.and_then(metrics::cpu_seconds);
    let own0 = metrics::own_cpu_seconds();
    let started = Instant::now();
    traffic.recording.store(true, Ordering::Relaxed);
    sleep_with_progress("measuring", opts.duration).await;
    traffic.recording.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let cpu1 = opts.server_pid.and_then(metrics::cpu_seconds);
    let own1 = metrics::own_cpu_seconds();
    let rss = opts.server_pid.and_then(metrics::rss_mib).unwrap_or(0.0);
    let m1 = scrape().await;
    let own = ServerFigures::between(before_joins.as_ref(), m0.as_ref(), m1.as_ref());

    let (packets, lost) = people.iter().fold((0u64, 0.0), |(p, l), x| {
        let (pp, ll) = x.loss();
        (p + pp, l + ll)
    });
    let mut lat = std::mem::take(&mut *lock(&traffic.latencies_us));
    lat.sort_unstable();
    for m in &people {
        match m {
            Member::Salon(p) => p.send(ClientMsg::Leave {}),
            Member::Janus(j) => j.quit(),
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for m in &people {
        if let Member::Salon(p) = m {
            p.vanish();
        }
    }

    let cpu = match (cpu0, cpu1) {
        (Some(a), Some(b)) => b - a,
        _ => 0.0,
    };
    let egress = traffic.rx_datagrams.load(Ordering::Relaxed);
    let ingress = traffic.tx_datagrams.load(Ordering::Relaxed);
    Ok(Report {
        scenario: opts.scenario.clone(),
        server: if opts.janus { "janus" } else { "salon" }.into(),
        participants,
        rooms: room_count,
        duration_s: elapsed,
        server_cpu_s: cpu,
        server_cores: cpu / elapsed,
        server_rss_mib: rss,
        rss_per_participant_mib: rss / participants.max(1) as f64,
        egress_packets: egress,
        egress_pps: egress as f64 / elapsed,
        egress_pps_per_cpu: if cpu > 0.0 { egress as f64 / cpu } else { 0.0 },
        ingress_pps: ingress as f64 / elapsed,
        loss_pct: if packets > 0 {
            100.0 * lost / packets as f64
        } else {
            0.0
        },
        latency_p50_ms: percentile_ms(&lat, 50.0),
        latency_p99_ms: percentile_ms(&lat, 99.0),
        latency_samples: lat.len(),
        load_tool_cpu_s: match (own0, own1) {
            (Some(a), Some(b)) => b - a,
            _ => 0.0,
        },
        server_added_p99_ms: own.added_p99_ms,
        polls_per_egress_packet: own.polls,
        poll_outputs_per_egress_packet: own.poll_outputs,
        datagrams_per_send: own.datagrams_per_send,
        offers_per_join: own.offers_per_join,
        offer_kib_mean: own.offer_kib,
    })
}

/// The server's own figures over a run (see `scrape.rs`).
#[derive(Default)]
struct ServerFigures {
    added_p99_ms: Option<f64>,
    polls: Option<f64>,
    poll_outputs: Option<f64>,
    datagrams_per_send: Option<f64>,
    offers_per_join: Option<f64>,
    offer_kib: Option<f64>,
}

impl ServerFigures {
    fn between(start: Option<&Scrape>, m0: Option<&Scrape>, m1: Option<&Scrape>) -> ServerFigures {
        let (Some(start), Some(m0), Some(m1)) = (start, m0, m1) else {
            return ServerFigures::default();
        };
        // A server without a figure (an older build) gives none, not zero.
        let ratio = |a: f64, b: f64| (a > 0.0 && b > 0.0).then(|| a / b);
        let packets = m0.delta(m1, "salon_media_packets_forwarded_total");
        let offers = start.delta(m0, "salon_media_offers_total");
        ServerFigures {
            added_p99_ms: m0
                .quantile_between(m1, salon_load::scrape::ADDED_LATENCY, 0.99)
                .map(|s| s * 1000.0),
            polls: ratio(m0.delta(m1, "salon_media_polls_total"), packets),
            poll_outputs: ratio(m0.delta(m1, "salon_media_poll_outputs_total"), packets),
            datagrams_per_send: ratio(
                m0.delta(m1, "salon_media_udp_datagrams_total"),
                m0.delta(m1, "salon_media_udp_sends_total"),
            ),
            offers_per_join: ratio(offers, start.delta(m0, "salon_media_joins_total")),
            offer_kib: ratio(start.delta(m0, "salon_media_offer_bytes_total") / 1024.0, offers),
        }
    }
}

/// Joins Salon rooms in small concurrent batches; each then reports a grid
/// view of the first `visible` others in its room (speakers come first).
async fn join_salon(
    opts: &Options,
    participants: usize,
    room_count: usize,
    traffic: &Arc<Traffic>,
) -> anyhow::Result<Vec<Member>> {
    let mut rooms = Vec::new();
    for i in 0..room_count {
        rooms.push(http::create_room(opts.server, &format!("load {i}")).await?);
    }
    let size = opts.room_size.max(1);
    let mut people: Vec<(usize, Participant)> = Vec::new();
    let batch = 8;
    for start in (0..participants).step_by(batch) {
        let mut joins = Vec::new();
        for i in start..(start + batch).min(participants) {
            let room = i / size;
            let publish = Publish {
                simulcast: true,
                speaking: i % size < opts.speakers,
                ..Publish::av()
            };
            let (server, room_id, t) = (opts.server, rooms[room].clone(), traffic.clone());
            joins.push(tokio::spawn(async move {
                let p = Participant::join(server, &room_id, &format!("load-{i}"), publish, t).await?;
                // Nothing on screen yet, as a browser before its first layout.
                p.send(ClientMsg::View { tiles: Vec::new() });
                anyhow::Ok((room, p))
            }));
        }
        for j in joins {
            people.push(j.await??);
        }
        progress("joining", people.len(), participants);
    }
    for (room, me) in &people {
        let tiles = people
            .iter()
            .filter(|(r, p)| r == room && p.id != me.id)
            .take(opts.visible)
            .map(|(_, p)| Tile {
                id: p.id.clone(),
                height: opts.tile_height,
            })
            .collect();
        me.send(ClientMsg::View { tiles });
    }
    Ok(people.into_iter().map(|(_, p)| Member::Salon(p)).collect())
}

/// The same load on Janus: each publishes one VP8 stream the size of Salon's
/// low layer (what Salon forwards to small tiles), then subscribes to the
/// first `visible` others of its room.
async fn join_janus(
    opts: &Options,
    participants: usize,
    room_count: usize,
    traffic: &Arc<Traffic>,
) -> anyhow::Result<Vec<Member>> {
    let size = opts.room_size.max(1);
    let base = 1000 + u64::from(std::process::id() % 1000) * 1000;
    for i in 0..room_count {
        janus::create_room(opts.server, base + i as u64).await?;
    }
    let mut people: Vec<(usize, JanusParticipant)> = Vec::new();
    for i in 0..participants {
        let room = i / size;
        let publish = Publish {
            speaking: i % size < opts.speakers,
            ..Publish::av()
        };
        let p = JanusParticipant::join(
            opts.server,
            base + room as u64,
            &format!("load-{i}"),
            publish,
            opts.bind,
            traffic.clone(),
        )
        .await?;
        people.push((room, p));
        progress("joining", people.len(), participants);
    }
    // Feeds exist once the publishers' connections are up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (room, me) in &people {
        let feeds = people
            .iter()
            .filter(|(r, p)| r == room && p.feed != me.feed)
            .take(opts.visible)
            .map(|(_, p)| p.feed)
            .collect();
        me.subscribe(feeds);
    }
    Ok(people.into_iter().map(|(_, p)| Member::Janus(p)).collect())
}

async fn sleep_with_progress(label: &str, secs: u64) {
    for s in 0..secs {
        progress(label, s as usize, secs as usize);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    progress(label, secs as usize, secs as usize);
}

/// Joins `n` silent simulcast publishers to `room`. They never announce a
/// camera (no `state` message), so browsers show them as initials and do not
/// ask for their video; each watches one other at the low layer (they fill
/// the room; the browsers under test need the machine's CPU more).
pub async fn crowd(server: SocketAddr, room: &str, n: usize) -> anyhow::Result<Vec<Participant>> {
    let traffic = Arc::new(Traffic::default());
    let mut people = Vec::new();
    for i in 0..n {
        let publish = Publish {
            simulcast: true,
            speaking: false,
            ..Publish::av()
        };
        let p = Participant::join(server, room, &format!("crowd-{i}"), publish, traffic.clone()).await?;
        // Nothing on screen yet, as a browser before its first layout.
        p.send(ClientMsg::View { tiles: Vec::new() });
        people.push(p);
        progress("joining", people.len(), n);
    }
    for (i, me) in people.iter().enumerate() {
        let tiles = (1..=4)
            .map(|k| Tile {
                id: people[(i + k) % n].id.clone(),
                height: 120,
            })
            .collect();
        me.send(ClientMsg::View { tiles });
    }
    Ok(people)
}
