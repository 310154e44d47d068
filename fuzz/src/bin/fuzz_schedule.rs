//! AFL target: see `salon_fuzz::schedule`.
fn main() {
    afl::fuzz!(|data: &[u8]| salon_fuzz::schedule(data));
}
