//! The call's network monitor: once a second, while in a call, a `getStats()` snapshot of every peer connection,
//! read (in `call::stats`) into a `LinkReport` per peer, graded for the tile's quality indicator (the call screen
//! told only when the grade reads differently: each dispatch re-renders it), and handed to the adaptation
//! (`call::adapt`), whose encodings are applied here with `RTCRtpSender.setParameters`, only when they change.
//! Audio senders get a high priority once, and the screen's sender keeps resolution over frame rate; a change the
//! browser refuses is tried again at the next look. Nothing is applied in a connection's first seconds (see
//! [`Monitor::look`]).

use std::cell::Cell;
use std::rc::{Rc, Weak};

use huddle_common::PeerId;
use wasm_bindgen::JsValue;
use web_sys::{RtcPeerConnection, RtcPeerConnectionState};
use yew::Callback;

use crate::call::adapt::{Adapter, Encoding, Observed, GRACE};
use crate::call::quality::{Grader, OwnVideo};
use crate::call::state::Action;
use crate::call::stats::{heard_from, link_report, sent_rates, Snapshot};
use crate::rtc::bindings::{change_parameters, set};
use crate::rtc::peer::PeerLink;
use crate::rtc::stats::{reports, snapshot};
use crate::small_map::SmallMap;

/// How often the connections are looked at: the interval a `LinkReport` covers.
pub const INTERVAL_MS: u32 = 1_000;

/// What the monitor remembers of one connection: which one it is, its last snapshot, and what has been applied to
/// its senders.
#[derive(Default)]
struct Seen {
    /// The link (kept weakly: its address is not reused while this lives). A new link to the same peer (the
    /// connections made again after a relay restart) starts afresh: its senders have nothing applied yet.
    link: Weak<PeerLink>,
    last: Option<Snapshot>,
    camera: Option<Encoding>,
    audio: bool,
    screen: bool,
    /// Set when the browser refused one of the changes: all are given again at the next look.
    refused: Rc<Cell<bool>>,
    /// The connection's grade, with its hysteresis: the call screen hears of it only when it reads differently.
    grader: Grader,
    /// Looks taken at the connection.
    looks: u32,
}

/// What the monitor remembers between two looks.
#[derive(Default)]
pub struct Monitor {
    peers: SmallMap<PeerId, Seen>,
    adapter: Adapter,
    own_video: Option<OwnVideo>,
}

impl Monitor {
    /// Takes a snapshot of each link's connection, reports each one's interval to the call screen (and our own
    /// video's state when it changed), adapts what each sends, and returns the links whose camera was paused or
    /// resumed: their peer is to be told. Links no longer listed are forgotten. `camera_on`: whether our camera is on
    /// (when off, nothing of it is reduced).
    pub async fn look(
        &mut self,
        links: &[Rc<PeerLink>],
        camera_on: bool,
        dispatch: &Callback<Action>,
    ) -> Vec<Rc<PeerLink>> {
        // A connection is first looked at once it is up. Before, its figures say nothing, and a look takes the page
        // from the set-up: reading a report, and (below) each sender's parameters read and written synchronously with
        // the browser's WebRTC thread, took seconds on a busy machine while the call was being set up.
        let links: Vec<&Rc<PeerLink>> = links
            .iter()
            .filter(|link| {
                link.connection().connection_state() == RtcPeerConnectionState::Connected
                    || self.peers.get(link.id()).is_some_and(|seen| seen.link.as_ptr() == Rc::as_ptr(link))
            })
            .collect();
        let pcs: Vec<RtcPeerConnection> = links.iter().map(|link| link.connection().clone()).collect();
        let reports = reports(&pcs).await;
        let adapter = &mut self.adapter;
        self.peers.retain(|peer, _| {
            let open = links.iter().any(|link| link.id() == peer);
            if !open {
                adapter.forget(peer);
            }
            open
        });
        let mut observed = Vec::with_capacity(links.len());
        for (link, report) in links.iter().zip(reports) {
            // A connection closed meanwhile has no report: it is gone by the next look. One whose report failed
            // otherwise keeps its adaptation as it was.
            let Ok(report) = report else { continue };
            let now = snapshot(&report);
            let peer = link.id();
            let seen = self.peers.get_or_insert_with(peer.clone(), Seen::default);
            if seen.link.as_ptr() != Rc::as_ptr(link) {
                *seen = Seen { link: Rc::downgrade(link), ..Seen::default() };
                self.adapter.forget(peer);
            }
            let report = link_report(seen.last.as_ref(), &now);
            let (sent, screen) = sent_rates(seen.last.as_ref(), &now);
            let stale = !heard_from(seen.last.as_ref(), &now)
                || link.connection().connection_state() != RtcPeerConnectionState::Connected;
            observed.push((peer.clone(), Observed { stale, ..Observed::from_report(&report, sent, screen) }));
            seen.last = Some(now);
            seen.looks += 1;
            if let Some(grade) = seen.grader.news(&report) {
                dispatch.emit(Action::Grade(peer.clone(), grade));
            }
        }
        let mut paused_changed = Vec::new();
        for (peer, encoding) in self.adapter.decide(&observed) {
            let Some(link) = links.iter().find(|link| link.id() == &peer) else { continue };
            // Until the adaptation's grace period is over, it keeps the top rung (unless loss is heavy), and the
            // browser's estimate starts low: nothing to change yet while the first frames are on their way.
            if self.peers.get(&peer).is_some_and(|seen| seen.looks > GRACE) {
                self.apply(link, encoding);
            }
            if link.set_video_paused(self.adapter.paused(&peer)) {
                paused_changed.push(Rc::clone(link));
            }
        }
        let own = if camera_on { self.adapter.own_video() } else { OwnVideo::Full };
        if self.own_video.replace(own) != Some(own) {
            dispatch.emit(Action::OwnVideo(own));
        }
        paused_changed
    }

    /// Gives `link`'s senders what they lack: the camera's encoding when it changed, audio's priority and the
    /// screen's preference once; each as soon as the sender has an encoding.
    fn apply(&mut self, link: &PeerLink, encoding: Encoding) {
        let [audio, camera, screen] = link.senders();
        let applied = self.peers.get_or_insert_with(link.id().clone(), Seen::default);
        if applied.refused.take() {
            (applied.camera, applied.audio, applied.screen) = (None, false, false);
        }
        let refused = &applied.refused;
        if let Some(camera) = camera.filter(|_| applied.camera != Some(encoding)) {
            let set_encoding = |_: &JsValue, first: &JsValue| {
                set(first, "active", &encoding.active.into());
                set(first, "maxBitrate", &encoding.max_bitrate_bps.into());
                set(first, "scaleResolutionDownBy", &encoding.scale_down_by.into());
                set(first, "maxFramerate", &encoding.max_framerate.into());
            };
            if change_parameters(&camera, &set_encoding, refused) {
                applied.camera = Some(encoding);
            }
        }
        if let Some(audio) = audio.filter(|_| !applied.audio) {
            // Audio first: the browser's bandwidth allocation and the network's queues favour it over video.
            let high = |_: &JsValue, first: &JsValue| {
                set(first, "priority", &"high".into());
                set(first, "networkPriority", &"high".into());
            };
            applied.audio = change_parameters(&audio, &high, refused);
        }
        if let Some(screen) = screen.filter(|_| !applied.screen) {
            let keep_resolution = |parameters: &JsValue, _: &JsValue| {
                set(parameters, "degradationPreference", &"maintain-resolution".into())
            };
            applied.screen = change_parameters(&screen, &keep_resolution, refused);
        }
    }
}
