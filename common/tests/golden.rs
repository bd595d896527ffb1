//! Golden tests: the JSON in `tests/fixtures/` is the wire format, written by hand.
//!
//! Each fixture is checked both ways: serialising the value gives the fixture, and parsing the fixture gives the
//! value. Both codecs are checked: serde (the relay's) and the SPA's `to_json`/`from_json`, in the directions the SPA
//! uses. A change that breaks one of these tests changes the protocol: update `docs/PROTOCOL.md` (which quotes every
//! fixture, see `every_fixture_is_quoted_in_the_protocol_doc`) and think about `PROTOCOL_VERSION`.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::fs;
use std::path::{Path, PathBuf};

use huddle_common::{
    ClientConfig, ClientMessage, DisplayName, ErrorCode, FileOffer, IceServer, IceTransportPolicy, Join, Joined,
    LeaveReason, PeerId, PeerInfo, PeerMessage, Resume, RoomId, ServerMessage, SignalPayload, PROTOCOL_VERSION,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------------------------
// The helper

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("a Value always serialises")
}

/// Checks `value` against `tests/fixtures/{name}.json`, in both directions.
#[track_caller]
fn assert_golden<T>(name: &str, value: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let text = fixture_text(name);
    let fixture: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}.json is not JSON: {e}\n{text}"));

    let serialised = serde_json::to_value(value).expect("serialising a protocol value");
    assert!(
        serialised == fixture,
        "serialising does not give {name}.json\n--- {name}.json\n{}\n--- serialised\n{}",
        pretty(&fixture),
        pretty(&serialised),
    );

    let parsed: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}.json does not parse: {e}\n{text}"));
    assert!(
        parsed == *value,
        "parsing {name}.json gives another value\n--- {name}.json\n{}\n--- parsed, serialised again\n{}\n\
         --- parsed\n{parsed:#?}\n--- expected\n{value:#?}",
        pretty(&fixture),
        pretty(&serde_json::to_value(&parsed).expect("serialising a protocol value")),
    );
}

/// The SPA's writer gives the fixture too, and byte for byte what serde_json writes.
#[track_caller]
fn assert_spa_writes<T: Serialize>(name: &str, written: String, value: &T) {
    let fixture: Value = serde_json::from_str(&fixture_text(name)).unwrap();
    let parsed: Value = serde_json::from_str(&written).unwrap_or_else(|e| panic!("the SPA writes invalid JSON: {e}"));
    assert!(
        parsed == fixture,
        "the SPA does not write {name}.json\n--- {name}.json\n{}\n--- written\n{written}",
        pretty(&fixture)
    );
    assert_eq!(written, serde_json::to_string(value).unwrap(), "the SPA and serde write {name} differently");
}

/// The SPA's reader gives the value from the fixture too.
#[track_caller]
fn assert_spa_reads<T: PartialEq + Debug>(name: &str, read: fn(&str) -> Option<T>, value: &T) {
    assert_eq!(read(&fixture_text(name)).as_ref(), Some(value), "the SPA reads {name}.json wrongly");
}

/// A message between SPAs: serde and the SPA's codec, both ways.
#[track_caller]
fn assert_peer_golden(name: &str, message: PeerMessage) {
    assert_golden(name, &message);
    assert_spa_writes(name, message.to_json(), &message);
    assert_spa_reads(name, PeerMessage::from_json, &message);
}

