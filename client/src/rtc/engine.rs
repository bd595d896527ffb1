//! The call engine: the relay connection (with reconnect and resume) and one [`PeerLink`] per remote peer.
//! It turns relay messages and link events into [`Action`]s for the call screen.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use huddle_common::{
    close_code, ClientMessage, ErrorCode, Join, LeaveReason, PeerId, PeerMessage, Resume, RoomId, ServerMessage,
    SignalPayload, PROTOCOL_VERSION,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::{File, MediaStream};
use yew::Callback;

use crate::call::backoff::Backoff;
use crate::call::connect_gate::ConnectGate;
use crate::call::refusal::back_to_lobby;
use crate::call::state::{Action, Ending, LinkState};
use crate::call::transfer::TransferKey;
use crate::prefs;
use crate::rtc::media::{pick_screen, LocalMedia, Screen};
use crate::rtc::peer::{IceSettings, LinkEvent, Outgoing, PeerLink};
use crate::rtc::socket::{RelaySender, RelaySocket, SocketEvent};
use crate::rtc::transfer::Transfers;
use crate::small_map::SmallMap;

/// How many times the first connection to the relay is tried before telling the person it is unreachable.
const FIRST_CONNECT_ATTEMPTS: u32 = 4;

/// The longest the call screen waits for first connections (should one never come up).
const CONNECT_GATE_MAX_MS: u32 = 1_000;

/// A running call. Cloning shares it.
#[derive(Clone)]
pub struct Engine(Rc<Inner>);

impl PartialEq for Engine {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

struct Inner {
    relay_url: String,
    room: RoomId,
    name: String,
    media: LocalMedia,
    /// Updates for the call screen, through `gate`.
    dispatch: Callback<Action>,
    gate: Rc<ConnectGate<PeerId, Action>>,
    /// Our id and resume token, once joined.
    identity: RefCell<Option<(PeerId, String)>>,
    /// ICE servers and policy from the latest `joined`.
    ice: RefCell<IceSettings>,
    /// Who the relay says is in the room now.
    roster: RefCell<Vec<PeerId>>,
    /// Peer connections, made lazily (see `on_signal`); after a relay restart they may outlive the roster.
    links: RefCell<SmallMap<PeerId, Rc<PeerLink>>>,
    /// The relay connection of the current session.
    outgoing: RefCell<Option<RelaySender>>,
    /// The camera is on, or being turned on.
    camera_on: Cell<bool>,
    /// Counts `set_camera` calls, so that one finishing late knows a later one decided.
    camera_requests: Cell<u64>,
    screen: RefCell<Option<Screen>>,
    ended: Cell<bool>,
    /// Files being sent and received.
    transfers: Transfers,
}

impl Engine {
    /// Connects to the relay and joins `room` as `name`, sending `media`.
    pub fn start(relay_url: String, room: RoomId, name: String, media: LocalMedia, dispatch: Callback<Action>) -> Self {
        let camera_on = media.video_track().is_some();
        let gate = Rc::new(ConnectGate::new(move |action| dispatch.emit(action)));
        let dispatch = {
            let gate = Rc::clone(&gate);
            Callback::from(move |action| gate.emit(action))
        };
        let engine = Engine(Rc::new(Inner {
            relay_url,
            room,
            name,
            media,
            transfers: Transfers::new(dispatch.clone()),
            dispatch,
            gate,
            identity: RefCell::new(None),
            ice: RefCell::new(IceSettings::default()),
            roster: RefCell::new(Vec::new()),
            links: RefCell::new(SmallMap::new()),
            outgoing: RefCell::new(None),
            camera_on: Cell::new(camera_on),
            camera_requests: Cell::new(0),
            screen: RefCell::new(None),
            ended: Cell::new(false),
        }));
        let weak = Rc::downgrade(&engine.0);
        engine.0.media.on_device_lost(move |kind| {
            if let Some(inner) = weak.upgrade() {
                spawn_local(Engine(inner).recover_device(kind));
            }
        });
        // The relay connection starts here, in the Join click's own task: ahead of any rendering the click causes.
        let relay = engine.open_relay();
        spawn_local(engine.clone().relay_loop(relay));
        engine
    }

