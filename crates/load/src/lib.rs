//! # salon-load: synthetic participants for Salon
//!
//! A [`Participant`] is a headless browser stand-in: it speaks Salon's real
//! signaling protocol over a WebSocket and carries a str0m peer
//! (`salon_sfu::testkit::TestPeer`) on its own UDP socket, so ICE, DTLS, SRTP
//! and renegotiation are all real. The server's integration tests and the
//! `salon-load` benchmark binary both use it.

pub mod http;
pub mod janus;
pub mod metrics;
pub mod participant;
pub mod report;
pub mod scrape;

pub use participant::{Participant, Traffic};
