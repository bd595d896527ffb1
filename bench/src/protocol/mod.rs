//! One adapter per relay protocol: how a client connects, learns its id and its partner's arrival, and how a
//! negotiation message is written and recognised. Everything here is pure, so each protocol is unit-tested.

mod huddle;
mod matchbox;
mod peerjs;

use std::time::Duration;

use crate::payload::{Kind, Template};

/// The relays the bench compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RelayKind {
    /// Huddle's relay (`huddle-server`).
    Huddle,
    /// PeerJS's server (`peer` on npm), on Node.js.
    PeerServer,
    /// `matchbox_server` (crates.io).
    Matchbox,
}

impl RelayKind {
    /// Every relay, in the order of the results table.
    pub const ALL: [RelayKind; 3] = [RelayKind::Huddle, RelayKind::PeerServer, RelayKind::Matchbox];

    /// The name in tables.
    pub fn name(self) -> &'static str {
        match self {
            RelayKind::Huddle => "Huddle",
            RelayKind::PeerServer => "PeerServer",
            RelayKind::Matchbox => "matchbox",
        }
    }
}

/// What a message seen while setting up a pair means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetupEvent {
    /// The relay confirmed the connection; this is the id the partner addresses it by.
    Assigned(String),
    /// Another client arrived in the room, with this id.
    Arrived(String),
    /// The relay refused the connection or the join, saying this.
    Refused(String),
    /// Anything else (not needed to set up).
    Other,
}

/// How the load generator speaks one relay's protocol.
#[derive(Clone, Debug)]
pub struct Adapter {
    kind: RelayKind,
    templates: [Template; 3],
}

impl Adapter {
    /// The adapter for `kind`, with its message templates prepared.
    pub fn new(kind: RelayKind) -> Adapter {
        let template = |kind_of_message| {
            Template::new(&match kind {
                RelayKind::Huddle => huddle::signal_template(kind_of_message),
                RelayKind::PeerServer => peerjs::signal_template(kind_of_message),
                RelayKind::Matchbox => matchbox::signal_template(kind_of_message),
            })
        };
        Adapter { kind, templates: Kind::ALL.map(template) }
    }

    /// Which relay.
    #[cfg(test)]
    pub fn kind(&self) -> RelayKind {
        self.kind
    }

    /// The request path (and query) member `member` (0 or 1) of pair `pair` connects to.
    pub fn path(&self, pair: u64, member: u8) -> String {
        match self.kind {
            RelayKind::Huddle => huddle::PATH.to_owned(),
            RelayKind::PeerServer => peerjs::path(pair, member),
            RelayKind::Matchbox => matchbox::path(pair),
        }
    }

    /// What to send right after connecting, if anything (Huddle: `join`).
    pub fn hello(&self, pair: u64, member: u8) -> Option<String> {
        match self.kind {
            RelayKind::Huddle => Some(huddle::join(pair, member)),
            RelayKind::PeerServer | RelayKind::Matchbox => None,
        }
    }

    /// The id a client chooses for itself, where the protocol lets the client choose (PeerServer); elsewhere the
    /// relay assigns it.
    pub fn chosen_id(&self, pair: u64, member: u8) -> Option<String> {
        match self.kind {
            RelayKind::PeerServer => Some(peerjs::id(pair, member)),
            RelayKind::Huddle | RelayKind::Matchbox => None,
        }
    }

    /// Whether the first member of a pair is told when the second arrives. Waiting for that tells the bench that
    /// the relay has registered both (matchbox drops a signal to a peer it has not registered yet).
    pub fn announces_arrivals(&self) -> bool {
        match self.kind {
            RelayKind::Huddle | RelayKind::Matchbox => true,
            RelayKind::PeerServer => false,
        }
    }

    /// Reads a message received while setting up.
    pub fn setup_event(&self, text: &str) -> SetupEvent {
        match self.kind {
            RelayKind::Huddle => huddle::setup_event(text),
            RelayKind::PeerServer => peerjs::setup_event(text),
            RelayKind::Matchbox => matchbox::setup_event(text),
        }
    }

    /// Writes a negotiation message of `kind` for the peer `to`, stamped `stamp`, into `out`.
    pub fn encode_signal(&self, out: &mut String, to: &str, kind: Kind, stamp: u64) {
        self.templates[kind.index()].render(out, to, stamp);
    }

    /// Whether a received message is a negotiation message relayed from another client (checked by its opening
    /// bytes only: the generator must stay cheaper than the relays it measures).
    pub fn is_signal(&self, text: &str) -> bool {
        match self.kind {
            RelayKind::Huddle => text.starts_with(huddle::SIGNAL_PREFIX),
            RelayKind::PeerServer => peerjs::SIGNAL_PREFIXES.iter().any(|prefix| text.starts_with(prefix)),
            RelayKind::Matchbox => text.starts_with(matchbox::SIGNAL_PREFIX),
        }
    }

    /// The keep-alive message a client of this relay must send, and how often.
    pub fn heartbeat(&self) -> Option<(Duration, &'static str)> {
        match self.kind {
            RelayKind::PeerServer => Some((peerjs::HEARTBEAT_INTERVAL, peerjs::HEARTBEAT)),
            RelayKind::Huddle | RelayKind::Matchbox => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::find_stamp;

    #[test]
    fn every_adapter_recognises_nothing_of_the_others_as_a_signal() {
        let adapters = RelayKind::ALL.map(Adapter::new);
        let mut out = String::new();
        for sender in &adapters {
            sender.encode_signal(&mut out, "someone", Kind::Candidate, 7);
            assert_eq!(find_stamp(&out), Some(7), "{:?}: {out}", sender.kind());
            // A client's own message is not what the relay delivers (it names `to`, not `from`).
            for receiver in &adapters {
                assert!(
                    !receiver.is_signal(&out),
                    "{:?} reads {:?}'s request as a delivery",
                    receiver.kind(),
                    sender.kind()
                );
            }
        }
    }

    #[test]
    fn descriptions_are_larger_than_candidates_by_the_same_margin_everywhere() {
        let mut out = String::new();
        for adapter in RelayKind::ALL.map(Adapter::new) {
            adapter.encode_signal(&mut out, "x", Kind::Offer, 1);
            let offer = out.len();
            adapter.encode_signal(&mut out, "x", Kind::Candidate, 1);
            let candidate = out.len();
            assert!((4_000..6_500).contains(&offer), "{:?} offer {offer}", adapter.kind());
            assert!((150..450).contains(&candidate), "{:?} candidate {candidate}", adapter.kind());
        }
    }
}
