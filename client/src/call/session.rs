//! The relay session, as plain Rust: who is in the room, who offers to whom, what to do when the relay connection
//! drops (resume with the token, or join afresh when the relay no longer knows it), what each close code means
//! (the call ends, or reconnect), and how long the first connection is retried before the person is told the relay
//! is unreachable.
//!
//! Events go in ([`Event`]: a relay message, the connection closing, a timer, a peer connection's state, the person
//! leaving); effects come out ([`Effect`]: open or drop the relay connection, send, connect to or close a peer,
//! update the call screen, end the call). The browser side (`rtc::engine`) reports the events and carries out the
//! effects in order, taking each with [`Session::next_effect`] once the one before is done: a peer connection that
//! could not be created ([`Event::ConnectFailed`]) is then known before the effects after it are taken.

use std::collections::VecDeque;

use huddle_common::{
    close_code, ClientMessage, ErrorCode, IceServer, IceTransportPolicy, Join, LeaveReason, PeerId, Resume, RoomId,
    ServerMessage, SignalPayload, PROTOCOL_VERSION,
};

use crate::call::backoff::Backoff;
use crate::call::refusal::back_to_lobby;
use crate::call::state::{Action, Ending, LinkState};

/// How many times the first connection to the relay is tried again, after the first try, before the person is told
/// it is unreachable. Once the relay has admitted us, reconnecting never gives up.
pub const FIRST_CONNECT_RETRIES: u32 = 4;

/// The longest the call screen waits for first connections (should one never come up).
pub const SCREEN_HOLD_MAX_MS: u32 = 1_000;

/// What happened, as the session needs to know it.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A message from the relay (one this build does not know is skipped before it gets here).
    Received(ServerMessage),
    /// The relay connection closed (or never opened: 1006), with this close code.
    RelayClosed {
        /// The WebSocket close code (see [`close_code`]).
        code: u16,
    },
    /// No relay connection could be started at all (the browser refused the relay's URL).
    RelayUnusable,
    /// The wait [`Effect::Reconnect`] asked for is over.
    ReconnectDue,
    /// The peer connection [`Effect::Connect`] asked for could not be created.
    ConnectFailed(PeerId),
    /// A peer connection has a negotiation message for its peer.
    LinkSignal {
        /// The peer it is for.
        peer: PeerId,
        /// The message.
        payload: SignalPayload,
    },
    /// A peer connection changed state.
    LinkState {
        /// The peer it connects to.
        peer: PeerId,
        /// Its new state.
        state: LinkState,
    },
    /// The person left the call.
    Leave,
}

/// What to do, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Start a relay connection, with this `join` as its first frame (it waits until the connection opens).
    OpenRelay(Join),
    /// Send a message on the relay connection, if there is one (dropped otherwise).
    Send(ClientMessage),
    /// Done with the relay connection: close it now, and pay no heed to anything still arriving on it.
    DropRelay,
    /// Close the relay connection once what was sent has gone out (the last message was `leave`).
    CloseRelay,
    /// Wait this long, then report [`Event::ReconnectDue`].
    Reconnect {
        /// The wait, in milliseconds.
        after_ms: u32,
    },
    /// The ICE servers and policy for new peer connections; those that exist take them for their next ICE restart.
    SetIce {
        /// STUN and TURN servers.
        servers: Vec<IceServer>,
        /// Which candidates may be used.
        policy: IceTransportPolicy,
    },
    /// Create a peer connection to `peer`; report [`Event::ConnectFailed`] if it cannot be.
    Connect {
        /// Our id (the negotiation's roles depend on it).
        me: PeerId,
        /// Who to connect to.
        peer: PeerId,
        /// We make the first offer (we are the newcomer), rather than answer theirs.
        initiate: bool,
    },
    /// Hand a negotiation message from `peer` to the connection to them, if there is one.
    Deliver {
        /// Who sent it.
        peer: PeerId,
        /// The message.
        payload: SignalPayload,
    },
    /// Close the connection to `peer`, if there is one, and stop the file transfers with them.
    Close {
        /// Who.
        peer: PeerId,
    },
    /// Keep the call screen's updates back until the connection to each of `peers` is settled, or for `at_most_ms`
    /// (see `call::connect_gate`): a render in the middle of the negotiation and the ICE checks would delay them.
    HoldScreen {
        /// The peers whose first connection is awaited.
        peers: Vec<PeerId>,
        /// The longest wait, in milliseconds.
        at_most_ms: u32,
    },
    /// The connection to this peer is up, or will not come up by itself: the screen need not wait for it.
    Settled(PeerId),
    /// Stop holding the screen's updates back, whatever is awaited.
    ShowScreen,
    /// An update for the call screen.
    Emit(Action),
    /// Close every peer connection, stop the file transfers and the screen share, and stop the camera and microphone
    /// (or, `release_devices` false, hand them back to the lobby as it gave them).
    Hangup {
        /// Stop the devices.
        release_devices: bool,
    },
    /// Something for the developer console.
    Warn(String),
}

