// The e2e tests' hostile peer: a page that speaks Huddle's relay protocol (docs/PROTOCOL.md) and the peers' data
// channel protocol with code of its own, to do to the people in a room what any code could, not what the SPA would.
// Driven from Rust (e2e/src/hostile.rs) through `window.hostile`; everything it saw is kept for the tests to read.
'use strict';

(() => {
  const encoder = new TextEncoder();
  // Peer id -> what this page knows of that person's connection.
  const peers = new Map();
  // Transfer id -> the bytes to send if the other side accepts that offer.
  const payloads = new Map();
  const relay = { socket: null, me: null, iceServers: [], policy: 'all', errors: [], joined: null };
  const flood = { lines: 0, sent: 0, done: false, error: null, startedMs: null, doneMs: null };
  const HIGH_WATER = 4 * 1024 * 1024;
  const CHUNK = 64 * 1024;

  const status = (text) => (document.getElementById('status').textContent = text);
  const sendRelay = (message) => relay.socket.send(JSON.stringify(message));

  // Resolves once `channel` has no more than `low` bytes waiting.
  function drained(channel, low = 1024 * 1024) {
    if (channel.bufferedAmount <= low || channel.readyState !== 'open') return Promise.resolve();
    return new Promise((resolve) => {
      channel.bufferedAmountLowThreshold = low;
      const done = () => {
        channel.removeEventListener('bufferedamountlow', done);
        channel.removeEventListener('close', done);
        resolve();
      };
      channel.addEventListener('bufferedamountlow', done);
      channel.addEventListener('close', done);
    });
  }

  function peerOf(id) {
    const peer = peers.get(id);
    if (!peer) throw new Error(`no connection with ${id}`);
    return peer;
  }

  // A connection to `id` shaped like the SPA's: three send-receive transceivers (microphone, camera, screen), no
  // tracks, and the pre-negotiated `huddle` channel.
  function connection(id, name, offering) {
    const pc = new RTCPeerConnection({ iceServers: relay.iceServers, iceTransportPolicy: relay.policy });
    const peer = {
      id, name, pc, received: [], accepts: [], cancels: [], files: new Map(), incoming: [],
      candidates: [], remoteSet: false, spam: { channels: [], error: null },
    };
    peers.set(id, peer);
    if (offering) {
      pc.addTransceiver('audio', { direction: 'sendrecv' });
      pc.addTransceiver('video', { direction: 'sendrecv' });
      pc.addTransceiver('video', { direction: 'sendrecv' });
    }
    peer.channel = pc.createDataChannel('huddle', { negotiated: true, id: 0 });
    peer.channel.binaryType = 'arraybuffer';
    peer.channel.addEventListener('message', (event) => onPeerMessage(peer, event.data));
    pc.addEventListener('icecandidate', ({ candidate }) => {
      const payload = candidate
        ? {
          kind: 'candidate',
          candidate: candidate.candidate,
          sdp_mid: candidate.sdpMid,
          sdp_m_line_index: candidate.sdpMLineIndex,
          username_fragment: candidate.usernameFragment,
        }
        : { kind: 'end_of_candidates' };
      sendRelay({ type: 'signal', to: id, payload });
    });
    // The SPA opens no channel of its own towards a sender; whatever comes is recorded.
    pc.addEventListener('datachannel', ({ channel }) => peer.incoming.push(channel.label));
    return peer;
  }

  function onPeerMessage(peer, data) {
    if (typeof data !== 'string') {
      peer.received.push({ type: '(binary)' });
      return;
    }
    let message;
    try {
      message = JSON.parse(data);
    } catch (_) {
      peer.received.push({ type: '(not JSON)' });
      return;
    }
    peer.received.push(message);
    if (message.type === 'file_accept') {
      peer.accepts.push(message.id);
      if (payloads.has(message.id)) sendFile(peer, message.id).catch((error) => console.error('hostile:', error));
    } else if (message.type === 'file_cancel') {
      peer.cancels.push(message.id);
    }
  }

  // What a sender does once an offer is accepted: the bytes on `file:<id>`, then `file_end` with their hash.
  async function sendFile(peer, id) {
    const bytes = payloads.get(id);
    const file = openFileChannel(peer, id);
    await file.opened;
    if (bytes.tiny) return sendTiny(file, bytes.tiny);
    for (let at = 0; at < bytes.length && file.channel.readyState === 'open'; at += CHUNK) {
      file.channel.send(bytes.subarray(at, at + CHUNK));
      file.info.sentBytes += Math.min(CHUNK, bytes.length - at);
      await drained(file.channel);
    }
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    const sha256 = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
    if (file.channel.readyState === 'open') {
      file.channel.send(JSON.stringify({ type: 'file_end', id, sha256 }));
      file.info.ended = true;
    }
  }

  // Not a file at all: `count` binary messages of `bytes` bytes each (0: empty), as fast as the channel takes them,
  // for as long as it stays open; no `file_end`. Yields to the event loop now and then, so that a close is seen.
  async function sendTiny(file, { count, bytes }) {
    const chunk = new Uint8Array(bytes).fill(5);
    for (let n = 0; n < count && file.channel.readyState === 'open'; n++) {
      try {
        file.channel.send(chunk);
      } catch (_) {
        break;
      }
      file.info.messages += 1;
      file.info.sentBytes += bytes;
      if (n % 256 === 255) {
        if (file.channel.bufferedAmount > HIGH_WATER) await drained(file.channel);
        else await new Promise((resolve) => setTimeout(resolve, 0));
      }
    }
    file.info.tinyDone = true;
  }

  function openFileChannel(peer, id) {
    const channel = peer.pc.createDataChannel(`file:${id}`);
    channel.binaryType = 'arraybuffer';
    const info = { opened: false, closed: false, sentBytes: 0, messages: 0, tinyDone: false, ended: false, received: 0 };
    peer.files.set(id, info);
    channel.addEventListener('close', () => (info.closed = true));
    channel.addEventListener('message', () => (info.received += 1));
    const opened = new Promise((resolve) => channel.addEventListener('open', () => {
      info.opened = true;
      resolve();
    }));
    return { channel, info, opened };
  }

  async function handleRelay(message) {
    switch (message.type) {
      case 'joined':
        relay.me = message.peer_id;
        relay.iceServers = message.ice_servers || [];
        relay.policy = message.ice_transport_policy || 'all';
        relay.joined?.resolve(message.peer_id);
        status(`joined as ${message.peer_id}`);
        // The newcomer offers to everyone already there, as the SPA expects.
        for (const { id, name } of message.peers) {
          const peer = connection(id, name, true);
          await peer.pc.setLocalDescription(await peer.pc.createOffer());
          sendRelay({ type: 'signal', to: id, payload: { kind: 'offer', sdp: peer.pc.localDescription.sdp } });
        }
        break;
      case 'peer_joined':
        // They offer to us.
        break;
      case 'signal':
        await onSignal(message.from, message.payload);
        break;
      case 'peer_left':
        peers.get(message.peer_id)?.pc.close();
        peers.delete(message.peer_id);
        break;
      case 'error':
        relay.errors.push(message.code);
        relay.joined?.reject(new Error(`${message.code}: ${message.message}`));
        break;
      default:
        break;
    }
  }

  async function onSignal(from, payload) {
    if (payload.kind === 'offer') {
      const peer = peers.get(from) || connection(from, '', false);
      await peer.pc.setRemoteDescription({ type: 'offer', sdp: payload.sdp });
      await remoteSet(peer);
      await peer.pc.setLocalDescription(await peer.pc.createAnswer());
      sendRelay({ type: 'signal', to: from, payload: { kind: 'answer', sdp: peer.pc.localDescription.sdp } });
      return;
    }
    const peer = peers.get(from);
    if (!peer) return;
    if (payload.kind === 'answer') {
      await peer.pc.setRemoteDescription({ type: 'answer', sdp: payload.sdp });
      await remoteSet(peer);
    } else if (payload.kind === 'candidate') {
      const candidate = {
        candidate: payload.candidate,
        sdpMid: payload.sdp_mid,
        sdpMLineIndex: payload.sdp_m_line_index,
        usernameFragment: payload.username_fragment,
      };
      if (peer.remoteSet) await peer.pc.addIceCandidate(candidate);
      else peer.candidates.push(candidate);
    }
  }

  async function remoteSet(peer) {
    peer.remoteSet = true;
    for (const candidate of peer.candidates.splice(0)) await peer.pc.addIceCandidate(candidate);
  }

  // A chat line of exactly `chars` characters, numbered so that no two are alike.
  const floodLine = (n, chars) => {
    const head = `flood line ${n} `;
    return head + 'x'.repeat(Math.max(0, chars - head.length));
  };

  // One message of the kind `spec` describes, made here so that megabytes need not cross WebDriver.
  function frame(spec) {
    switch (spec.kind) {
      case 'text':
        return spec.text;
      case 'chat_of_chars':
        return JSON.stringify({ type: 'chat', text: 'y'.repeat(spec.chars) });
      case 'string_of_bytes':
        return 'z'.repeat(spec.bytes);
      case 'binary':
        return new Uint8Array(spec.bytes).fill(0xa5);
      default:
        throw new Error(`unknown frame kind ${spec.kind}`);
    }
  }

  window.hostile = {
    // Opens the relay connection and joins `room` as `name`; resolves with this page's peer id.
    join(room, name) {
      return new Promise((resolve, reject) => {
        relay.joined = { resolve, reject };
        const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
        relay.socket = new WebSocket(`${scheme}://${location.host}/ws`);
        relay.socket.addEventListener('open', () => sendRelay({ type: 'join', version: 1, room, name }));
        relay.socket.addEventListener('close', () => status('lost the relay'));
        // One message at a time, in order: a candidate must not overtake its offer.
        let queue = Promise.resolve();
        relay.socket.addEventListener('message', (event) => {
          const message = JSON.parse(event.data);
          queue = queue.then(() => handleRelay(message)).catch((error) => console.error('hostile:', error));
        });
      });
    },

    // What this page knows of each person: connection and channel states, what they sent.
    state() {
      const out = {};
      for (const [id, peer] of peers) {
        const files = {};
        for (const [fileId, info] of peer.files) files[fileId] = { ...info };
        out[id] = {
          name: peer.name,
          connection: peer.pc.connectionState,
          channel: peer.channel.readyState,
          buffered: peer.channel.bufferedAmount,
          received: peer.received.length,
          types: peer.received.map((message) => message.type),
          accepts: [...peer.accepts],
          cancels: [...peer.cancels],
          incoming: [...peer.incoming],
          files,
          spam: {
            asked: peer.spam.channels.length,
            connecting: peer.spam.channels.filter((c) => c.readyState === 'connecting').length,
            open: peer.spam.channels.filter((c) => c.readyState === 'open').length,
            closed: peer.spam.channels.filter((c) => c.readyState === 'closing' || c.readyState === 'closed').length,
            error: peer.spam.error,
          },
        };
      }
      return { me: relay.me, errors: [...relay.errors], flood: { ...flood }, peers: out };
    },

    // Sends `lines` chat lines of `chars` characters to `id` as fast as the channel takes them; returns at once,
    // progress is in `state().flood`.
    floodChat(id, lines, chars) {
      const { channel } = peerOf(id);
      Object.assign(flood, { lines, sent: 0, done: false, error: null, startedMs: performance.now(), doneMs: null });
      (async () => {
        for (let n = 0; n < lines; n++) {
          if (channel.readyState !== 'open') throw new Error(`the channel is ${channel.readyState}`);
          channel.send(JSON.stringify({ type: 'chat', text: floodLine(n, chars) }));
          flood.sent = n + 1;
          if (channel.bufferedAmount > HIGH_WATER) await drained(channel);
        }
        await drained(channel, 0);
      })().then(
        () => Object.assign(flood, { done: true, doneMs: performance.now() }),
        (error) => Object.assign(flood, { done: true, doneMs: performance.now(), error: String(error) }),
      );
    },

    // Sends `file_offer`s to `id`. An offer with `payload_bytes` has that many bytes ready, sent on `file:<id>` if
    // the offer is accepted (with `payload_text`, those characters instead; with `payload_tiny` `{count, bytes}`,
    // that many messages of that many bytes, and no end).
    offerFiles(id, offers) {
      const { channel } = peerOf(id);
      for (const offer of offers) {
        if (offer.payload_tiny !== undefined) payloads.set(offer.id, { tiny: offer.payload_tiny });
        else if (offer.payload_text !== undefined) payloads.set(offer.id, encoder.encode(offer.payload_text));
        else if (offer.payload_bytes !== undefined) payloads.set(offer.id, new Uint8Array(offer.payload_bytes).fill(7));
        channel.send(JSON.stringify({
          type: 'file_offer', id: offer.id, name: offer.name, size: offer.size, mime: offer.mime,
        }));
      }
    },

    // Opens `file:<id>` channels nobody accepted and pushes `bytes` bytes on each; progress in `state()...files`.
    openUnacceptedChannels(id, ids, bytes) {
      const peer = peerOf(id);
      for (const fileId of ids) {
        const file = openFileChannel(peer, fileId);
        file.opened.then(async () => {
          for (let at = 0; at < bytes && file.channel.readyState === 'open'; at += CHUNK) {
            file.channel.send(new Uint8Array(Math.min(CHUNK, bytes - at)).fill(9));
            file.info.sentBytes += Math.min(CHUNK, bytes - at);
            await drained(file.channel);
          }
        }).catch((error) => console.error('hostile:', error));
      }
    },

    // Opens `count` data channels to `id` at once, none for a file anyone accepted: labelled `file:c<n>`, the first
    // `longCount` padded to `longLabel` characters. Their states are in `state()...spam`.
    openChannels(id, count, longCount, longLabel) {
      const peer = peerOf(id);
      for (let n = 0; n < count; n++) {
        const head = `file:c${n}`;
        const label = n < longCount ? head + 'x'.repeat(Math.max(0, longLabel - head.length)) : head;
        try {
          peer.spam.channels.push(peer.pc.createDataChannel(label));
        } catch (error) {
          peer.spam.error = `channel ${n}: ${error.name}: ${error.message}`;
          break;
        }
      }
    },

    // Sends `count` copies of `text` repeated `times` times on the `huddle` channel to `id`, all at once (no waiting
    // for the buffer to drain); returns how many `send` took.
    sendBurst(id, text, times, count) {
      const { channel } = peerOf(id);
      const message = text.repeat(times);
      let sent = 0;
      for (; sent < count && channel.readyState === 'open'; sent++) {
        try {
          channel.send(message);
        } catch (_) {
          break;
        }
      }
      return sent;
    },

    // Sends each frame `specs` describes on the `huddle` channel to `id`, one after another (waiting for the
    // channel's buffer to drain between them); resolves with what each `send` did.
    async sendFrames(id, specs) {
      const { channel } = peerOf(id);
      const outcomes = [];
      for (const spec of specs) {
        let data;
        try {
          data = frame(spec);
        } catch (error) {
          outcomes.push({ sent: false, error: String(error) });
          continue;
        }
        const size = typeof data === 'string' ? encoder.encode(data).length : data.byteLength;
        try {
          channel.send(data);
          outcomes.push({ sent: true, bytes: size });
        } catch (error) {
          outcomes.push({ sent: false, bytes: size, error: `${error.name}: ${error.message}` });
        }
        await drained(channel, 0);
      }
      return outcomes;
    },
  };
})();
