//! The call engine, the browser side of a call: the relay connection and one [`PeerLink`] per remote peer.
//!
//! What to do with the relay and the peers (who to connect to, when to reconnect, resume or rejoin, what ends the
//! call) is decided by [`Session`], in plain Rust; this reports the events to it and carries out its [`Effect`]s.
//! It also handles the person's own media (microphone, camera, screen share), chat and files, passing link events
//! on to the call screen as [`Action`]s.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use huddle_common::{ClientMessage, Join, PeerId, PeerMessage, RoomId, ServerMessage};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::{File, HtmlVideoElement, MediaStream};
use yew::Callback;

use crate::call::connect_gate::ConnectGate;
use crate::call::error::{Capture, DeviceLost, MediaError, NobodyToSendTo};
use crate::call::peer_input::DropCounts;
use crate::call::session::{Effect, Event, Session};
use crate::call::state::Action;
use crate::call::transfer::{Request, TransferKey};
use crate::prefs;
use crate::rtc::media::{pick_screen, LocalMedia, Screen};
use crate::rtc::monitor::{Monitor, INTERVAL_MS};
use crate::rtc::peer::{IceSettings, LinkEvent, Outgoing, PeerLink};
use crate::rtc::socket::{RelaySender, RelaySocket, SocketEvent};
use crate::rtc::transfer::Transfers;
use crate::small_map::SmallMap;

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
    media: LocalMedia,
    /// Updates for the call screen, through `gate`.
    dispatch: Callback<Action>,
    gate: Rc<ConnectGate<PeerId, Action>>,
    /// What to do about the relay and the peers. Borrowed only to hand it an event or take an effect, never while
    /// carrying one out.
    session: RefCell<Session>,
    /// ICE servers and policy from the latest `joined`.
    ice: RefCell<IceSettings>,
    /// Peer connections, made and closed as the session says; after a relay restart they may outlive the roster.
    links: RefCell<SmallMap<PeerId, Rc<PeerLink>>>,
    /// The current relay connection, if any.
    outgoing: RefCell<Option<RelaySender>>,
    /// The camera is on, or being turned on.
    camera_on: Cell<bool>,
    /// Counts `set_camera` calls, so that one finishing late knows a later one decided.
    camera_requests: Cell<u64>,
    screen: RefCell<Option<Screen>>,
    /// Files being sent and received.
    transfers: Transfers,
    /// The call is over: the network monitor stops.
    ended: Cell<bool>,
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
            media,
            transfers: Transfers::new(dispatch.clone(), prefs::receive_limit()),
            dispatch,
            gate,
            session: RefCell::new(Session::new(room, name, js_sys::Math::random)),
            ice: RefCell::new(IceSettings::default()),
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
        // The session's first effect opens the relay connection: here, in the Join click's own task, ahead of any
        // rendering the click causes.
        engine.carry_out_effects();
        engine.watch_network();
        engine
    }

    /// Starts the network monitor: once a second, each connection's report to the call screen, and what each
    /// connection can carry of our video applied to its sender (the peer told when it pauses or resumes).
    fn watch_network(&self) {
        let weak = Rc::downgrade(&self.0);
        spawn_local(async move {
            let mut monitor = Monitor::default();
            loop {
                gloo_timers::future::TimeoutFuture::new(INTERVAL_MS).await;
                let Some(inner) = weak.upgrade() else { return };
                let engine = Engine(inner);
                if engine.0.ended.get() {
                    return;
                }
                let links: Vec<Rc<PeerLink>> = engine.0.links.borrow().values().cloned().collect();
                for link in monitor.look(&links, engine.camera_on(), &engine.0.dispatch).await {
                    link.send(&engine.media_state(&link));
                }
            }
        });
    }

    /// The name we joined as.
    pub fn name(&self) -> String {
        self.0.session.borrow().name().to_owned()
    }

    /// The `<video>` playing what `peer` sends us.
    pub fn remote_view(&self, peer: &PeerId) -> Option<HtmlVideoElement> {
        self.0.links.borrow().get(peer).map(|link| link.view())
    }

    /// What `peer` shares of their screen.
    pub fn remote_screen(&self, peer: &PeerId) -> Option<MediaStream> {
        self.0.links.borrow().get(peer).and_then(|link| link.remote_screen())
    }

    /// Every peer connection, by peer, for the statistics panel.
    pub fn peer_connections(&self) -> Vec<(PeerId, web_sys::RtcPeerConnection)> {
        self.0.links.borrow().iter().map(|(peer, link)| (peer.clone(), link.connection().clone())).collect()
    }

    /// How many of `peer`'s data channel messages were dropped, and why (nothing once they left).
    pub fn dropped_from(&self, peer: &PeerId) -> DropCounts {
        self.0.links.borrow().get(peer).map(|link| link.dropped()).unwrap_or_default()
    }

    /// Our shared screen, if sharing.
    pub fn local_screen(&self) -> Option<MediaStream> {
        self.0.screen.borrow().as_ref().map(|screen| Clone::clone(&screen.stream))
    }

    /// Asks which screen to share and shares it with everyone. Stopping it from the browser's own control ends the
    /// share as the button does.
    pub async fn start_screen_share(&self) -> Result<(), MediaError> {
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
        self.broadcast_media_state();
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
        self.broadcast_media_state();
        self.0.dispatch.emit(Action::SetSharing(false));
    }

    /// Our own camera and microphone.
    pub fn local_media(&self) -> &LocalMedia {
        &self.0.media
    }

    /// Mutes or unmutes the microphone, and tells the others.
    pub fn set_mic(&self, on: bool) {
        self.0.media.set_mic_enabled(on);
        self.broadcast_media_state();
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
        self.broadcast_media_state();
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
        let (device, result) = if kind == "audio" {
            (Capture::Microphone, media.use_mic(None).await)
        } else if self.0.camera_on.get() {
            (Capture::Camera, media.use_camera(None).await)
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
                DeviceLost::Replaced { device, label: track.label() }
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
                    self.broadcast_media_state();
                }
                DeviceLost::NoneLeft { device }
            }
        };
        self.0.dispatch.emit(Action::Notice(notice.to_string()));
    }

    /// Offers a file to one person, or to everyone (one transfer each).
    pub fn send_file(&self, file: &File, to: Option<&PeerId>) {
        let links: Vec<Rc<PeerLink>> = match to {
            Some(peer) => self.0.links.borrow().get(peer).cloned().into_iter().collect(),
            None => self.0.links.borrow().values().cloned().collect(),
        };
        if links.is_empty() {
            let notice = NobodyToSendTo { file: crate::call::transfer::sanitize_name(&file.name()) };
            return self.0.dispatch.emit(Action::Notice(notice.to_string()));
        }
        for link in &links {
            self.0.transfers.offer(link, file);
        }
    }

    /// Does what the person asks of a file transfer (accept or decline an offer, cancel, dismiss); the other side is
    /// told when it concerns them.
    pub fn transfer_request(&self, key: TransferKey, request: Request) {
        self.0.transfers.request(key, request);
    }

    /// Changes how many bytes may be received in this call.
    pub fn set_receive_limit(&self, limit: u64) {
        self.0.transfers.set_receive_limit(limit);
    }

    /// Bytes received in this call so far (accepted files count in full).
    pub fn received_bytes(&self) -> u64 {
        self.0.transfers.received()
    }

    /// Sends a chat line to everyone.
    pub fn send_chat(&self, text: String) {
        self.broadcast(&PeerMessage::Chat { text: text.clone() });
        self.0.dispatch.emit(Action::ChatSent(text));
    }

    /// Leaves the room: tells the relay, closes every connection and releases the devices.
    pub fn leave(&self) {
        self.run(Event::Leave);
    }

    /// Hands `event` to the session, and carries out what it decides.
    fn run(&self, event: Event) {
        self.0.session.borrow_mut().handle(event);
        self.carry_out_effects();
    }

    /// Reports `event` while carrying out an effect: what it leads to is carried out after the effects already
    /// decided.
    fn report(&self, event: Event) {
        self.0.session.borrow_mut().handle(event);
    }

    /// Carries out the session's effects, in order, until there are none left.
    fn carry_out_effects(&self) {
        while let Some(effect) = self.next_effect() {
            self.carry_out(effect);
        }
    }

    /// The session's next effect. (A function of its own, so that the session is not borrowed while carrying it
    /// out.)
    fn next_effect(&self) -> Option<Effect> {
        self.0.session.borrow_mut().next_effect()
    }

    fn carry_out(&self, effect: Effect) {
        match effect {
            Effect::OpenRelay(join) => self.open_relay(join),
            Effect::Send(message) => self.send(message),
            Effect::DropRelay => {
                if let Some(relay) = self.0.outgoing.borrow_mut().take() {
                    relay.abandon();
                }
            }
            Effect::CloseRelay => {
                if let Some(relay) = self.0.outgoing.borrow_mut().take() {
                    relay.close();
                }
            }
            Effect::Reconnect { after_ms } => {
                let engine = self.clone();
                spawn_local(async move {
                    gloo_timers::future::TimeoutFuture::new(after_ms).await;
                    engine.run(Event::ReconnectDue);
                });
            }
            Effect::SetIce { servers, policy } => {
                let ice = IceSettings { servers, policy };
                for link in self.0.links.borrow().values() {
                    link.set_ice(&ice);
                }
                *self.0.ice.borrow_mut() = ice;
            }
            Effect::Connect { me, peer, initiate } => {
                if !self.connect(&me, peer.clone(), initiate) {
                    self.report(Event::ConnectFailed(peer));
                }
            }
            Effect::Deliver { peer, payload } => {
                let link = self.0.links.borrow().get(&peer).cloned();
                if let Some(link) = link {
                    link.receive(payload);
                }
            }
            Effect::Close { peer } => {
                let link = self.0.links.borrow_mut().remove(&peer);
                if let Some(link) = link {
                    link.close();
                }
                self.0.transfers.peer_gone(&peer);
            }
            Effect::HoldScreen { peers, at_most_ms } => self.hold_screen(peers, at_most_ms),
            Effect::Settled(peer) => self.0.gate.settled(&peer),
            Effect::ShowScreen => self.0.gate.open(),
            Effect::Emit(action) => self.0.dispatch.emit(action),
            Effect::Hangup { release_devices } => self.hang_up(release_devices),
            Effect::Warn(text) => web_sys::console::warn_1(&text.into()),
        }
    }

    /// Closes every connection and stops what we send; releases the devices or (`release` false) hands them back as
    /// the lobby gave them.
    fn hang_up(&self, release: bool) {
        self.0.ended.set(true);
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

    /// Our media state as `link`'s peer is to see it.
    fn media_state(&self, link: &PeerLink) -> PeerMessage {
        let camera = self.0.camera_on.get();
        PeerMessage::MediaState {
            mic: self.0.media.mic_enabled(),
            camera,
            screen: self.0.screen.borrow().is_some(),
            video_paused: camera && link.video_paused(),
        }
    }

    /// Tells every peer our media state.
    fn broadcast_media_state(&self) {
        for link in self.0.links.borrow().values() {
            link.send(&self.media_state(link));
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

    /// Starts a relay connection with `join` queued to go out once it opens, and reads it until it closes.
    fn open_relay(&self, join: Join) {
        let Ok(socket) = RelaySocket::open(&self.0.relay_url) else { return self.report(Event::RelayUnusable) };
        let relay = socket.sender();
        relay.send(ClientMessage::Join(join).to_json());
        *self.0.outgoing.borrow_mut() = Some(relay);
        spawn_local(self.clone().read_relay(socket));
    }

    /// Hands what the relay connection reports to the session, until it closes or is abandoned.
    async fn read_relay(self, mut socket: RelaySocket) {
        while let Some(event) = socket.next().await {
            match event {
                SocketEvent::Text(text) => {
                    // Unknown message types from a newer relay are skipped, not fatal.
                    let Some(message) = ServerMessage::from_json(&text) else { continue };
                    self.run(Event::Received(message));
                }
                SocketEvent::Closed(code) => self.run(Event::RelayClosed { code }),
            }
        }
    }

    /// Holds the call screen's updates back until the connection to each of `peers` is up (or has failed), or for
    /// `at_most_ms`: its render would otherwise run in the middle of the negotiation and the ICE checks, delaying
    /// them.
    fn hold_screen(&self, peers: Vec<PeerId>, at_most_ms: u32) {
        self.0.gate.await_peers(peers);
        let gate = Rc::downgrade(&self.0.gate);
        spawn_local(async move {
            gloo_timers::future::TimeoutFuture::new(at_most_ms).await;
            if let Some(gate) = gate.upgrade() {
                gate.open();
            }
        });
    }

    /// Makes a connection to `peer` (`initiate`: with our offer); says whether it could be made.
    fn connect(&self, me: &PeerId, peer: PeerId, initiate: bool) -> bool {
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
                self.0.links.borrow_mut().insert(peer, link);
                true
            }
            Err(error) => {
                web_sys::console::error_2(&"cannot create a peer connection:".into(), &error);
                false
            }
        }
    }

    fn on_link_event(&self, peer: &PeerId, event: LinkEvent) {
        let dispatch = &self.0.dispatch;
        match event {
            LinkEvent::Signal(payload) => self.run(Event::LinkSignal { peer: peer.clone(), payload }),
            LinkEvent::State(state) => self.run(Event::LinkState { peer: peer.clone(), state }),
            LinkEvent::MediaChanged | LinkEvent::ScreenChanged => {
                dispatch.emit(Action::RemoteMediaChanged(peer.clone()))
            }
            LinkEvent::ChannelOpen => {
                if let Some(link) = self.0.links.borrow().get(peer) {
                    link.send(&self.media_state(link));
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