fn fixture_text(name: &str) -> String {
    let path = fixtures_dir().join(format!("{name}.json"));
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------------------------
// The cast: Linus joins a room where Ada and Grace already are, and offers to Ada.

fn room() -> RoomId {
    RoomId::from_random([
        0x1b, 0xfe, 0xbb, 0xef, 0x40, 0xed, 0x1a, 0x67, 0x9e, 0x92, 0xab, 0xda, 0x6b, 0xe9, 0xd3, 0xa5,
    ])
}

fn ada() -> PeerId {
    PeerId::from_random([0xbb, 0x96, 0x3c, 0xc0, 0x2b, 0xa6, 0xd1, 0xf3])
}

fn grace() -> PeerId {
    PeerId::from_random([0x07, 0x75, 0x5a, 0xa4, 0x33, 0x3b, 0xbf, 0x51])
}

fn linus() -> PeerId {
    PeerId::from_random([0x4f, 0x38, 0xbc, 0x0f, 0x07, 0x43, 0xed, 0x26])
}

fn peer(id: PeerId, name: &str) -> PeerInfo {
    PeerInfo { id, name: DisplayName::parse(name).unwrap() }
}

const LINUS_TOKEN: &str = "bPZ2svpUcN6JgEYCtdhfjWeO3xnxWZ3PrT0q6oLJmQQ";

const OFFER_SDP: &str = "v=0\r\n\
    o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
    s=-\r\n\
    t=0 0\r\n\
    a=group:BUNDLE 0 1\r\n\
    a=fingerprint:sha-256 FF:A5:B5:4F:E3:A4:9D:C2:00:42:DE:79:D6:FC:4D:0C:FE:EF:93:EE:A0:3C:82:25:41:D6:8D:C0:81:3C:67:32\r\n\
    a=ice-options:trickle\r\n\
    a=msid-semantic: WMS *\r\n\
    m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
    c=IN IP4 0.0.0.0\r\n\
    a=ice-ufrag:EsAw\r\n\
    a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n\
    a=setup:actpass\r\n\
    a=mid:0\r\n\
    a=sendrecv\r\n\
    a=rtcp-mux\r\n\
    a=rtpmap:111 opus/48000/2\r\n\
    a=fmtp:111 minptime=10;useinbandfec=1\r\n\
    m=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
    c=IN IP4 0.0.0.0\r\n\
    a=ice-ufrag:EsAw\r\n\
    a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n\
    a=setup:actpass\r\n\
    a=mid:1\r\n\
    a=sendrecv\r\n\
    a=rtcp-mux\r\n\
    a=rtpmap:96 VP8/90000\r\n\
    a=rtcp-fb:96 nack pli\r\n";

const ANSWER_SDP: &str = "v=0\r\n\
    o=- 2891367414519380672 2 IN IP4 127.0.0.1\r\n\
    s=-\r\n\
    t=0 0\r\n\
    a=group:BUNDLE 0 1\r\n\
    a=fingerprint:sha-256 49:69:63:22:DD:27:64:FA:B4:23:89:10:DD:0F:5A:B3:03:22:F0:1B:EA:57:AF:6D:76:4A:17:E7:2D:58:3C:5A\r\n\
    a=ice-options:trickle\r\n\
    a=msid-semantic: WMS *\r\n\
    m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
    c=IN IP4 0.0.0.0\r\n\
    a=ice-ufrag:Qm9r\r\n\
    a=ice-pwd:kX3t9VbLhWq2ZcN8yRfJ4pDs\r\n\
    a=setup:active\r\n\
    a=mid:0\r\n\
    a=sendrecv\r\n\
    a=rtcp-mux\r\n\
    a=rtpmap:111 opus/48000/2\r\n\
    a=fmtp:111 minptime=10;useinbandfec=1\r\n\
    m=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
    c=IN IP4 0.0.0.0\r\n\
    a=ice-ufrag:Qm9r\r\n\
    a=ice-pwd:kX3t9VbLhWq2ZcN8yRfJ4pDs\r\n\
    a=setup:active\r\n\
    a=mid:1\r\n\
    a=sendrecv\r\n\
    a=rtcp-mux\r\n\
    a=rtpmap:96 VP8/90000\r\n\
    a=rtcp-fb:96 nack pli\r\n";

fn offer() -> SignalPayload {
    SignalPayload::Offer { sdp: OFFER_SDP.into() }
}

fn join(resume: Option<Resume>) -> ClientMessage {
    ClientMessage::Join(Join { version: PROTOCOL_VERSION, room: room().to_string(), name: "Linus".into(), resume })
}

fn signal_to_ada(payload: SignalPayload) -> ClientMessage {
    ClientMessage::Signal { to: ada(), payload }
}

// ---------------------------------------------------------------------------------------------------------------
// Client messages

#[test]
fn client_join() {
    let message = join(None);
    assert_golden("client_join", &message);
    assert_spa_writes("client_join", message.to_json(), &message);
}

#[test]
fn client_join_resume() {
    let resume = Resume { peer_id: linus(), token: LINUS_TOKEN.into() };
    let message = join(Some(resume));
    assert_golden("client_join_resume", &message);
    assert_spa_writes("client_join_resume", message.to_json(), &message);
}

#[test]
fn client_signal_offer() {
    let message = signal_to_ada(offer());
    assert_golden("client_signal_offer", &message);
    assert_spa_writes("client_signal_offer", message.to_json(), &message);
}

#[test]
fn client_signal_answer() {
    let answer = SignalPayload::Answer { sdp: ANSWER_SDP.into() };
    let message = ClientMessage::Signal { to: linus(), payload: answer };
    assert_golden("client_signal_answer", &message);
    assert_spa_writes("client_signal_answer", message.to_json(), &message);
}

#[test]
fn client_signal_candidate() {
    let candidate = SignalPayload::Candidate {
        candidate: "candidate:842163049 1 udp 1677729535 203.0.113.7 61665 typ srflx raddr 192.168.1.23 \
                    rport 61665 generation 0 ufrag EsAw network-id 1 network-cost 10"
            .into(),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
        username_fragment: Some("EsAw".into()),
    };
    let message = signal_to_ada(candidate);
    assert_golden("client_signal_candidate", &message);
    assert_spa_writes("client_signal_candidate", message.to_json(), &message);
}

#[test]
fn client_signal_candidate_minimal() {
    let candidate = SignalPayload::Candidate {
        candidate: "candidate:1467250027 1 udp 2122260223 4f1c6a8e-2b3d-4c5e-9f7a-1b2c3d4e5f60.local \
                    54400 typ host generation 0"
            .into(),
        sdp_mid: None,
        sdp_m_line_index: None,
        username_fragment: None,
    };
    let message = signal_to_ada(candidate);
    assert_golden("client_signal_candidate_minimal", &message);
    assert_spa_writes("client_signal_candidate_minimal", message.to_json(), &message);
}

#[test]
fn client_signal_end_of_candidates() {
    let message = signal_to_ada(SignalPayload::EndOfCandidates);
    assert_golden("client_signal_end_of_candidates", &message);
    assert_spa_writes("client_signal_end_of_candidates", message.to_json(), &message);
}

#[test]
fn client_leave() {
    assert_golden("client_leave", &ClientMessage::Leave);
    assert_spa_writes("client_leave", ClientMessage::Leave.to_json(), &ClientMessage::Leave);
}

// ---------------------------------------------------------------------------------------------------------------
// Server messages

#[test]
fn server_joined() {
    let stun = IceServer { urls: vec!["stun:stun.example.com:3478".into()], username: None, credential: None };
    let turn = IceServer {
        urls: vec![
            "turn:turn.example.com:3478?transport=udp".into(),
            "turn:turn.example.com:3478?transport=tcp".into(),
            "turns:turn.example.com:5349?transport=tcp".into(),
        ],
        username: Some(format!("1764160496:{}", linus())),
        credential: Some("uLNMrw2FqxuNOYbNpJyrm9xtqGQ=".into()),
    };
    let joined = ServerMessage::Joined(Joined {
        room: room(),
        peer_id: linus(),
        resume_token: LINUS_TOKEN.into(),
        resumed: false,
        peers: vec![peer(ada(), "Ada"), peer(grace(), "Grace")],
        ice_servers: vec![stun, turn],
        ice_transport_policy: IceTransportPolicy::All,
        capacity: 4,
    });
    assert_golden("server_joined", &joined);
    assert_spa_reads("server_joined", ServerMessage::from_json, &joined);
}

#[test]
fn server_joined_alone() {
    let joined = ServerMessage::Joined(Joined {
        room: room(),
        peer_id: ada(),
        resume_token: "Xq0dVtJm2Ff7wqk3s1cT6e8rHnYgBzLpKoA4uEi9W5M".into(),
        resumed: false,
        peers: vec![],
        ice_servers: vec![],
        ice_transport_policy: IceTransportPolicy::All,
        capacity: 4,
    });
    assert_golden("server_joined_alone", &joined);
    assert_spa_reads("server_joined_alone", ServerMessage::from_json, &joined);
}

#[test]
fn server_joined_relay_only() {
    let turn = IceServer {
        urls: vec![
            "turn:turn.example.com:3478?transport=udp".into(),
            "turns:turn.example.com:5349?transport=tcp".into(),
        ],
        username: Some(format!("1764160496:{}", ada())),
        credential: Some("Mi1PWAhS18ob/P1xoVmFE6q2Rl4=".into()),
    };
    let joined = ServerMessage::Joined(Joined {
        room: room(),
        peer_id: ada(),
        resume_token: "Xq0dVtJm2Ff7wqk3s1cT6e8rHnYgBzLpKoA4uEi9W5M".into(),
        resumed: false,
        peers: vec![],
        ice_servers: vec![turn],
        ice_transport_policy: IceTransportPolicy::Relay,
        capacity: 4,
    });
    assert_golden("server_joined_relay_only", &joined);
}

#[test]
fn an_explicit_all_policy_parses_and_is_left_out_again() {
    let text = r#"{"type": "joined", "room": "dp7lx32a5ungphusvpngx2otuu", "peer_id": "xoldzqblu3i7g",
        "resume_token": "t", "resumed": false, "peers": [], "ice_servers": [], "ice_transport_policy": "all",
        "capacity": 4}"#;
    let ServerMessage::Joined(joined) = serde_json::from_str::<ServerMessage>(text).unwrap() else {
        panic!("not a joined: {text}")
    };
    assert_eq!(joined.ice_transport_policy, IceTransportPolicy::All);
    let again = serde_json::to_value(ServerMessage::Joined(joined)).unwrap();
    assert!(again.get("ice_transport_policy").is_none(), "{again}");
    for policy in [IceTransportPolicy::All, IceTransportPolicy::Relay] {
        assert_eq!(serde_json::to_value(policy).unwrap(), Value::from(policy.as_str()));
    }
}

