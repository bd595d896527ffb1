//! Observing real media in a page: whether a `<video>` is playing, and what each `RTCPeerConnection` reports.
//!
//! The peer connections are read from `window.__huddle_pcs`, a `Map` from peer id to `RTCPeerConnection` that the
//! SPA exposes (the loopback self-test page exposes one too).

use std::time::Duration;

use serde_json::{json, Value};

use crate::wait::{wait_for, wait_until, TIMEOUT};
use crate::{Browser, Error, Result};

/// How long [`Browser::check_video_playing`] watches a video for a new frame.
const FRAME_WINDOW: Duration = Duration::from_millis(1500);

/// Bytes received so far on one peer connection, per kind of media (inbound-rtp stats, all streams added up).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InboundBytes {
    /// Audio bytes received.
    pub audio: u64,
    /// Video bytes received.
    pub video: u64,
}

/// Remote tracks of one peer connection that are live and receiving (not muted), per kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveTracks {
    /// Live, unmuted remote audio tracks.
    pub audio: u32,
    /// Live, unmuted remote video tracks.
    pub video: u32,
}

/// How one peer connection's ICE stands, as the page reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IceView {
    /// `connectionState`.
    pub connection: String,
    /// `iceGatheringState`.
    pub gathering: String,
    /// The `typ` of every candidate in the local description (`host`, `srflx`, `relay`…), in order.
    pub local_candidates: Vec<String>,
    /// The candidate types of the selected pair, `(local, remote)`, once one is selected.
    pub selected: Option<(String, String)>,
}

const ICE_VIEW: &str = r#"
    const [peerId, done] = arguments;
    const pc = window.__huddle_pcs && window.__huddle_pcs.get(peerId);
    if (!pc) return done(null);
    const sdp = pc.localDescription ? pc.localDescription.sdp : '';
    const localCandidates = sdp.split('\r\n').filter((line) => line.startsWith('a=candidate:'))
      .map((line) => (line.match(/ typ (\S+)/) || [])[1] || '?');
    pc.getStats().then((report) => {
      let pair = null;
      // Chromium names the selected pair on the transport; Firefox marks the pair itself.
      report.forEach((stat) => {
        if (stat.type === 'transport' && stat.selectedCandidatePairId) pair = report.get(stat.selectedCandidatePairId);
        if (stat.type === 'candidate-pair' && stat.selected) pair = stat;
      });
      const type = (id) => (report.get(id) || {}).candidateType || '?';
      done({
        connection: pc.connectionState,
        gathering: pc.iceGatheringState,
        localCandidates,
        selected: pair ? [type(pair.localCandidateId), type(pair.remoteCandidateId)] : null,
      });
    }, (error) => done({ error: String(error) }));
"#;

/// Succeeds if the video has a decoded frame and a new frame is presented within the window; else says why not.
const VIDEO_PLAYING: &str = r#"
    const [selector, windowMs, done] = arguments;
    const video = document.querySelector(selector);
    if (!video) return done({ playing: false, why: 'no element matches ' + selector });
    if (!(video instanceof HTMLVideoElement)) return done({ playing: false, why: selector + ' is not a <video>' });
    if (!video.videoWidth) {
      const source = video.srcObject;
      const tracks = source && source.getTracks
        ? source.getTracks().map((t) => `${t.kind} ${t.readyState}${t.muted ? ' muted' : ''}`).join(', ') || 'none'
        : null;
      const what = tracks === null ? (video.currentSrc ? 'src ' + video.currentSrc : 'no source') : 'srcObject tracks: ' + tracks;
      return done({ playing: false, why: `videoWidth is 0: no frame decoded yet (${what}, readyState ${video.readyState})` });
    }
    const startTime = video.currentTime;
    const size = video.videoWidth + 'x' + video.videoHeight;
    let finished = false;
    const finish = (result) => { if (!finished) { finished = true; done(result); } };
    // Frames presented, counted by requestVideoFrameCallback. (currentTime is no evidence: on a live stream it keeps
    // moving while the picture is frozen.) Two callbacks: the first may be for a frame already on its way.
    const frames = !!video.requestVideoFrameCallback;
    if (frames) {
      video.requestVideoFrameCallback(() => video.requestVideoFrameCallback(() => finish({ playing: true, size })));
    }
    setTimeout(() => finish(!frames && video.currentTime > startTime
      ? { playing: true, size }
      : { playing: false, why: `no new frame in ${windowMs} ms (paused: ${video.paused}, time: ${video.currentTime})` }),
      windowMs);
