//! The messages: what a client sends ([`ClientMessage`]) and what the relay sends ([`ServerMessage`]).

use serde::{Deserialize, Serialize};

use crate::{DisplayName, PeerId, RoomId};

/// A message from a client (the SPA) to the relay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Enter a room; the first message on every connection.
    Join(Join),
    /// Pass a negotiation message to another peer of the same room.
    Signal {
        /// The peer it is for.
        to: PeerId,
        /// What to pass on, untouched.
        payload: SignalPayload,
    },
    /// Leave the room now: the others are told at once, without waiting for a grace period.
    Leave,
}

impl ClientMessage {
    /// Every `type` a client may send, for telling an unknown type from a known one of the wrong shape.
    pub const TYPES: &'static [&'static str] = &["join", "signal", "leave"];
}

/// The `join` message. `room` and `name` travel as typed so that the relay can say precisely what is wrong with them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Join {
    /// The protocol version the client speaks ([`crate::PROTOCOL_VERSION`]).
    pub version: u32,
    /// The room id from the link (see [`RoomId::parse`]).
    pub room: String,
    /// The display name to show the others (see [`DisplayName::parse`]).
    pub name: String,
    /// Present when rejoining after the connection to the relay dropped: keep the peer id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<Resume>,
}

/// Proof that a client held a peer id: the id and the token it got in `joined`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    /// The peer id to keep.
    pub peer_id: PeerId,
    /// The `resume_token` from the `joined` that assigned it.
    pub token: String,
}

/// A message from the relay to a client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The join (or resume) succeeded.
    Joined(Joined),
    /// Someone entered the room: the peers already there wait for the newcomer's offer.
    PeerJoined {
        /// Who.
        peer: PeerInfo,
    },
    /// Someone left the room, or lost their connection and did not come back within the grace period.
    PeerLeft {
        /// Who.
        peer_id: PeerId,
        /// Why, so the UI can say "left" or "lost connection".
        reason: LeaveReason,
    },
    /// A negotiation message from another peer; `from` is stamped by the relay and cannot be forged.
    Signal {
        /// The sender.
        from: PeerId,
        /// What the sender passed, untouched.
        payload: SignalPayload,
    },
    /// Fresh ICE servers (new TURN credentials) before the ones from `joined` or the last `ice_servers` expire: the
    /// client uses them for new peer connections and ICE restarts. Sent only when the relay has a TURN server.
    IceServers {
        /// The whole list, replacing the one the client has (same shape as `joined.ice_servers`).
        ice_servers: Vec<IceServer>,
    },
    /// A request was refused. The connection stays open unless a close frame follows.
    Error {
        /// What went wrong, for programs; stable across versions.
        code: ErrorCode,
        /// What went wrong, for people.
        message: String,
    },
}

impl ServerMessage {
    /// An `error` message.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        ServerMessage::Error { code, message: message.into() }
    }
}

/// The reply to a successful `join`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Joined {
    /// The room, as normalised by the relay.
    pub room: RoomId,
    /// The id the others know this client by.
    pub peer_id: PeerId,
    /// Secret to send back in `join.resume` after a dropped connection, to keep `peer_id`.
    pub resume_token: String,
    /// Whether this join resumed an earlier peer id (the others were not told anything changed).
    pub resumed: bool,
    /// Everyone else already in the room. The newcomer offers to each of them.
    pub peers: Vec<PeerInfo>,
    /// STUN/TURN servers for `RTCPeerConnection`, in `RTCIceServer` shape. Empty: host candidates only.
    pub ice_servers: Vec<IceServer>,
    /// Which candidates the peer connections may use (`RTCConfiguration.iceTransportPolicy`). Left out when `all`,
    /// which is also what a `joined` without it (from an older relay) means.
    #[serde(default, skip_serializing_if = "IceTransportPolicy::is_all")]
    pub ice_transport_policy: IceTransportPolicy,
    /// How many people the room holds at most.
    pub capacity: u32,
}

/// Another participant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    /// How to address them.
    pub id: PeerId,
    /// What to call them.
    pub name: DisplayName,
}

