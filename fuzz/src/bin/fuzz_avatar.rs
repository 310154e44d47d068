//! AFL target: see `salon_fuzz::avatar`.
fn main() {
    afl::fuzz!(|data: &[u8]| salon_fuzz::avatar(data));
}
