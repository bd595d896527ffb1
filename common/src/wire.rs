//! The messages the SPA sends and receives, to and from JSON text without serde.
//!
//! Why a second codec: serde's derived code is generic, and for these internally tagged enums it buffers every message
//! before reading it; in the SPA's wasm that was one of the heaviest parts (what dropping it saved: docs/SIZE.md). The
//! relay keeps serde (its error reporting relies on it). The JSON is the same either way: the golden tests check these
//! functions against every fixture, and the property tests against serde for any message.
//!
//! What the SPA needs, no more: it writes [`ClientMessage`] and [`PeerMessage`], and reads [`ServerMessage`],
//! [`PeerMessage`] and [`ClientConfig`]. Reading follows serde's rules for objects: unknown members are ignored, an
//! optional member may be missing or `null`, a member with a default may be missing, anything else wrong refuses the
//! message. (serde would also take a message written as an array of its fields; no one writes them so.)

use crate::json::Value;
use crate::{
    ClientConfig, ClientMessage, DisplayName, ErrorCode, FileOffer, IceServer, IceTransportPolicy, Joined, LeaveReason,
    PeerId, PeerInfo, PeerMessage, RoomId, ServerMessage, SignalPayload,
};

impl ClientMessage {
    /// The message as JSON text, as its serde serialisation writes it.
    pub fn to_json(&self) -> String {
        let message = match self {
            ClientMessage::Join(join) => {
                let resume = join.resume.as_ref().map(|resume| {
                    Object::new().with("peer_id", resume.peer_id.as_str()).with("token", resume.token.as_str())
                });
                Object::tagged("type", "join")
                    .with("version", u64::from(join.version))
                    .with("room", join.room.as_str())
                    .with("name", join.name.as_str())
                    .with_some("resume", resume)
            }
            ClientMessage::Signal { to, payload } => {
                Object::tagged("type", "signal").with("to", to.as_str()).with("payload", signal_payload(payload))
            }
            ClientMessage::Leave => Object::tagged("type", "leave"),
        };
        Value::from(message).to_json()
    }
}

fn signal_payload(payload: &SignalPayload) -> Object {
    match payload {
        SignalPayload::Offer { sdp } => Object::tagged("kind", "offer").with("sdp", sdp.as_str()),
        SignalPayload::Answer { sdp } => Object::tagged("kind", "answer").with("sdp", sdp.as_str()),
        SignalPayload::Candidate { candidate, sdp_mid, sdp_m_line_index, username_fragment } => {
            Object::tagged("kind", "candidate")
                .with("candidate", candidate.as_str())
                .with_some("sdp_mid", sdp_mid.as_deref())
                .with_some("sdp_m_line_index", sdp_m_line_index.map(u64::from))
                .with_some("username_fragment", username_fragment.as_deref())
        }
        SignalPayload::EndOfCandidates => Object::tagged("kind", "end_of_candidates"),
    }
}

impl ServerMessage {
    /// Reads a message from the relay; `None` if it is not one this build knows (a newer relay may send more).
    pub fn from_json(text: &str) -> Option<Self> {
        let message = Value::parse(text)?;
        let field = |key| message.get(key);
        Some(match message.get("type")?.as_str()? {
            "joined" => ServerMessage::Joined(Joined {
                room: RoomId::parse(field("room")?.as_str()?).ok()?,
                peer_id: peer_id(field("peer_id")?)?,
                resume_token: string(field("resume_token")?)?,
                resumed: field("resumed")?.as_bool()?,
                peers: list(field("peers")?, peer_info)?,
                ice_servers: list(field("ice_servers")?, ice_server)?,
                ice_transport_policy: match field("ice_transport_policy") {
                    None => IceTransportPolicy::All,
                    Some(policy) => match policy.as_str()? {
                        "all" => IceTransportPolicy::All,
                        "relay" => IceTransportPolicy::Relay,
                        _ => return None,
                    },
                },
                capacity: u32::try_from(field("capacity")?.as_u64()?).ok()?,
            }),
            "peer_joined" => ServerMessage::PeerJoined { peer: peer_info(field("peer")?)? },
            "peer_left" => ServerMessage::PeerLeft {
                peer_id: peer_id(field("peer_id")?)?,
                reason: match field("reason")?.as_str()? {
                    "left" => LeaveReason::Left,
                    "disconnected" => LeaveReason::Disconnected,
                    _ => return None,
                },
            },
            "signal" => ServerMessage::Signal {
                from: peer_id(field("from")?)?,
                payload: read_signal_payload(field("payload")?)?,
            },
            "ice_servers" => ServerMessage::IceServers { ice_servers: list(field("ice_servers")?, ice_server)? },
            "error" => ServerMessage::Error {
                code: ErrorCode::from_wire(field("code")?.as_str()?),
                message: string(field("message")?)?,
            },
            _ => return None,
        })
    }
}

