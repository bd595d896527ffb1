//! Property tests: every message survives a JSON round trip, and the id and name rules hold for any input.
#![cfg(not(target_arch = "wasm32"))]

use std::fmt::Debug;

use huddle_common::{
    ClientConfig, ClientMessage, DisplayName, ErrorCode, IceServer, IceTransportPolicy, Join, Joined, LeaveReason,
    PeerId, PeerInfo, Resume, RoomId, ServerMessage, SignalPayload, MAX_NAME_CHARS, ROOM_ID_CHARS,
};
use proptest::prelude::*;
use proptest::sample::select;
use serde::de::DeserializeOwned;
use serde::Serialize;

// ---------------------------------------------------------------------------------------------------------------
// Strategies

/// Any string: all of Unicode, control characters, quotes and backslashes included (`any::<String>()` leaves out
/// control characters).
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..48).prop_map(String::from_iter)
}

fn room_id() -> impl Strategy<Value = RoomId> {
    any::<[u8; 16]>().prop_map(RoomId::from_random)
}

fn peer_id() -> impl Strategy<Value = PeerId> {
    any::<[u8; 8]>().prop_map(PeerId::from_random)
}

/// Valid names: up to MAX_NAME_CHARS non-control characters, minus those that are only white space.
fn display_name() -> impl Strategy<Value = DisplayName> {
    "[^\\p{Cc}]{1,32}".prop_filter_map("blank name", |s| DisplayName::parse(&s).ok())
}

fn peer_info() -> impl Strategy<Value = PeerInfo> {
    (peer_id(), display_name()).prop_map(|(id, name)| PeerInfo { id, name })
}

fn ice_server() -> impl Strategy<Value = IceServer> {
    (prop::collection::vec(text(), 0..4), proptest::option::of(text()), proptest::option::of(text()))
        .prop_map(|(urls, username, credential)| IceServer { urls, username, credential })
}

fn signal_payload() -> impl Strategy<Value = SignalPayload> {
    prop_oneof![
        text().prop_map(|sdp| SignalPayload::Offer { sdp }),
        text().prop_map(|sdp| SignalPayload::Answer { sdp }),
        (text(), proptest::option::of(text()), any::<Option<u16>>(), proptest::option::of(text()),).prop_map(
            |(candidate, sdp_mid, sdp_m_line_index, username_fragment)| {
                SignalPayload::Candidate { candidate, sdp_mid, sdp_m_line_index, username_fragment }
            }
        ),
        Just(SignalPayload::EndOfCandidates),
    ]
}

fn client_message() -> impl Strategy<Value = ClientMessage> {
    // `join` carries room and name as typed, so any string goes.
    let resume = (peer_id(), text()).prop_map(|(peer_id, token)| Resume { peer_id, token });
    let join = (any::<u32>(), text(), text(), proptest::option::of(resume))
        .prop_map(|(version, room, name, resume)| ClientMessage::Join(Join { version, room, name, resume }));
    prop_oneof![
        join,
        (peer_id(), signal_payload()).prop_map(|(to, payload)| ClientMessage::Signal { to, payload }),
        Just(ClientMessage::Leave),
    ]
}

fn server_message() -> impl Strategy<Value = ServerMessage> {
    let joined = (
        room_id(),
        peer_id(),
        text(),
        any::<bool>(),
        prop::collection::vec(peer_info(), 0..5),
        prop::collection::vec(ice_server(), 0..3),
        prop_oneof![Just(IceTransportPolicy::All), Just(IceTransportPolicy::Relay)],
        any::<u32>(),
    )
        .prop_map(|(room, peer_id, resume_token, resumed, peers, ice_servers, ice_transport_policy, capacity)| {
            ServerMessage::Joined(Joined {
                room,
                peer_id,
                resume_token,
                resumed,
                peers,
                ice_servers,
                ice_transport_policy,
                capacity,
            })
        });
    let reason = prop_oneof![Just(LeaveReason::Left), Just(LeaveReason::Disconnected)];
    prop_oneof![
        joined,
        peer_info().prop_map(|peer| ServerMessage::PeerJoined { peer }),
        (peer_id(), reason).prop_map(|(peer_id, reason)| ServerMessage::PeerLeft { peer_id, reason }),
        (peer_id(), signal_payload()).prop_map(|(from, payload)| ServerMessage::Signal { from, payload }),
        (select(ErrorCode::ALL), text()).prop_map(|(code, message)| ServerMessage::Error { code, message }),
    ]
}

fn client_config() -> impl Strategy<Value = ClientConfig> {
    proptest::option::of(text()).prop_map(|relay_url| ClientConfig { relay_url })
}

// ---------------------------------------------------------------------------------------------------------------
// Properties

fn assert_round_trip<T>(value: &T) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let json = serde_json::to_string(value).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let back: T = serde_json::from_str(&json).map_err(|e| TestCaseError::fail(format!("{e} in {json}")))?;
    prop_assert_eq!(&back, value, "via {}", json);
    Ok(())
}

proptest! {
    #[test]
    fn client_messages_round_trip(message in client_message()) {
        assert_round_trip(&message)?;
    }

    #[test]
    fn server_messages_round_trip(message in server_message()) {
        assert_round_trip(&message)?;
    }

    #[test]
    fn signal_payloads_round_trip(payload in signal_payload()) {
        assert_round_trip(&payload)?;
    }

    #[test]
    fn client_configs_round_trip(config in client_config()) {
        assert_round_trip(&config)?;
    }

    #[test]
    fn room_ids_from_any_bytes_parse_back(bytes in any::<[u8; 16]>()) {
        let id = RoomId::from_random(bytes);
        prop_assert_eq!(id.as_str().len(), ROOM_ID_CHARS);
        prop_assert_eq!(RoomId::parse(id.as_str()), Ok(id.clone()));
        prop_assert_eq!(RoomId::parse(&id.as_str().to_uppercase()), Ok(id));
    }

    #[test]
    fn room_id_parse_accepts_only_what_it_can_give_back(
        input in prop_oneof![text(), "[ \t]?[a-zA-Z2-7]{26}[ \n]?"],
    ) {
        if let Ok(id) = RoomId::parse(&input) {
            prop_assert_eq!(RoomId::parse(id.as_str()), Ok(id));
        }
    }

    #[test]
    fn display_name_parse_is_total_and_gives_trimmed_bounded_names(
        input in prop_oneof![text(), "\\s{0,3}[^\\p{Cc}]{0,40}\\s{0,3}"],
    ) {
        if let Ok(name) = DisplayName::parse(&input) {
            let name = name.as_str();
            prop_assert_eq!(name, name.trim());
            prop_assert!(!name.is_empty());
            prop_assert!(name.chars().count() <= MAX_NAME_CHARS);
            prop_assert!(!name.chars().any(char::is_control));
            prop_assert_eq!(DisplayName::parse(name).map(|n| n.as_str().to_owned()), Ok(name.to_owned()));
        }
    }
}