    /// What `peer` sends us.
    pub fn remote_stream(&self, peer: &PeerId) -> Option<MediaStream> {
        self.0.links.borrow().get(peer).map(|link| link.remote_stream())
    }

    /// What `peer` shares of their screen.
    pub fn remote_screen(&self, peer: &PeerId) -> Option<MediaStream> {
        self.0.links.borrow().get(peer).and_then(|link| link.remote_screen())
    }

    /// Every peer connection, by peer, for the statistics panel.
    pub fn peer_connections(&self) -> Vec<(PeerId, web_sys::RtcPeerConnection)> {
        self.0.links.borrow().iter().map(|(peer, link)| (peer.clone(), link.connection().clone())).collect()
    }

    /// Our shared screen, if sharing.
    pub fn local_screen(&self) -> Option<MediaStream> {
        self.0.screen.borrow().as_ref().map(|screen| Clone::clone(&screen.stream))
    }

    /// Asks which screen to share and shares it with everyone. Stopping it from the browser's own control ends the
    /// share as the button does.
    pub async fn start_screen_share(&self) -> Result<(), String> {
        let screen = pick_screen().await?;
        let engine = Rc::downgrade(&self.0);
        let on_ended = Closure::<dyn FnMut()>::new(move || {
            if let Some(inner) = engine.upgrade() {
                Engine(inner).stop_screen_share();
            }
        });
        screen.track.set_onended(Some(on_ended.as_ref().unchecked_ref()));
        on_ended.forget();
        for link in self.0.links.borrow().values() {
            link.set_screen(Some(screen.clone()));
        }
        *self.0.screen.borrow_mut() = Some(screen);
        self.broadcast(&self.media_state());
        self.0.dispatch.emit(Action::SetSharing(true));
        Ok(())
    }

    /// Stops sharing the screen.
    pub fn stop_screen_share(&self) {
        let Some(screen) = self.0.screen.borrow_mut().take() else { return };
        screen.track.set_onended(None);
        screen.track.stop();
        for link in self.0.links.borrow().values() {
            link.set_screen(None);
        }
        self.broadcast(&self.media_state());
        self.0.dispatch.emit(Action::SetSharing(false));
    }

    /// Our own camera and microphone.
    pub fn local_media(&self) -> &LocalMedia {
        &self.0.media
    }

    /// Mutes or unmutes the microphone, and tells the others.
    pub fn set_mic(&self, on: bool) {
        self.0.media.set_mic_enabled(on);
        self.broadcast(&self.media_state());
    }

    /// Whether the camera is on, or being turned on.
    pub fn camera_on(&self) -> bool {
        self.0.camera_on.get()
    }

    /// Turns the camera on or off (off releases the device), and tells the others. The latest call wins: a start
    /// still waiting for the camera when the camera is turned off again is undone as soon as it resolves.
    /// The choice is recorded before this returns, so clicks in quick succession each see the one before.
    pub fn set_camera(&self, on: bool) -> impl std::future::Future<Output = Result<(), String>> + use<> {
        let request = self.0.camera_requests.get() + 1;
        self.0.camera_requests.set(request);
        self.0.camera_on.set(on);
        let engine = self.clone();
        async move { engine.apply_camera(on, request).await }
    }

    async fn apply_camera(&self, on: bool, request: u64) -> Result<(), String> {
        let track = if on {
            let started = self.0.media.start_camera().await;
            if self.0.camera_requests.get() != request {
                // A later call decided meanwhile; if it turned the camera off, release what this one started.
                if !self.0.camera_on.get() {
                    self.0.media.stop_camera();
                }
                return Ok(());
            }
            match started {
                Ok(track) => Some(track),
                Err(why) => {
                    self.0.camera_on.set(false);
                    return Err(why);
                }
            }
        } else {
            self.0.media.stop_camera();
            None
        };
        for link in self.0.links.borrow().values() {
            link.set_video(track.clone());
        }
        self.broadcast(&self.media_state());
        Ok(())
    }

