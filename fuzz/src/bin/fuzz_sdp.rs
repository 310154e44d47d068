//! AFL target: see `salon_fuzz::sdp`.
fn main() {
    afl::fuzz!(|data: &[u8]| salon_fuzz::sdp(data));
}