impl ErrorCode {
    /// The code for its wire form; [`ErrorCode::Unknown`] for a code this build does not know.
    fn from_wire(code: &str) -> Self {
        ErrorCode::ALL.iter().copied().find(|known| known.as_str() == code).unwrap_or(ErrorCode::Unknown)
    }
}

fn read_signal_payload(payload: &Value) -> Option<SignalPayload> {
    let field = |key| payload.get(key);
    Some(match payload.get("kind")?.as_str()? {
        "offer" => SignalPayload::Offer { sdp: string(field("sdp")?)? },
        "answer" => SignalPayload::Answer { sdp: string(field("sdp")?)? },
        "candidate" => SignalPayload::Candidate {
            candidate: string(field("candidate")?)?,
            sdp_mid: optional(payload, "sdp_mid", string)?,
            sdp_m_line_index: optional(payload, "sdp_m_line_index", |v| u16::try_from(v.as_u64()?).ok())?,
            username_fragment: optional(payload, "username_fragment", string)?,
        },
        "end_of_candidates" => SignalPayload::EndOfCandidates,
        _ => return None,
    })
}

fn peer_info(peer: &Value) -> Option<PeerInfo> {
    Some(PeerInfo { id: peer_id(peer.get("id")?)?, name: DisplayName::parse(peer.get("name")?.as_str()?).ok()? })
}

fn ice_server(server: &Value) -> Option<IceServer> {
    Some(IceServer {
        urls: list(server.get("urls")?, string)?,
        username: optional(server, "username", string)?,
        credential: optional(server, "credential", string)?,
    })
}

impl PeerMessage {
    /// The message as JSON text, as its serde serialisation writes it.
    pub fn to_json(&self) -> String {
        let message = match self {
            PeerMessage::Chat { text } => Object::tagged("type", "chat").with("text", text.as_str()),
            PeerMessage::MediaState { mic, camera, screen, video_paused } => {
                let state = Object::tagged("type", "media_state")
                    .with("mic", *mic)
                    .with("camera", *camera)
                    .with("screen", *screen);
                if *video_paused {
                    state.with("video_paused", true)
                } else {
                    state
                }
            }
            PeerMessage::FileOffer(offer) => Object::tagged("type", "file_offer")
                .with("id", offer.id.as_str())
                .with("name", offer.name.as_str())
                .with("size", offer.size)
                .with("mime", offer.mime.as_str()),
            PeerMessage::FileAccept { id } => Object::tagged("type", "file_accept").with("id", id.as_str()),
            PeerMessage::FileEnd { id, sha256 } => {
                Object::tagged("type", "file_end").with("id", id.as_str()).with("sha256", sha256.as_str())
            }
            PeerMessage::FileCancel { id } => Object::tagged("type", "file_cancel").with("id", id.as_str()),
        };
        Value::from(message).to_json()
    }

    /// Reads a message from another SPA; `None` if it is not one this build knows.
    pub fn from_json(text: &str) -> Option<Self> {
        let message = Value::parse(text)?;
        let field = |key| message.get(key);
        let id = || string(field("id")?);
        Some(match message.get("type")?.as_str()? {
            "chat" => PeerMessage::Chat { text: string(field("text")?)? },
            "media_state" => PeerMessage::MediaState {
                mic: field("mic")?.as_bool()?,
                camera: field("camera")?.as_bool()?,
                // Absent from SPAs that predate screen sharing.
                screen: field("screen").map_or(Some(false), Value::as_bool)?,
                // Sent only when true.
                video_paused: field("video_paused").map_or(Some(false), Value::as_bool)?,
            },
            "file_offer" => PeerMessage::FileOffer(FileOffer {
                id: id()?,
                name: string(field("name")?)?,
                size: field("size")?.as_u64()?,
                mime: field("mime").map_or(Some(String::new()), string)?,
            }),
            "file_accept" => PeerMessage::FileAccept { id: id()? },
            "file_end" => PeerMessage::FileEnd { id: id()?, sha256: string(field("sha256")?)? },
            "file_cancel" => PeerMessage::FileCancel { id: id()? },
            _ => return None,
        })
    }
}