/// One visit to a room, from the first join to the end of the call, across any number of relay connections.
pub struct Session {
    room: RoomId,
    name: String,
    /// Numbers in [0, 1) that spread reconnects out (see [`Backoff::next_delay_ms`]).
    jitter: Box<dyn FnMut() -> f64>,
    /// Our id and resume token, once joined (forgotten when the relay no longer knows them).
    identity: Option<(PeerId, String)>,
    /// Who the relay says is in the room now.
    roster: Vec<PeerId>,
    /// The candidate policy from the last `joined`, which `ice_servers` does not repeat.
    ice_policy: IceTransportPolicy,
    /// Who we have a peer connection with, in the order they were made; after a relay restart they may outlive the
    /// roster.
    links: Vec<PeerId>,
    /// Who we are still to offer to, in turn: each connection we start waits for the one before to send its offer.
    /// Started all at once (on joining a call of several), each one's calls to the browser's WebRTC thread queued
    /// behind all the others', and no offer went out before the last connection was made.
    to_offer: Vec<PeerId>,
    backoff: Backoff,
    /// The relay admitted us at least once.
    ever_joined: bool,
    /// The relay admitted us on the current connection.
    joined: bool,
    ended: bool,
    outbox: VecDeque<Effect>,
}

impl Session {
    /// A session joining `room` as `name`, drawing reconnect jitter from `jitter` (numbers in [0, 1)). Its first
    /// effect opens the relay connection.
    pub fn new(room: RoomId, name: String, jitter: impl FnMut() -> f64 + 'static) -> Self {
        let mut session = Session {
            room,
            name,
            jitter: Box::new(jitter),
            identity: None,
            roster: Vec::new(),
            ice_policy: IceTransportPolicy::default(),
            links: Vec::new(),
            to_offer: Vec::new(),
            backoff: Backoff::new(),
            ever_joined: false,
            joined: false,
            ended: false,
            outbox: VecDeque::new(),
        };
        session.open_relay();
        session
    }

    /// The next thing to do, if any.
    pub fn next_effect(&mut self) -> Option<Effect> {
        self.outbox.pop_front()
    }

    /// The name we join as.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Our id, once joined.
    pub fn me(&self) -> Option<&PeerId> {
        self.identity.as_ref().map(|(id, _)| id)
    }

    /// Who the relay says is in the room now.
    pub fn roster(&self) -> &[PeerId] {
        &self.roster
    }

    /// Decides what `event` leads to; the effects wait in [`Session::next_effect`]. Once the call is over, nothing
    /// does.
    pub fn handle(&mut self, event: Event) {
        if self.ended {
            return;
        }
        match event {
            // This relay cannot take joins for now (its shared registry is unreachable, it holds too much for
            // clients that do not read, or our address joined too often lately): try again later, through whichever
            // relay the address leads to, as after losing the connection.
            Event::Received(ServerMessage::Error {
                code: ErrorCode::Unavailable | ErrorCode::Overloaded | ErrorCode::JoinRateLimited,
                ..
            }) if !self.joined => {
                self.connection_lost();
            }
            Event::Received(message) => self.on_message(message),
            Event::RelayClosed { code } => match code {
                close_code::REPLACED => self.end(Ending::Replaced),
                close_code::POLICY_VIOLATION => self.end(Ending::RelayUnavailable),
                // Our join did not get through in time (a slow relay): nothing to resume, so try again as after a
                // drop; the first connection's tries still run out.
                close_code::JOIN_TIMEOUT => self.connection_lost(),
                _ => self.connection_lost(),
            },
            Event::RelayUnusable => self.connection_lost(),
            Event::ReconnectDue => self.open_relay(),
            Event::ConnectFailed(peer) => {
                // The screen holds for this connection (or is about to): nothing else would settle it now.
                self.push(Effect::Settled(peer.clone()));
                self.forget_link(&peer);
            }
            Event::LinkSignal { peer, payload } => {
                let offer = matches!(payload, SignalPayload::Offer { .. });
                self.push(Effect::Send(ClientMessage::Signal { to: peer, payload }));
                if offer {
                    self.offer_next();
                }
            }
            Event::LinkState { peer, state } => self.on_link_state(peer, state),
            Event::Leave => {
                self.ended = true;
                self.push(Effect::Send(ClientMessage::Leave));
                self.push(Effect::CloseRelay);
                self.push(Effect::Hangup { release_devices: true });
            }
        }
    }

    fn push(&mut self, effect: Effect) {
        self.outbox.push_back(effect);
    }

    /// Forgets our link to `peer`, or their turn to be offered one. A link forgotten while we waited for its offer
    /// will not make one: the next in turn goes on.
    fn forget_link(&mut self, peer: &PeerId) {
        self.links.retain(|id| id != peer);
        let waiting = self.to_offer.len();
        self.to_offer.retain(|id| id != peer);
        if self.to_offer.len() == waiting {
            self.offer_next();
        }
    }

    /// Starts the connection to the next person we are to offer to, if any.
    fn offer_next(&mut self) {
        if let (Some(me), false) = (self.me().cloned(), self.to_offer.is_empty()) {
            let peer = self.to_offer.remove(0);
            self.push(Effect::Connect { me, peer, initiate: true });
        }
    }

    /// The `join` for the next connection: resuming our id, if we have one.
    fn join(&self) -> Join {
        let resume = self.identity.clone().map(|(peer_id, token)| Resume { peer_id, token });
        Join { version: PROTOCOL_VERSION, room: self.room.to_string(), name: self.name.clone(), resume }
    }

    fn open_relay(&mut self) {
        self.joined = false;
        self.push(Effect::OpenRelay(self.join()));
    }

