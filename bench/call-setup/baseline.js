// The call-setup benchmark's baseline: a minimal hand-written page speaking Huddle's relay protocol
// (docs/PROTOCOL.md), to compare the SPA's time from Join to the first remote video frame against.
//
// It does what any call page must and nothing more: the camera and microphone before Join (as the SPA's lobby does),
// then on Join one WebSocket to the relay on this page's origin, `join`, and for each peer one RTCPeerConnection
// carrying both tracks: the newcomer offers to everyone already there, the others answer, ICE candidates trickle
// both ways. Each peer's video is shown in a <video> of its own (`data-peer-id`), so a call of more than two works as
// a mesh (the network benchmark, e2e/benches/network.rs, uses it with up to four people). No dependencies, no build
// step.
//
// Leave closes the connections and the relay connection and releases the camera and microphone, then gets them again
// as the SPA's Rejoin does (back to the lobby), so that Join can be clicked again: the call-setup benchmark's rejoin
// mode.
//
// Usage: baseline.html?room=<room id>&name=<display name>[&shape=huddle]
//
// With shape=huddle the connection has the SPA's shape instead of the least one: a third, empty video transceiver
// (Huddle's screen share), a pre-negotiated data channel and the max-bundle policy, to tell what that shape costs
// from what the SPA's code costs.
'use strict';

const params = new URLSearchParams(location.search);
const room = params.get('room') || '';
const name = params.get('name') || '';
const huddleShape = params.get('shape') === 'huddle';
const preview = document.getElementById('preview');
const remote = document.getElementById('remote');
const joinButton = document.getElementById('join');
const leaveButton = document.getElementById('leave');
const status = document.getElementById('status');
// Peer id -> RTCPeerConnection, under the name the e2e helpers read.
const peers = new Map();
window.__huddle_pcs = peers;
// Peer id -> the <video> showing that peer.
const videos = new Map();

function videoOf(id) {
  let video = videos.get(id);
  if (!video) {
    video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    video.dataset.peerId = id;
    remote.append(video);
    videos.set(id, video);
  }
  return video;
}

let local = null;
// Ends the call in progress, if any.
let hangUp = null;

function say(state, text) {
  document.body.dataset.state = state;
  status.textContent = text;
}

function lobby() {
  navigator.mediaDevices.getUserMedia({ audio: true, video: true }).then(
    (stream) => {
      local = stream;
      preview.srcObject = stream;
      joinButton.disabled = false;
      say('lobby', 'Ready to join');
    },
    (error) => say('error', `No camera or microphone: ${error.name}`),
  );
}
lobby();

joinButton.addEventListener('click', () => {
  joinButton.disabled = true;
  leaveButton.disabled = false;
  connect();
});

leaveButton.addEventListener('click', () => {
  leaveButton.disabled = true;
  if (hangUp) hangUp();
  hangUp = null;
  for (const track of local.getTracks()) track.stop();
  preview.srcObject = null;
  say('left', 'Left');
  lobby();
});

function connect() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const socket = new WebSocket(`${scheme}://${location.host}/ws`);
  let iceServers = [];
  const send = (message) => socket.send(JSON.stringify(message));

  socket.addEventListener('open', () => send({ type: 'join', version: 1, room, name }));
  let left = false;
  socket.addEventListener('close', () => left || say('error', 'Lost the relay'));
  hangUp = () => {
    left = true;
    socket.close();
    for (const pc of peers.values()) pc.close();
    peers.clear();
    for (const video of videos.values()) video.remove();
    videos.clear();
  };
  // Messages are handled one at a time, in order: a candidate must not overtake the offer it belongs to.
  let queue = Promise.resolve();
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(event.data);
    queue = queue.then(() => handle(message)).catch((error) => console.error('call setup:', error));
  });

  async function handle(message) {
    switch (message.type) {
      case 'joined':
        iceServers = message.ice_servers;
        say('joined', `Joined as ${message.peer_id}`);
        // The newcomer offers to everyone already there.
        for (const peer of message.peers) {
          const pc = connection(peer.id, true);
          await pc.setLocalDescription(await pc.createOffer());
          send({ type: 'signal', to: peer.id, payload: { kind: 'offer', sdp: pc.localDescription.sdp } });
        }
        break;
      case 'signal':
        await onSignal(message.from, message.payload);
        break;
      case 'peer_left': {
        const pc = peers.get(message.peer_id);
        if (pc) pc.close();
        peers.delete(message.peer_id);
        const video = videos.get(message.peer_id);
        if (video) video.remove();
        videos.delete(message.peer_id);
        break;
      }
      case 'error':
        say('error', `${message.code}: ${message.message}`);
        break;
    }
  }

  async function onSignal(from, payload) {
    if (payload.kind === 'offer') {
      const pc = peers.get(from) || connection(from);
      await pc.setRemoteDescription({ type: 'offer', sdp: payload.sdp });
      if (huddleShape) {
        for (const transceiver of pc.getTransceivers()) transceiver.direction = 'sendrecv';
      }
      await pc.setLocalDescription(await pc.createAnswer());
      send({ type: 'signal', to: from, payload: { kind: 'answer', sdp: pc.localDescription.sdp } });
      return;
    }
    const pc = peers.get(from);
    if (!pc) return;
    if (payload.kind === 'answer') {
      await pc.setRemoteDescription({ type: 'answer', sdp: payload.sdp });
    } else if (payload.kind === 'candidate') {
      await pc.addIceCandidate({
        candidate: payload.candidate,
        sdpMid: payload.sdp_mid,
        sdpMLineIndex: payload.sdp_m_line_index,
        usernameFragment: payload.username_fragment,
      });
    }
  }

  // A connection to `id` sending our camera and microphone, showing what it receives.
  function connection(id, offering = false) {
    // The SPA's shape bundles everything on one transport from the start, as the SPA does.
    const pc = new RTCPeerConnection(huddleShape ? { iceServers, bundlePolicy: 'max-bundle' } : { iceServers });
    peers.set(id, pc);
    for (const track of local.getTracks()) pc.addTrack(track, local);
    if (huddleShape) {
      // The answerer gets this transceiver from the offer instead.
      if (offering) pc.addTransceiver('video', { direction: 'sendrecv' });
      pc.createDataChannel('huddle', { negotiated: true, id: 0 });
    }
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
      send({ type: 'signal', to: id, payload });
    });
    pc.addEventListener('track', ({ streams }) => {
      const video = videoOf(id);
      if (streams[0] && video.srcObject !== streams[0]) video.srcObject = streams[0];
    });
    return pc;
  }
}