impl ClientConfig {
    /// Reads `config.json`; `None` if it is not a valid configuration.
    pub fn from_json(text: &str) -> Option<Self> {
        let config = Value::parse(text)?;
        matches!(config, Value::Object(_)).then_some(())?;
        Some(ClientConfig { relay_url: optional(&config, "relay_url", string)? })
    }
}

fn string(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

fn peer_id(value: &Value) -> Option<PeerId> {
    value.as_str().map(PeerId::from)
}

/// Every item of an array, read by `read`; `None` if one of them is wrong.
fn list<T>(value: &Value, read: impl Fn(&Value) -> Option<T>) -> Option<Vec<T>> {
    value.as_array()?.iter().map(read).collect()
}

/// An optional member: `Some(None)` when missing or `null`, `None` when present but wrong.
fn optional<T>(object: &Value, key: &str, read: impl Fn(&Value) -> Option<T>) -> Option<Option<T>> {
    match object.get(key) {
        None | Some(Value::Null) => Some(None),
        Some(value) => read(value).map(Some),
    }
}

/// A JSON object being written, its members in the order serde writes a struct's fields.
struct Object(Vec<(String, Value)>);

impl Object {
    fn new() -> Self {
        Object(Vec::new())
    }

    /// An internally tagged enum's variant: the tag comes first.
    fn tagged(tag: &str, variant: &str) -> Self {
        Object::new().with(tag, variant)
    }

    fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.push((key.to_owned(), value.into()));
        self
    }

    /// A member skipped when `None` (`skip_serializing_if = "Option::is_none"`).
    fn with_some(self, key: &str, value: Option<impl Into<Value>>) -> Self {
        match value {
            Some(value) => self.with(key, value),
            None => self,
        }
    }
}

impl From<Object> for Value {
    fn from(object: Object) -> Self {
        Value::Object(object.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_types_and_wrong_shapes_are_refused() {
        assert_eq!(ServerMessage::from_json(r#"{"type":"shutdown"}"#), None);
        assert_eq!(ServerMessage::from_json(r#"{"kind":"joined"}"#), None);
        assert_eq!(ServerMessage::from_json(r#"{"type":"peer_left","peer_id":"a","reason":"bored"}"#), None);
        assert_eq!(ServerMessage::from_json(r#"{"type":"peer_left","peer_id":7,"reason":"left"}"#), None);
        assert_eq!(PeerMessage::from_json(r#"{"type":"chat"}"#), None);
        assert_eq!(PeerMessage::from_json(r#"{"type":"media_state","mic":true,"camera":false,"screen":null}"#), None);
        assert_eq!(PeerMessage::from_json(r#"{"type":"file_offer","id":"a","name":"n","size":-1}"#), None);
        assert_eq!(PeerMessage::from_json(r#"{"type":"file_offer","id":"a","name":"n","size":1.5}"#), None);
        assert_eq!(PeerMessage::from_json("[]"), None);
        assert_eq!(ClientConfig::from_json("[]"), None);
        assert_eq!(ClientConfig::from_json(r#"{"relay_url":3}"#), None);
    }

    #[test]
    fn integers_must_fit_their_field() {
        let candidate = |index: &str| {
            let text = format!(
                r#"{{"type":"signal","from":"p","payload":{{"kind":"candidate","candidate":"c","sdp_m_line_index":{index}}}}}"#
            );
            ServerMessage::from_json(&text)
        };
        assert!(matches!(
            candidate("65535"),
            Some(ServerMessage::Signal { payload: SignalPayload::Candidate { sdp_m_line_index: Some(65535), .. }, .. })
        ));
        assert_eq!(candidate("65536"), None);
    }

    #[test]
    fn optional_members_may_be_null() {
        let config = ClientConfig::from_json(r#"{"relay_url":null}"#);
        assert_eq!(config, Some(ClientConfig { relay_url: None }));
    }
}
