//! The STUN message format (RFC 8489) as far as a TURN relay needs it:
//! parse a message into its attributes, build one, and sign or check
//! MESSAGE-INTEGRITY (HMAC-SHA1) and FINGERPRINT (CRC-32).
//!
//! Parsing never panics: every length is checked against the buffer, and a
//! message that does not parse is simply not a [`Message`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use hmac::{Hmac, Mac};
use sha1::Sha1;

pub const MAGIC: u32 = 0x2112_A442;
pub const HEADER: usize = 20;

// Methods.
pub const BINDING: u16 = 0x001;
pub const ALLOCATE: u16 = 0x003;
pub const REFRESH: u16 = 0x004;
pub const SEND: u16 = 0x006;
pub const DATA: u16 = 0x007;
pub const CREATE_PERMISSION: u16 = 0x008;
pub const CHANNEL_BIND: u16 = 0x009;

// Attributes.
pub const USERNAME: u16 = 0x0006;
pub const MESSAGE_INTEGRITY: u16 = 0x0008;
pub const ERROR_CODE: u16 = 0x0009;
pub const CHANNEL_NUMBER: u16 = 0x000C;
pub const LIFETIME: u16 = 0x000D;
pub const XOR_PEER_ADDRESS: u16 = 0x0012;
pub const DATA_ATTR: u16 = 0x0013;
pub const REALM: u16 = 0x0014;
pub const NONCE: u16 = 0x0015;
pub const XOR_RELAYED_ADDRESS: u16 = 0x0016;
pub const REQUESTED_TRANSPORT: u16 = 0x0019;
pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
pub const SOFTWARE: u16 = 0x8022;
pub const FINGERPRINT: u16 = 0x8028;

/// The class of a message (request, indication, success or error response).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Request,
    Indication,
    Success,
    Error,
}

impl Class {
    fn bits(self) -> u16 {
        match self {
            Class::Request => 0b00,
            Class::Indication => 0b01,
            Class::Success => 0b10,
            Class::Error => 0b11,
        }
    }
}

/// Encodes method and class into the 14-bit message type (RFC 8489 §5).
pub fn message_type(method: u16, class: Class) -> u16 {
    let c = class.bits();
    (method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) | ((c & 1) << 4) | ((c & 2) << 7)
}

fn split_type(t: u16) -> (u16, Class) {
    let method = (t & 0x000F) | ((t >> 1) & 0x0070) | ((t >> 2) & 0x0F80);
    let class = match ((t >> 4) & 1) | ((t >> 7) & 2) {
        0b00 => Class::Request,
        0b01 => Class::Indication,
        0b10 => Class::Success,
        _ => Class::Error,
    };
    (method, class)
}

/// A parsed message: it borrows the buffer it was read from.
#[derive(Debug)]
pub struct Message<'a> {
    pub method: u16,
    pub class: Class,
    pub transaction: [u8; 12],
    /// `(type, value, offset of the attribute header in the message)`.
    attrs: Vec<(u16, &'a [u8], usize)>,
    raw: &'a [u8],
}

/// Most attributes read from one message (a TURN request has a handful).
const MAX_ATTRS: usize = 32;

impl<'a> Message<'a> {
    /// Parses one whole message (`data` holds exactly it).
    pub fn parse(data: &'a [u8]) -> Option<Message<'a>> {
        let (header, mut rest) = data.split_first_chunk::<HEADER>()?;
        let [t0, t1, l0, l1, m0, m1, m2, m3, ..] = *header;
        let typ = u16::from_be_bytes([t0, t1]);
        if typ & 0xC000 != 0 || u32::from_be_bytes([m0, m1, m2, m3]) != MAGIC {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        if len % 4 != 0 || rest.len() != len {
            return None;
        }
        let (method, class) = split_type(typ);
        let transaction: [u8; 12] = header.get(8..)?.try_into().ok()?;
        let mut attrs = Vec::new();
        // Each attribute: a 4-byte head, its value, padding to 4 bytes.
        while let Some((h, after)) = rest.split_first_chunk::<4>() {
            let [a0, a1, a2, a3] = *h;
            let alen = usize::from(u16::from_be_bytes([a2, a3]));
            let value = after.get(..alen)?;
            if attrs.len() >= MAX_ATTRS {
                return None;
            }
            // Where the attribute starts in `data` (MESSAGE-INTEGRITY covers what precedes it).
            let at = data.len().checked_sub(rest.len())?;
            attrs.push((u16::from_be_bytes([a0, a1]), value, at));
            rest = after.get(alen.checked_next_multiple_of(4)?..)?;
        }
        if !rest.is_empty() {
            return None;
        }
        Some(Message {
            method,
            class,
            transaction,
            attrs,
            raw: data,
        })
    }

    /// The first attribute of type `t`, before any MESSAGE-INTEGRITY (what
    /// follows it is not covered by the integrity check and is ignored).
    pub fn attr(&self, t: u16) -> Option<&'a [u8]> {
        self.attrs
            .iter()
            .take_while(|(a, _, _)| *a != MESSAGE_INTEGRITY || t == MESSAGE_INTEGRITY)
            .find(|(a, _, _)| *a == t)
            .map(|(_, v, _)| *v)
    }

    pub fn attr_str(&self, t: u16) -> Option<&'a str> {
        self.attr(t).and_then(|v| std::str::from_utf8(v).ok())
    }

