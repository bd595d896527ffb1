//! The call's network monitor: once a second, while in a call, a `getStats()` snapshot of every peer connection,
//! read (in `call::stats`) into a [`LinkReport`] per peer for the quality indicator, and handed to the adaptation
//! (`call::adapt`), whose encodings are applied here with `RTCRtpSender.setParameters`, only when they change.
//! Audio senders get a high priority once, and the screen's sender keeps resolution over frame rate.

use std::rc::Rc;

use huddle_common::PeerId;
use wasm_bindgen::JsValue;
use web_sys::RtcPeerConnection;

use crate::call::adapt::{Adapter, Encoding, Observed};
use crate::call::quality::{LinkReport, OwnVideo};
use crate::call::stats::{link_report, sent_rates, Snapshot};
use crate::rtc::bindings::{change_parameters, set};
use crate::rtc::peer::PeerLink;
use crate::rtc::stats::{reports, snapshot};
use crate::small_map::SmallMap;

/// How often the connections are looked at: the interval a [`LinkReport`] covers.
pub const INTERVAL_MS: u32 = 1_000;

/// What has been applied to one connection's senders.
#[derive(Default)]
struct Applied {
    camera: Option<Encoding>,
    audio: bool,
    screen: bool,
}

/// What the monitor remembers between two looks.
#[derive(Default)]
pub struct Monitor {
    /// Each peer's previous snapshot.
    last: SmallMap<PeerId, Snapshot>,
    adapter: Adapter,
    applied: SmallMap<PeerId, Applied>,
    own_video: Option<OwnVideo>,
}

/// What one look found and changed.
pub struct Look {
    /// Each connection's report of the interval.
    pub reports: Vec<(PeerId, LinkReport)>,
    /// What our video does now, if that changed.
    pub own_video: Option<OwnVideo>,
    /// The connections whose camera was paused or resumed: the peer is to be told.
    pub paused_changed: Vec<Rc<PeerLink>>,
}

impl Monitor {
    /// Takes a snapshot of each link's connection, adapts what it sends, and says what it found. Links no longer
    /// listed are forgotten. `camera_on`: whether our camera is on (when off, nothing of it is reduced).
    pub async fn look(&mut self, links: &[Rc<PeerLink>], camera_on: bool) -> Look {
        let pcs: Vec<RtcPeerConnection> = links.iter().map(|link| link.connection().clone()).collect();
        let reports = reports(&pcs).await;
        self.last.retain(|peer, _| links.iter().any(|link| link.id() == peer));
        self.applied.retain(|peer, _| links.iter().any(|link| link.id() == peer));
        let mut looked = Vec::with_capacity(links.len());
        let mut observed = Vec::with_capacity(links.len());
        for (link, report) in links.iter().zip(reports) {
            // A connection closed meanwhile has no report: it is gone by the next look.
            let Ok(report) = report else { continue };
            let now = snapshot(&report);
            let peer = link.id().clone();
            let before = self.last.get(&peer);
            let report = link_report(before, &now);
            let (sent, screen) = sent_rates(before, &now);
            observed.push((peer.clone(), Observed::from_report(&report, sent, screen)));
            self.last.insert(peer.clone(), now);
            looked.push((peer, report));
        }
        let encodings = self.adapter.decide(&observed);
        let mut paused_changed = Vec::new();
        for (peer, encoding) in encodings {
            let Some(link) = links.iter().find(|link| link.id() == &peer) else { continue };
            self.apply(link, encoding);
            if link.set_video_paused(self.adapter.paused(&peer)) {
                paused_changed.push(Rc::clone(link));
            }
        }
        let own = if camera_on { self.adapter.own_video() } else { OwnVideo::Full };
        let own_video = (self.own_video.replace(own) != Some(own)).then_some(own);
        Look { reports: looked, own_video, paused_changed }
    }

    /// Gives `link`'s senders what they lack: the camera's encoding when it changed, audio's priority and the
    /// screen's preference once; each as soon as the sender has an encoding.
    fn apply(&mut self, link: &PeerLink, encoding: Encoding) {
        let [audio, camera, screen] = link.senders();
        let applied = self.applied.get_or_insert_with(link.id().clone(), Applied::default);
        if let Some(camera) = camera.filter(|_| applied.camera != Some(encoding)) {
            let set_encoding = |_: &JsValue, first: &JsValue| {
                set(first, "active", encoding.active);
                set(first, "maxBitrate", encoding.max_bitrate_bps);
                set(first, "scaleResolutionDownBy", encoding.scale_down_by);
                set(first, "maxFramerate", encoding.max_framerate);
            };
            if change_parameters(&camera, &set_encoding) {
                applied.camera = Some(encoding);
            }
        }
        if let Some(audio) = audio.filter(|_| !applied.audio) {
            // Audio first: the browser's bandwidth allocation and the network's queues favour it over video.
            applied.audio = change_parameters(&audio, &|_, first| {
                set(first, "priority", "high");
                set(first, "networkPriority", "high");
            });
        }
        if let Some(screen) = screen.filter(|_| !applied.screen) {
            applied.screen = change_parameters(&screen, &|parameters, _| {
                set(parameters, "degradationPreference", "maintain-resolution")
            });
        }
    }
}