    /// Switches to another camera mid-call: the new track replaces the old one on every connection, without
    /// renegotiating. While the camera is off, only the choice changes. The choice is remembered.
    pub async fn switch_camera(&self, id: String) -> Result<(), String> {
        let media = &self.0.media;
        if self.0.camera_on.get() {
            let track = media.use_camera(Some(id)).await?;
            for link in self.0.links.borrow().values() {
                link.set_video(Some(Clone::clone(&track)));
            }
        } else {
            media.choose_camera(Some(id));
        }
        prefs::set_devices(&media.choice());
        Ok(())
    }

    /// Switches to another microphone mid-call, keeping it muted or not; remembered.
    pub async fn switch_mic(&self, id: String) -> Result<(), String> {
        let track = self.0.media.use_mic(Some(id)).await?;
        for link in self.0.links.borrow().values() {
            link.set_audio(Some(Clone::clone(&track)));
        }
        prefs::set_devices(&self.0.media.choice());
        Ok(())
    }

    /// A device in use stopped by itself (unplugged): fall back to the default one and say so.
    async fn recover_device(self, kind: &'static str) {
        let media = &self.0.media;
        let (what, result) = if kind == "audio" {
            ("microphone", media.use_mic(None).await)
        } else if self.0.camera_on.get() {
            ("camera", media.use_camera(None).await)
        } else {
            return;
        };
        let notice = match result {
            Ok(track) => {
                for link in self.0.links.borrow().values() {
                    if kind == "audio" {
                        link.set_audio(Some(Clone::clone(&track)));
                    } else {
                        link.set_video(Some(Clone::clone(&track)));
                    }
                }
                format!("Your {what} was disconnected. Now using {}.", track.label())
            }
            Err(_) => {
                for link in self.0.links.borrow().values() {
                    if kind == "audio" {
                        link.set_audio(None);
                    } else {
                        link.set_video(None);
                    }
                }
                if kind == "video" {
                    self.0.camera_on.set(false);
                    self.0.dispatch.emit(Action::SetCamera(false));
                    self.broadcast(&self.media_state());
                }
                format!("Your {what} was disconnected, and no other one was found.")
            }
        };
        self.0.dispatch.emit(Action::Notice(notice));
    }

    /// Offers a file to one person, or to everyone (one transfer each).
    pub fn send_file(&self, file: &File, to: Option<&PeerId>) {
        let links: Vec<Rc<PeerLink>> = match to {
            Some(peer) => self.0.links.borrow().get(peer).cloned().into_iter().collect(),
            None => self.0.links.borrow().values().cloned().collect(),
        };
        if links.is_empty() {
            let notice = format!("Nobody to send {} to yet", crate::call::transfer::sanitize_name(&file.name()));
            return self.0.dispatch.emit(Action::Notice(notice));
        }
        for link in &links {
            self.0.transfers.offer(link, file);
        }
    }

    /// Stops a file transfer, either way; the other side is told.
    pub fn cancel_transfer(&self, key: TransferKey) {
        self.0.transfers.cancel(key);
    }

    /// Sends a chat line to everyone.
    pub fn send_chat(&self, text: String) {
        self.broadcast(&PeerMessage::Chat { text: text.clone() });
        self.0.dispatch.emit(Action::ChatSent(text));
    }

    /// Leaves the room: tells the relay, closes every connection and releases the devices.
    pub fn leave(&self) {
        self.close(true);
    }

    /// Leaves the room, and releases the devices or (`release` false) hands them back as the lobby gave them.
    fn close(&self, release: bool) {
        if self.0.ended.replace(true) {
            return;
        }
        self.send(ClientMessage::Leave);
        if let Some(relay) = self.0.outgoing.borrow_mut().take() {
            relay.close();
        }
        self.0.transfers.close_all();
        for (_, link) in self.0.links.borrow_mut().take() {
            link.close();
        }
        if let Some(screen) = self.0.screen.borrow_mut().take() {
            screen.track.stop();
        }
        if release {
            self.0.media.stop();
        } else {
            self.0.media.on_device_lost(|_| {});
        }
    }