#[test]
fn server_ice_servers() {
    let turn = IceServer {
        urls: vec![
            "turn:turn.example.com:3478?transport=udp".into(),
            "turns:turn.example.com:5349?transport=tcp".into(),
        ],
        username: Some(format!("1764161096:{}", ada())),
        credential: Some("pHqPZR0cFzoDErhTOc7vNkf3Akw=".into()),
    };
    let message = ServerMessage::IceServers { ice_servers: vec![turn] };
    assert_golden("server_ice_servers", &message);
    assert_spa_reads("server_ice_servers", ServerMessage::from_json, &message);
}

#[test]
fn server_peer_joined() {
    let message = ServerMessage::PeerJoined { peer: peer(linus(), "Linus") };
    assert_golden("server_peer_joined", &message);
    assert_spa_reads("server_peer_joined", ServerMessage::from_json, &message);
}

#[test]
fn server_peer_left() {
    for (name, reason) in
        [("server_peer_left_left", LeaveReason::Left), ("server_peer_left_disconnected", LeaveReason::Disconnected)]
    {
        let message = ServerMessage::PeerLeft { peer_id: grace(), reason };
        assert_golden(name, &message);
        assert_spa_reads(name, ServerMessage::from_json, &message);
    }
}

#[test]
fn server_signal() {
    let message = ServerMessage::Signal { from: linus(), payload: offer() };
    assert_golden("server_signal", &message);
    assert_spa_reads("server_signal", ServerMessage::from_json, &message);
}