    /// The relay connection is over without ending the call: reconnect after a while, unless the relay never
    /// admitted us and has had its tries.
    fn connection_lost(&mut self) {
        if !self.ever_joined && self.backoff.attempts() >= FIRST_CONNECT_RETRIES {
            return self.end(Ending::RelayUnavailable);
        }
        self.push(Effect::DropRelay);
        self.push(Effect::Emit(Action::RelayLost));
        let after_ms = self.backoff.next_delay_ms((self.jitter)());
        self.push(Effect::Reconnect { after_ms });
    }

    /// Ends the call because of the relay; a refused name (before the relay ever admitted us) sends the person back
    /// to the lobby, which keeps the devices.
    fn end(&mut self, ending: Ending) {
        self.ended = true;
        let lobby = back_to_lobby(&ending, self.ever_joined);
        self.push(Effect::DropRelay);
        self.push(Effect::Hangup { release_devices: lobby.is_none() });
        self.push(Effect::ShowScreen);
        self.push(Effect::Emit(lobby.map_or(Action::End(ending), Action::NameRefused)));
    }

    fn hold_screen(&mut self, peers: Vec<PeerId>) {
        if !peers.is_empty() {
            self.push(Effect::HoldScreen { peers, at_most_ms: SCREEN_HOLD_MAX_MS });
        }
    }

    fn on_message(&mut self, message: ServerMessage) {
        match message {
            ServerMessage::Joined(joined) => {
                self.backoff.reset();
                self.ever_joined = true;
                self.joined = true;
                // Links that survived a relay blip take the fresh credentials for their next ICE restart.
                self.ice_policy = joined.ice_transport_policy;
                self.push(Effect::SetIce { servers: joined.ice_servers, policy: joined.ice_transport_policy });
                let me = joined.peer_id;
                self.identity = Some((me.clone(), joined.resume_token));
                self.roster = joined.peers.iter().map(|peer| peer.id.clone()).collect();
                // The newcomer starts the negotiation with everyone already there; links that survived a relay
                // blip are kept as they are, media still flowing.
                let mut offering = Vec::new();
                for peer in &joined.peers {
                    if !self.links.contains(&peer.id) {
                        self.links.push(peer.id.clone());
                        self.to_offer.push(peer.id.clone());
                        offering.push(peer.id.clone());
                    }
                }
                self.offer_next();
                // The screen shows the call once the first of these connections is up: its render then delays no
                // one's first frame. Waiting for all of them (made one after another) kept the first person's video
                // off the screen until the last connection was up, and cost calls of four more than the renders
                // during the later set-ups do (`bench/NETWORK.md`, clean links).
                offering.truncate(1);
                self.hold_screen(offering);
                self.push(Effect::Emit(Action::Joined { me, peers: joined.peers }));
            }
            ServerMessage::PeerJoined { peer } => {
                if !self.roster.contains(&peer.id) {
                    self.roster.push(peer.id.clone());
                }
                // They offer to us at once: the screen shows them once connected.
                if !self.links.contains(&peer.id) {
                    self.hold_screen(vec![peer.id.clone()]);
                }
                self.push(Effect::Emit(Action::PeerJoined(peer)));
            }
            ServerMessage::PeerLeft { peer_id, reason } => {
                self.roster.retain(|id| *id != peer_id);
                self.push(Effect::Settled(peer_id.clone()));
                self.forget_link(&peer_id);
                self.push(Effect::Close { peer: peer_id.clone() });
                self.push(Effect::Emit(Action::PeerLeft { peer: peer_id, dropped: reason != LeaveReason::Left }));
            }
            ServerMessage::Signal { from, payload } => self.on_signal(from, payload),
            // Fresh TURN credentials before the last ones expire: links made from now on use them, and so do the
            // ICE restarts of those that exist (their relayed paths in use outlive the old credentials).
            ServerMessage::IceServers { ice_servers } => {
                self.push(Effect::SetIce { servers: ice_servers, policy: self.ice_policy });
            }
            ServerMessage::Error { code, message } => match code {
                ErrorCode::NameTaken
                | ErrorCode::RoomFull
                | ErrorCode::InvalidRoom
                | ErrorCode::InvalidName
                | ErrorCode::UnsupportedVersion => self.end(Ending::Refused { code, message }),
                ErrorCode::InvalidResume => {
                    // The relay no longer knows us by our id (our place was given up after the grace period, our
                    // token expired, or the relay restarted with another resume secret): join afresh, and let the
                    // others meet us under a new id (they drop our old connection once it fails).
                    self.identity = None;
                    self.to_offer.clear();
                    for peer in std::mem::take(&mut self.links) {
                        self.push(Effect::Close { peer: peer.clone() });
                        self.push(Effect::Emit(Action::PeerLeft { peer, dropped: true }));
                    }
                    self.push(Effect::Send(ClientMessage::Join(self.join())));
                }
                _ => self.push(Effect::Warn(format!("relay: {} ({message})", code.as_str()))),
            },
        }
    }

    /// A signal from a peer: the first one from a peer we have no link with (their offer) creates the link.
    fn on_signal(&mut self, from: PeerId, payload: SignalPayload) {
        if !self.links.contains(&from) {
            let Some(me) = self.me().cloned() else { return };
            if !matches!(payload, SignalPayload::Offer { .. }) {
                return;
            }
            self.links.push(from.clone());
            self.push(Effect::Connect { me, peer: from.clone(), initiate: false });
        }
        self.push(Effect::Deliver { peer: from, payload });
    }

