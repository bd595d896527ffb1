//! One `RTCPeerConnection` to one remote peer, its chat/state data channel, and the perfect-negotiation routine
//! that drives it. Everything that happens to a connection (signals from the relay, `negotiationneeded`) goes
//! through one queue handled in order, so two negotiations never interleave.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures::channel::mpsc;
use futures::StreamExt;
use huddle_common::{IceServer, IceTransportPolicy, PeerId, PeerMessage, SignalPayload};
use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    HtmlVideoElement, MediaStream, MediaStreamTrack, MessageEvent, RtcBundlePolicy, RtcConfiguration, RtcDataChannel,
    RtcDataChannelEvent, RtcDataChannelInit, RtcDataChannelState, RtcIceCandidateInit, RtcIceServer,
    RtcIceTransportPolicy, RtcPeerConnection, RtcPeerConnectionIceErrorEvent, RtcPeerConnectionIceEvent,
    RtcPeerConnectionState, RtcRtpSender, RtcRtpTransceiver, RtcRtpTransceiverDirection, RtcSdpType,
    RtcSessionDescriptionInit, RtcSignalingState, RtcTrackEvent,
};

use crate::call::ice::IceProblem;
use crate::call::ice_restart::{IceRestarts, Step};
use crate::call::negotiation::{CandidateQueue, Decision, DescriptionKind, Negotiator, SignalingState};
use crate::call::peer_input::{too_long_to_read, ChannelOpen, DropCounts, Dropped, PeerInput};
use crate::call::sdp::{keep_video_codec, munge};
use crate::call::state::LinkState;
use crate::rtc::bindings::{
    add_track, event_handler, prefer_codecs, restart_ice, set_local_description_implicit, set_onicecandidateerror,
    set_username_fragment, username_fragment, video_codecs,
};
use crate::rtc::media::{play, video_element, Screen};
use crate::rtc::stats::now_ms;

/// What a peer link reports to the call.
pub enum LinkEvent {
    /// A negotiation message to pass to the peer through the relay.
    Signal(SignalPayload),
    /// The connection's state changed.
    State(LinkState),
    /// The remote stream gained or lost a track.
    MediaChanged,
    /// The peer's shared screen arrived (or changed).
    ScreenChanged,
    /// The data channel opened: time to tell the peer our mic/camera state.
    ChannelOpen,
    /// A message arrived on the data channel.
    Message(PeerMessage),
    /// The peer opened a data channel of its own (a file transfer's); handle it before returning, or it is missed.
    DataChannel(RtcDataChannel),
    /// The browser could not use one of the ICE servers, in a way the person should know about.
    IceProblem(IceProblem),
}

/// The ICE settings from the relay's `joined`: the servers, and which candidates may be used.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IceSettings {
    /// STUN and TURN servers, TURN ones with credentials.
    pub servers: Vec<IceServer>,
    /// `relay`: TURN relay candidates only.
    pub policy: IceTransportPolicy,
}

/// What the local side sends: the tracks, and whether the camera is on.
pub struct Outgoing {
    /// The microphone track, if any.
    pub audio: Option<MediaStreamTrack>,
    /// The camera track, if any and on.
    pub video: Option<MediaStreamTrack>,
    /// The shared screen, if sharing.
    pub screen: Option<Screen>,
}

enum Work {
    Signal(SignalPayload),
    Negotiate,
}

