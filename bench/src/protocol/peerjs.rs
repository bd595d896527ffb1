//! PeerServer's protocol (the `peer` npm package): a client picks its own id and token in the URL, waits for
//! `OPEN`, then sends `OFFER`/`ANSWER`/`CANDIDATE` with a `dst` id, and a `HEARTBEAT` every few seconds or it is
//! dropped. There are no rooms: a pair is two ids that know each other.

use std::time::Duration;

use serde_json::Value;

use super::SetupEvent;
use crate::payload::{candidate_template, sdp_template, Kind, TO_PLACEHOLDER};

/// How a relayed message starts: PeerServer re-serialises `{type, src, dst, payload}`.
pub const SIGNAL_PREFIXES: [&str; 3] =
    ["{\"type\":\"OFFER\",\"src\":", "{\"type\":\"ANSWER\",\"src\":", "{\"type\":\"CANDIDATE\",\"src\":"];

/// The keep-alive, and how often the PeerJS client sends it (its default `pingInterval`).
pub const HEARTBEAT: &str = "{\"type\":\"HEARTBEAT\"}";
/// See [`HEARTBEAT`].
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);

/// The id member `member` of pair `pair` registers under.
pub fn id(pair: u64, member: u8) -> String {
    format!("bench-{pair}-{member}")
}

/// The WebSocket URL path with the default key, the client's id and a token.
pub fn path(pair: u64, member: u8) -> String {
    format!("/peerjs?key=peerjs&id={}&token=t{pair}x{member}", id(pair, member))
}

/// A message as the PeerJS client sends it for a media connection (`{type, payload, dst}`, the payload holding
/// the description or candidate as the browser serialises it), with the recipient and stamp as placeholders.
pub fn signal_template(kind: Kind) -> String {
    let text = |value: &str| Value::from(value).to_string();
    let (name, payload) = match kind {
        Kind::Offer | Kind::Answer => {
            let (name, sdp_type) = if kind == Kind::Offer { ("OFFER", "offer") } else { ("ANSWER", "answer") };
            let payload = format!(
                "{{\"sdp\":{{\"type\":\"{sdp_type}\",\"sdp\":{}}},\"type\":\"media\",\"connectionId\":\"mc_f3k9x2q7lw\",\
                 \"browser\":\"chrome\"}}",
                text(&sdp_template(kind))
            );
            (name, payload)
        }
        Kind::Candidate => {
            let payload = format!(
                "{{\"candidate\":{{\"candidate\":{},\"sdpMid\":\"0\",\"sdpMLineIndex\":0,\"usernameFragment\":\"EsAw\"}},\
                 \"type\":\"media\",\"connectionId\":\"mc_f3k9x2q7lw\"}}",
                text(&candidate_template())
            );
            ("CANDIDATE", payload)
        }
    };
    format!("{{\"type\":\"{name}\",\"payload\":{payload},\"dst\":\"{TO_PLACEHOLDER}\"}}")
}

/// `OPEN` confirms the id the client chose (returned as `Assigned("")`: the caller knows it already); `ERROR` and
/// `ID-TAKEN` refuse.
pub fn setup_event(text: &str) -> SetupEvent {
    let Ok(message) = serde_json::from_str::<Value>(text) else { return SetupEvent::Other };
    match message["type"].as_str() {
        Some("OPEN") => SetupEvent::Assigned(String::new()),
        Some(refusal @ ("ERROR" | "ID-TAKEN")) => {
            SetupEvent::Refused(format!("{refusal}: {}", message["payload"]["msg"].as_str().unwrap_or("")))
        }
        _ => SetupEvent::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{find_stamp, Template};
    use crate::protocol::{Adapter, RelayKind};

    #[test]
    fn the_url_carries_key_id_and_token() {
        assert_eq!(path(3, 1), "/peerjs?key=peerjs&id=bench-3-1&token=t3x1");
    }

    #[test]
    fn messages_have_the_peerjs_client_s_shape() {
        let mut out = String::new();
        Template::new(&signal_template(Kind::Answer)).render(&mut out, "bench-3-0", 5);
        let message: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(message["type"], "ANSWER");
        assert_eq!(message["dst"], "bench-3-0");
        assert_eq!(message["payload"]["sdp"]["type"], "answer");
        assert_eq!(find_stamp(message["payload"]["sdp"]["sdp"].as_str().unwrap()), Some(5));

        Template::new(&signal_template(Kind::Candidate)).render(&mut out, "bench-3-0", 6);
        let message: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(message["type"], "CANDIDATE");
        assert_eq!(find_stamp(message["payload"]["candidate"]["candidate"].as_str().unwrap()), Some(6));
    }

    #[test]
    fn open_error_and_relayed_messages_are_told_apart() {
        assert_eq!(setup_event(r#"{"type":"OPEN"}"#), SetupEvent::Assigned(String::new()));
        assert_eq!(
            setup_event(r#"{"type":"ERROR","payload":{"msg":"Invalid key provided"}}"#),
            SetupEvent::Refused("ERROR: Invalid key provided".into())
        );
        assert_eq!(setup_event(r#"{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}"#).clone(), {
            SetupEvent::Refused("ID-TAKEN: ID is taken".into())
        });
        let relayed = r#"{"type":"CANDIDATE","src":"bench-1-0","dst":"bench-1-1","payload":{}}"#;
        assert!(Adapter::new(RelayKind::PeerServer).is_signal(relayed));
        assert!(!Adapter::new(RelayKind::PeerServer).is_signal(r#"{"type":"EXPIRE","src":"a","dst":"b"}"#));
    }
}