    fn on_link_state(&mut self, peer: PeerId, state: LinkState) {
        // The first connection to them is up, or will not come up by itself: the screen may show it.
        if matches!(state, LinkState::Connected | LinkState::Failed | LinkState::Closed) {
            self.push(Effect::Settled(peer.clone()));
        }
        // A connection that died to someone the relay no longer lists (they left while the relay was down, or came
        // back under a new id) will not be repaired: drop it.
        let dead = matches!(state, LinkState::Failed | LinkState::Closed);
        if dead && !self.roster.contains(&peer) {
            self.forget_link(&peer);
            self.push(Effect::Close { peer: peer.clone() });
            self.push(Effect::Emit(Action::PeerLeft { peer, dropped: true }));
        } else {
            self.push(Effect::Emit(Action::Link(peer, state)));
        }
    }
}

#[cfg(test)]
mod tests {
    use huddle_common::{DisplayName, Joined, PeerInfo};

    use super::*;
    use crate::call::refusal::NAME_TAKEN;

    /// Jitter at the top of its range: every delay is just under its nominal value.
    const LATE: f64 = 0.999_999;

    fn room() -> RoomId {
        RoomId::from_random([7; 16])
    }

    fn new_session() -> Session {
        Session::new(room(), "Ada".to_owned(), || LATE)
    }

    fn drain(session: &mut Session) -> Vec<Effect> {
        std::iter::from_fn(|| session.next_effect()).collect()
    }

    fn step(session: &mut Session, event: Event) -> Vec<Effect> {
        session.handle(event);
        drain(session)
    }

    fn info(id: &str) -> PeerInfo {
        PeerInfo { id: id.into(), name: DisplayName::parse(&format!("Peer {id}")).unwrap() }
    }

    fn joined(me: &str, token: &str, peers: &[&str]) -> Event {
        Event::Received(ServerMessage::Joined(Joined {
            room: room(),
            peer_id: me.into(),
            resume_token: token.to_owned(),
            resumed: false,
            peers: peers.iter().map(|id| info(id)).collect(),
            ice_servers: Vec::new(),
            ice_transport_policy: IceTransportPolicy::default(),
            capacity: 8,
        }))
    }

    fn error(code: ErrorCode) -> Event {
        Event::Received(ServerMessage::error(code, "no"))
    }

    fn offer(from: &str) -> Event {
        Event::Received(ServerMessage::Signal {
            from: from.into(),
            payload: SignalPayload::Offer { sdp: "v=0".into() },
        })
    }

    fn closed(code: u16) -> Event {
        Event::RelayClosed { code }
    }

    fn join(resume: Option<(&str, &str)>) -> Join {
        Join {
            version: PROTOCOL_VERSION,
            room: room().to_string(),
            name: "Ada".to_owned(),
            resume: resume.map(|(id, token)| Resume { peer_id: id.into(), token: token.to_owned() }),
        }
    }

    /// The peers connected to, and whether we offer, in order.
    fn connects(effects: &[Effect]) -> Vec<(PeerId, bool)> {
        effects
            .iter()
            .filter_map(|effect| match effect {
                Effect::Connect { peer, initiate, .. } => Some((peer.clone(), *initiate)),
                _ => None,
            })
            .collect()
    }

    fn reconnect_delay(effects: &[Effect]) -> Option<u32> {
        effects.iter().find_map(|effect| match effect {
            Effect::Reconnect { after_ms } => Some(*after_ms),
            _ => None,
        })
    }

    fn ids(ids: &[&str]) -> Vec<PeerId> {
        ids.iter().map(|&id| id.into()).collect()
    }

    /// Our connection to `peer` sends its offer.
    fn offers_to(peer: &str) -> Event {
        Event::LinkSignal { peer: peer.into(), payload: SignalPayload::Offer { sdp: "v=0".into() } }
    }

    /// A session admitted as `me` into a room with `peers`, its connection to each of them made and offered.
    fn in_call(peers: &[&str]) -> Session {
        let mut session = new_session();
        drain(&mut session);
        step(&mut session, joined("me", "secret", peers));
        for peer in peers {
            step(&mut session, offers_to(peer));
        }
        session
    }

    fn ended_with(effects: &[Effect], ending: Ending, release_devices: bool) {
        assert_eq!(
            effects,
            [
                Effect::DropRelay,
                Effect::Hangup { release_devices },
                Effect::ShowScreen,
                Effect::Emit(Action::End(ending))
            ]
        );
    }

    #[test]
    fn the_first_connection_joins_without_resuming() {
        let mut session = new_session();
        assert_eq!(drain(&mut session), [Effect::OpenRelay(join(None))]);
        assert_eq!(session.me(), None);
    }

    #[test]
    fn a_dropped_connection_is_resumed_with_the_token() {
        let mut session = in_call(&[]);
        assert_eq!(session.me(), Some(&PeerId::from("me")));
        let lost = step(&mut session, closed(close_code::GOING_AWAY));
        assert_eq!(
            lost,
            [
                Effect::DropRelay,
                Effect::Emit(Action::RelayLost),
                Effect::Reconnect { after_ms: Backoff::INITIAL_MS - 1 }
            ]
        );
        assert_eq!(step(&mut session, Event::ReconnectDue), [Effect::OpenRelay(join(Some(("me", "secret"))))]);
        // A newer token from the next `joined` is the one used after that.
        step(&mut session, joined("me", "newer", &[]));
        step(&mut session, closed(close_code::HEARTBEAT_TIMEOUT));
        assert_eq!(step(&mut session, Event::ReconnectDue), [Effect::OpenRelay(join(Some(("me", "newer"))))]);
    }