    fn media_state(&self) -> PeerMessage {
        PeerMessage::MediaState {
            mic: self.0.media.mic_enabled(),
            camera: self.0.camera_on.get(),
            screen: self.0.screen.borrow().is_some(),
        }
    }

    fn broadcast(&self, message: &PeerMessage) {
        for link in self.0.links.borrow().values() {
            link.send(message);
        }
    }

    fn send(&self, message: ClientMessage) {
        if let Some(relay) = self.0.outgoing.borrow().as_ref() {
            relay.send(message.to_json());
        }
    }

    /// Ends the call; a refused name (before the relay ever admitted us) sends the person back to the lobby, which
    /// keeps the devices.
    fn end(&self, ending: Ending, ever_joined: bool) {
        let lobby = back_to_lobby(&ending, ever_joined);
        self.close(lobby.is_none());
        self.0.gate.open();
        self.0.dispatch.emit(lobby.map_or(Action::End(ending), Action::NameRefused));
    }

    /// Reads the relay connection `first` (already started, if it could be) until it closes, then reconnects and
    /// joins again (resuming) with backoff.
    async fn relay_loop(self, mut first: Option<RelaySocket>) {
        let mut backoff = Backoff::new();
        let mut ever_joined = false;
        while !self.0.ended.get() {
            let outcome = match first.take().or_else(|| self.open_relay()) {
                Some(socket) => self.session(socket, &mut backoff, &mut ever_joined).await,
                None => None,
            };
            match outcome {
                Some(ending) => return self.end(ending, ever_joined),
                None if self.0.ended.get() => return,
                None if !ever_joined && backoff.attempts() >= FIRST_CONNECT_ATTEMPTS => {
                    return self.end(Ending::RelayUnavailable, ever_joined);
                }
                None => {
                    self.0.dispatch.emit(Action::RelayLost);
                    let delay = backoff.next_delay_ms(js_sys::Math::random());
                    gloo_timers::future::TimeoutFuture::new(delay).await;
                }
            }
        }
    }

    /// Starts connecting to the relay, with `join` (resuming after a drop) queued to go out once connected.
    fn open_relay(&self) -> Option<RelaySocket> {
        let socket = RelaySocket::open(&self.0.relay_url).ok()?;
        let relay = socket.sender();
        let resume = self.0.identity.borrow().clone().map(|(peer_id, token)| Resume { peer_id, token });
        let join = Join { version: PROTOCOL_VERSION, room: self.0.room.to_string(), name: self.0.name.clone(), resume };
        relay.send(ClientMessage::Join(join).to_json());
        *self.0.outgoing.borrow_mut() = Some(relay);
        Some(socket)
    }

    /// One relay connection, from open to close. Returns why the call ends, or `None` to reconnect.
    async fn session(&self, mut socket: RelaySocket, backoff: &mut Backoff, ever_joined: &mut bool) -> Option<Ending> {
        let mut joined = false;
        while let Some(event) = socket.next().await {
            match event {
                SocketEvent::Text(text) => {
                    // Unknown message types from a newer relay are skipped, not fatal.
                    let Some(message) = ServerMessage::from_json(&text) else { continue };
                    match &message {
                        ServerMessage::Joined(_) => {
                            backoff.reset();
                            *ever_joined = true;
                            joined = true;
                        }
                        // This relay cannot take joins for now (its shared registry is unreachable): try again
                        // later, through whichever relay the address leads to, as after losing the connection.
                        ServerMessage::Error { code: ErrorCode::Unavailable, .. } if !joined => return None,
                        _ => {}
                    }
                    if let Some(ending) = self.on_message(message) {
                        return Some(ending);
                    }
                }
                SocketEvent::Closed(code) => {
                    return match code {
                        close_code::REPLACED => Some(Ending::Replaced),
                        close_code::POLICY_VIOLATION => Some(Ending::RelayUnavailable),
                        _ => None,
                    };
                }
            }
        }
        None
    }