#[test]
fn server_error() {
    let message = ServerMessage::error(
        ErrorCode::NameTaken,
        "someone in this room is already called that, or by a name that looks the same",
    );
    assert_golden("server_error", &message);
    assert_spa_reads("server_error", ServerMessage::from_json, &message);
}

#[test]
fn server_error_join_rate_limited() {
    let message =
        ServerMessage::error(ErrorCode::JoinRateLimited, "too many joins from your address; try again in a minute");
    assert_golden("server_error_join_rate_limited", &message);
    assert_spa_reads("server_error_join_rate_limited", ServerMessage::from_json, &message);
}

#[test]
fn server_error_overloaded() {
    let message = ServerMessage::error(
        ErrorCode::Overloaded,
        "the relay is holding too many messages for clients that do not read them; try again in a moment",
    );
    assert_golden("server_error_overloaded", &message);
    assert_spa_reads("server_error_overloaded", ServerMessage::from_json, &message);
}

// ---------------------------------------------------------------------------------------------------------------
// config.json

#[test]
fn config_relay_url() {
    let config = ClientConfig { relay_url: Some("wss://relay.example.com/ws".into()) };
    assert_golden("config_relay_url", &config);
    assert_spa_reads("config_relay_url", ClientConfig::from_json, &config);
}

