//! The floor: what one outgoing media packet costs on this machine at the
//! least, whatever the SFU: an SRTP seal (AES-128-GCM over ~1200 bytes) plus
//! handing the datagram to the kernel. Measured as medians of repeated
//! rounds, each of many operations, to resist a noisy shared machine.

use std::hint::black_box;
use std::net::UdpSocket;
use std::time::Instant;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
use quinn_udp::{Transmit, UdpSocketState};
use serde::Serialize;

const PAYLOAD: usize = 1200;
const ROUNDS: usize = 9;
const OPS: usize = 20_000;
const GSO_BATCH: usize = 32;

#[derive(Debug, Serialize)]
pub struct Limit {
    pub scenario: &'static str,
    pub payload_bytes: usize,
    pub seal_ns: f64,
    pub sendto_ns: f64,
    pub gso_ns_per_packet: f64,
    pub gso_segments: usize,
    /// seal + the cheaper send: the least one outgoing packet costs.
    pub floor_ns: f64,
    pub floor_pps_per_cpu: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs `f` for OPS operations per round; returns the median ns per operation.
fn time(mut f: impl FnMut(usize)) -> f64 {
    median(
        (0..ROUNDS)
            .map(|_| {
                let t = Instant::now();
                for i in 0..OPS {
                    f(i);
                }
                t.elapsed().as_nanos() as f64 / OPS as f64
            })
            .collect(),
    )
}

pub fn measure() -> anyhow::Result<Limit> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &[7u8; 16]).map_err(|_| anyhow::anyhow!("aes key"))?);
    let mut buf = vec![0x5a_u8; PAYLOAD];
    let seal_ns = time(|i| {
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&(i as u64).to_be_bytes());
        let tag = key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(&[0u8; 12]), &mut buf)
            .ok();
        black_box(tag);
    });

    // A loopback sink that never reads: the kernel drops what overflows its buffer.
    let sink = UdpSocket::bind("127.0.0.1:0")?;
    let dest = sink.local_addr()?;
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    let packet = vec![0u8; PAYLOAD];
    let sendto_ns = time(|_| {
        let _ = black_box(sock.send_to(&packet, dest));
    });

    let state = UdpSocketState::new((&sock).into())?;
    let segments = state.max_gso_segments().min(GSO_BATCH);
    let batch = vec![0u8; PAYLOAD * segments];
    let gso_ns_per_packet = if segments > 1 {
        time(|_| {
            let t = Transmit {
                destination: dest,
                ecn: None,
                contents: &batch,
                segment_size: Some(PAYLOAD),
                src_ip: None,
            };
            let _ = black_box(state.try_send((&sock).into(), &t));
        }) / segments as f64
    } else {
        sendto_ns
    };
    let floor_ns = seal_ns + sendto_ns.min(gso_ns_per_packet);
    Ok(Limit {
        scenario: "limit",
        payload_bytes: PAYLOAD,
        seal_ns,
        sendto_ns,
        gso_ns_per_packet,
        gso_segments: segments,
        floor_ns,
        floor_pps_per_cpu: 1e9 / floor_ns,
    })
}
