//! A minimal HTTP/1.1 client for the two requests the tools make (create a
//! room, read a page); not worth a client library.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends one request; returns (status, body). `extra` holds more header lines.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    extra: &str,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr).await?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).await?;
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// Creates a room; returns its id.
pub async fn create_room(addr: SocketAddr, name: &str) -> anyhow::Result<String> {
    let body = serde_json::json!({ "name": name }).to_string();
    let (status, body) = request(addr, "POST", "/api/rooms", &body, "").await?;
    anyhow::ensure!(status == 201, "creating a room failed with {status}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body)?;
    Ok(v["id"].as_str().unwrap_or_default().to_string())
}
