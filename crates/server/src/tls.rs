//! HTTPS: a given certificate, or a self-signed one generated once and kept
//! in the data directory (so a browser's exception survives restarts).
//!
//! Why: browsers allow camera and microphone only on `localhost` or HTTPS,
//! so a phone on the LAN needs HTTPS even at home.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Returns (certificate, key) PEM paths, generating a self-signed pair for
/// `localhost` and the given IPs when none exists yet.
pub fn self_signed(data_dir: &Path, ips: &[IpAddr]) -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = data_dir.join("tls");
    let cert_path = dir.join("self-signed-cert.pem");
    let key_path = dir.join("self-signed-key.pem");
    if cert_path.exists() && key_path.exists() {
        return Ok((cert_path, key_path));
    }
    std::fs::create_dir_all(&dir)?;
    let mut names = vec!["localhost".to_string()];
    names.extend(ips.iter().map(IpAddr::to_string));
    let cert = rcgen::generate_simple_self_signed(names).context("generating a self-signed certificate")?;
    std::fs::write(&cert_path, cert.cert.pem())?;
    write_private(&key_path, cert.signing_key.serialize_pem().as_bytes())?;
    tracing::info!("generated a self-signed certificate in {}", dir.display());
    Ok((cert_path, key_path))
}

/// Writes a secret readable by its owner only.
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)
}
