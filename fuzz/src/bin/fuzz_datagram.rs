//! AFL target: see `salon_fuzz::datagram`.
fn main() {
    afl::fuzz!(|data: &[u8]| salon_fuzz::datagram(data));
}