/// The connection to one remote peer.
pub struct PeerLink {
    id: PeerId,
    pc: RtcPeerConnection,
    channel: RefCell<Option<RtcDataChannel>>,
    /// The gate for what the peer sends on that channel, and what it dropped.
    input: Rc<RefCell<PeerInput>>,
    /// Plays the peer's camera and microphone, from their first track on: the call screen shows this element on the
    /// peer's tile, so frames are ready when the tile appears, rather than the tile's render starting the player (the
    /// screen's updates wait while connections are set up, `call::connect_gate`). Given a new stream whenever its
    /// tracks change: a `<video>` given a stream that gains a track later does not always pick it up, a new stream
    /// always plays.
    view: HtmlVideoElement,
    /// A remote track arrived in the running negotiation step: once it is done, `view` plays our microphone's and
    /// camera's receivers' tracks. A step brings both together, and a stream for each would start the player twice,
    /// ahead of the step's answer.
    view_changed: Cell<bool>,
    remote_screen: RefCell<Option<MediaStream>>,
    work: mpsc::UnboundedSender<Work>,
    report: Rc<dyn Fn(LinkEvent)>,
    audio: RefCell<Option<RtcRtpTransceiver>>,
    video: RefCell<Option<RtcRtpTransceiver>>,
    screen: RefCell<Option<RtcRtpTransceiver>>,
    outgoing: RefCell<Outgoing>,
    /// Our tracks are attached (at once when we start the negotiation, after the first offer when they do).
    prepared: Cell<bool>,
    closed: Cell<bool>,
    /// A negotiation step is running: news of remote tracks waits in `held` until it is done.
    negotiating: Cell<bool>,
    held: RefCell<Vec<LinkEvent>>,
    /// The adaptation paused our camera to this peer.
    video_paused: Cell<bool>,
    /// When to restart ICE.
    restarts: RefCell<IceRestarts>,
    /// The window's `online` listener, removed when the connection closes.
    online: Closure<dyn FnMut(JsValue)>,
    // Event handlers, kept alive as long as the connection.
    _handlers: [Closure<dyn FnMut(JsValue)>; 6],
}

fn rtc_configuration(ice: &IceSettings) -> RtcConfiguration {
    let config = RtcConfiguration::new();
    let servers = Array::new();
    for server in &ice.servers {
        let entry = RtcIceServer::new();
        let urls: Array = server.urls.iter().map(|url| JsValue::from_str(url)).collect();
        entry.set_urls(&urls);
        if let Some(username) = &server.username {
            entry.set_username(username);
        }
        if let Some(credential) = &server.credential {
            entry.set_credential(credential);
        }
        servers.push(&entry);
    }
    config.set_ice_servers(&servers);
    // One transport for everything (microphone, camera, screen, data channels): the default, "balanced", gathers
    // candidates and runs ICE for each kind of media until the answer says the peer bundles, which every browser
    // Huddle runs in does. With four transceivers that is three times the candidates to signal and check.
    config.set_bundle_policy(RtcBundlePolicy::MaxBundle);
    config.set_ice_transport_policy(match ice.policy {
        IceTransportPolicy::All => RtcIceTransportPolicy::All,
        IceTransportPolicy::Relay => RtcIceTransportPolicy::Relay,
    });
    config
}

/// The browser's connection state as the call sees it; a state newer than this build reads as connecting.
fn link_state(state: RtcPeerConnectionState) -> LinkState {
    match state {
        RtcPeerConnectionState::New => LinkState::New,
        RtcPeerConnectionState::Connected => LinkState::Connected,
        RtcPeerConnectionState::Disconnected => LinkState::Disconnected,
        RtcPeerConnectionState::Failed => LinkState::Failed,
        RtcPeerConnectionState::Closed => LinkState::Closed,
        _ => LinkState::Connecting,
    }
}

fn description(kind: RtcSdpType, sdp: &str) -> RtcSessionDescriptionInit {
    let init = RtcSessionDescriptionInit::new(kind);
    init.set_sdp(sdp);
    init
}