    #[test]
    fn an_invalid_resume_joins_afresh_and_drops_the_old_connections() {
        let mut session = in_call(&["bob", "cy"]);
        step(&mut session, closed(close_code::GOING_AWAY));
        step(&mut session, Event::ReconnectDue);
        let rejoin = step(&mut session, error(ErrorCode::InvalidResume));
        assert_eq!(
            rejoin,
            [
                Effect::Close { peer: "bob".into() },
                Effect::Emit(Action::PeerLeft { peer: "bob".into(), dropped: true }),
                Effect::Close { peer: "cy".into() },
                Effect::Emit(Action::PeerLeft { peer: "cy".into(), dropped: true }),
                Effect::Send(ClientMessage::Join(join(None))),
            ]
        );
        assert_eq!(session.me(), None);
        // Admitted under a new id: everyone there is offered to again, from the new id.
        let admitted = step(&mut session, joined("new-me", "fresh", &["bob", "cy"]));
        assert_eq!(connects(&admitted), [("bob".into(), true)]);
        assert!(admitted.contains(&Effect::Connect { me: "new-me".into(), peer: "bob".into(), initiate: true }));
        let next = step(&mut session, offers_to("bob"));
        assert!(next.contains(&Effect::Connect { me: "new-me".into(), peer: "cy".into(), initiate: true }));
    }

    #[test]
    fn close_codes_end_the_call_or_reconnect() {
        let mut replaced = in_call(&["bob"]);
        ended_with(&step(&mut replaced, closed(close_code::REPLACED)), Ending::Replaced, true);
        let mut abusive = in_call(&["bob"]);
        ended_with(&step(&mut abusive, closed(close_code::POLICY_VIOLATION)), Ending::RelayUnavailable, true);
        for code in [
            close_code::GOING_AWAY,
            close_code::MESSAGE_TOO_BIG,
            close_code::SLOW_CONSUMER,
            close_code::HEARTBEAT_TIMEOUT,
            close_code::JOIN_TIMEOUT,
            1000,
            1006,
            1011,
        ] {
            let mut session = in_call(&["bob"]);
            let effects = step(&mut session, closed(code));
            assert_eq!(effects[..2], [Effect::DropRelay, Effect::Emit(Action::RelayLost)], "{code}");
            assert!(reconnect_delay(&effects).is_some(), "{code}");
            assert!(!effects.iter().any(|effect| matches!(effect, Effect::Close { .. })), "{code}: links survive");
        }
    }

    #[test]
    fn an_ending_close_code_before_joining_also_ends() {
        let mut session = new_session();
        drain(&mut session);
        ended_with(&step(&mut session, closed(close_code::REPLACED)), Ending::Replaced, true);
        assert!(step(&mut session, Event::ReconnectDue).is_empty());
    }

    #[test]
    fn the_first_connection_is_retried_with_backoff_then_given_up() {
        let mut session = new_session();
        let mut opened = drain(&mut session).len();
        let mut delays = Vec::new();
        loop {
            let effects = step(&mut session, closed(1006));
            let Some(delay) = reconnect_delay(&effects) else {
                ended_with(&effects, Ending::RelayUnavailable, true);
                break;
            };
            assert_eq!(effects[1], Effect::Emit(Action::RelayLost), "the lobby says it is trying again");
            delays.push(delay);
            opened += step(&mut session, Event::ReconnectDue).len();
        }
        assert_eq!(delays, [249, 499, 999, 1999]);
        assert_eq!(opened as u32, 1 + FIRST_CONNECT_RETRIES);
        assert!(step(&mut session, Event::ReconnectDue).is_empty(), "nothing happens once it gave up");
    }

    #[test]
    fn an_unusable_relay_address_counts_as_a_failed_try() {
        let mut session = new_session();
        drain(&mut session);
        let effects = step(&mut session, Event::RelayUnusable);
        assert_eq!(reconnect_delay(&effects), Some(249));
    }

    #[test]
    fn once_admitted_reconnecting_never_gives_up_and_each_join_starts_the_backoff_over() {
        let mut session = in_call(&[]);
        let mut delays = Vec::new();
        for _ in 0..8 {
            delays.push(reconnect_delay(&step(&mut session, closed(1006))).expect("reconnects"));
            step(&mut session, Event::ReconnectDue);
        }
        assert_eq!(delays, [249, 499, 999, 1999, 3999, 4999, 4999, 4999]);
        step(&mut session, joined("me", "secret", &[]));
        assert_eq!(reconnect_delay(&step(&mut session, closed(1006))), Some(249));
    }

