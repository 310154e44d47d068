//! AFL target: see `salon_fuzz::client_msg`.
fn main() {
    afl::fuzz!(|data: &[u8]| salon_fuzz::client_msg(data));
}