impl PeerLink {
    /// A connection to `id`. When `initiate` is true our media is attached and the offer made at once; otherwise we
    /// wait for their offer and answer it. Later changes renegotiate on the browser's `negotiationneeded`.
    pub fn new(
        me: &PeerId,
        id: PeerId,
        ice: &IceSettings,
        outgoing: Outgoing,
        initiate: bool,
        report: Rc<dyn Fn(LinkEvent)>,
    ) -> Result<Rc<PeerLink>, JsValue> {
        let pc = RtcPeerConnection::new_with_configuration(&rtc_configuration(ice))?;
        let restarts_first = me < &id;
        let (work, queue) = mpsc::unbounded();
        let link = Rc::new_cyclic(|weak: &std::rc::Weak<PeerLink>| {
            let handlers = [
                event_handler(&pc, RtcPeerConnection::set_onnegotiationneeded, {
                    let work = work.clone();
                    move |_: JsValue| {
                        let _ = work.unbounded_send(Work::Negotiate);
                    }
                }),
                event_handler(&pc, RtcPeerConnection::set_onicecandidate, {
                    let report = Rc::clone(&report);
                    move |event: RtcPeerConnectionIceEvent| {
                        let payload = match event.candidate() {
                            Some(candidate) => SignalPayload::Candidate {
                                candidate: candidate.candidate(),
                                sdp_mid: candidate.sdp_mid(),
                                sdp_m_line_index: candidate.sdp_m_line_index(),
                                username_fragment: username_fragment(&candidate),
                            },
                            None => SignalPayload::EndOfCandidates,
                        };
                        report(LinkEvent::Signal(payload));
                    }
                }),
                // A TURN server refusing the credentials is only ever seen here: gathering just yields no relay
                // candidate, and with the relay-only policy no candidate at all.
                event_handler(&pc, set_onicecandidateerror, {
                    let report = Rc::clone(&report);
                    move |event: RtcPeerConnectionIceErrorEvent| {
                        let (url, code) = (event.url(), event.error_code());
                        if let Some(problem) = IceProblem::from_candidate_error(&url, code) {
                            let detail = format!("ICE server {url} answered {code} {}", event.error_text());
                            web_sys::console::warn_1(&detail.into());
                            report(LinkEvent::IceProblem(problem));
                        }
                    }
                }),
                event_handler(&pc, RtcPeerConnection::set_onconnectionstatechange, {
                    let weak = weak.clone();
                    move |_: JsValue| {
                        if let Some(link) = weak.upgrade() {
                            link.on_connection_state();
                        }
                    }
                }),
                event_handler(&pc, RtcPeerConnection::set_ontrack, {
                    let weak = weak.clone();
                    move |event: RtcTrackEvent| {
                        if let Some(link) = weak.upgrade() {
                            link.on_track(event);
                        }
                    }
                }),
                event_handler(&pc, RtcPeerConnection::set_ondatachannel, {
                    let weak = weak.clone();
                    move |event: RtcDataChannelEvent| match weak.upgrade() {
                        Some(link) => link.on_data_channel(event.channel()),
                        None => event.channel().close(),
                    }
                }),
            ];
            // A listener of its own per connection: `window.ononline` would keep only the last one's.
            let online = Closure::<dyn FnMut(JsValue)>::new({
                let weak = weak.clone();
                move |_: JsValue| {
                    if let Some(link) = weak.upgrade() {
                        link.on_online();
                    }
                }
            });
            if let Some(window) = web_sys::window() {
                let _ = window.add_event_listener_with_callback("online", online.as_ref().unchecked_ref());
            }
            PeerLink {
                id,
                pc: pc.clone(),
                channel: RefCell::new(None),
                input: Rc::default(),
                view: video_element(),
                view_changed: Cell::new(false),
                remote_screen: RefCell::new(None),
                work,
                report,
                audio: RefCell::new(None),
                video: RefCell::new(None),
                screen: RefCell::new(None),
                outgoing: RefCell::new(outgoing),
                prepared: Cell::new(false),
                closed: Cell::new(false),
                negotiating: Cell::new(false),
                held: RefCell::new(Vec::new()),
                video_paused: Cell::new(false),
                // The end whose id is the smaller restarts a connection that stays disconnected (`call::ice_restart`).
                restarts: RefCell::new(IceRestarts::new(restarts_first)),
                online,
                _handlers: handlers,
            }
        });
        expose(&link.id, Some(&link.pc));
        let negotiator = Negotiator::new(me, &link.id);
        spawn_local(Rc::clone(&link).run(queue, negotiator));
        if initiate {
            link.prepare(false);
            // Offer now rather than on `negotiationneeded`: the browser queues that event as a task, behind whatever
            // the page does next (the call screen renders the new tile), and drops it once it finds this offer under
            // way.
            let _ = link.work.unbounded_send(Work::Negotiate);
        }
        Ok(link)
    }

    /// The `<video>` playing what this peer sends us.
    pub fn view(&self) -> HtmlVideoElement {
        Clone::clone(&self.view)
    }

    /// The browser's connection, for reading its statistics.
    pub fn connection(&self) -> &RtcPeerConnection {
        &self.pc
    }

    /// The senders of our microphone, camera and screen, once their transceivers are made.
    pub fn senders(&self) -> [Option<RtcRtpSender>; 3] {
        [&self.audio, &self.video, &self.screen].map(|slot| slot.borrow().as_ref().map(RtcRtpTransceiver::sender))
    }

