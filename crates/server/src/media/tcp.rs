//! ICE-TCP (RFC 6544): the media path for networks that block UDP.
//!
//! Every peer is offered a passive TCP host candidate on one TCP port
//! (`--media-tcp-port`), shared by all media loops. The browser connects and
//! sends RFC 4571 frames (a 2-byte length, then one STUN, DTLS, RTP or RTCP
//! packet). A room still lives wholly in one loop, so the connection must be
//! handed to the loop that owns the peer: its first frame is a STUN binding
//! request whose USERNAME starts with our ufrag, and [`UfragRoutes`] maps
//! each ufrag to its loop (filled on join, emptied on leave).
//!
//! ```text
//!  accept ─► first frame (STUN, within 10 s) ─► ufrag ─► UfragRoutes ─► loop i
//!  reader task: frames ──TcpEvent::Frame──► loop i ─► Sfu::handle_receive_tcp
//!  loop i: Transmit{proto: Tcp} ──bounded channel──► writer task ─► socket
//! ```
//!
//! The loop never waits on a TCP socket: a connection whose send queue is
//! full loses that packet, as a full UDP buffer would (NACK repairs video).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// What a TCP connection tells its media loop.
pub enum TcpEvent {
    /// A connection routed to this loop; transmits to `remote` go to `writer`.
    Open {
        remote: SocketAddr,
        writer: mpsc::Sender<Vec<u8>>,
    },
    /// One RFC 4571 frame from `source` to our candidate `destination`.
    Frame {
        source: SocketAddr,
        destination: SocketAddr,
        data: Vec<u8>,
    },
    Closed {
        remote: SocketAddr,
    },
}

/// Local ICE ufrag -> index of the media loop owning that peer.
#[derive(Clone, Default)]
pub struct UfragRoutes(Arc<Mutex<HashMap<String, usize>>>);

impl UfragRoutes {
    pub fn insert(&self, ufrag: String, lp: usize) {
        self.lock().insert(ufrag, lp);
    }

    pub fn remove(&self, ufrag: &str) {
        self.lock().remove(ufrag);
    }

    fn get(&self, ufrag: &str) -> Option<usize> {
        self.lock().get(ufrag).copied()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The first frame must arrive within this, and any frame within
/// `IDLE_TIMEOUT` after (ICE consent checks come every few seconds).
const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(10);
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Packets queued towards one connection before new ones are dropped.
const SEND_QUEUE: usize = 1024;
/// Connections at once, in all and from one address.
const MAX_CONNECTIONS: usize = 4096;
const MAX_PER_ADDRESS: usize = 256;

/// Accepts ICE-TCP connections and routes each to its loop.
pub fn spawn(
    listener: TcpListener,
    candidates: Vec<SocketAddr>,
    routes: UfragRoutes,
    loops: Vec<mpsc::Sender<TcpEvent>>,
) {
    let counts: Arc<Mutex<HashMap<IpAddr, usize>>> = Arc::default();
    tokio::spawn(async move {
        loop {
            let (stream, remote) = match listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("media TCP accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Some(guard) = Guard::take(&counts, remote.ip()) else {
                continue;
            };
            let destination = super::destination(&candidates, stream.local_addr().ok().map(|a| a.ip()));
            let (routes, loops) = (routes.clone(), loops.clone());
            tokio::spawn(async move {
                let _guard = guard;
                if let Err(e) = connection(stream, remote, destination, routes, loops).await {
                    tracing::debug!("media TCP connection from {remote} ended: {e}");
                }
            });
        }
    });
}

/// One place in the connection caps.
struct Guard {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl Guard {
    fn take(counts: &Arc<Mutex<HashMap<IpAddr, usize>>>, ip: IpAddr) -> Option<Guard> {
        let mut c = counts.lock().unwrap_or_else(|e| e.into_inner());
        let total: usize = c.values().sum();
        let n = c.entry(ip).or_default();
        if *n >= MAX_PER_ADDRESS || total >= MAX_CONNECTIONS {
            return None;
        }
        *n = n.saturating_add(1);
        Some(Guard {
            counts: counts.clone(),
            ip,
        })
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = c.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.remove(&self.ip);
            }
        }
    }
}

async fn read_frame(stream: &mut tokio::net::tcp::OwnedReadHalf, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let len = stream.read_u16().await?;
    buf.resize(usize::from(len), 0);
    stream.read_exact(buf).await?;
    Ok(())
}

async fn connection(
    stream: TcpStream,
    remote: SocketAddr,
    destination: SocketAddr,
    routes: UfragRoutes,
    loops: Vec<mpsc::Sender<TcpEvent>>,
) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let (mut rd, wr) = stream.into_split();
    let mut first = Vec::new();
    tokio::time::timeout(FIRST_FRAME_TIMEOUT, read_frame(&mut rd, &mut first)).await??;
    let Some(lp) = salon_sfu::stun_local_ufrag(&first)
        .and_then(|u| routes.get(u))
        .and_then(|i| loops.get(i))
    else {
        return Ok(());
    };
    let (writer, mut queue) = mpsc::channel::<Vec<u8>>(SEND_QUEUE);
    if lp.send(TcpEvent::Open { remote, writer }).await.is_err() {
        return Ok(());
    }
    tokio::spawn(async move {
        let mut out = BufWriter::new(wr);
        while let Some(p) = queue.recv().await {
            let Ok(len) = u16::try_from(p.len()) else { continue };
            if out.write_u16(len).await.is_err() || out.write_all(&p).await.is_err() {
                return;
            }
            // Flush when nothing more is queued: batches under load, no delay when idle.
            if queue.is_empty() && out.flush().await.is_err() {
                return;
            }
        }
    });
    let mut data = first;
    let res = loop {
        let frame = TcpEvent::Frame {
            source: remote,
            destination,
            data: std::mem::take(&mut data),
        };
        if lp.send(frame).await.is_err() {
            break Ok(());
        }
        match tokio::time::timeout(IDLE_TIMEOUT, read_frame(&mut rd, &mut data)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => break Err(e),
            Err(_) => break Ok(()),
        }
    };
    let _ = lp.send(TcpEvent::Closed { remote }).await;
    res
}
