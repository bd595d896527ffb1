// The call-setup probe: installed by the benchmark into a page (the SPA's lobby or the JavaScript baseline's) before
// its Join button is clicked. It takes the same marks in any page, without the page's help, by watching what every
// call page must do: the click on Join, the WebSocket to the relay and the messages on it, the RTCPeerConnection and
// its events, and the first remote video frame presented in a <video>.
//
// Each mark is the first time something happened, in milliseconds on the page's performance.now() clock; the
// page's performance.timeOrigin (milliseconds since the Unix epoch) relates the clocks of two pages.
//
// arguments[0]: the selector of the Join button. Returns nothing; window.__callSetup holds the marks.
(() => {
  const joinSelector = arguments[0];
  if (window.__callSetup) return;
  const marks = {};
  const waiters = [];
  const mark = (name, at) => {
    if (name in marks) return;
    marks[name] = at === undefined ? performance.now() : at;
    for (const waiter of waiters.filter((w) => w.name === name)) waiter.resolve();
  };
  const snapshot = () => ({ timeOrigin: performance.timeOrigin, marks: { ...marks } });
  window.__callSetup = {
    snapshot,
    // Forgets every mark: the next call (a rejoin) takes them again.
    reset() {
      for (const name of Object.keys(marks)) delete marks[name];
    },
    // Resolves with a snapshot once `name` is marked.
    when(name) {
      if (name in marks) return Promise.resolve(snapshot());
      return new Promise((resolve) => waiters.push({ name, resolve })).then(snapshot);
    },
  };

  // t0: the click on Join, when the browser created the event (before any of the page's handlers ran).
  addEventListener('click', (event) => {
    if (event.target instanceof Element && event.target.closest(joinSelector)) mark('join', event.timeStamp);
  }, true);

  // The relay connection and the protocol messages that matter for setting up a call (docs/PROTOCOL.md).
  const read = (text) => { try { return JSON.parse(text); } catch (_) { return null; } };
  const signalKinds = { offer: 'offer', answer: 'answer', candidate: 'candidate' };
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      mark('ws_created');
      this.addEventListener('open', () => mark('ws_open'));
      this.addEventListener('message', (event) => {
        const message = typeof event.data === 'string' ? read(event.data) : null;
        if (!message) return;
        if (message.type === 'joined') mark('joined');
        if (message.type === 'peer_joined') mark('peer_joined');
        const kind = message.type === 'signal' && message.payload && signalKinds[message.payload.kind];
        if (kind) mark(kind + '_received');
      });
    }
    send(data) {
      const message = typeof data === 'string' ? read(data) : null;
      if (message && message.type === 'join') mark('join_sent');
      const kind = message && message.type === 'signal' && message.payload && signalKinds[message.payload.kind];
      if (kind) mark(kind + '_sent');
      return super.send(data);
    }
  };

  // The peer connection. Listeners added here run before the page's own handlers, which it sets after constructing.
  const connections = new Set();
  // A track is remote when one of the connections receives it (its receiver exists from the description that
  // created it, before any `track` event).
  const isRemote = (track) => [...connections].some((pc) => pc.getReceivers().some((r) => r.track === track));
  const NativePeerConnection = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends NativePeerConnection {
    constructor(...args) {
      super(...args);
      mark('pc_created');
      connections.add(this);
      this.addEventListener('iceconnectionstatechange', () => {
        if (this.iceConnectionState === 'connected' || this.iceConnectionState === 'completed') mark('ice_connected');
      });
      this.addEventListener('connectionstatechange', () => {
        if (this.connectionState === 'connected') mark('pc_connected');
      });
      this.addEventListener('track', (event) => mark('track_' + event.track.kind));
      this.addEventListener('negotiationneeded', () => mark('negotiation_needed'));
    }

    // When the page first asks for a description to be applied, and when that is done.
    setLocalDescription(...args) {
      return timed('local_description', super.setLocalDescription(...args));
    }

    setRemoteDescription(...args) {
      return timed('remote_description', super.setRemoteDescription(...args));
    }
  };
  const timed = (name, promise) => {
    mark(name + '_called');
    return promise.then((value) => {
      mark(name + '_set');
      return value;
    });
  };

  // The first remote video frame: whenever a <video> is given a stream holding a remote video track, watch it with
  // requestVideoFrameCallback. presentationTime is when the decoded frame was handed to the compositor; receiveTime
  // (WebRTC sources only) is when the frame's last packet arrived.
  const srcObject = Object.getOwnPropertyDescriptor(HTMLMediaElement.prototype, 'srcObject');
  Object.defineProperty(HTMLMediaElement.prototype, 'srcObject', {
    ...srcObject,
    set(stream) {
      srcObject.set.call(this, stream);
      const remote = stream && stream.getVideoTracks && stream.getVideoTracks().some(isRemote);
      if (!remote || !(this instanceof HTMLVideoElement) || 'first_frame' in marks) return;
      mark('remote_video_attached');
      this.requestVideoFrameCallback((now, frame) => {
        if ('first_frame' in marks) return;
        if (frame.receiveTime !== undefined) mark('frame_received', frame.receiveTime);
        mark('first_frame', frame.presentationTime);
      });
    },
  });
})();