    /// Whether the adaptation paused our camera to this peer.
    pub fn video_paused(&self) -> bool {
        self.video_paused.get()
    }

    /// Records whether our camera to this peer is paused; says whether that changed.
    pub fn set_video_paused(&self, paused: bool) -> bool {
        self.video_paused.replace(paused) != paused
    }

    /// What this peer shares of their screen, if anything arrived.
    pub fn remote_screen(&self) -> Option<MediaStream> {
        self.remote_screen.borrow().as_ref().map(Clone::clone)
    }

    /// Hands a signal from this peer to the negotiation routine.
    pub fn receive(&self, payload: SignalPayload) {
        let _ = self.work.unbounded_send(Work::Signal(payload));
    }

    /// Sends a message on the data channel, if it is open; says whether it went.
    pub fn send(&self, message: &PeerMessage) -> bool {
        if let Some(channel) = self.channel.borrow().as_ref() {
            if channel.ready_state() == RtcDataChannelState::Open {
                return channel.send_with_str(&message.to_json()).is_ok();
            }
        }
        false
    }

    /// How many of the peer's messages were dropped (too big, too fast, malformed).
    pub fn dropped(&self) -> DropCounts {
        self.input.borrow().dropped()
    }

    /// The peer this connection is to.
    pub fn id(&self) -> &PeerId {
        &self.id
    }

    /// Opens another data channel (ordered, reliable) to the peer, who gets it as a `datachannel` event. Needs no
    /// renegotiation: the connection already carries data channels.
    pub fn create_channel(&self, label: &str) -> Result<RtcDataChannel, JsValue> {
        // `createDataChannel` throws on a closed connection, and web-sys cannot catch that here.
        if self.closed.get() || self.pc.signaling_state() == RtcSignalingState::Closed {
            return Err(JsValue::from_str("the connection is closed"));
        }
        Ok(self.pc.create_data_channel(label))
    }

    /// Replaces the microphone track (a device switch; muting is done on the track itself).
    pub fn set_audio(&self, track: Option<MediaStreamTrack>) {
        if let Some(transceiver) = self.audio.borrow().as_ref() {
            let _ = transceiver.sender().replace_track(track.as_ref());
        }
        self.outgoing.borrow_mut().audio = track;
    }

    /// Starts or stops sending video by swapping the sender's track: no renegotiation, so turning the camera on or
    /// off is instant and cannot collide with the other side's negotiation. (Turning the transceiver to receive-only
    /// instead would renegotiate, and Chrome can leave the far side's receiver muted after such a change.)
    pub fn set_video(&self, track: Option<MediaStreamTrack>) {
        if let Some(transceiver) = self.video.borrow().as_ref() {
            let _ = transceiver.sender().replace_track(track.as_ref());
        }
        self.outgoing.borrow_mut().video = track;
    }

    /// Starts or stops sending a shared screen, by swapping the track of the screen's own transceiver (negotiated
    /// with the connection, like the camera's): sharing never renegotiates either.
    pub fn set_screen(&self, screen: Option<Screen>) {
        if let Some(transceiver) = self.screen.borrow().as_ref() {
            let _ = transceiver.sender().replace_track(screen.as_ref().map(|screen| &screen.track));
        }
        self.outgoing.borrow_mut().screen = screen;
    }

    /// Hands the connection new ICE settings (fresh TURN credentials after a rejoin), used from its next ICE
    /// restart on; the path in use is not touched.
    pub fn set_ice(&self, ice: &IceSettings) {
        if self.closed.get() {
            return;
        }
        if let Err(error) = self.pc.set_configuration_with_configuration(&rtc_configuration(ice)) {
            web_sys::console::warn_2(&"cannot update the ICE servers:".into(), &error);
        }
    }

    /// Closes the connection for good.
    pub fn close(&self) {
        if !self.closed.replace(true) {
            if let Some(window) = web_sys::window() {
                let _ = window.remove_event_listener_with_callback("online", self.online.as_ref().unchecked_ref());
            }
            self.pc.close();
            self.view.set_src_object(None);
            self.work.close_channel();
            expose(&self.id, None);
        }
    }

