//! `salon`: parse flags, start, wait for Ctrl-C. Everything else is in the library.

use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = salon::Config::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("salon=info,warn")))
        .init();

    let salon = salon::start(config).await?;
    let candidates: Vec<String> = salon.media_candidates.iter().map(|a| a.to_string()).collect();
    let ports: Vec<String> = salon.media_addrs.iter().map(|a| a.to_string()).collect();
    tracing::info!(
        "media on UDP {} (announced as {})",
        ports.join(", "),
        candidates.join(", ")
    );
    tracing::info!("Salon is ready: open {}", salon.url);
    // Printed plainly too, for scripts that start the binary on port 0.
    println!("listening on {}", salon.http_addr);

    tokio::signal::ctrl_c().await?;
    tracing::info!("shutting down");
    salon.stop().await;
    Ok(())
}