#[test]
fn config_default() {
    assert_golden("config_default", &ClientConfig::default());
    assert_spa_reads("config_default", ClientConfig::from_json, &ClientConfig::default());
}

// ---------------------------------------------------------------------------------------------------------------
// Codes, tags and compatibility rules

#[test]
fn peer_chat() {
    assert_peer_golden("peer_chat", PeerMessage::Chat { text: "Can everyone see my screen?".into() });
}

#[test]
fn peer_media_state() {
    assert_peer_golden(
        "peer_media_state",
        PeerMessage::MediaState { mic: false, camera: true, screen: true, video_paused: false },
    );
}

#[test]
fn peer_media_state_video_paused() {
    assert_peer_golden(
        "peer_media_state_video_paused",
        PeerMessage::MediaState { mic: true, camera: true, screen: false, video_paused: true },
    );
}

const FILE_ID: &str = "k3v9q2mzx81tbw0d";

#[test]
fn peer_file_offer() {
    let offer = FileOffer {
        id: FILE_ID.into(),
        name: "quarterly report.pdf".into(),
        size: 50 * 1024 * 1024,
        mime: "application/pdf".into(),
    };
    assert_peer_golden("peer_file_offer", PeerMessage::FileOffer(offer));
}

#[test]
fn peer_file_accept() {
    assert_peer_golden("peer_file_accept", PeerMessage::FileAccept { id: FILE_ID.into() });
}

#[test]
fn peer_file_end() {
    let sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into();
    assert_peer_golden("peer_file_end", PeerMessage::FileEnd { id: FILE_ID.into(), sha256 });
}

#[test]
fn peer_file_cancel() {
    assert_peer_golden("peer_file_cancel", PeerMessage::FileCancel { id: FILE_ID.into() });
}

#[test]
fn a_file_offer_without_a_media_type_parses() {
    let text = r#"{"type":"file_offer","id":"a1","name":"notes","size":0}"#;
    let offer = FileOffer { id: "a1".into(), name: "notes".into(), size: 0, mime: String::new() };
    assert_eq!(serde_json::from_str::<PeerMessage>(text).unwrap(), PeerMessage::FileOffer(offer.clone()));
    assert_eq!(PeerMessage::from_json(text), Some(PeerMessage::FileOffer(offer)));
    assert_eq!(FileOffer::channel_label("a1"), "file:a1");
}

#[test]
fn a_media_state_from_before_screen_sharing_parses() {
    let text = r#"{"type":"media_state","mic":true,"camera":false}"#;
    let expected = PeerMessage::MediaState { mic: true, camera: false, screen: false, video_paused: false };
    assert_eq!(serde_json::from_str::<PeerMessage>(text).unwrap(), expected);
    assert_eq!(PeerMessage::from_json(text), Some(expected));
}

