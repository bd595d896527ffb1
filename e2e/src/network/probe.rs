//! The probe in each page ([`PROBE`], `network_probe.js`) and what it reports: a [`Sample`] of every peer
//! connection's statistics and of the remote videos presented.

use serde::Deserialize;
use serde_json::json;

use crate::call_setup::JOIN;
use crate::{Browser, Error, Result};

/// The probe: `arguments[0]` is the selector of the Join button; it lives in `window.__network`.
pub const PROBE: &str = include_str!("../network_probe.js");

/// Cumulative counters of one inbound RTP stream (`inbound-rtp` in `getStats()`); video or audio fields are absent
/// for the other kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inbound {
    /// Bytes received.
    pub bytes: f64,
    /// Packets received.
    pub packets_received: f64,
    /// Packets lost, as the receiver counts them.
    pub packets_lost: f64,
    /// Video frames decoded.
    pub frames_decoded: Option<f64>,
    /// Video freezes so far.
    pub freeze_count: Option<f64>,
    /// Seconds of video frozen so far.
    pub total_freezes_duration: Option<f64>,
    /// Video pauses so far: the browser's name for a stop it has noticed the sender's stream go quiet for (no
    /// frame for a few seconds, or sooner with a short `rtx-time`), counted apart from freezes.
    pub pause_count: Option<f64>,
    /// Seconds of video paused so far.
    pub total_pauses_duration: Option<f64>,
    /// The last decoded frame's width.
    pub frame_width: Option<f64>,
    /// The last decoded frame's height.
    pub frame_height: Option<f64>,
    /// Audio samples concealed (made up for lost or late packets).
    pub concealed_samples: Option<f64>,
    /// Of which concealed while the sender was silent (with DTX, Huddle's Opus sends almost nothing in silence):
    /// nobody hears those.
    pub silent_concealed_samples: Option<f64>,
    /// Audio samples played out.
    pub total_samples_received: Option<f64>,
}

impl Inbound {
    /// Video stops so far, freezes and pauses alike: either way the picture stood still.
    pub fn stops(&self) -> Option<f64> {
        Some(self.freeze_count? + self.pause_count.unwrap_or(0.0))
    }

    /// Seconds the video stood still so far, frozen or paused.
    pub fn stopped_seconds(&self) -> Option<f64> {
        Some(self.total_freezes_duration? + self.total_pauses_duration.unwrap_or(0.0))
    }
}

/// The selected candidate pair's round trips (STUN consent checks), cumulative.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoundTrips {
    /// Which pair (its statistics id): an ICE restart, or a better path found, selects another.
    #[serde(default)]
    pub pair: String,
    /// Seconds, summed over every answered check.
    pub total: f64,
    /// Checks answered.
    pub responses: f64,
}

/// One peer connection's statistics.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerStats {
    /// The remote peer's id (the key in `window.__huddle_pcs`).
    pub peer: String,
    /// `connectionState`.
    pub state: String,
    /// The inbound video stream that carried the most.
    pub video: Option<Inbound>,
    /// The inbound audio stream that carried the most.
    pub audio: Option<Inbound>,
    /// The selected candidate pair's round trips.
    pub rtt: Option<RoundTrips>,
}

/// A remote video track shown in a `<video>`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteVideo {
    /// Whose it is (peer id).
    pub peer: String,
    /// When its first frame was presented (page clock, ms).
    pub first: f64,
    /// Frames presented so far (in every `<video>` showing it).
    pub frames: f64,
    /// When its latest frame was presented (page clock, ms).
    pub last: f64,
}

/// What the probe knows at one moment.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    /// When (page clock, ms).
    pub at: f64,
    /// The page clock's origin, ms since the Unix epoch.
    pub time_origin: f64,
    /// When Join was clicked (page clock, ms).
    pub join: Option<f64>,
    /// The page's own peer id, once joined.
    pub self_id: Option<String>,
    /// Every peer connection.
    pub peers: Vec<PeerStats>,
    /// Every remote video presented so far.
    pub videos: Vec<RemoteVideo>,
}

impl Sample {
    /// A page-clock time in ms since the Unix epoch.
    pub fn epoch(&self, at: f64) -> f64 {
        self.time_origin + at
    }

    /// The statistics of the connection to `peer`.
    pub fn peer(&self, peer: &str) -> Option<&PeerStats> {
        self.peers.iter().find(|stats| stats.peer == peer)
    }

    /// The remote video of `peer`, once presented.
    pub fn video(&self, peer: &str) -> Option<&RemoteVideo> {
        self.videos.iter().find(|video| video.peer == peer)
    }

    /// When the latest frame of `peer`'s video was presented (page clock, ms), whichever of its tracks it was.
    pub fn last_frame(&self, peer: &str) -> Option<f64> {
        self.videos.iter().filter(|video| video.peer == peer).map(|video| video.last).max_by(f64::total_cmp)
    }
}