    fn on_message(&self, message: ServerMessage) -> Option<Ending> {
        let dispatch = &self.0.dispatch;
        match message {
            ServerMessage::Joined(joined) => {
                let ice = IceSettings { servers: joined.ice_servers, policy: joined.ice_transport_policy };
                // Links that survived a relay blip take the fresh credentials for their next ICE restart.
                for link in self.0.links.borrow().values() {
                    link.set_ice(&ice);
                }
                *self.0.ice.borrow_mut() = ice;
                *self.0.identity.borrow_mut() = Some((joined.peer_id.clone(), joined.resume_token));
                *self.0.roster.borrow_mut() = joined.peers.iter().map(|peer| peer.id.clone()).collect();
                // The newcomer starts the negotiation with everyone already there; links that survived a relay
                // blip are kept as they are, media still flowing.
                let mut offering = Vec::new();
                for peer in &joined.peers {
                    if !self.0.links.borrow().contains_key(&peer.id)
                        && self.connect(&joined.peer_id, peer.id.clone(), true).is_some()
                    {
                        offering.push(peer.id.clone());
                    }
                }
                // The screen shows the call once the connections these offers open are up (see `ConnectGate`).
                self.hold_screen(offering);
                dispatch.emit(Action::Joined { me: joined.peer_id, peers: joined.peers });
            }
            ServerMessage::PeerJoined { peer } => {
                let mut roster = self.0.roster.borrow_mut();
                if !roster.contains(&peer.id) {
                    roster.push(peer.id.clone());
                }
                drop(roster);
                // They offer to us at once: the screen shows them once connected.
                if !self.0.links.borrow().contains_key(&peer.id) {
                    self.hold_screen(vec![peer.id.clone()]);
                }
                dispatch.emit(Action::PeerJoined(peer));
            }
            ServerMessage::PeerLeft { peer_id, reason } => {
                self.0.roster.borrow_mut().retain(|id| *id != peer_id);
                self.0.gate.settled(&peer_id);
                if let Some(link) = self.0.links.borrow_mut().remove(&peer_id) {
                    link.close();
                }
                self.0.transfers.peer_gone(&peer_id);
                dispatch.emit(Action::PeerLeft { peer: peer_id, dropped: reason != LeaveReason::Left });
            }
            ServerMessage::Signal { from, payload } => self.on_signal(from, payload),
            ServerMessage::Error { code, message } => match code {
                ErrorCode::NameTaken
                | ErrorCode::RoomFull
                | ErrorCode::InvalidRoom
                | ErrorCode::InvalidName
                | ErrorCode::UnsupportedVersion => return Some(Ending::Refused { code, message }),
                ErrorCode::InvalidResume => {
                    // The relay restarted with another resume secret and cannot know us by our id: join afresh,
                    // and let the others meet us under a new id (they drop our old connection once it fails).
                    self.0.identity.borrow_mut().take();
                    for (peer, link) in self.0.links.borrow_mut().take() {
                        link.close();
                        self.0.transfers.peer_gone(&peer);
                        dispatch.emit(Action::PeerLeft { peer, dropped: true });
                    }
                    let join = Join {
                        version: PROTOCOL_VERSION,
                        room: self.0.room.to_string(),
                        name: self.0.name.clone(),
                        resume: None,
                    };
                    self.send(ClientMessage::Join(join));
                }
                _ => web_sys::console::warn_1(&format!("relay: {} ({message})", code.as_str()).into()),
            },
        }
        None
    }

    /// Holds the call screen's updates back until the connection to each of `peers` is up (or has failed), or for
    /// [`CONNECT_GATE_MAX_MS`] at most: its render would otherwise run in the middle of the negotiation and the ICE
    /// checks, delaying them.
    fn hold_screen(&self, peers: Vec<PeerId>) {
        if peers.is_empty() {
            return;
        }
        self.0.gate.await_peers(peers);
        let gate = Rc::downgrade(&self.0.gate);
        spawn_local(async move {
            gloo_timers::future::TimeoutFuture::new(CONNECT_GATE_MAX_MS).await;
            if let Some(gate) = gate.upgrade() {
                gate.open();
            }
        });
    }