/// Why a peer left.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    /// They left (sent `leave` or closed the connection cleanly).
    Left,
    /// Their connection dropped and they did not come back within the grace period.
    Disconnected,
}

/// One STUN or TURN server, serialised the way `RTCIceServer` expects it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:`, `turn:` or `turns:` URLs.
    pub urls: Vec<String>,
    /// TURN REST username (`expiry:peerid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN REST credential (base64 HMAC-SHA1 of the username).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// `RTCIceTransportPolicy`: which ICE candidates a peer connection may use. Sent with the ICE servers, since forcing
/// the relay is only possible with the relay's TURN servers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IceTransportPolicy {
    /// Every candidate: direct paths when they work, the TURN server when they do not (the browser's default).
    #[default]
    All,
    /// TURN relay candidates only: all media goes through the TURN server, and peers never learn each other's
    /// IP addresses.
    Relay,
}

impl IceTransportPolicy {
    /// Whether this is `all`, the default (which `joined` leaves out).
    pub fn is_all(&self) -> bool {
        *self == IceTransportPolicy::All
    }

    /// The value as on the wire and in `RTCConfiguration`.
    pub fn as_str(self) -> &'static str {
        match self {
            IceTransportPolicy::All => "all",
            IceTransportPolicy::Relay => "relay",
        }
    }
}

/// A WebRTC negotiation message, passed from one peer to another without the relay looking inside.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SignalPayload {
    /// An SDP offer (a first negotiation, a renegotiation or an ICE restart).
    Offer {
        /// The session description.
        sdp: String,
    },
    /// An SDP answer.
    Answer {
        /// The session description.
        sdp: String,
    },
    /// A trickled ICE candidate (`RTCIceCandidateInit`).
    Candidate {
        /// The `candidate:` attribute line.
        candidate: String,
        /// The media stream identification tag.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mid: Option<String>,
        /// The index of the m-line.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_m_line_index: Option<u16>,
        /// The ICE username fragment, telling candidates of an old ICE generation from new ones.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username_fragment: Option<String>,
    },
    /// The sender has gathered all its candidates.
    EndOfCandidates,
}

/// What went wrong, as a stable machine-readable code. `docs/PROTOCOL.md` says when each is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not JSON.
    InvalidJson,
    /// The JSON nests deeper than the relay reads.
    TooDeep,
    /// The JSON has no `type`, or one the relay does not know.
    UnknownType,
    /// A known `type` with missing or mistyped fields.
    InvalidMessage,
    /// A binary frame; the protocol is text only.
    BinaryUnsupported,
    /// Too many messages too fast; this one was dropped.
    RateLimited,
    /// `signal` or `leave` before a successful `join`.
    NotJoined,
    /// `join` on a connection that already joined.
    AlreadyJoined,
    /// `signal` to a peer that is not in the sender's room.
    UnknownPeer,
    /// Someone in the room already has that name.
    NameTaken,
    /// The name is empty, too long or has control characters.
    InvalidName,
    /// The room is at capacity.
    RoomFull,
    /// The room id is not a valid room id.
    InvalidRoom,
    /// The client speaks a protocol version the relay does not.
    UnsupportedVersion,
    /// The resume token does not match the peer id (or belongs to another room).
    InvalidResume,
    /// The relay cannot take new joins right now (e.g. its shared registry is unreachable); retry later.
    Unavailable,
    /// Too many joins from the client's address lately; this one was refused. Retry later, with backoff.
    JoinRateLimited,
    /// The relay holds too much for clients that do not read it: new joins are refused until that drains; retry
    /// later.
    Overloaded,
    /// A code this build does not know, from a newer relay.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// Every code, in the order documented.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::InvalidJson,
        ErrorCode::TooDeep,
        ErrorCode::UnknownType,
        ErrorCode::InvalidMessage,
        ErrorCode::BinaryUnsupported,
        ErrorCode::RateLimited,
        ErrorCode::NotJoined,
        ErrorCode::AlreadyJoined,
        ErrorCode::UnknownPeer,
        ErrorCode::NameTaken,
        ErrorCode::InvalidName,
        ErrorCode::RoomFull,
        ErrorCode::InvalidRoom,
        ErrorCode::UnsupportedVersion,
        ErrorCode::InvalidResume,
        ErrorCode::Unavailable,
        ErrorCode::JoinRateLimited,
        ErrorCode::Overloaded,
        ErrorCode::Unknown,
    ];

    /// The code as it appears on the wire (and as a metrics label).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::TooDeep => "too_deep",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::InvalidMessage => "invalid_message",
            ErrorCode::BinaryUnsupported => "binary_unsupported",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::NotJoined => "not_joined",
            ErrorCode::AlreadyJoined => "already_joined",
            ErrorCode::UnknownPeer => "unknown_peer",
            ErrorCode::NameTaken => "name_taken",
            ErrorCode::InvalidName => "invalid_name",
            ErrorCode::RoomFull => "room_full",
            ErrorCode::InvalidRoom => "invalid_room",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::InvalidResume => "invalid_resume",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::JoinRateLimited => "join_rate_limited",
            ErrorCode::Overloaded => "overloaded",
            ErrorCode::Unknown => "unknown",
        }
    }
}