    pub fn attr_u32(&self, t: u16) -> Option<u32> {
        let v = self.attr(t)?;
        Some(u32::from_be_bytes(v.get(..4)?.try_into().ok()?))
    }

    /// An XOR-*-ADDRESS attribute.
    pub fn xor_addr(&self, t: u16) -> Option<SocketAddr> {
        decode_xor_addr(self.attr(t)?, &self.transaction)
    }

    /// Every XOR-*-ADDRESS attribute of type `t` (CreatePermission may carry several).
    pub fn xor_addrs(&self, t: u16) -> Vec<SocketAddr> {
        self.attrs
            .iter()
            .take_while(|(a, _, _)| *a != MESSAGE_INTEGRITY)
            .filter(|(a, _, _)| *a == t)
            .filter_map(|(_, v, _)| decode_xor_addr(v, &self.transaction))
            .collect()
    }

    /// Checks MESSAGE-INTEGRITY with `key` (RFC 8489 §14.5): the HMAC covers
    /// the message up to the attribute, with the length field counting up to
    /// and including it.
    pub fn check_integrity(&self, key: &[u8]) -> bool {
        let Some(&(_, value, offset)) = self.attrs.iter().find(|(t, _, _)| *t == MESSAGE_INTEGRITY) else {
            return false;
        };
        if value.len() != 20 {
            return false;
        }
        let Some(covered) = self.raw.get(..offset) else {
            return false;
        };
        // The length field as if MESSAGE-INTEGRITY (24 bytes) ended the message.
        let (Some(typ), Some(after_len), Ok(len)) = (
            covered.get(..2),
            covered.get(4..),
            u16::try_from(offset.saturating_add(24).saturating_sub(HEADER)),
        ) else {
            return false;
        };
        let mut mac = hmac_sha1(key);
        mac.update(typ);
        mac.update(&len.to_be_bytes());
        mac.update(after_len);
        mac.verify_slice(value).is_ok()
    }
}

fn hmac_sha1(key: &[u8]) -> Hmac<Sha1> {
    // Invariant: HMAC accepts keys of any length.
    Hmac::<Sha1>::new_from_slice(key).expect("HMAC takes any key length")
}

/// HMAC-SHA1 of `data` under `key`.
pub fn hmac_sha1_of(key: &[u8], data: &[u8]) -> [u8; 20] {
    let mut mac = hmac_sha1(key);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn decode_xor_addr(v: &[u8], transaction: &[u8; 12]) -> Option<SocketAddr> {
    let family = *v.get(1)?;
    let port = u16::from_be_bytes([*v.get(2)?, *v.get(3)?]) ^ (MAGIC >> 16) as u16;
    match family {
        0x01 => {
            let raw = u32::from_be_bytes(v.get(4..8)?.try_into().ok()?) ^ MAGIC;
            Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(raw)), port))
        }
        0x02 => {
            let key = MAGIC.to_be_bytes().into_iter().chain(transaction.iter().copied());
            let mut ip = [0u8; 16];
            for ((o, b), k) in ip.iter_mut().zip(v.get(4..20)?).zip(key) {
                *o = b ^ k;
            }
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port))
        }
        _ => None,
    }
}

fn encode_xor_addr(addr: SocketAddr, transaction: &[u8; 12]) -> Vec<u8> {
    let port = addr.port() ^ (MAGIC >> 16) as u16;
    let mut v = vec![0u8];
    match addr.ip() {
        IpAddr::V4(ip) => {
            v.push(0x01);
            v.extend_from_slice(&port.to_be_bytes());
            v.extend_from_slice(&(u32::from(ip) ^ MAGIC).to_be_bytes());
        }
        IpAddr::V6(ip) => {
            v.push(0x02);
            v.extend_from_slice(&port.to_be_bytes());
            let mut key = [0u8; 16];
            key[..4].copy_from_slice(&MAGIC.to_be_bytes());
            key[4..].copy_from_slice(transaction);
            v.extend(ip.octets().iter().zip(key).map(|(a, b)| a ^ b));
        }
    }
    v
}

