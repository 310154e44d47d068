//! `salon-load`: benchmark scenarios against a running Salon (or Janus, see
//! `bench/`). Thin: argument parsing and orchestration; the participant is in
//! the library.

mod limit;
mod scenario;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "salon-load", about = "Synthetic participants for Salon benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// One scenario: participants in rooms, publishing and watching like a browser grid.
    Run {
        #[command(flatten)]
        opts: scenario::Options,
        /// Participants in all.
        #[arg(long, default_value_t = 50)]
        participants: usize,
        /// Write the JSON report here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Several runs with growing participant counts, then a plot.
    Sweep {
        #[command(flatten)]
        opts: scenario::Options,
        /// Participant counts, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "10,50,100,150,200")]
        steps: Vec<usize>,
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        svg: Option<PathBuf>,
    },
    /// Fill an existing room with synthetic participants and keep them there
    /// (for browser tests that need a crowd). Prints "ready" once all joined.
    Crowd {
        #[arg(long)]
        server: std::net::SocketAddr,
        #[arg(long)]
        room: String,
        #[arg(long, default_value_t = 47)]
        participants: usize,
        /// Seconds to stay.
        #[arg(long, default_value_t = 120)]
        duration: u64,
    },
    /// The floor: cost of an AES-128-GCM seal and a UDP send per packet here.
    Limit {
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn write(path: &Option<PathBuf>, text: &str) -> anyhow::Result<()> {
    if let Some(p) = path {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(p, text)?;
        eprintln!("wrote {}", p.display());
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Run {
            opts,
            participants,
            out,
        } => {
            let report = scenario::run(&opts, participants).await?;
            println!("{}\n{}", salon_load::report::Report::table_header(), report.table_row());
            if let Some(line) = report.server_line() {
                println!("{line}");
            }
            write(&out, &serde_json::to_string_pretty(&report)?)?;
        }
        Command::Sweep { opts, steps, out, svg } => {
            let mut reports = Vec::new();
            for n in steps {
                let r = scenario::run(&opts, n).await?;
                eprintln!("{}", r.table_row());
                reports.push(r);
                // Let the server drop the last run's peers before the next.
                tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            }
            println!("{}", salon_load::report::Report::table_header());
            for r in &reports {
                println!("{}", r.table_row());
            }
            write(&out, &serde_json::to_string_pretty(&reports)?)?;
            write(&svg, &salon_load::report::sweep_svg(&reports))?;
        }
        Command::Crowd {
            server,
            room,
            participants,
            duration,
        } => {
            let people = scenario::crowd(server, &room, participants).await?;
            println!("ready");
            tokio::time::sleep(std::time::Duration::from_secs(duration)).await;
            drop(people);
        }
        Command::Limit { out } => {
            let r = limit::measure()?;
            println!("{}", serde_json::to_string_pretty(&r)?);
            write(&out, &serde_json::to_string_pretty(&r)?)?;
        }
    }
    Ok(())
}