/// The SPA's runtime configuration, `config.json` next to `index.html`: the same build works from any static host.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientConfig {
    /// The relay's WebSocket URL. Absent: `/ws` on the origin the SPA was loaded from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_url: Option<String>,
}

/// A message between two SPAs over their `RTCDataChannel`: it never passes through the relay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PeerMessage {
    /// A chat line, for everyone in the call (each peer sends it on every channel).
    Chat {
        /// The text as typed.
        text: String,
    },
    /// Whether the sender's microphone, camera and screen share are on, sent when the channel opens and on every
    /// change.
    MediaState {
        /// The microphone is on (not muted).
        mic: bool,
        /// The camera is on.
        camera: bool,
        /// A screen (or window) is being shared, on its own track.
        #[serde(default)]
        screen: bool,
        /// The camera is on, but the sender's network adaptation paused its video to this receiver for lack of
        /// bandwidth (audio goes on). Sent only when true.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        video_paused: bool,
    },
    /// The sender offers the receiver a file. Its bytes follow on a data channel of their own once accepted.
    FileOffer(FileOffer),
    /// The receiver takes the offered file: the sender opens the `file:<id>` channel and starts sending.
    FileAccept {
        /// The offer's id.
        id: String,
    },
    /// The last message on a `file:<id>` channel, after all the bytes: their SHA-256, for the receiver to check.
    FileEnd {
        /// The offer's id.
        id: String,
        /// SHA-256 of the whole file, 64 lowercase hex digits.
        sha256: String,
    },
    /// Either side stops a transfer (or the receiver refuses an offer). Sent on the `huddle` channel, and first on
    /// the `file:<id>` channel too when it is open, so that it arrives before that channel closes.
    FileCancel {
        /// The offer's id.
        id: String,
    },
}

impl PeerMessage {
    /// The longest chat line, in characters; longer ones are refused by the sender and dropped by the receiver.
    pub const MAX_CHAT_CHARS: usize = 2_000;
}

/// A file offered to a peer (`file_offer`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileOffer {
    /// Chosen by the sender, unique among its transfers: 1 to 32 characters of `0`-`9` and `a`-`z`. The file's bytes
    /// travel on the data channel labelled `file:<id>`.
    pub id: String,
    /// The file's name, without any directory.
    pub name: String,
    /// The file's size in bytes.
    pub size: u64,
    /// The file's media type, as the sender's browser reports it; may be empty.
    #[serde(default)]
    pub mime: String,
}

impl FileOffer {
    /// The largest file a peer takes, in bytes (4 GiB).
    pub const MAX_SIZE: u64 = 4 * 1024 * 1024 * 1024;
    /// The longest transfer id, in characters.
    pub const MAX_ID_CHARS: usize = 32;
    /// The prefix of a file channel's label; the transfer id follows.
    pub const CHANNEL_PREFIX: &'static str = "file:";

    /// The label of the data channel carrying this transfer's bytes.
    pub fn channel_label(id: &str) -> String {
        format!("{}{id}", Self::CHANNEL_PREFIX)
    }
}