    #[test]
    fn a_relay_that_cannot_take_joins_is_tried_again_later() {
        let mut session = new_session();
        drain(&mut session);
        let effects = step(&mut session, error(ErrorCode::Overloaded));
        assert_eq!(effects[..2], [Effect::DropRelay, Effect::Emit(Action::RelayLost)]);
        assert!(reconnect_delay(&effects).is_some());
        step(&mut session, Event::ReconnectDue);
        let effects = step(&mut session, error(ErrorCode::Unavailable));
        assert_eq!(effects[..2], [Effect::DropRelay, Effect::Emit(Action::RelayLost)]);
        assert!(reconnect_delay(&effects).is_some());
        // Once admitted on this connection, the same error is only worth a warning.
        step(&mut session, Event::ReconnectDue);
        step(&mut session, joined("me", "secret", &[]));
        assert_eq!(step(&mut session, error(ErrorCode::Unavailable)), [Effect::Warn("relay: unavailable (no)".into())]);
    }

    #[test]
    fn fresh_ice_servers_replace_the_old_ones_with_the_policy_from_joined() {
        let turn = |username: &str| IceServer {
            urls: vec!["turn:turn.example.com:3478?transport=udp".into()],
            username: Some(username.into()),
            credential: Some(format!("hmac of {username}")),
        };
        let mut session = new_session();
        drain(&mut session);
        let Event::Received(ServerMessage::Joined(mut relay_only)) = joined("me", "secret", &["bob"]) else {
            unreachable!()
        };
        relay_only.ice_servers = vec![turn("600:me")];
        relay_only.ice_transport_policy = IceTransportPolicy::Relay;
        step(&mut session, Event::Received(ServerMessage::Joined(relay_only)));
        // The call goes on as it is: nothing is connected, closed or shown anew; only the ICE settings change.
        let fresh =
            step(&mut session, Event::Received(ServerMessage::IceServers { ice_servers: vec![turn("1000:me")] }));
        assert_eq!(fresh, [Effect::SetIce { servers: vec![turn("1000:me")], policy: IceTransportPolicy::Relay }]);
        // After a resume, the next `joined` sets the policy again (an `all` relay this time).
        step(&mut session, closed(close_code::GOING_AWAY));
        step(&mut session, Event::ReconnectDue);
        step(&mut session, joined("me", "newer", &["bob"]));
        let fresh =
            step(&mut session, Event::Received(ServerMessage::IceServers { ice_servers: vec![turn("1400:me")] }));
        assert_eq!(fresh, [Effect::SetIce { servers: vec![turn("1400:me")], policy: IceTransportPolicy::All }]);
    }

    #[test]
    fn a_join_timeout_before_joining_is_retried_until_the_tries_run_out() {
        let mut session = new_session();
        drain(&mut session);
        for _ in 0..FIRST_CONNECT_RETRIES {
            let effects = step(&mut session, closed(close_code::JOIN_TIMEOUT));
            assert_eq!(effects[..2], [Effect::DropRelay, Effect::Emit(Action::RelayLost)]);
            assert!(reconnect_delay(&effects).is_some());
            assert_eq!(step(&mut session, Event::ReconnectDue), [Effect::OpenRelay(join(None))]);
        }
        ended_with(&step(&mut session, closed(close_code::JOIN_TIMEOUT)), Ending::RelayUnavailable, true);
    }

    #[test]
    fn a_join_over_the_address_rate_is_tried_again_later() {
        let mut session = new_session();
        drain(&mut session);
        let effects = step(&mut session, error(ErrorCode::JoinRateLimited));
        assert_eq!(effects[..2], [Effect::DropRelay, Effect::Emit(Action::RelayLost)]);
        assert_eq!(reconnect_delay(&effects), Some(Backoff::INITIAL_MS - 1));
        // A rejoin after a drop that is refused so is retried too, resuming, with a longer wait.
        step(&mut session, Event::ReconnectDue);
        step(&mut session, joined("me", "secret", &["bob"]));
        step(&mut session, closed(1006));
        step(&mut session, Event::ReconnectDue);
        let effects = step(&mut session, error(ErrorCode::JoinRateLimited));
        assert_eq!(reconnect_delay(&effects), Some(2 * Backoff::INITIAL_MS - 1));
        assert_eq!(step(&mut session, Event::ReconnectDue), [Effect::OpenRelay(join(Some(("me", "secret"))))]);
    }

    #[test]
    fn the_newcomer_offers_to_everyone_already_there_one_after_another() {
        let mut session = new_session();
        drain(&mut session);
        let effects = step(&mut session, joined("me", "secret", &["bob", "cy", "dan"]));
        assert!(matches!(effects[0], Effect::SetIce { .. }), "new connections use the fresh ICE settings");
        assert_eq!(connects(&effects), [("bob".into(), true)], "one connection at a time");
        let tail = &effects[effects.len() - 2..];
        assert_eq!(
            tail,
            [
                Effect::HoldScreen { peers: ids(&["bob"]), at_most_ms: SCREEN_HOLD_MAX_MS },
                Effect::Emit(Action::Joined { me: "me".into(), peers: vec![info("bob"), info("cy"), info("dan")] }),
            ],
            "the screen waits for the first connection before showing the call"
        );
        assert_eq!(session.roster(), ids(&["bob", "cy", "dan"]));
        // Bob's connection gathering candidates is no offer yet; once it sends its offer, Cy's is made.
        let candidate = Event::LinkSignal { peer: "bob".into(), payload: SignalPayload::EndOfCandidates };
        assert!(connects(&step(&mut session, candidate)).is_empty());
        let sent = step(&mut session, offers_to("bob"));
        assert_eq!(
            sent[0],
            Effect::Send(ClientMessage::Signal {
                to: "bob".into(),
                payload: SignalPayload::Offer { sdp: "v=0".into() }
            })
        );
        assert_eq!(connects(&sent), [("cy".into(), true)]);
        assert_eq!(connects(&step(&mut session, offers_to("cy"))), [("dan".into(), true)]);
        assert!(connects(&step(&mut session, offers_to("dan"))).is_empty());
        // A later offer (renegotiating) starts nothing.
        assert!(connects(&step(&mut session, offers_to("bob"))).is_empty());
    }

