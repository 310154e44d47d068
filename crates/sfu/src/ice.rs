//! ICE routing helpers: who a STUN binding request is for.
//!
//! Every peer gets ICE credentials chosen by the core (not by str0m), so the
//! core can keep `local ufrag -> peer` and route STUN from an address it has
//! never seen in O(1) instead of asking every peer `Rtc::accepts()`. The same
//! parser lets the server's ICE-TCP listener find which media loop owns a new
//! TCP connection from its first binding request (RFC 6544).
//!
//! The parser reads only the STUN header and walks attributes with bounds
//! checks: it never panics on wire input, and returns `None` for anything
//! that is not a well-formed binding request carrying `USERNAME`.

/// STUN magic cookie (RFC 8489).
const MAGIC: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
/// STUN Binding request.
const BINDING_REQUEST: u16 = 0x0001;
/// STUN USERNAME attribute.
const USERNAME: u16 = 0x0006;

/// The ICE username (`"<receiver ufrag>:<sender ufrag>"`) of a STUN binding
/// request, if `data` is one.
pub fn stun_username(data: &[u8]) -> Option<&str> {
    let header = data.get(..20)?;
    let kind = u16::from_be_bytes([header[0], header[1]]);
    if kind != BINDING_REQUEST || header[4..8] != MAGIC {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let body = data.get(20..20 + len)?;
    let mut at = 0usize;
    while let Some(attr) = body.get(at..at + 4) {
        let typ = u16::from_be_bytes([attr[0], attr[1]]);
        let alen = usize::from(u16::from_be_bytes([attr[2], attr[3]]));
        let value = body.get(at + 4..at + 4 + alen)?;
        if typ == USERNAME {
            return std::str::from_utf8(value).ok();
        }
        // Attributes are padded to 4 bytes.
        at += 4 + alen.div_ceil(4) * 4;
    }
    None
}

/// The receiver's (our) ufrag of a binding request: the part before `:`.
pub fn stun_local_ufrag(data: &[u8]) -> Option<&str> {
    stun_username(data).and_then(|u| u.split(':').next())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(username: &[u8]) -> Vec<u8> {
        let padded = username.len().div_ceil(4) * 4;
        let mut m = vec![0x00, 0x01];
        m.extend_from_slice(&((4 + padded + 8) as u16).to_be_bytes());
        m.extend_from_slice(&MAGIC);
        m.extend_from_slice(&[7; 12]);
        // An unknown attribute first, to check the walk.
        m.extend_from_slice(&[0x80, 0x22, 0x00, 0x03, b'a', b'b', b'c', 0]);
        m.extend_from_slice(&USERNAME.to_be_bytes());
        m.extend_from_slice(&(username.len() as u16).to_be_bytes());
        m.extend_from_slice(username);
        m.resize(m.len() + padded - username.len(), 0);
        m
    }

    #[test]
    fn finds_the_username() {
        let m = request(b"abcd:efgh1");
        assert_eq!(stun_username(&m), Some("abcd:efgh1"));
        assert_eq!(stun_local_ufrag(&m), Some("abcd"));
    }

    #[test]
    fn refuses_what_is_not_a_binding_request() {
        let m = request(b"abcd:efgh");
        assert_eq!(stun_username(&m[..19]), None, "short header");
        assert_eq!(stun_username(&m[..m.len() - 4]), None, "truncated body");
        let mut other = m.clone();
        other[1] = 0x03; // Allocate
        assert_eq!(stun_username(&other), None);
        let mut cookie = m.clone();
        cookie[4] = 0;
        assert_eq!(stun_username(&cookie), None);
        assert_eq!(stun_username(&[0u8; 0]), None);
        // Every truncation of a valid message parses without panicking.
        for n in 0..m.len() {
            let _ = stun_username(&m[..n]);
        }
        // An attribute whose length runs past the message.
        let mut long = m.clone();
        long[22] = 0xFF;
        assert_eq!(stun_username(&long), None);
    }
}