    /// Attaches our tracks and opens the data channel: at once when we initiate, or once their first offer is set
    /// (`answering`: reusing the transceivers it created, so answering needs no second round).
    fn prepare(self: &Rc<Self>, answering: bool) {
        if self.prepared.replace(true) {
            return;
        }
        let outgoing = self.outgoing.borrow();
        // Every connection has the same three transceivers, in this order: microphone, camera, screen. The side that
        // starts adds them; the other finds them in the offer (the first audio, the first and second video).
        // Each call to the connection waits for the browser's WebRTC thread: none that is not needed.
        let offered: Vec<RtcRtpTransceiver> = if answering {
            self.pc
                .get_transceivers()
                .iter()
                .map(JsCast::unchecked_into::<RtcRtpTransceiver>)
                .filter(|t| t.mid().is_some())
                .collect()
        } else {
            Vec::new()
        };
        let nth = |kind: &str, n: usize| offered.iter().filter(|t| t.receiver().track().kind() == kind).nth(n).cloned();
        let screen_track = outgoing.screen.as_ref().map(|screen| Clone::clone(&screen.track));
        // What both video transceivers offer and accept.
        let codecs = video_codecs(keep_video_codec);
        // Tracks go in synchronously: `replaceTrack` queues on the connection's operations chain, so each one would
        // hold up the offer (or answer) that follows by a round trip to the browser's WebRTC thread.
        for (kind, n, track, slot) in [
            ("audio", 0, &outgoing.audio, &self.audio),
            ("video", 0, &outgoing.video, &self.video),
            ("video", 1, &screen_track, &self.screen),
        ] {
            let transceiver = match nth(kind, n) {
                Some(offered) => {
                    // `addTrack` fills the first transceiver of the track's kind that never sent, which for the first
                    // of each kind is this one.
                    let added = match track {
                        Some(track) if n == 0 => add_track(&self.pc, track).ok(),
                        _ => None,
                    };
                    match added {
                        Some(sender) if sender == offered.sender() => {}
                        other => {
                            if let Some(stray) = other {
                                self.pc.remove_track(&stray);
                            }
                            if track.is_some() {
                                let _ = offered.sender().replace_track(track.as_ref());
                            }
                        }
                    }
                    offered
                }
                // Send-receive, the default.
                None => match track {
                    Some(track) => self.pc.add_transceiver_with_media_stream_track(track),
                    None => self.pc.add_transceiver_with_str(kind),
                },
            };
            // Always send-receive, even without a track yet: a camera or screen turned on later fills the sender.
            if transceiver.direction() != RtcRtpTransceiverDirection::Sendrecv {
                transceiver.set_direction(RtcRtpTransceiverDirection::Sendrecv);
            }
            if kind == "video" {
                prefer_codecs(&transceiver, &codecs);
            }
            *slot.borrow_mut() = Some(transceiver);
        }
        // A pre-negotiated channel: both sides create it with the same id, no `datachannel` event involved.
        let init = RtcDataChannelInit::new();
        init.set_negotiated(true);
        init.set_id(0);
        let channel = self.pc.create_data_channel_with_data_channel_dict("huddle", &init);
        let report = Rc::clone(&self.report);
        let on_open =
            event_handler(&channel, RtcDataChannel::set_onopen, move |_: JsValue| report(LinkEvent::ChannelOpen));
        let report = Rc::clone(&self.report);
        let (input, peer) = (Rc::clone(&self.input), self.id.clone());
        let on_message = event_handler(&channel, RtcDataChannel::set_onmessage, move |event: MessageEvent| {
            let admitted = {
                let mut input = input.borrow_mut();
                let before = input.dropped().total();
                let data = event.data();
                let admitted = match data.dyn_ref::<js_sys::JsString>() {
                    // Counted in UTF-16 units before it is copied out of JavaScript.
                    Some(text) if too_long_to_read(text.length() as usize) => {
                        input.refuse(Dropped::TooBig, now_ms());
                        None
                    }
                    Some(text) => input.admit(&String::from(text), now_ms()).ok(),
                    // This channel carries text; bytes are someone else's protocol.
                    None => {
                        input.refuse(Dropped::Malformed, now_ms());
                        None
                    }
                };
                if input.take_flooding() {
                    // No person's Huddle sends this much: the rest of what this peer sends is not worth the page's
                    // time, nor the browser's. The messages already on their way to the page find no handler.
                    if let Some(channel) = event.target().and_then(|target| target.dyn_into::<RtcDataChannel>().ok()) {
                        channel.set_onmessage(None);
                        channel.close();
                    }
                    web_sys::console::warn_1(&format!("peer {peer} flooded its channel: no longer listened to").into());
                }
                if before == 0 && input.dropped().total() > 0 {
                    let note = format!("dropping messages from peer {peer}: see the call statistics");
                    web_sys::console::warn_1(&note.into());
                }
                admitted
            };
            // The gate is released first: what the message leads to may ask it for its counts.
            if let Some(message) = admitted {
                report(LinkEvent::Message(message));
            }
        });
        // The channel lives as long as the page's connection; its handlers must too.
        on_open.forget();
        on_message.forget();
        *self.channel.borrow_mut() = Some(channel);
    }