    #[test]
    fn the_next_offer_goes_on_when_a_connection_fails_or_its_peer_leaves() {
        let mut session = new_session();
        drain(&mut session);
        step(&mut session, joined("me", "secret", &["bob", "cy", "dan", "eve"]));
        // Bob's connection cannot be made: Cy's is.
        assert_eq!(connects(&step(&mut session, Event::ConnectFailed("bob".into()))), [("cy".into(), true)]);
        // Dan leaves before his turn: he is skipped. Cy leaves before her connection offered: Eve is next.
        let dan_left = Event::Received(ServerMessage::PeerLeft { peer_id: "dan".into(), reason: LeaveReason::Left });
        step(&mut session, dan_left);
        let cy_left = Event::Received(ServerMessage::PeerLeft { peer_id: "cy".into(), reason: LeaveReason::Left });
        assert_eq!(connects(&step(&mut session, cy_left)), [("eve".into(), true)]);
        assert!(connects(&step(&mut session, offers_to("eve"))).is_empty());
    }

    #[test]
    fn those_already_there_answer_the_newcomer() {
        let mut session = in_call(&[]);
        let arrival = step(&mut session, Event::Received(ServerMessage::PeerJoined { peer: info("dan") }));
        assert_eq!(
            arrival,
            [
                Effect::HoldScreen { peers: ids(&["dan"]), at_most_ms: SCREEN_HOLD_MAX_MS },
                Effect::Emit(Action::PeerJoined(info("dan"))),
            ],
            "no offer of ours: the newcomer makes it"
        );
        let first = step(&mut session, offer("dan"));
        assert_eq!(
            first,
            [
                Effect::Connect { me: "me".into(), peer: "dan".into(), initiate: false },
                Effect::Deliver { peer: "dan".into(), payload: SignalPayload::Offer { sdp: "v=0".into() } },
            ]
        );
        // Their next signals go to the same connection.
        let candidate = SignalPayload::EndOfCandidates;
        let next = Event::Received(ServerMessage::Signal { from: "dan".into(), payload: candidate.clone() });
        assert_eq!(step(&mut session, next), [Effect::Deliver { peer: "dan".into(), payload: candidate }]);
        assert_eq!(session.roster(), ids(&["dan"]));
    }

    #[test]
    fn signals_that_cannot_open_a_connection_are_dropped() {
        let mut before_joining = new_session();
        drain(&mut before_joining);
        assert!(step(&mut before_joining, offer("bob")).is_empty(), "no id to negotiate with yet");
        let mut session = in_call(&[]);
        let stray =
            Event::Received(ServerMessage::Signal { from: "bob".into(), payload: SignalPayload::EndOfCandidates });
        assert!(step(&mut session, stray).is_empty(), "only an offer opens a connection");
    }

    #[test]
    fn a_rejoin_keeps_the_connections_that_survived() {
        let mut session = in_call(&["bob"]);
        step(&mut session, closed(close_code::GOING_AWAY));
        step(&mut session, Event::ReconnectDue);
        let rejoined = step(&mut session, joined("me", "secret", &["bob", "cy"]));
        assert_eq!(connects(&rejoined), [("cy".into(), true)]);
        assert!(rejoined.contains(&Effect::HoldScreen { peers: ids(&["cy"]), at_most_ms: SCREEN_HOLD_MAX_MS }));
        // Someone who rejoins a room we still have a connection with needs no hold.
        let back = step(&mut session, Event::Received(ServerMessage::PeerJoined { peer: info("bob") }));
        assert_eq!(back, [Effect::Emit(Action::PeerJoined(info("bob")))]);
    }

    #[test]
    fn peers_leaving_are_closed_and_announced() {
        let mut session = in_call(&["bob", "cy"]);
        let left = Event::Received(ServerMessage::PeerLeft { peer_id: "bob".into(), reason: LeaveReason::Left });
        assert_eq!(
            step(&mut session, left),
            [
                Effect::Settled("bob".into()),
                Effect::Close { peer: "bob".into() },
                Effect::Emit(Action::PeerLeft { peer: "bob".into(), dropped: false }),
            ]
        );
        let dropped =
            Event::Received(ServerMessage::PeerLeft { peer_id: "cy".into(), reason: LeaveReason::Disconnected });
        assert_eq!(
            step(&mut session, dropped).last(),
            Some(&Effect::Emit(Action::PeerLeft { peer: "cy".into(), dropped: true }))
        );
        assert!(session.roster().is_empty());
        // A new offer from someone who left is someone coming back: a new connection.
        assert_eq!(connects(&step(&mut session, offer("bob"))), [("bob".into(), false)]);
    }