    /// A signal from a peer: the first one from a peer we have no link with (their offer) creates the link.
    fn on_signal(&self, from: PeerId, payload: SignalPayload) {
        let existing = self.0.links.borrow().get(&from).cloned();
        let link = match existing {
            Some(link) => link,
            None => {
                let Some((me, _)) = self.0.identity.borrow().clone() else { return };
                if !matches!(payload, SignalPayload::Offer { .. }) {
                    return;
                }
                match self.connect(&me, from.clone(), false) {
                    Some(link) => link,
                    None => return,
                }
            }
        };
        link.receive(payload);
    }

    fn connect(&self, me: &PeerId, peer: PeerId, initiate: bool) -> Option<Rc<PeerLink>> {
        let outgoing = Outgoing {
            audio: self.0.media.audio_track(),
            video: self.0.camera_on.get().then(|| self.0.media.video_track()).flatten(),
            screen: self.0.screen.borrow().clone(),
        };
        let engine = Rc::downgrade(&self.0);
        let target = peer.clone();
        let report = Rc::new(move |event: LinkEvent| {
            if let Some(inner) = engine.upgrade() {
                Engine(inner).on_link_event(&target, event);
            }
        });
        let ice = self.0.ice.borrow().clone();
        match PeerLink::new(me, peer.clone(), &ice, outgoing, initiate, report) {
            Ok(link) => {
                self.0.links.borrow_mut().insert(peer, Rc::clone(&link));
                Some(link)
            }
            Err(error) => {
                web_sys::console::error_2(&"cannot create a peer connection:".into(), &error);
                None
            }
        }
    }

    fn on_link_event(&self, peer: &PeerId, event: LinkEvent) {
        let dispatch = &self.0.dispatch;
        match event {
            LinkEvent::Signal(payload) => self.send(ClientMessage::Signal { to: peer.clone(), payload }),
            LinkEvent::State(state) => {
                // The first connection to them is up, or will not come up by itself: the screen may show it.
                if matches!(state, LinkState::Connected | LinkState::Failed | LinkState::Closed) {
                    self.0.gate.settled(peer);
                }
                // A connection that died to someone the relay no longer lists (they left while the relay was
                // down, or came back under a new id) will not be repaired: drop it.
                let dead = matches!(state, LinkState::Failed | LinkState::Closed);
                if dead && !self.0.roster.borrow().contains(peer) {
                    if let Some(link) = self.0.links.borrow_mut().remove(peer) {
                        link.close();
                    }
                    self.0.transfers.peer_gone(peer);
                    dispatch.emit(Action::PeerLeft { peer: peer.clone(), dropped: true });
                } else {
                    dispatch.emit(Action::Link(peer.clone(), state));
                }
            }
            LinkEvent::MediaChanged | LinkEvent::ScreenChanged => {
                dispatch.emit(Action::RemoteMediaChanged(peer.clone()))
            }
            LinkEvent::ChannelOpen => {
                if let Some(link) = self.0.links.borrow().get(peer) {
                    link.send(&self.media_state());
                }
            }
            LinkEvent::Message(
                message @ (PeerMessage::FileOffer(_)
                | PeerMessage::FileAccept { .. }
                | PeerMessage::FileEnd { .. }
                | PeerMessage::FileCancel { .. }),
            ) => {
                let link = self.0.links.borrow().get(peer).cloned();
                if let Some(link) = link {
                    self.0.transfers.on_message(&link, message);
                }
            }
            LinkEvent::Message(message) => dispatch.emit(Action::FromPeer(peer.clone(), message)),
            LinkEvent::IceProblem(problem) => dispatch.emit(Action::IceProblem(problem)),
            LinkEvent::DataChannel(channel) => {
                let link = self.0.links.borrow().get(peer).cloned();
                match link {
                    Some(link) => self.0.transfers.on_channel(&link, channel),
                    None => channel.close(),
                }
            }
        }
    }
}