    /// The peer opened a data channel: past the gate (how many, how fast, the label's length, read before the label
    /// is), the call gets it; otherwise it is closed, and a peer opening them faster than anyone accepts files is no
    /// longer listened to for channels at all on this connection.
    fn on_data_channel(&self, channel: RtcDataChannel) {
        let label_units = Reflect::get(&channel, &JsValue::from_str("label"))
            .ok()
            .and_then(|label| label.dyn_ref::<js_sys::JsString>().map(js_sys::JsString::length))
            .unwrap_or(u32::MAX);
        let verdict = self.input.borrow_mut().open_channel(label_units as usize, now_ms());
        match verdict {
            ChannelOpen::Take => (self.report)(LinkEvent::DataChannel(channel)),
            ChannelOpen::Refuse => channel.close(),
            ChannelOpen::StopListening => {
                channel.close();
                self.pc.set_ondatachannel(None);
                let note = format!(
                    "peer {} opened data channels faster than anyone accepts files: no longer listened to",
                    self.id
                );
                web_sys::console::warn_1(&note.into());
            }
        }
    }

    /// A remote track arrived. The camera and microphone go into one stream, made anew after each step that brings
    /// a track (`view_changed`); the other video track is the screen, shown on a tile of its own while the peer says
    /// it shares.
    fn on_track(&self, event: RtcTrackEvent) {
        let track = event.track();
        if track.kind() == "video" && !self.is_camera(&event.transceiver()) {
            let tracks = Array::of1(&track);
            let Ok(stream) = MediaStream::new_with_tracks(&tracks) else { return };
            *self.remote_screen.borrow_mut() = Some(stream);
            self.report_media(LinkEvent::ScreenChanged);
            return;
        }
        // One already playing (the description applied again: a rollback, say) starts nothing anew.
        if self.view.src_object().is_some_and(|stream| stream.get_tracks().includes(&track, 0)) {
            return;
        }
        // Tracks only arrive while a description is applied: the step plays them once it is done.
        self.view_changed.set(true);
        self.report_media(LinkEvent::MediaChanged);
    }

    /// Tells the call about a change of remote media, or, during a negotiation step, once the step is done. Tracks
    /// arrive while a description is applied; the call screen re-renders for them, and it must not do so before the
    /// step's answer is out (that render runs ahead of the step's continuation).
    fn report_media(&self, event: LinkEvent) {
        if self.negotiating.get() {
            self.held.borrow_mut().push(event);
        } else {
            (self.report)(event);
        }
    }

    /// Whether `transceiver` carries the peer's camera: our camera transceiver once media is attached; before that
    /// (while their first offer is applied), the first video m-line, which is where every peer puts its camera.
    fn is_camera(&self, transceiver: &RtcRtpTransceiver) -> bool {
        if let Some(camera) = self.video.borrow().as_ref() {
            return camera == transceiver;
        }
        self.pc
            .get_transceivers()
            .iter()
            .map(JsCast::unchecked_into::<RtcRtpTransceiver>)
            .find(|candidate| candidate.receiver().track().kind() == "video")
            .is_some_and(|first| &first == transceiver)
    }

