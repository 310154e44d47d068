//! Salon's integration tests: the real server on port 0, real WebSockets,
//! real UDP with DTLS-SRTP, str0m clients standing in for browsers.

mod accounts;
mod calls;
mod durability;
mod hardening;
mod helpers;
mod host;
mod http2;
mod http_api;
mod media;
mod media_loop;
mod privacy;
mod resume;
mod signaling;
mod turn;
mod web;
