//! matchbox_server's protocol (crate `matchbox_protocol`, JSON): a client connects to `/<room>`, is told
//! `{"IdAssigned": id}`, the peers already in the room are told `{"NewPeer": id}`, and a client sends
//! `{"Signal": {"receiver": id, "data": …}}`, delivered as `{"Signal": {"sender": id, "data": …}}`. `data` is what
//! matchbox_socket sends: `{"Offer": sdp}`, `{"Answer": sdp}` or `{"IceCandidate": <candidate init as JSON text>}`.

use serde_json::Value;

use super::SetupEvent;
use crate::payload::{candidate_template, sdp_template, Kind, TO_PLACEHOLDER};

/// How a relayed signal starts.
pub const SIGNAL_PREFIX: &str = "{\"Signal\":{\"sender\":";

/// The room (path) of pair `pair`.
pub fn path(pair: u64) -> String {
    format!("/bench-{pair}")
}

/// A `Signal` request with the recipient and stamp as placeholders, in the field order serde gives it.
pub fn signal_template(kind: Kind) -> String {
    let text = |value: &str| Value::from(value).to_string();
    let data = match kind {
        Kind::Offer => format!("{{\"Offer\":{}}}", text(&sdp_template(kind))),
        Kind::Answer => format!("{{\"Answer\":{}}}", text(&sdp_template(kind))),
        Kind::Candidate => {
            let init = format!(
                "{{\"candidate\":{},\"sdpMid\":\"0\",\"sdpMLineIndex\":0,\"usernameFragment\":\"EsAw\"}}",
                text(&candidate_template())
            );
            format!("{{\"IceCandidate\":{}}}", text(&init))
        }
    };
    format!("{{\"Signal\":{{\"receiver\":\"{TO_PLACEHOLDER}\",\"data\":{data}}}}}")
}

/// `IdAssigned` and `NewPeer`; matchbox never refuses a connection.
pub fn setup_event(text: &str) -> SetupEvent {
    let Ok(message) = serde_json::from_str::<Value>(text) else { return SetupEvent::Other };
    if let Some(id) = message["IdAssigned"].as_str() {
        SetupEvent::Assigned(id.to_owned())
    } else if let Some(id) = message["NewPeer"].as_str() {
        SetupEvent::Arrived(id.to_owned())
    } else {
        SetupEvent::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{find_stamp, Template};
    use crate::protocol::{Adapter, RelayKind};

    const ID: &str = "9b2e6d3c-1f4a-4c8b-9e7d-2a5f6b8c0d1e";

    #[test]
    fn signals_are_externally_tagged_requests() {
        let mut out = String::new();
        Template::new(&signal_template(Kind::Offer)).render(&mut out, ID, 11);
        let message: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(message["Signal"]["receiver"], ID);
        assert_eq!(find_stamp(message["Signal"]["data"]["Offer"].as_str().unwrap()), Some(11));

        Template::new(&signal_template(Kind::Candidate)).render(&mut out, ID, 12);
        let message: Value = serde_json::from_str(&out).unwrap();
        let init: Value = serde_json::from_str(message["Signal"]["data"]["IceCandidate"].as_str().unwrap()).unwrap();
        assert_eq!(find_stamp(init["candidate"].as_str().unwrap()), Some(12));
    }

    #[test]
    fn id_assignment_and_arrivals_are_read() {
        assert_eq!(setup_event(&format!("{{\"IdAssigned\":\"{ID}\"}}")), SetupEvent::Assigned(ID.into()));
        assert_eq!(setup_event(&format!("{{\"NewPeer\":\"{ID}\"}}")), SetupEvent::Arrived(ID.into()));
        assert_eq!(setup_event(&format!("{{\"PeerLeft\":\"{ID}\"}}")), SetupEvent::Other);
        let delivered = format!("{{\"Signal\":{{\"sender\":\"{ID}\",\"data\":{{\"Answer\":\"v=0\"}}}}}}");
        assert!(Adapter::new(RelayKind::Matchbox).is_signal(&delivered));
    }
}