    fn on_connection_state(self: &Rc<Self>) {
        let state = link_state(self.pc.connection_state());
        (self.report)(LinkEvent::State(state));
        // The call may have given up on this connection in response.
        if self.closed.get() {
            return;
        }
        let step = self.restarts.borrow_mut().on_state(state, now_ms());
        self.take_step(step);
    }

    /// The browser is back online: its network changed under the connection.
    fn on_online(self: &Rc<Self>) {
        if !self.closed.get() {
            let step = self.restarts.borrow_mut().on_online(now_ms());
            self.take_step(step);
        }
    }

    /// Restarts ICE if `step` says so, and schedules its check.
    fn take_step(self: &Rc<Self>, step: Step) {
        if step.restart {
            restart_ice(&self.pc);
        }
        let Some(check) = step.check else { return };
        let link = Rc::downgrade(self);
        spawn_local(async move {
            gloo_timers::future::TimeoutFuture::new(check.after_ms).await;
            if let Some(link) = link.upgrade() {
                if !link.closed.get() {
                    let step = link.restarts.borrow_mut().on_check(check.id, now_ms());
                    link.take_step(step);
                }
            }
        });
    }

    fn signaling_state(&self) -> SignalingState {
        match self.pc.signaling_state() {
            RtcSignalingState::Stable => SignalingState::Stable,
            RtcSignalingState::HaveLocalOffer => SignalingState::HaveLocalOffer,
            _ => SignalingState::Other,
        }
    }

    /// The perfect-negotiation routine: every piece of work, in order.
    async fn run(self: Rc<Self>, mut queue: mpsc::UnboundedReceiver<Work>, mut negotiator: Negotiator) {
        let mut candidates: CandidateQueue<RtcIceCandidateInit> = CandidateQueue::default();
        while let Some(work) = queue.next().await {
            if self.closed.get() {
                break;
            }
            self.negotiating.set(true);
            let result = match work {
                // A `negotiationneeded` that finds a negotiation in progress is dropped: once the signaling state is
                // stable again the browser checks whether one is still needed, and fires the event again if so
                // (WebRTC 1.0, "set a session description"). Offering again regardless cost a whole extra round of
                // offer and answer: the connection's first offer is made before the event for it arrives.
                Work::Negotiate if self.signaling_state() != SignalingState::Stable => Ok(()),
                Work::Negotiate => self.offer(&mut negotiator).await,
                Work::Signal(SignalPayload::Offer { sdp }) => {
                    self.on_description(&mut negotiator, &mut candidates, DescriptionKind::Offer, sdp).await
                }
                Work::Signal(SignalPayload::Answer { sdp }) => {
                    self.on_description(&mut negotiator, &mut candidates, DescriptionKind::Answer, sdp).await
                }
                Work::Signal(SignalPayload::Candidate { candidate, sdp_mid, sdp_m_line_index, username_fragment }) => {
                    let init = RtcIceCandidateInit::new(&candidate);
                    init.set_sdp_mid(sdp_mid.as_deref());
                    init.set_sdp_m_line_index(sdp_m_line_index);
                    if let Some(fragment) = &username_fragment {
                        set_username_fragment(&init, fragment);
                    }
                    if let Some(init) = candidates.offer(init, self.pc.remote_description().is_some()) {
                        self.add_candidate(&negotiator, &init);
                    }
                    Ok(())
                }
                Work::Signal(SignalPayload::EndOfCandidates) => Ok(()),
            };
            self.negotiating.set(false);
            let held = self.held.take();
            if !self.closed.get() {
                if self.view_changed.take() {
                    let tracks: Array = [&self.audio, &self.video]
                        .iter()
                        .filter_map(|slot| Some(JsValue::from(slot.borrow().as_ref()?.receiver().track())))
                        .collect();
                    if let Ok(stream) = MediaStream::new_with_tracks(&tracks) {
                        play(&self.view, Some(&stream));
                    }
                }
                held.into_iter().for_each(|event| (self.report)(event));
            }
            if let Err(error) = result {
                web_sys::console::warn_2(&"negotiation step failed:".into(), &error);
            }
        }
    }

