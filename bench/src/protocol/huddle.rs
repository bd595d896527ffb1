//! Huddle's protocol (docs/PROTOCOL.md): `join` a room on `/ws`, then `signal` a peer id with a typed payload.

use huddle_common::{ClientMessage, PeerId, RoomId, ServerMessage, SignalPayload, PROTOCOL_VERSION};
use serde_json::json;

use super::SetupEvent;
use crate::payload::{candidate_template, sdp_template, Kind, TO_PLACEHOLDER};

/// The WebSocket path.
pub const PATH: &str = "/ws";

/// How a relayed signal starts (`ServerMessage::Signal` serialises its tag, then `from`).
pub const SIGNAL_PREFIX: &str = "{\"type\":\"signal\",\"from\":";

/// The room of pair `pair`: any 16 bytes make a valid room id; these differ for every pair.
pub fn room(pair: u64) -> RoomId {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&pair.to_be_bytes());
    bytes[8..].copy_from_slice(b"huddlebn");
    RoomId::from_random(bytes)
}

/// The `join` of member `member` of pair `pair`.
pub fn join(pair: u64, member: u8) -> String {
    json!({"type": "join", "version": PROTOCOL_VERSION, "room": room(pair).as_str(), "name": format!("peer {member}")})
        .to_string()
}

/// A `signal` carrying a payload of `kind`, serialised as the SPA serialises it (through `huddle-common`), with the
/// recipient and stamp left as placeholders.
pub fn signal_template(kind: Kind) -> String {
    let payload = match kind {
        Kind::Offer => SignalPayload::Offer { sdp: sdp_template(kind) },
        Kind::Answer => SignalPayload::Answer { sdp: sdp_template(kind) },
        Kind::Candidate => SignalPayload::Candidate {
            candidate: candidate_template(),
            sdp_mid: Some("0".into()),
            sdp_m_line_index: Some(0),
            username_fragment: Some("EsAw".into()),
        },
    };
    serde_json::to_string(&ClientMessage::Signal { to: PeerId::from(TO_PLACEHOLDER), payload }).expect("serializes")
}

/// `joined` assigns the id, `peer_joined` announces the partner, `error` refuses.
pub fn setup_event(text: &str) -> SetupEvent {
    match serde_json::from_str::<ServerMessage>(text) {
        Ok(ServerMessage::Joined(joined)) => SetupEvent::Assigned(joined.peer_id.as_str().to_owned()),
        Ok(ServerMessage::PeerJoined { peer }) => SetupEvent::Arrived(peer.id.as_str().to_owned()),
        Ok(ServerMessage::Error { code, message }) => SetupEvent::Refused(format!("{}: {message}", code.as_str())),
        _ => SetupEvent::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{find_stamp, Template};
    use crate::protocol::{Adapter, RelayKind};

    #[test]
    fn the_join_is_a_valid_join_for_a_room_of_its_own() {
        let ClientMessage::Join(join) = serde_json::from_str(&join(7, 1)).unwrap() else { panic!("not a join") };
        assert_eq!(join.version, PROTOCOL_VERSION);
        assert_eq!(RoomId::parse(&join.room).unwrap(), room(7));
        assert_ne!(room(7), room(8));
        assert_eq!(join.name, "peer 1");
    }

    #[test]
    fn signals_are_tagged_first_as_the_spa_sends_them() {
        let mut out = String::new();
        Template::new(&signal_template(Kind::Candidate)).render(&mut out, "j44lydyhipwsm", 1);
        assert!(
            out.starts_with("{\"type\":\"signal\",\"to\":\"j44lydyhipwsm\",\"payload\":{\"kind\":\"candidate\""),
            "{out}"
        );
    }

    #[test]
    fn signals_decode_as_the_relay_decodes_them() {
        let mut out = String::new();
        for kind in Kind::ALL {
            Template::new(&signal_template(kind)).render(&mut out, "j44lydyhipwsm", 99);
            let ClientMessage::Signal { to, payload } = serde_json::from_str(&out).unwrap() else { panic!() };
            assert_eq!(to.as_str(), "j44lydyhipwsm");
            let matches = match (kind, payload) {
                (Kind::Offer, SignalPayload::Offer { sdp }) | (Kind::Answer, SignalPayload::Answer { sdp }) => {
                    find_stamp(&sdp) == Some(99)
                }
                (Kind::Candidate, SignalPayload::Candidate { candidate, sdp_mid, .. }) => {
                    find_stamp(&candidate) == Some(99) && sdp_mid.as_deref() == Some("0")
                }
                _ => false,
            };
            assert!(matches, "{kind:?}: {out}");
        }
    }

    #[test]
    fn setup_messages_are_read_from_the_relay_s_json() {
        let joined = r#"{"type":"joined","room":"dp7lx32a5ungphusvpngx2otuu","peer_id":"xoldzqblu3i7g",
            "resume_token":"t","resumed":false,"peers":[],"ice_servers":[],"capacity":4}"#;
        assert_eq!(setup_event(joined), SetupEvent::Assigned("xoldzqblu3i7g".into()));
        let arrived = r#"{"type":"peer_joined","peer":{"id":"j44lydyhipwsm","name":"Linus"}}"#;
        assert_eq!(setup_event(arrived), SetupEvent::Arrived("j44lydyhipwsm".into()));
        let refused = r#"{"type":"error","code":"room_full","message":"full"}"#;
        assert_eq!(setup_event(refused), SetupEvent::Refused("room_full: full".into()));
        assert_eq!(setup_event("not json"), SetupEvent::Other);
    }

    #[test]
    fn a_relayed_signal_is_recognised() {
        let delivered = r#"{"type":"signal","from":"j44lydyhipwsm","payload":{"kind":"end_of_candidates"}}"#;
        assert!(Adapter::new(RelayKind::Huddle).is_signal(delivered));
        assert!(!Adapter::new(RelayKind::Huddle).is_signal(r#"{"type":"error","code":"unknown_peer"}"#));
    }
}
