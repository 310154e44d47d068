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
    let header: &[u8; 20] = data.get(..20)?.try_into().ok()?;
    let [k0, k1, l0, l1, m0, m1, m2, m3, ..] = *header;
    if u16::from_be_bytes([k0, k1]) != BINDING_REQUEST || [m0, m1, m2, m3] != MAGIC {
        return None;
    }
    // At most 20 + 65535: no overflow on any target Salon builds for.
    let len = usize::from(u16::from_be_bytes([l0, l1]));
    let mut rest = data.get(20..20usize.checked_add(len)?)?;
    while let Some((attr, after)) = rest.split_first_chunk::<4>() {
        let [t0, t1, a0, a1] = *attr;
        let alen = usize::from(u16::from_be_bytes([a0, a1]));
        let value = after.get(..alen)?;
        if u16::from_be_bytes([t0, t1]) == USERNAME {
            return std::str::from_utf8(value).ok();
        }
        // Attributes are padded to 4 bytes; a missing pad ends the walk.
        rest = after.get(alen.checked_next_multiple_of(4)?..)?;
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