    async fn offer(self: &Rc<Self>, negotiator: &mut Negotiator) -> Result<(), JsValue> {
        negotiator.set_making_offer(true);
        // Not the implicit form: the offer carries our receiver's video wait (`call::sdp`). Nothing else runs on
        // this connection between the two steps: signals wait in this queue.
        let result = async {
            let offer: RtcSessionDescriptionInit = JsFuture::from(self.pc.create_offer()).await?.unchecked_into();
            let sdp = munge(&offer.get_sdp().unwrap_or_default());
            JsFuture::from(self.pc.set_local_description(&description(RtcSdpType::Offer, &sdp))).await
        }
        .await;
        negotiator.set_making_offer(false);
        result?;
        self.send_local_description();
        Ok(())
    }

    async fn on_description(
        self: &Rc<Self>,
        negotiator: &mut Negotiator,
        candidates: &mut CandidateQueue<RtcIceCandidateInit>,
        kind: DescriptionKind,
        sdp: String,
    ) -> Result<(), JsValue> {
        let answer = match negotiator.on_description(kind, self.signaling_state()) {
            Decision::Ignore => return Ok(()),
            Decision::Apply { answer } => answer,
        };
        if kind == DescriptionKind::Offer && self.signaling_state() == SignalingState::HaveLocalOffer {
            // Glare, and we are polite: withdraw our offer first. Explicitly, for browsers without the implicit
            // rollback of setRemoteDescription.
            JsFuture::from(self.pc.set_local_description(&RtcSessionDescriptionInit::new(RtcSdpType::Rollback)))
                .await?;
        }
        let sdp_type = if kind == DescriptionKind::Offer { RtcSdpType::Offer } else { RtcSdpType::Answer };
        // Their description asks our Opus encoder for in-band FEC and DTX, and carries our video wait (`call::sdp`).
        let sdp = munge(&sdp);
        let applied = JsFuture::from(self.pc.set_remote_description(&description(sdp_type, &sdp))).await;
        negotiator.remote_description_applied();
        applied?;
        if kind == DescriptionKind::Answer {
            negotiator.settle(true);
        }
        for init in candidates.drain() {
            self.add_candidate(negotiator, &init);
        }
        if answer {
            self.prepare(true);
            JsFuture::from(set_local_description_implicit(&self.pc)).await?;
            negotiator.settle(false);
            self.send_local_description();
        }
        Ok(())
    }

    /// Hands a remote candidate to the browser without waiting for it to be taken: the connection applies its
    /// operations in order anyway, and waiting would cost each candidate a turn of the page's event loop, which a
    /// render can hold for tens of milliseconds while ICE waits for the candidate.
    fn add_candidate(&self, negotiator: &Negotiator, init: &RtcIceCandidateInit) {
        let added = JsFuture::from(self.pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(init)));
        // Decided now, as the candidate is handed over: a later description may change it.
        let failure_expected = negotiator.candidate_failure_expected();
        spawn_local(async move {
            if let Err(error) = added.await {
                if !failure_expected {
                    web_sys::console::warn_2(&"cannot add an ICE candidate:".into(), &error);
                }
            }
        });
    }

    fn send_local_description(&self) {
        let Some(local) = self.pc.local_description() else { return };
        let sdp = local.sdp();
        let payload = match local.type_() {
            RtcSdpType::Offer => SignalPayload::Offer { sdp },
            RtcSdpType::Answer => SignalPayload::Answer { sdp },
            _ => return,
        };
        (self.report)(LinkEvent::Signal(payload));
    }
}

impl Drop for PeerLink {
    fn drop(&mut self) {
        self.close();
    }
}

/// Keeps `window.__huddle_pcs` (peer id → RTCPeerConnection) current: for the browser's console and for the
/// end-to-end tests, which read connection state and `getStats()` from it.
fn expose(peer: &PeerId, pc: Option<&RtcPeerConnection>) {
    let Some(window) = web_sys::window() else { return };
    let key = JsValue::from_str("__huddle_pcs");
    let map = match Reflect::get(&window, &key) {
        Ok(map) if map.is_instance_of::<js_sys::Map>() => map.unchecked_into::<js_sys::Map>(),
        _ => {
            let map = js_sys::Map::new();
            let _ = Reflect::set(&window, &key, &map);
            map
        }
    };
    match pc {
        Some(pc) => {
            map.set(&peer.as_str().into(), pc);
        }
        None => {
            map.delete(&peer.as_str().into());
        }
    }
}
