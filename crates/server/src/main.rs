//! `salon`: parse flags, start, wait for Ctrl-C. Everything else is in the library.

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = salon::Config::load()?;
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("salon=info,warn")))
        .init();
    if let Some(salon::config::Command::Admin(cmd)) = &config.command {
        let store = salon::store::Store::open(&config.data_dir).await?;
        print!("{}", salon::admin::run(&store, cmd).await?);
        return Ok(());
    }

    let salon = salon::start(config).await?;
    let candidates: Vec<String> = salon.media_candidates.iter().map(|a| a.to_string()).collect();
    let ports: Vec<String> = salon.media_addrs.iter().map(|a| a.to_string()).collect();
    tracing::info!(
        "media on UDP {} (announced as {})",
        ports.join(", "),
        candidates.join(", ")
    );
    tracing::info!(
        "media on TCP {} (ICE-TCP); TURN over TCP on {}, over TLS on {}",
        salon.media_tcp_addr,
        salon.turn_addr,
        salon.turn_tls_addr
    );
    tracing::info!("Salon is ready: open {}", salon.url);
    if salon.http_addr.ip().is_unspecified() {
        let scheme = if salon.url.starts_with("https") {
            "https"
        } else {
            "http"
        };
        let mut lan: Vec<_> = salon
            .media_candidates
            .iter()
            .map(|a| a.ip())
            .filter(|ip| !ip.is_loopback())
            .collect();
        lan.dedup();
        for ip in lan {
            let note = if scheme == "http" {
                " (cameras need --tls-self-signed on the LAN)"
            } else {
                ""
            };
            tracing::info!("on your network: {scheme}://{ip}:{}/{note}", salon.http_addr.port());
        }
    }
    // Printed plainly too, for scripts that start the binary on port 0.
    println!("listening on {}", salon.http_addr);
    println!(
        "media tcp {} turn {} turns {}",
        salon.media_tcp_addr, salon.turn_addr, salon.turn_tls_addr
    );

    // Ctrl-C or SIGTERM (systemd, an update): tell clients to reconnect, then stop.
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    tracing::info!("shutting down");
    salon.stop().await;
    Ok(())
}