"#;

const INBOUND_BYTES: &str = r#"
    const [peerId, done] = arguments;
    const pc = window.__huddle_pcs && window.__huddle_pcs.get(peerId);
    if (!pc) return done(null);
    pc.getStats().then((report) => {
      const bytes = { audio: 0, video: 0 };
      report.forEach((stat) => {
        if (stat.type === 'inbound-rtp' && stat.kind in bytes) bytes[stat.kind] += stat.bytesReceived || 0;
      });
      done(bytes);
    }, (error) => done({ error: String(error) }));
"#;

const CONNECTION_STATE: &str = r#"
    const pc = window.__huddle_pcs && window.__huddle_pcs.get(arguments[0]);
    return pc ? pc.connectionState : null;
"#;

const PEER_IDS: &str = r#"
    return window.__huddle_pcs ? Array.from(window.__huddle_pcs.keys()) : [];
"#;

const LIVE_TRACKS: &str = r#"
    const pc = window.__huddle_pcs && window.__huddle_pcs.get(arguments[0]);
    if (!pc) return null;
    const live = { audio: 0, video: 0 };
    for (const receiver of pc.getReceivers()) {
      const track = receiver.track;
      if (track && track.readyState === 'live' && !track.muted && track.kind in live) live[track.kind] += 1;
    }
    return live;
"#;

