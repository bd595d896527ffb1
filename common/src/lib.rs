//! Huddle's wire protocol, shared by the SPA (`client/`) and the relay (`server/`) so the two cannot drift.
//!
//! Every message is one JSON object in one WebSocket text frame, internally tagged by `type` (snake_case).
//! `docs/PROTOCOL.md` describes each message, the sequence of a call and every error code; the golden tests in
//! `tests/golden.rs` pin the exact JSON.
//!
//! Two codecs write and read that JSON: serde (the derives on every type, used by the relay) and, for the SPA, where
//! serde's generic code weighs too much, the `to_json`/`from_json` methods of the messages it exchanges (`wire.rs`).
//! The tests hold both to the same fixtures.

#![forbid(unsafe_code)]

mod ids;
mod json;
mod message;
mod wire;

pub use ids::{
    is_invisible, DisplayName, InvalidName, InvalidPeerId, InvalidRoomId, PeerId, RoomId, MAX_NAME_CHARS,
    PEER_ID_CHARS, ROOM_ID_CHARS,
};
pub use message::{
    ClientConfig, ClientMessage, ErrorCode, FileOffer, IceServer, IceTransportPolicy, Join, Joined, LeaveReason,
    PeerInfo, PeerMessage, Resume, ServerMessage, SignalPayload,
};

/// The protocol version this build speaks; sent in `join`, checked by the relay.
pub const PROTOCOL_VERSION: u32 = 1;

/// The largest text frame the relay accepts, in bytes: room for the largest SDP a full-mesh call sends, with margin.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// WebSocket close codes the relay uses, beyond the usual meaning of the standard ones.
pub mod close_code {
    /// The relay is shutting down or restarting: reconnect (with backoff) and rejoin with `resume`.
    pub const GOING_AWAY: u16 = 1001;
    /// Sustained abuse (e.g. a flood past the rate limit): do not reconnect in a loop.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// A frame larger than [`MAX_MESSAGE_BYTES`](crate::MAX_MESSAGE_BYTES).
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// The client read too slowly and its outbound queue filled up; reconnecting is fine.
    pub const SLOW_CONSUMER: u16 = 4000;
    /// Another connection resumed this peer id; this one is stale and must not reconnect.
    pub const REPLACED: u16 = 4001;
    /// No frame (not even a pong) arrived within the heartbeat timeout.
    pub const HEARTBEAT_TIMEOUT: u16 = 4002;
    /// The connection did not join a room within the relay's join timeout after the upgrade (a client that sends
    /// `join` as its first frame never sees it). Nothing was joined, so there is nothing to resume: reconnecting
    /// (with backoff) and joining again is fine.
    pub const JOIN_TIMEOUT: u16 = 4003;
}
