//! The call's logic, as plain Rust: what the screen shows, negotiation decisions, reconnect timing.

pub mod adapt;
pub mod backoff;
pub mod chat;
pub mod connect_gate;
pub mod decimal;
pub mod devices;
pub mod error;
pub mod ice;
pub mod ice_restart;
pub mod identity;
pub mod negotiation;
pub mod peer_input;
pub mod quality;
pub mod refusal;
pub mod sdp;
pub mod session;
pub mod shortcuts;
pub mod state;
pub mod stats;
pub mod transfer;