#[test]
fn every_error_code_is_its_as_str_on_the_wire() {
    for &code in ErrorCode::ALL {
        let json = serde_json::to_value(code).unwrap();
        assert_eq!(json, Value::from(code.as_str()), "{code:?}");
        assert_eq!(serde_json::from_value::<ErrorCode>(json).unwrap(), code, "{code:?}");
    }
    let distinct: BTreeSet<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(distinct.len(), ErrorCode::ALL.len(), "duplicate codes");
}

#[test]
fn an_unknown_error_code_parses_as_unknown() {
    assert_eq!(serde_json::from_str::<ErrorCode>(r#""quota_exceeded""#).unwrap(), ErrorCode::Unknown);
    let error = r#"{"type": "error", "code": "quota_exceeded", "message": "try tomorrow"}"#;
    assert_eq!(
        serde_json::from_str::<ServerMessage>(error).unwrap(),
        ServerMessage::error(ErrorCode::Unknown, "try tomorrow")
    );
    assert_eq!(ServerMessage::from_json(error), Some(ServerMessage::error(ErrorCode::Unknown, "try tomorrow")));
    for &code in ErrorCode::ALL {
        let known = format!(r#"{{"type":"error","code":"{}","message":""}}"#, code.as_str());
        assert_eq!(ServerMessage::from_json(&known), Some(ServerMessage::error(code, "")), "{code:?}");
    }
}

#[test]
fn client_message_types_are_the_tags_produced() {
    // A new variant breaks this match: add an example of it below.
    fn _every_variant_is_listed(message: &ClientMessage) {
        match message {
            ClientMessage::Join(_) | ClientMessage::Signal { .. } | ClientMessage::Leave => {}
        }
    }
    let examples = [join(None), signal_to_ada(SignalPayload::EndOfCandidates), ClientMessage::Leave];
    let tags: Vec<String> =
        examples.iter().map(|m| serde_json::to_value(m).unwrap()["type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(tags, ClientMessage::TYPES);
}

#[test]
fn unknown_fields_are_ignored() {
    // Adding an optional field is a compatible change (see "Versioning" in docs/PROTOCOL.md).
    let leave = r#"{"type": "leave", "reason": "closing the tab"}"#;
    assert_eq!(serde_json::from_str::<ClientMessage>(leave).unwrap(), ClientMessage::Leave);
    let joined = r#"{"type": "peer_joined", "peer": {"id": "j44lydyhipwsm", "name": "Linus", "avatar": "🐧"}}"#;
    assert_eq!(
        serde_json::from_str::<ServerMessage>(joined).unwrap(),
        ServerMessage::PeerJoined { peer: peer(linus(), "Linus") }
    );
    assert_eq!(ServerMessage::from_json(joined), Some(ServerMessage::PeerJoined { peer: peer(linus(), "Linus") }));
    let chat = r#"{"type": "chat", "text": "hi", "sent_at": 1764160496}"#;
    assert_eq!(PeerMessage::from_json(chat), Some(PeerMessage::Chat { text: "hi".into() }));
}

/// Every fixture appears (as a JSON value, whatever its layout) in a ```json block of docs/PROTOCOL.md.
#[test]
fn every_fixture_is_quoted_in_the_protocol_doc() {
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/PROTOCOL.md");
    let doc = fs::read_to_string(&doc_path).unwrap_or_else(|e| panic!("{}: {e}", doc_path.display()));
    let quoted: Vec<Value> = doc
        .split("```json\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .filter_map(|block| serde_json::from_str(block).ok())
        .collect();

    let mut missing = Vec::new();
    for entry in fs::read_dir(fixtures_dir()).unwrap() {
        let path = entry.unwrap().path();
        let fixture: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if !quoted.contains(&fixture) {
            missing.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    missing.sort();
    assert!(missing.is_empty(), "docs/PROTOCOL.md does not quote {missing:?}");
}