    #[test]
    fn a_dead_connection_to_someone_no_longer_listed_is_dropped() {
        let mut session = in_call(&["bob", "cy"]);
        // The relay restarted; only cy is back in the room.
        step(&mut session, closed(close_code::GOING_AWAY));
        step(&mut session, Event::ReconnectDue);
        step(&mut session, joined("me", "secret", &["cy"]));
        let bob_failed = step(&mut session, Event::LinkState { peer: "bob".into(), state: LinkState::Failed });
        assert_eq!(
            bob_failed,
            [
                Effect::Settled("bob".into()),
                Effect::Close { peer: "bob".into() },
                Effect::Emit(Action::PeerLeft { peer: "bob".into(), dropped: true }),
            ]
        );
        // A failed connection to someone still listed is being repaired (ICE restart): only shown.
        let cy_failed = step(&mut session, Event::LinkState { peer: "cy".into(), state: LinkState::Failed });
        assert_eq!(
            cy_failed,
            [Effect::Settled("cy".into()), Effect::Emit(Action::Link("cy".into(), LinkState::Failed))]
        );
    }

    #[test]
    fn connections_coming_up_release_the_screen() {
        let mut session = in_call(&["bob"]);
        let connecting = step(&mut session, Event::LinkState { peer: "bob".into(), state: LinkState::Connecting });
        assert_eq!(connecting, [Effect::Emit(Action::Link("bob".into(), LinkState::Connecting))]);
        let up = step(&mut session, Event::LinkState { peer: "bob".into(), state: LinkState::Connected });
        assert_eq!(up, [Effect::Settled("bob".into()), Effect::Emit(Action::Link("bob".into(), LinkState::Connected))]);
    }

    #[test]
    fn negotiation_messages_go_to_the_relay() {
        let mut session = in_call(&["bob"]);
        let payload = SignalPayload::EndOfCandidates;
        assert_eq!(
            step(&mut session, Event::LinkSignal { peer: "bob".into(), payload: payload.clone() }),
            [Effect::Send(ClientMessage::Signal { to: "bob".into(), payload })]
        );
    }

    #[test]
    fn a_connection_that_cannot_be_created_is_not_waited_for() {
        // Joins a room with `peers`, the connections to `failing` not made and the others offering; returns whom
        // the screen still waits for once every effect is taken (as the engine's gate counts them).
        let awaited_after = |session: &mut Session, peers: &[&str], failing: &[&str]| {
            drain(session);
            session.handle(joined("me", "secret", peers));
            let mut awaited = Vec::new();
            while let Some(effect) = session.next_effect() {
                match effect {
                    Effect::Connect { peer, .. } if failing.contains(&peer.as_str()) => {
                        session.handle(Event::ConnectFailed(peer));
                    }
                    // The others are made and offer, so that the next one is made.
                    Effect::Connect { peer, .. } => session.handle(offers_to(peer.as_str())),
                    Effect::HoldScreen { peers, .. } => awaited.extend(peers),
                    Effect::Settled(peer) => awaited.retain(|id| *id != peer),
                    _ => {}
                }
            }
            awaited
        };
        // The screen waits for the first connection only: another one failing changes nothing, the first one
        // failing releases it.
        assert_eq!(awaited_after(&mut new_session(), &["bob", "cy"], &["cy"]), ids(&["bob"]));
        assert!(awaited_after(&mut new_session(), &["bob", "cy"], &["bob"]).is_empty());
        // With every connection failed, nothing is waited for.
        let mut alone = new_session();
        assert!(awaited_after(&mut alone, &["bob"], &["bob"]).is_empty());
        // Bob's offer, later, gets another try.
        assert_eq!(connects(&step(&mut alone, offer("bob"))), [("bob".into(), false)]);
    }

    #[test]
    fn a_refused_name_before_the_call_began_returns_to_the_lobby_with_the_devices() {
        let mut session = new_session();
        drain(&mut session);
        assert_eq!(
            step(&mut session, error(ErrorCode::NameTaken)),
            [
                Effect::DropRelay,
                Effect::Hangup { release_devices: false },
                Effect::ShowScreen,
                Effect::Emit(Action::NameRefused(NAME_TAKEN.to_owned())),
            ]
        );
    }

    #[test]
    fn other_refusals_end_the_call() {
        for code in [ErrorCode::RoomFull, ErrorCode::InvalidRoom, ErrorCode::UnsupportedVersion, ErrorCode::InvalidName]
        {
            let mut session = in_call(&[]);
            ended_with(&step(&mut session, error(code)), Ending::Refused { code, message: "no".to_owned() }, true);
        }
        // Other errors are the relay's remarks on one request: the call goes on.
        let mut session = in_call(&[]);
        assert_eq!(
            step(&mut session, error(ErrorCode::UnknownPeer)),
            [Effect::Warn("relay: unknown_peer (no)".into())]
        );
    }

    #[test]
    fn leaving_says_so_then_nothing_more_happens() {
        let mut session = in_call(&["bob"]);
        assert_eq!(
            step(&mut session, Event::Leave),
            [Effect::Send(ClientMessage::Leave), Effect::CloseRelay, Effect::Hangup { release_devices: true }]
        );
        for event in [
            closed(1000),
            Event::ReconnectDue,
            offer("cy"),
            Event::LinkSignal { peer: "bob".into(), payload: SignalPayload::EndOfCandidates },
            Event::Leave,
        ] {
            assert!(step(&mut session, event.clone()).is_empty(), "{event:?}");
        }
    }
}