/// The first frame of a peer's video presented after a moment.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct FrameSince {
    /// Whose video (peer id).
    pub peer: String,
    /// When (page clock, ms), if one was.
    pub at: Option<f64>,
    /// The moment, on the page clock.
    pub since: Option<f64>,
}

/// Installs [`PROBE`] in the page the browser shows (before its Join button is clicked).
pub async fn install(browser: &Browser) -> Result<()> {
    browser.eval_js(PROBE, vec![json!(JOIN)]).await.map(drop)
}

fn parse<T: for<'de> Deserialize<'de>>(browser: &Browser, what: &str, value: serde_json::Value) -> Result<T> {
    if value.is_null() {
        return Err(Error::Check(format!("{}: the network probe is not installed", browser.label())));
    }
    serde_json::from_value(value.clone())
        .map_err(|_| Error::Script { what: format!("{}: {what}", browser.label()), value })
}

/// The page's statistics now.
pub async fn sample(browser: &Browser) -> Result<Sample> {
    const SAMPLE: &str = r#"
        const done = arguments[0];
        if (!window.__network) return done(null);
        window.__network.sample().then(done, (error) => done({ error: String(error) }));
    "#;
    let reply = browser.eval_js_async(SAMPLE, Vec::new()).await?;
    parse(browser, "network sample", reply)
}

/// The page's own peer id, once the relay has said `joined`. Unlike [`sample`], it waits for no `getStats()`: in a
/// page busy setting up connections that takes seconds, which would pace the next person's Join by the page.
pub async fn self_id(browser: &Browser) -> Result<Option<String>> {
    const SELF_ID: &str = "return window.__network ? { id: window.__network.selfId() } : null;";
    #[derive(Deserialize)]
    struct Reply {
        id: Option<String>,
    }
    let reply = browser.eval_js(SELF_ID, Vec::new()).await?;
    Ok(parse::<Reply>(browser, "own peer id", reply)?.id)
}

/// Tells the page to note, per remote video, the first frame presented at or after `epoch_ms` (ms since the Unix
/// epoch, a moment just passed).
pub async fn mark_since(browser: &Browser, epoch_ms: f64) -> Result<()> {
    const MARK: &str = "if (!window.__network) return false; window.__network.markSince(arguments[0]); return true;";
    match browser.eval_js(MARK, vec![json!(epoch_ms)]).await? {
        serde_json::Value::Bool(true) => Ok(()),
        _ => Err(Error::Check(format!("{}: the network probe is not installed", browser.label()))),
    }
}

/// Per remote video, the first frame presented since the moment given to [`mark_since`].
pub async fn frames_since(browser: &Browser) -> Result<Vec<FrameSince>> {
    const SINCE: &str = "return window.__network ? window.__network.framesSince() : null;";
    let reply = browser.eval_js(SINCE, Vec::new()).await?;
    parse(browser, "frames since", reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_probe_returns() {
        let value = json!({
            "at": 1500.5, "timeOrigin": 1_700_000_000_000.0, "join": 100.0, "selfId": "p1",
            "peers": [{
                "peer": "p2", "state": "connected",
                "video": { "bytes": 1e6, "packetsReceived": 900, "packetsLost": 3, "framesDecoded": 300,
                           "freezeCount": 1, "totalFreezesDuration": 0.4, "pauseCount": 1,
                           "totalPausesDuration": 5.5, "frameWidth": 640, "frameHeight": 480 },
                "audio": { "bytes": 5e4, "packetsReceived": 500, "packetsLost": 0,
                           "concealedSamples": 480, "silentConcealedSamples": 120, "totalSamplesReceived": 480000 },
                "rtt": { "pair": "CP1", "total": 0.5, "responses": 10 }
            }, { "peer": "p3", "state": "new", "video": null, "audio": null, "rtt": null }],
            "videos": [{ "peer": "p2", "first": 400.0, "frames": 290, "last": 1450.0 },
                       { "peer": "p2", "first": 1000.0, "frames": 10, "last": 1480.0 }]
        });
        let sample: Sample = serde_json::from_value(value).unwrap();
        assert_eq!(sample.self_id.as_deref(), Some("p1"));
        assert_eq!(sample.epoch(100.0), 1_700_000_000_100.0);
        let p2 = sample.peer("p2").unwrap();
        assert_eq!(p2.video.unwrap().freeze_count, Some(1.0));
        assert_eq!((p2.video.unwrap().stops(), p2.video.unwrap().stopped_seconds()), (Some(2.0), Some(5.9)));
        assert_eq!(p2.audio.unwrap().frames_decoded, None);
        assert_eq!(sample.peer("p3").unwrap().video, None);
        assert_eq!(p2.audio.unwrap().silent_concealed_samples, Some(120.0));
        assert_eq!(sample.video("p2").unwrap().first, 400.0);
        assert_eq!(sample.last_frame("p2"), Some(1480.0));
        assert!(sample.video("p3").is_none());
        assert_eq!(sample.last_frame("p3"), None);
    }
}