/// Builds a message attribute by attribute.
pub struct Builder {
    buf: Vec<u8>,
    transaction: [u8; 12],
}

impl Builder {
    pub fn new(method: u16, class: Class, transaction: [u8; 12]) -> Self {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&message_type(method, class).to_be_bytes());
        buf.extend_from_slice(&[0, 0]);
        buf.extend_from_slice(&MAGIC.to_be_bytes());
        buf.extend_from_slice(&transaction);
        Builder { buf, transaction }
    }

    /// A response of `class` to `req`, same method and transaction.
    pub fn response(req: &Message<'_>, class: Class) -> Self {
        Builder::new(req.method, class, req.transaction)
    }

    /// Writes the header's length field: what follows the header, plus
    /// `extra` bytes about to be appended. Messages Salon builds stay far
    /// below 64 KiB (a handful of short attributes).
    fn set_len(&mut self, extra: usize) {
        let len = self.buf.len().saturating_sub(HEADER).saturating_add(extra);
        let len = u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes();
        if let Some(field) = self.buf.get_mut(2..4) {
            field.copy_from_slice(&len);
        }
    }

    pub fn attr(mut self, t: u16, value: &[u8]) -> Self {
        self.buf.extend_from_slice(&t.to_be_bytes());
        self.buf.extend_from_slice(&(value.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(value);
        let pad = value.len().next_multiple_of(4).saturating_sub(value.len());
        self.buf.extend(std::iter::repeat_n(0u8, pad));
        self.set_len(0);
        self
    }

    pub fn u32(self, t: u16, v: u32) -> Self {
        self.attr(t, &v.to_be_bytes())
    }

    pub fn xor_addr(self, t: u16, addr: SocketAddr) -> Self {
        let v = encode_xor_addr(addr, &self.transaction);
        self.attr(t, &v)
    }

    pub fn error(self, code: u16, reason: &str) -> Self {
        let mut v = vec![0, 0, (code / 100) as u8, (code % 100) as u8];
        v.extend_from_slice(reason.as_bytes());
        self.attr(ERROR_CODE, &v)
    }

    /// Appends MESSAGE-INTEGRITY computed with `key`.
    pub fn integrity(mut self, key: &[u8]) -> Self {
        self.set_len(24);
        let mac = hmac_sha1_of(key, &self.buf);
        self.attr(MESSAGE_INTEGRITY, &mac)
    }

    /// Appends FINGERPRINT and returns the bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.set_len(8);
        let crc = crc32fast::hash(&self.buf) ^ 0x5354_554E;
        self.u32(FINGERPRINT, crc).buf
    }

    /// The bytes without FINGERPRINT (for indications where size matters).
    pub fn finish_plain(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_round_trip() {
        for m in [BINDING, ALLOCATE, REFRESH, SEND, DATA, CREATE_PERMISSION, CHANNEL_BIND] {
            for c in [Class::Request, Class::Indication, Class::Success, Class::Error] {
                assert_eq!(split_type(message_type(m, c)), (m, c));
            }
        }
        // Well-known values: Binding request 0x0001, Allocate error 0x0113.
        assert_eq!(message_type(BINDING, Class::Request), 0x0001);
        assert_eq!(message_type(ALLOCATE, Class::Error), 0x0113);
        assert_eq!(message_type(DATA, Class::Indication), 0x0017);
    }

    #[test]
    fn builds_parses_and_signs() {
        let t = [9u8; 12];
        let peer: SocketAddr = "198.51.100.1:40000".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::7]:5".parse().unwrap();
        let msg = Builder::new(CREATE_PERMISSION, Class::Request, t)
            .attr(USERNAME, b"123:abc")
            .xor_addr(XOR_PEER_ADDRESS, peer)
            .xor_addr(XOR_RELAYED_ADDRESS, v6)
            .integrity(b"key")
            .finish();
        let m = Message::parse(&msg).expect("parses");
        assert_eq!(m.method, CREATE_PERMISSION);
        assert_eq!(m.class, Class::Request);
        assert_eq!(m.attr_str(USERNAME), Some("123:abc"));
        assert_eq!(m.xor_addr(XOR_PEER_ADDRESS), Some(peer));
        assert_eq!(m.xor_addr(XOR_RELAYED_ADDRESS), Some(v6));
        assert!(m.check_integrity(b"key"));
        assert!(!m.check_integrity(b"other"));
        let mut bad = msg.clone();
        bad[25] ^= 1;
        assert!(!Message::parse(&bad).expect("still parses").check_integrity(b"key"));
        for n in 0..msg.len() {
            assert!(Message::parse(&msg[..n]).is_none(), "a truncated message never parses");
        }
    }
}
