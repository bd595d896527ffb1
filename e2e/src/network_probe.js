// The network benchmark's probe: installed by the benchmark into a page (the SPA's lobby or the JavaScript
// baseline's) before its Join button is clicked. It needs nothing from the page but what both pages do: the
// RTCPeerConnections in `window.__huddle_pcs` (a Map from peer id to connection) and remote video shown in <video>s.
//
// - `join`: the click on Join (the event's time stamp), and the page's own peer id (from the relay's `joined`).
// - Every remote video track shown in a <video> is watched with requestVideoFrameCallback: when its first frame was
//   presented, the latest, how many, and (after `markSince`) the first one presented at or after a given moment.
// - `sample()` reads getStats() of every connection: per remote peer, the inbound video and audio and the selected
//   candidate pair's round trips.
//
// Times are milliseconds on the page's performance.now() clock; `timeOrigin` (ms since the Unix epoch) relates pages.
// arguments[0]: the selector of the Join button. Returns nothing; window.__network is the probe.
(() => {
  const joinSelector = arguments[0];
  if (window.__network) return;
  // Presentation times kept per track, for a moment marked a little after it passed: 2 s of video at 30 fps.
  const KEEP = 60;
  // `since`: the moment of `markSince`, on this page's clock.
  const state = { join: null, selfId: null, since: null };
  // Track id -> { peer, first, frames, times, firstSince }.
  const tracks = new Map();
  const watched = new WeakSet();

  addEventListener('click', (event) => {
    if (state.join === null && event.target instanceof Element && event.target.closest(joinSelector)) {
      state.join = event.timeStamp;
    }
  }, true);

  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (event) => {
        if (typeof event.data !== 'string' || !event.data.includes('"joined"')) return;
        try {
          const message = JSON.parse(event.data);
          if (message.type === 'joined') state.selfId = String(message.peer_id);
        } catch (_) { /* not JSON: not ours to judge */ }
      });
    }
  };

  const connections = () => (window.__huddle_pcs instanceof Map ? [...window.__huddle_pcs] : []);
  // The peer a remote track comes from: the connection that has a receiver for it.
  const peerOf = (track) => {
    for (const [peer, pc] of connections()) {
      if (pc.getReceivers().some((receiver) => receiver.track === track)) return String(peer);
    }
    return null;
  };

  const watch = (video) => {
    if (!(video instanceof HTMLVideoElement) || watched.has(video) || !video.requestVideoFrameCallback) return;
    watched.add(video);
    const onFrame = (now, frame) => {
      const stream = video.srcObject;
      const track = stream && stream.getVideoTracks ? stream.getVideoTracks()[0] : null;
      if (track) {
        let record = tracks.get(track.id);
        if (!record) {
          const peer = peerOf(track);
          // Local video (the preview, one's own tile) belongs to no connection's receivers.
          if (peer !== null) {
            record = { peer, first: frame.presentationTime, frames: 0, times: [], firstSince: null };
            tracks.set(track.id, record);
          }
        }
        if (record) {
          record.frames += 1;
          record.times.push(frame.presentationTime);
          if (record.times.length > KEEP) record.times.splice(0, record.times.length - KEEP);
          if (state.since !== null && record.firstSince === null && frame.presentationTime >= state.since) {
            record.firstSince = frame.presentationTime;
          }
        }
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  };

  // Watch a <video> as soon as it is given a stream (so its first frame is seen), and any other now and then.
  const srcObject = Object.getOwnPropertyDescriptor(HTMLMediaElement.prototype, 'srcObject');
  Object.defineProperty(HTMLMediaElement.prototype, 'srcObject', {
    ...srcObject,
    set(stream) {
      srcObject.set.call(this, stream);
      watch(this);
    },
  });
  setInterval(() => document.querySelectorAll('video').forEach(watch), 250);

  const inbound = (stat) => ({
    bytes: stat.bytesReceived || 0,
    packetsReceived: stat.packetsReceived || 0,
    packetsLost: stat.packetsLost || 0,
    framesDecoded: stat.framesDecoded,
    freezeCount: stat.freezeCount,
    totalFreezesDuration: stat.totalFreezesDuration,
    pauseCount: stat.pauseCount,
    totalPausesDuration: stat.totalPausesDuration,
    frameWidth: stat.frameWidth,
    frameHeight: stat.frameHeight,
    concealedSamples: stat.concealedSamples,
    silentConcealedSamples: stat.silentConcealedSamples,
    totalSamplesReceived: stat.totalSamplesReceived,
  });

  const peerStats = async ([peer, pc]) => {
    const report = await pc.getStats();
    // The stream that carries the most (Huddle's connection also has a screen-share transceiver, mostly idle).
    const best = { video: null, audio: null };
    let pair = null;
    report.forEach((stat) => {
      if (stat.type === 'inbound-rtp' && stat.kind in best) {
        if (!best[stat.kind] || (stat.bytesReceived || 0) > best[stat.kind].bytesReceived) best[stat.kind] = stat;
      }
      if (stat.type === 'transport' && stat.selectedCandidatePairId) pair = report.get(stat.selectedCandidatePairId);
    });
    return {
      peer: String(peer),
      state: pc.connectionState,
      video: best.video ? inbound(best.video) : null,
      audio: best.audio ? inbound(best.audio) : null,
      rtt: pair ? { pair: pair.id, total: pair.totalRoundTripTime || 0, responses: pair.responsesReceived || 0 } : null,
    };
  };

  window.__network = {
    // Everything the probe knows now, with every connection's statistics.
    async sample() {
      const peers = await Promise.all(connections().map(peerStats));
      return {
        at: performance.now(),
        timeOrigin: performance.timeOrigin,
        join: state.join,
        selfId: state.selfId,
        peers,
        videos: [...tracks.values()].map(({ peer, first, frames, times }) => ({
          peer, first, frames, last: times[times.length - 1] ?? first,
        })),
      };
    },
    // The page's own peer id once the relay said `joined`, else null: read without touching any connection.
    selfId() {
      return state.selfId;
    },
    // From now on, note per remote video the first frame presented at or after `epochMs` (ms since the Unix
    // epoch; a moment just passed: frames presented since then are among the latest kept).
    markSince(epochMs) {
      state.since = epochMs - performance.timeOrigin;
      for (const record of tracks.values()) {
        record.firstSince = record.times.find((time) => time >= state.since) ?? null;
      }
    },
    // Per remote video: the first frame presented since the marked moment, or null.
    framesSince() {
      return [...tracks.values()].map(({ peer, firstSince }) => ({ peer, at: firstSince, since: state.since }));
    },
  };
})();
