//! A scenario run: create rooms, join participants (a progress bar on
//! stderr), have each report a grid view like a browser, warm up, then
//! measure the server's CPU and memory and the traffic for `duration`.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use salon_load::participant::{lock, Participant, Traffic};
use salon_load::report::{percentile_ms, Report};
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
    let room_count = participants.div_ceil(opts.room_size.max(1));
    let mut rooms = Vec::new();
    for i in 0..room_count {
        rooms.push(http::create_room(opts.server, &format!("load {i}")).await?);
    }

    // Join in small concurrent batches.
    let mut people: Vec<(usize, Participant)> = Vec::new();
    let batch = 8;
    for start in (0..participants).step_by(batch) {
        let mut joins = Vec::new();
        for i in start..(start + batch).min(participants) {
            let room = i / opts.room_size.max(1);
            let publish = Publish {
                simulcast: true,
                speaking: i % opts.room_size.max(1) < opts.speakers,
                ..Publish::av()
            };
            let (server, room_id, t) = (opts.server, rooms[room].clone(), traffic.clone());
            joins.push(tokio::spawn(async move {
                Participant::join(server, &room_id, &format!("load-{i}"), publish, t)
                    .await
                    .map(|p| (room, p))
            }));
        }
        for j in joins {
            people.push(j.await??);
        }
        progress("joining", people.len(), participants);
    }

    // Each looks at the first `visible` others of its room (speakers come first).
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

    sleep_with_progress("warm-up", opts.warmup).await;
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

    let (packets, lost) = people.iter().fold((0u64, 0.0), |(p, l), (_, x)| {
        let (pp, ll) = lock(&x.peer).loss();
        (p + pp, l + ll)
    });
    let mut lat = std::mem::take(&mut *lock(&traffic.latencies_us));
    lat.sort_unstable();
    for (_, p) in &people {
        p.send(ClientMsg::Leave {});
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (_, p) in &people {
        p.vanish();
    }

    let cpu = match (cpu0, cpu1) {
        (Some(a), Some(b)) => b - a,
        _ => 0.0,
    };
    let egress = traffic.rx_datagrams.load(Ordering::Relaxed);
    let ingress = traffic.tx_datagrams.load(Ordering::Relaxed);
    Ok(Report {
        scenario: opts.scenario.clone(),
        server: "salon".into(),
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
    })
}

async fn sleep_with_progress(label: &str, secs: u64) {
    for s in 0..secs {
        progress(label, s as usize, secs as usize);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    progress(label, secs as usize, secs as usize);
}
