//! Property tests: every message survives a JSON round trip, the SPA's codec (`to_json`/`from_json`) agrees with
//! serde on every message, and the id and name rules hold for any input.
#![cfg(not(target_arch = "wasm32"))]

use std::fmt::Debug;

use huddle_common::{
    ClientConfig, ClientMessage, DisplayName, ErrorCode, FileOffer, IceServer, IceTransportPolicy, Join, Joined,
    LeaveReason, PeerId, PeerInfo, PeerMessage, Resume, RoomId, ServerMessage, SignalPayload, MAX_NAME_CHARS,
    ROOM_ID_CHARS,
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
        prop::collection::vec(ice_server(), 0..3).prop_map(|ice_servers| ServerMessage::IceServers { ice_servers }),
        (select(ErrorCode::ALL), text()).prop_map(|(code, message)| ServerMessage::Error { code, message }),
    ]
}

fn peer_message() -> impl Strategy<Value = PeerMessage> {
    prop_oneof![
        text().prop_map(|text| PeerMessage::Chat { text }),
        any::<(bool, bool, bool, bool)>().prop_map(|(mic, camera, screen, video_paused)| PeerMessage::MediaState {
            mic,
            camera,
            screen,
            video_paused
        }),
        (text(), text(), any::<u64>(), text()).prop_map(|(id, name, size, mime)| PeerMessage::FileOffer(FileOffer {
            id,
            name,
            size,
            mime
        })),
        text().prop_map(|id| PeerMessage::FileAccept { id }),
        (text(), text()).prop_map(|(id, sha256)| PeerMessage::FileEnd { id, sha256 }),
        text().prop_map(|id| PeerMessage::FileCancel { id }),
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

/// The message with each of its members (and its payload's) left out in turn: the SPA reads each as serde does,
/// refusing it when the member is required and taking the default otherwise.
fn assert_spa_reads_partial_messages_as_serde<T>(value: &T, read: fn(&str) -> Option<T>) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let whole = serde_json::to_value(value).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut paths: Vec<Vec<String>> = Vec::new();
    for (key, member) in whole.as_object().into_iter().flatten() {
        paths.push(vec![key.clone()]);
        for inner in member.as_object().into_iter().flat_map(|object| object.keys()) {
            paths.push(vec![key.clone(), inner.clone()]);
        }
    }
    for path in paths {
        let mut partial = whole.clone();
        let (last, parents) = path.split_last().expect("paths are not empty");
        let object = parents.iter().fold(&mut partial, |value, key| &mut value[key.as_str()]);
        object.as_object_mut().expect("an object").remove(last);
        let text = partial.to_string();
        prop_assert_eq!(read(&text), serde_json::from_str::<T>(&text).ok(), "without {:?}: {}", path, text);
    }
    Ok(())
}

proptest! {
    #[test]
    fn client_messages_round_trip(message in client_message()) {
        assert_round_trip(&message)?;
    }

    #[test]
    fn the_spa_writes_client_messages_as_serde_does(message in client_message()) {
        prop_assert_eq!(message.to_json(), serde_json::to_string(&message).unwrap());
    }

    #[test]
    fn the_spa_reads_server_messages_as_serde_does(message in server_message()) {
        let json = serde_json::to_string(&message).unwrap();
        prop_assert_eq!(ServerMessage::from_json(&json), Some(message.clone()), "via {}", json);
        assert_spa_reads_partial_messages_as_serde(&message, ServerMessage::from_json)?;
    }

    #[test]
    fn peer_messages_round_trip_through_both_codecs(message in peer_message()) {
        assert_round_trip(&message)?;
        let json = message.to_json();
        prop_assert_eq!(&json, &serde_json::to_string(&message).unwrap());
        prop_assert_eq!(PeerMessage::from_json(&json), Some(message.clone()), "via {}", json);
        assert_spa_reads_partial_messages_as_serde(&message, PeerMessage::from_json)?;
    }

    #[test]
    fn the_spa_reads_client_configs_as_serde_does(config in client_config()) {
        let json = serde_json::to_string(&config).unwrap();
        prop_assert_eq!(ClientConfig::from_json(&json), Some(config), "via {}", json);
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