impl Browser {
    /// Whether the `<video>` matching `selector` is playing: it has a frame (`videoWidth > 0`) and a new one is
    /// presented within about a second (`requestVideoFrameCallback`; `currentTime` advancing only where that is
    /// missing, since on a live stream it advances over a frozen picture too).
    pub async fn remote_video_playing(&self, selector: &str) -> Result<bool> {
        match self.check_video_playing(selector).await {
            Ok(()) => Ok(true),
            Err(Error::Check(_)) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Like [`remote_video_playing`](Self::remote_video_playing), but a video that is not playing is an
    /// [`Error::Check`] saying why (which [`wait_until`] reports if it times out).
    pub async fn check_video_playing(&self, selector: &str) -> Result<()> {
        let args = vec![json!(selector), json!(FRAME_WINDOW.as_millis() as u64)];
        let reply = self.eval_js_async(VIDEO_PLAYING, args).await?;
        match reply["playing"].as_bool() {
            Some(true) => Ok(()),
            Some(false) => Err(Error::Check(format!(
                "{}: {selector} is not playing: {}",
                self.label(),
                reply["why"].as_str().unwrap_or("?")
            ))),
            None => Err(Error::Script { what: format!("{}: is {selector} playing", self.label()), value: reply }),
        }
    }

    /// Waits (up to [`TIMEOUT`]) until the video matching `selector` plays.
    pub async fn wait_video_playing(&self, selector: &str) -> Result<()> {
        let what = format!("{}'s {selector} plays", self.label());
        wait_until(what, TIMEOUT, async || self.check_video_playing(selector).await.map(|()| true)).await
    }

    /// Inbound-rtp bytes on the peer connection to `peer_id`; `None` if the page has no such connection.
    pub async fn inbound_rtp_bytes(&self, peer_id: &str) -> Result<Option<InboundBytes>> {
        let reply = self.eval_js_async(INBOUND_BYTES, vec![json!(peer_id)]).await?;
        if reply.is_null() {
            return Ok(None);
        }
        match (reply["audio"].as_f64(), reply["video"].as_f64()) {
            (Some(audio), Some(video)) => Ok(Some(InboundBytes { audio: audio as u64, video: video as u64 })),
            _ => Err(Error::Script { what: format!("{}: inbound bytes from {peer_id}", self.label()), value: reply }),
        }
    }

    /// Waits until both audio and video bytes from `peer_id` grow: media is flowing now, not just at some point.
    pub async fn wait_media_flowing(&self, peer_id: &str) -> Result<InboundBytes> {
        let label = self.label();
        let before = wait_for(format!("{label} has a peer connection to {peer_id}"), TIMEOUT, async || {
            self.inbound_rtp_bytes(peer_id).await
        })
        .await?;
        wait_for(format!("{label} receives more audio and video from {peer_id} than {before:?}"), TIMEOUT, async || {
            let now = self.inbound_rtp_bytes(peer_id).await?.unwrap_or_default();
            Ok((now.audio > before.audio && now.video > before.video).then_some(now))
        })
        .await
    }

    /// The `connectionState` of the peer connection to `peer_id`; `None` if the page has no such connection.
    pub async fn connection_state(&self, peer_id: &str) -> Result<Option<String>> {
        let reply = self.eval_js(CONNECTION_STATE, vec![json!(peer_id)]).await?;
        Ok(reply.as_str().map(str::to_owned))
    }

    /// Waits (up to [`TIMEOUT`]) until the peer connection to `peer_id` is `connected`.
    pub async fn wait_connected(&self, peer_id: &str) -> Result<()> {
        let what = format!("{}'s connection to {peer_id} is connected", self.label());
        wait_until(what, TIMEOUT, async || Ok(self.connection_state(peer_id).await?.as_deref() == Some("connected")))
            .await
    }

    /// The peer ids in `window.__huddle_pcs`.
    pub async fn peer_ids(&self) -> Result<Vec<String>> {
        let reply = self.eval_js(PEER_IDS, Vec::new()).await?;
        match reply.as_array() {
            Some(ids) => Ok(ids.iter().filter_map(Value::as_str).map(str::to_owned).collect()),
            None => Err(Error::Script { what: format!("{}: peer ids", self.label()), value: reply }),
        }
    }

    /// How ICE stands on the peer connection to `peer_id` (states, local candidates, the selected pair's candidate
    /// types); `None` if the page has no such connection.
    pub async fn ice_view(&self, peer_id: &str) -> Result<Option<IceView>> {
        let reply = self.eval_js_async(ICE_VIEW, vec![json!(peer_id)]).await?;
        if reply.is_null() {
            return Ok(None);
        }
        let text = |value: &Value| value.as_str().map(str::to_owned);
        let texts = |value: &Value| value.as_array().map(|items| items.iter().filter_map(text).collect::<Vec<_>>());
        let view = (|| {
            let selected = match &reply["selected"] {
                Value::Null => None,
                pair => Some((text(&pair[0])?, text(&pair[1])?)),
            };
            Some(IceView {
                connection: text(&reply["connection"])?,
                gathering: text(&reply["gathering"])?,
                local_candidates: texts(&reply["localCandidates"])?,
                selected,
            })
        })();
        view.map(Some)
            .ok_or_else(|| Error::Script { what: format!("{}: ICE of {peer_id}", self.label()), value: reply })
    }

    /// The live, unmuted remote tracks on the peer connection to `peer_id`; `None` if there is no such connection.
    pub async fn live_remote_tracks(&self, peer_id: &str) -> Result<Option<LiveTracks>> {
        let reply = self.eval_js(LIVE_TRACKS, vec![json!(peer_id)]).await?;
        if reply.is_null() {
            return Ok(None);
        }
        match (reply["audio"].as_u64(), reply["video"].as_u64()) {
            (Some(audio), Some(video)) => Ok(Some(LiveTracks { audio: audio as u32, video: video as u32 })),
            _ => Err(Error::Script { what: format!("{}: live tracks from {peer_id}", self.label()), value: reply }),
        }
    }

    /// From now on, every page this browser loads keeps the text messages arriving on the data channels it creates
    /// itself (the SPA's `huddle` channel: chat, media state), oldest first, for [`peer_messages`].
    ///
    /// [`peer_messages`]: Self::peer_messages
    pub async fn record_peer_messages(&self) -> Result<()> {
        const RECORDER: &str = r#"
            if (!window.__peer_messages) {
              window.__peer_messages = [];
              const create = RTCPeerConnection.prototype.createDataChannel;
              RTCPeerConnection.prototype.createDataChannel = function (...args) {
                const channel = create.apply(this, args);
                channel.addEventListener('message', (event) => {
                  if (typeof event.data === 'string') window.__peer_messages.push(event.data);
                });
                return channel;
              };
            }
        "#;
        crate::cdp::run_on_every_document(self, RECORDER).await
    }

    /// The messages recorded since [`record_peer_messages`], parsed (one that is not JSON as a string).
    ///
    /// [`record_peer_messages`]: Self::record_peer_messages
    pub async fn peer_messages(&self) -> Result<Vec<Value>> {
        let reply = self.eval_js("return window.__peer_messages || [];", Vec::new()).await?;
        let texts = reply.as_array().cloned().unwrap_or_default();
        Ok(texts
            .into_iter()
            .map(|text| text.as_str().and_then(|text| serde_json::from_str(text).ok()).unwrap_or(text))
            .collect())
    }
}
