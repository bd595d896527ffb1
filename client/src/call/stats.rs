//! Live call statistics as plain Rust: what `RTCPeerConnection.getStats()` reports, reduced to a [`Snapshot`];
//! two snapshots turned into a [`Sample`] (rates from counter deltas); the last minute of samples per peer; and the
//! points of the sparklines drawn from them.
//!
//! The browser glue (`rtc::stats`) only copies the fields named by [`fields_for`] out of each stats object into a
//! [`StatsEntry`]; everything else happens here, so it is tested natively.

use std::collections::VecDeque;

use crate::call::decimal::{fixed, trimmed};
use crate::call::quality::{Limitation, LinkReport};

/// How many samples a peer's history keeps: one a second, so the last minute.
pub const HISTORY: usize = 60;

/// One field value of a stats object.
#[derive(Clone, Debug, PartialEq)]
pub enum StatValue {
    /// A number (counters, times, sizes).
    Number(f64),
    /// A string (types, ids, MIME types).
    Text(String),
    /// A boolean (`nominated`, `selected`).
    Flag(bool),
}

/// One stats object of a report (`RTCStats`): its id, its type, and the fields [`fields_for`] asked for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatsEntry {
    /// `id`.
    pub id: String,
    /// `type`, e.g. `inbound-rtp`.
    pub kind: String,
    /// The fields read, with their names (a handful: a list is all it takes).
    pub fields: Vec<(&'static str, StatValue)>,
}

impl StatsEntry {
    /// An entry of type `kind` with id `id` and no fields yet.
    pub fn new(id: &str, kind: &str) -> Self {
        StatsEntry { id: id.to_owned(), kind: kind.to_owned(), fields: Vec::new() }
    }

    /// Adds a field (builder style, for tests and the glue alike).
    pub fn with(mut self, name: &'static str, value: StatValue) -> Self {
        self.set(name, value);
        self
    }

    /// Sets a field, replacing any value it had.
    pub fn set(&mut self, name: &'static str, value: StatValue) {
        match self.fields.iter_mut().find(|(field, _)| *field == name) {
            Some((_, old)) => *old = value,
            None => self.fields.push((name, value)),
        }
    }

    fn field(&self, name: &str) -> Option<&StatValue> {
        self.fields.iter().find(|(field, _)| *field == name).map(|(_, value)| value)
    }

    /// A numeric field; `None` when missing, not a number, or not finite.
    pub fn number(&self, name: &str) -> Option<f64> {
        match self.field(name) {
            Some(StatValue::Number(n)) if n.is_finite() => Some(*n),
            _ => None,
        }
    }

    /// A counter: a numeric field that is a non-negative whole number.
    fn counter(&self, name: &str) -> Option<u64> {
        self.number(name).filter(|n| *n >= 0.0).map(|n| n as u64)
    }

    /// A string field.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.field(name) {
            Some(StatValue::Text(text)) => Some(text),
            _ => None,
        }
    }

    /// A boolean field.
    pub fn flag(&self, name: &str) -> Option<bool> {
        match self.field(name) {
            Some(StatValue::Flag(flag)) => Some(*flag),
            _ => None,
        }
    }
}

/// The fields worth reading from a stats object of type `kind` (none: skip the object). Reading only these keeps a
/// poll to a few hundred property reads however large the report.
pub fn fields_for(kind: &str) -> &'static [&'static str] {
    match kind {
        "inbound-rtp" => &[
            "timestamp",
            "kind",
            "mid",
            "bytesReceived",
            "packetsReceived",
            "packetsLost",
            "framesPerSecond",
            "framesDecoded",
            "frameWidth",
            "frameHeight",
            "codecId",
            "totalFreezesDuration",
        ],
        "outbound-rtp" => {
            &["timestamp", "kind", "mid", "bytesSent", "headerBytesSent", "packetsSent", "qualityLimitationReason"]
        }
        "remote-inbound-rtp" => &["localId", "roundTripTime", "packetsLost", "fractionLost"],
        "candidate-pair" => &[
            "state",
            "nominated",
            "selected",
            "currentRoundTripTime",
            "availableOutgoingBitrate",
            "bytesReceived",
            "localCandidateId",
            "remoteCandidateId",
        ],
        "transport" => &["selectedCandidatePairId"],
        "local-candidate" | "remote-candidate" => &["candidateType", "relayProtocol"],
        "codec" => &["mimeType"],
        _ => &[],
    }
}

/// Audio or video.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaKind {
    /// Sound.
    Audio,
    /// Pictures.
    Video,
}

impl MediaKind {
    fn parse(kind: Option<&str>) -> Option<MediaKind> {
        match kind {
            Some("audio") => Some(MediaKind::Audio),
            Some("video") => Some(MediaKind::Video),
            _ => None,
        }
    }
}

/// One received RTP stream (`inbound-rtp`): cumulative counters, as the browser reports them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Inbound {
    /// The stats id: the same stream keeps it from one report to the next.
    pub id: String,
    /// Audio or video, if said.
    pub kind: Option<MediaKind>,
    /// The transceiver's media id: the camera's comes before a shared screen's.
    pub mid: Option<String>,
    /// Payload bytes received.
    pub bytes: Option<u64>,
    /// Packets received.
    pub packets_received: Option<u64>,
    /// Packets lost (may go negative with duplicates; reported as is).
    pub packets_lost: Option<i64>,
    /// Decoded frames per second, as the browser measures it.
    pub fps: Option<f64>,
    /// Frames decoded so far (a frame rate when `fps` is missing).
    pub frames_decoded: Option<u64>,
    /// Width and height of the last decoded frame.
    pub resolution: Option<(u32, u32)>,
    /// The codec's MIME type, e.g. `video/VP8`.
    pub codec: Option<String>,
    /// Video: how long it was frozen so far, in seconds.
    pub frozen_seconds: Option<f64>,
}

/// One sent RTP stream (`outbound-rtp`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outbound {
    /// The stats id.
    pub id: String,
    /// Audio or video, if said.
    pub kind: Option<MediaKind>,
    /// The transceiver's media id: the camera's comes before a shared screen's.
    pub mid: Option<String>,
    /// Payload bytes sent.
    pub bytes: Option<u64>,
    /// RTP header bytes sent (with them, what the packets took of the uplink).
    pub header_bytes: Option<u64>,
    /// Packets sent.
    pub packets: Option<u64>,
    /// Of those, how many the peer counted lost by its last report (`remote-inbound-rtp`'s `packetsLost`).
    pub lost_by_peer: Option<i64>,
    /// The share the peer found lost since its report before (`fractionLost`, 0–1).
    pub fraction_lost_by_peer: Option<f64>,
    /// Video: what holds the encoder back, if anything.
    pub limited_by: Option<Limitation>,
}

/// The kind of an ICE candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CandidateType {
    /// The device's own address.
    Host,
    /// Learned from the peer's checks (a NAT seen from their side).
    Prflx,
    /// The public address a STUN server saw.
    Srflx,
    /// A TURN server's relay address.
    Relay,
}

impl CandidateType {
    /// From `candidateType`.
    pub fn parse(name: &str) -> Option<CandidateType> {
        match name {
            "host" => Some(CandidateType::Host),
            "prflx" => Some(CandidateType::Prflx),
            "srflx" => Some(CandidateType::Srflx),
            "relay" => Some(CandidateType::Relay),
            _ => None,
        }
    }

    /// The browser's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            CandidateType::Host => "host",
            CandidateType::Prflx => "prflx",
            CandidateType::Srflx => "srflx",
            CandidateType::Relay => "relay",
        }
    }
}

/// How media travels between the two browsers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaPath {
    /// Straight from one to the other; the type is the more roundabout of the two ends (srflx: through a NAT).
    Direct(CandidateType),
    /// Through a TURN server, and how we reach it (`udp`, `tcp`, `tls`) if known.
    Relayed(Option<String>),
}

impl MediaPath {
    /// Classifies the selected candidate pair by its two ends' types.
    pub fn classify(local: CandidateType, remote: CandidateType, relay_protocol: Option<&str>) -> MediaPath {
        if local == CandidateType::Relay || remote == CandidateType::Relay {
            MediaPath::Relayed(relay_protocol.map(str::to_ascii_lowercase))
        } else {
            MediaPath::Direct(local.max(remote))
        }
    }

    /// What the panel says, e.g. "Direct (host)" or "Relayed (TURN)".
    pub fn label(&self) -> String {
        match self {
            MediaPath::Direct(kind) => format!("Direct ({})", kind.as_str()),
            MediaPath::Relayed(Some(protocol)) if protocol != "udp" => {
                format!("Relayed (TURN over {})", protocol.to_ascii_uppercase())
            }
            MediaPath::Relayed(_) => "Relayed (TURN)".to_owned(),
        }
    }

    /// Whether media goes through a relay.
    pub fn is_relayed(&self) -> bool {
        matches!(self, MediaPath::Relayed(_))
    }
}

/// One `getStats()` report, reduced to what the panel shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// When it was taken, in milliseconds (the report's own timestamps when present).
    pub at_ms: f64,
    /// Received streams.
    pub inbound: Vec<Inbound>,
    /// Sent streams.
    pub outbound: Vec<Outbound>,
    /// Round-trip time of the selected candidate pair, else of the RTP streams, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// The media path, once a candidate pair is selected.
    pub path: Option<MediaPath>,
    /// The selected candidate pair's `availableOutgoingBitrate` (Chrome's estimate), bits per second.
    pub available_out_bps: Option<f64>,
    /// Everything received on the selected candidate pair so far (media, RTCP, data), bytes.
    pub received_bytes: Option<u64>,
}

impl Snapshot {
    /// Reads a report's entries; `now_ms` stands in for the time when no entry carries a timestamp.
    pub fn from_entries(entries: &[StatsEntry], now_ms: f64) -> Snapshot {
        let by_id = |id: &str| entries.iter().find(|entry| entry.id == id);
        let of_kind = |kind: &'static str| entries.iter().filter(move |entry| entry.kind == kind);
        let at_ms = entries
            .iter()
            .filter_map(|entry| entry.number("timestamp"))
            .fold(None, |max: Option<f64>, t| Some(max.map_or(t, |max| max.max(t))));
        let inbound = of_kind("inbound-rtp")
            .map(|entry| Inbound {
                id: entry.id.clone(),
                kind: MediaKind::parse(entry.text("kind")),
                mid: entry.text("mid").map(str::to_owned),
                bytes: entry.counter("bytesReceived"),
                packets_received: entry.counter("packetsReceived"),
                packets_lost: entry.number("packetsLost").map(|n| n as i64),
                fps: entry.number("framesPerSecond").filter(|fps| *fps >= 0.0),
                frames_decoded: entry.counter("framesDecoded"),
                resolution: resolution(entry),
                codec: entry
                    .text("codecId")
                    .and_then(by_id)
                    .and_then(|codec| codec.text("mimeType"))
                    .map(str::to_owned),
                frozen_seconds: entry.number("totalFreezesDuration").filter(|s| *s >= 0.0),
            })
            .collect();
        let outbound = of_kind("outbound-rtp")
            .map(|entry| {
                let peer_view = of_kind("remote-inbound-rtp").find(|remote| remote.text("localId") == Some(&entry.id));
                Outbound {
                    id: entry.id.clone(),
                    kind: MediaKind::parse(entry.text("kind")),
                    mid: entry.text("mid").map(str::to_owned),
                    bytes: entry.counter("bytesSent"),
                    header_bytes: entry.counter("headerBytesSent"),
                    packets: entry.counter("packetsSent"),
                    lost_by_peer: peer_view.and_then(|remote| remote.number("packetsLost")).map(|n| n as i64),
                    fraction_lost_by_peer: peer_view
                        .and_then(|remote| remote.number("fractionLost"))
                        .filter(|fraction| (0.0..=1.0).contains(fraction)),
                    limited_by: entry.text("qualityLimitationReason").and_then(Limitation::parse),
                }
            })
            .collect();
        let pair = selected_pair(entries);
        let pair_rtt = pair.and_then(|pair| pair.number("currentRoundTripTime"));
        let rtp_rtt = of_kind("remote-inbound-rtp").filter_map(|entry| entry.number("roundTripTime")).reduce(f64::max);
        let path = pair.and_then(|pair| {
            let end = |field: &str| pair.text(field).and_then(by_id);
            let (local, remote) = (end("localCandidateId")?, end("remoteCandidateId")?);
            let kind = |candidate: &StatsEntry| candidate.text("candidateType").and_then(CandidateType::parse);
            Some(MediaPath::classify(kind(local)?, kind(remote)?, local.text("relayProtocol")))
        });
        Snapshot {
            at_ms: at_ms.unwrap_or(now_ms),
            inbound,
            outbound,
            rtt_ms: pair_rtt.or(rtp_rtt).filter(|rtt| *rtt >= 0.0).map(|seconds| seconds * 1000.0),
            path,
            available_out_bps: pair.and_then(|pair| pair.number("availableOutgoingBitrate")).filter(|b| *b >= 0.0),
            received_bytes: pair.and_then(|pair| pair.counter("bytesReceived")),
        }
    }

    /// The sent video stream of the camera (lowest media id), as [`Snapshot::main_video`] is for received ones.
    pub fn camera_out(&self) -> Option<&Outbound> {
        let mid =
            |stream: &&Outbound| stream.mid.as_deref().and_then(|mid| mid.parse::<u32>().ok()).unwrap_or(u32::MAX);
        self.outbound.iter().filter(|stream| stream.kind == Some(MediaKind::Video)).min_by_key(mid)
    }

    /// The received video stream the panel describes: the camera's (lowest media id) when a screen arrives too.
    pub fn main_video(&self) -> Option<&Inbound> {
        let mid = |stream: &&Inbound| stream.mid.as_deref().and_then(|mid| mid.parse::<u32>().ok()).unwrap_or(u32::MAX);
        self.inbound.iter().filter(|stream| stream.kind == Some(MediaKind::Video)).min_by_key(mid)
    }
}

/// A stats object's `frameWidth` and `frameHeight`, when both are known.
fn resolution(entry: &StatsEntry) -> Option<(u32, u32)> {
    entry
        .counter("frameWidth")
        .zip(entry.counter("frameHeight"))
        .filter(|(w, h)| *w > 0 && *h > 0)
        .map(|(w, h)| (w as u32, h as u32))
}

/// The candidate pair in use: the transport's selected one (Chrome), one marked `selected` (Firefox), else a
/// nominated pair that succeeded.
fn selected_pair(entries: &[StatsEntry]) -> Option<&StatsEntry> {
    let pairs = || entries.iter().filter(|entry| entry.kind == "candidate-pair");
    entries
        .iter()
        .filter(|entry| entry.kind == "transport")
        .filter_map(|transport| transport.text("selectedCandidatePairId"))
        .find_map(|id| entries.iter().find(|entry| entry.id == id))
        .or_else(|| pairs().find(|pair| pair.flag("selected") == Some(true)))
        .or_else(|| {
            pairs().find(|pair| pair.flag("nominated") == Some(true) && pair.text("state") == Some("succeeded"))
        })
}

/// What the panel shows for one second of a call with one peer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sample {
    /// Received media, kbit/s (none for the first snapshot).
    pub bitrate_in_kbps: Option<f64>,
    /// Sent media, kbit/s.
    pub bitrate_out_kbps: Option<f64>,
    /// Round-trip time, ms.
    pub rtt_ms: Option<f64>,
    /// Share of received packets lost in the interval, percent.
    pub loss_percent: Option<f64>,
    /// Frames per second of the received video.
    pub fps: Option<f64>,
    /// Width and height of the received video.
    pub resolution: Option<(u32, u32)>,
    /// The codecs received, video first, e.g. "VP8, opus".
    pub codec: Option<String>,
    /// Direct or relayed.
    pub path: Option<MediaPath>,
}

/// How much a counter grew from `before` to `now`. A stream new since `before`, or whose counter went backwards
/// (restarted), counts from zero.
fn growth(before: Option<u64>, now: u64) -> u64 {
    match before {
        Some(before) if now >= before => now - before,
        _ => now,
    }
}

impl Sample {
    /// The sample for `now`, with rates over the time since `before` (none without one, or if time did not pass).
    pub fn between(before: Option<&Snapshot>, now: &Snapshot) -> Sample {
        let seconds = before.map(|before| (now.at_ms - before.at_ms) / 1000.0).filter(|s| *s > 0.0);
        let before = before.filter(|_| seconds.is_some());
        let inbound_then = |id: &str| before.and_then(|b| b.inbound.iter().find(|stream| stream.id == id));
        let outbound_then = |id: &str| before.and_then(|b| b.outbound.iter().find(|stream| stream.id == id));
        let kbps = |bytes: u64| seconds.map(|s| bytes as f64 * 8.0 / 1000.0 / s);

        let bytes_in: u64 = now
            .inbound
            .iter()
            .filter_map(|stream| Some(growth(inbound_then(&stream.id).and_then(|then| then.bytes), stream.bytes?)))
            .sum();
        let bytes_out: u64 = now
            .outbound
            .iter()
            .filter_map(|stream| Some(growth(outbound_then(&stream.id).and_then(|then| then.bytes), stream.bytes?)))
            .sum();

        let loss_percent = loss_in_percent(before, now);
        let video = now.main_video();
        let fps = fps_in(before, now, seconds);
        let audio_codec =
            now.inbound.iter().filter(|s| s.kind == Some(MediaKind::Audio)).find_map(|s| s.codec.as_deref());
        let codecs: Vec<&str> = [video.and_then(|video| video.codec.as_deref()), audio_codec]
            .into_iter()
            .flatten()
            .map(|mime| mime.split_once('/').map_or(mime, |(_, name)| name))
            .collect();

        Sample {
            bitrate_in_kbps: kbps(bytes_in),
            bitrate_out_kbps: kbps(bytes_out),
            rtt_ms: now.rtt_ms,
            loss_percent,
            fps,
            resolution: video.and_then(|video| video.resolution),
            codec: (!codecs.is_empty()).then(|| codecs.join(", ")),
            path: now.path.clone(),
        }
    }
}

/// Of the packets sent to us from `before` to `now`, the share lost, in percent (`None` without an interval).
fn loss_in_percent(before: Option<&Snapshot>, now: &Snapshot) -> Option<f64> {
    let before = before?;
    let (mut received, mut lost) = (0u64, 0i64);
    for stream in &now.inbound {
        let then = before.inbound.iter().find(|then| then.id == stream.id);
        let Some(packets) = stream.packets_received else { continue };
        let restarted = then.and_then(|t| t.packets_received).is_some_and(|before| packets < before);
        received += growth(then.and_then(|t| t.packets_received), packets);
        let lost_then = if restarted { None } else { then.and_then(|t| t.packets_lost) };
        lost += stream.packets_lost.unwrap_or(0) - lost_then.unwrap_or(0);
    }
    // Duplicates can make the lost count shrink; that is no loss.
    let lost = lost.max(0) as u64;
    (received + lost > 0).then(|| lost as f64 * 100.0 / (received + lost) as f64)
}

/// Of the packets we sent from `before` to `now`, the share the peer reported lost, in percent (`None` without an
/// interval, or before the peer reported).
///
/// Video from the counts, not from the peer's `fractionLost`: that is the share lost since its report before, and a
/// receiver asking for retransmissions reports with each request, many times a second, over a handful of packets
/// each (1 lost of 3 reads 33 % on a path losing 3 %). Audio, reported every few seconds, the other way round: its
/// count moves in lumps, but its `fractionLost` is over seconds of packets. Each stream weighs by the packets it sent
/// in the interval.
fn loss_out_percent(before: Option<&Snapshot>, now: &Snapshot) -> Option<f64> {
    let before = before?;
    let (mut sent, mut lost) = (0.0, 0.0);
    for stream in &now.outbound {
        let Some(then) = before.outbound.iter().find(|then| then.id == stream.id) else { continue };
        let (Some(packets), Some(packets_then)) = (stream.packets, then.packets) else { continue };
        // A restarted stream: nothing to compare with.
        let Some(packets) = packets.checked_sub(packets_then) else { continue };
        let lost_here = if stream.kind == Some(MediaKind::Audio) {
            stream.fraction_lost_by_peer.map(|fraction| fraction * packets as f64)
        } else {
            stream.lost_by_peer.zip(then.lost_by_peer).map(|(now, then)| (now - then).max(0) as f64)
        };
        if let Some(lost_here) = lost_here {
            sent += packets as f64;
            lost += lost_here;
        }
    }
    (sent > 0.0).then(|| (lost * 100.0 / sent).min(100.0))
}

/// The received camera's frame rate: the browser's, else from the frames decoded over `seconds` since `before`.
fn fps_in(before: Option<&Snapshot>, now: &Snapshot, seconds: Option<f64>) -> Option<f64> {
    let video = now.main_video()?;
    video.fps.or_else(|| {
        let then = before?.inbound.iter().find(|then| then.id == video.id)?.frames_decoded?;
        let frames = video.frames_decoded?.checked_sub(then)?;
        Some(frames as f64 / seconds?)
    })
}

/// One interval of one peer connection as the quality indicator and the adaptation read it: `now` against the
/// snapshot a second or so `before` (without one, only what needs no interval).
pub fn link_report(before: Option<&Snapshot>, now: &Snapshot) -> LinkReport {
    let seconds = before.map(|before| (now.at_ms - before.at_ms) / 1000.0).filter(|s| *s > 0.0);
    let before = before.filter(|_| seconds.is_some());
    let video = now.main_video();
    let frozen_fraction = video.and_then(|video| {
        let seconds = seconds?;
        let then = before?.inbound.iter().find(|stream| stream.id == video.id).and_then(|then| then.frozen_seconds);
        let frozen = video.frozen_seconds?;
        // A restarted stream counts from zero.
        let grown = match then {
            Some(then) if frozen >= then => frozen - then,
            _ => frozen,
        };
        Some((grown / seconds).clamp(0.0, 1.0))
    });
    LinkReport {
        loss_in_percent: loss_in_percent(before, now),
        loss_out_percent: loss_out_percent(before, now),
        rtt_ms: now.rtt_ms,
        frozen_fraction,
        fps_in: fps_in(before, now, seconds),
        limited_by: now.camera_out().and_then(|camera| camera.limited_by),
        available_out_bps: now.available_out_bps,
    }
}

/// Whether anything arrived from the peer from `before` to `now`: nothing does in an outage, whose figures (the
/// loss the peer last reported, the estimate falling for want of feedback) say nothing about the link. Yes when it
/// cannot be told (no earlier snapshot, no figure, another candidate pair).
pub fn heard_from(before: Option<&Snapshot>, now: &Snapshot) -> bool {
    before.and_then(|before| before.received_bytes).is_none_or(|then| now.received_bytes != Some(then))
}

/// What we sent on a connection from `before` to `now`, bits per second, RTP headers included (as the bandwidth
/// estimate and the audio reserve count them): everything, and a shared screen's video (the video streams other
/// than the camera's). `None` and zero without an interval.
pub fn sent_rates(before: Option<&Snapshot>, now: &Snapshot) -> (Option<f64>, f64) {
    let seconds = before.map(|before| (now.at_ms - before.at_ms) / 1000.0).filter(|s| *s > 0.0);
    let (Some(before), Some(seconds)) = (before, seconds) else { return (None, 0.0) };
    let camera = now.camera_out().map(|camera| camera.id.as_str());
    let (mut total, mut screen) = (0, 0);
    for stream in &now.outbound {
        let then = before.outbound.iter().find(|then| then.id == stream.id);
        let Some(bytes) = stream.bytes else { continue };
        let headers = stream.header_bytes.map_or(0, |now| growth(then.and_then(|then| then.header_bytes), now));
        let grown = growth(then.and_then(|then| then.bytes), bytes) + headers;
        total += grown;
        if stream.kind == Some(MediaKind::Video) && Some(stream.id.as_str()) != camera {
            screen += grown;
        }
    }
    let bps = |bytes: u64| bytes as f64 * 8.0 / seconds;
    (Some(bps(total)), bps(screen))
}

/// One peer's last minute: the latest snapshot (to diff the next one against) and up to [`HISTORY`] samples.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PeerHistory {
    last: Option<Snapshot>,
    samples: VecDeque<Sample>,
}

impl PeerHistory {
    /// Adds a snapshot: computes its sample and drops the oldest beyond [`HISTORY`].
    pub fn push(&mut self, snapshot: Snapshot) {
        let sample = Sample::between(self.last.as_ref(), &snapshot);
        if self.samples.len() == HISTORY {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
        self.last = Some(snapshot);
    }

    /// The newest sample.
    pub fn latest(&self) -> Option<&Sample> {
        self.samples.back()
    }

    /// The samples, oldest first.
    pub fn samples(&self) -> impl ExactSizeIterator<Item = &Sample> {
        self.samples.iter()
    }

    /// One measure over the history, oldest first (gaps where it was unknown).
    pub fn series(&self, measure: impl Fn(&Sample) -> Option<f64>) -> Vec<Option<f64>> {
        self.samples.iter().map(measure).collect()
    }
}

/// A sparkline's geometry in a `width` x `height` viewBox.
#[derive(Clone, Debug, PartialEq)]
pub struct Sparkline {
    /// The polyline's `points` attribute ("x,y x,y …"); empty when nothing is known yet.
    pub points: String,
    /// The same line closed down to the baseline, for a filled area underneath ("" below two points).
    pub area: String,
    /// How many points it has.
    pub len: usize,
    /// The largest value drawn (the top of the scale is at least this).
    pub max: f64,
}

impl Sparkline {
    /// Places `values` (oldest first, `None` skipped) on a time axis of `slots` seconds whose right edge is now, and
    /// scales them from zero at the bottom to the largest at five sixths of the height (headroom, so a steady line
    /// does not hug the edge). `pad` keeps a stroke that wide inside the box.
    pub fn new(values: &[Option<f64>], slots: usize, width: f64, height: f64, pad: f64) -> Sparkline {
        let slots = slots.max(values.len()).max(2);
        let max = values.iter().flatten().copied().filter(|v| v.is_finite()).fold(0.0, f64::max);
        let step = width / (slots - 1) as f64;
        let first_slot = slots - values.len();
        let span = (height - 2.0 * pad).max(0.0);
        let mut points = Vec::new();
        let mut xs = None;
        for (i, value) in values.iter().enumerate() {
            let Some(value) = value.filter(|v| v.is_finite()) else { continue };
            let x = (first_slot + i) as f64 * step;
            let level = if max > 0.0 { value.max(0.0) / (max * 1.2) } else { 0.0 };
            let y = pad + span * (1.0 - level);
            points.push(format!("{},{}", trimmed(x, 2), trimmed(y, 2)));
            xs = Some((xs.map_or(x, |(first, _)| first), x));
        }
        let len = points.len();
        let points = points.join(" ");
        let area = match xs {
            Some((first, last)) if len >= 2 => {
                let (first, last, height) = (trimmed(first, 2), trimmed(last, 2), trimmed(height, 2));
                format!("{first},{height} {points} {last},{height}")
            }
            _ => String::new(),
        };
        Sparkline { points, area, len, max }
    }
}

/// A bitrate for people: "8.5 kbit/s", "812 kbit/s"; always kbit/s, so rows and readings compare at a glance.
pub fn format_kbps(kbps: f64) -> String {
    if kbps < 10.0 {
        format!("{} kbit/s", fixed(kbps.max(0.0), 1))
    } else {
        format!("{} kbit/s", fixed(kbps, 0))
    }
}

/// A round-trip time: "0.4 ms", "23 ms".
pub fn format_ms(ms: f64) -> String {
    if ms < 10.0 {
        format!("{} ms", fixed(ms, 1))
    } else {
        format!("{} ms", fixed(ms, 0))
    }
}

/// A loss rate: "0 %", "0.4 %", "12 %".
pub fn format_percent(percent: f64) -> String {
    if percent == 0.0 {
        "0 %".to_owned()
    } else if percent < 10.0 {
        format!("{} %", fixed(percent, 1))
    } else {
        format!("{} %", fixed(percent, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(n: f64) -> StatValue {
        StatValue::Number(n)
    }

    fn text(s: &str) -> StatValue {
        StatValue::Text(s.to_owned())
    }

    /// A Chrome-like report at `t` ms with the given cumulative counters.
    fn report(t: f64, bytes_in: f64, packets: f64, lost: f64, bytes_out: f64, frames: f64) -> Vec<StatsEntry> {
        vec![
            StatsEntry::new("IT01V", "inbound-rtp")
                .with("timestamp", num(t))
                .with("kind", text("video"))
                .with("mid", text("1"))
                .with("bytesReceived", num(bytes_in))
                .with("packetsReceived", num(packets))
                .with("packetsLost", num(lost))
                .with("framesDecoded", num(frames))
                .with("frameWidth", num(640.0))
                .with("frameHeight", num(480.0))
                .with("codecId", text("CIT01_96")),
            StatsEntry::new("IT01A", "inbound-rtp")
                .with("timestamp", num(t))
                .with("kind", text("audio"))
                .with("mid", text("0"))
                .with("codecId", text("CIT01_111")),
            StatsEntry::new("OT01V", "outbound-rtp").with("timestamp", num(t)).with("bytesSent", num(bytes_out)),
            StatsEntry::new("CIT01_96", "codec").with("mimeType", text("video/VP8")),
            StatsEntry::new("CIT01_111", "codec").with("mimeType", text("audio/opus")),
            StatsEntry::new("T01", "transport").with("selectedCandidatePairId", text("CP1")),
            StatsEntry::new("CP1", "candidate-pair")
                .with("currentRoundTripTime", num(0.012))
                .with("localCandidateId", text("L1"))
                .with("remoteCandidateId", text("R1")),
            StatsEntry::new("CP2", "candidate-pair")
                .with("currentRoundTripTime", num(0.5))
                .with("localCandidateId", text("L2"))
                .with("remoteCandidateId", text("R1")),
            StatsEntry::new("L1", "local-candidate").with("candidateType", text("host")),
            StatsEntry::new("L2", "local-candidate").with("candidateType", text("relay")),
            StatsEntry::new("R1", "remote-candidate").with("candidateType", text("host")),
        ]
    }

    fn snapshot(t: f64, bytes_in: f64, packets: f64, lost: f64, bytes_out: f64, frames: f64) -> Snapshot {
        Snapshot::from_entries(&report(t, bytes_in, packets, lost, bytes_out, frames), 0.0)
    }

    #[test]
    fn a_report_reads_into_a_snapshot() {
        let snap = snapshot(5_000.0, 1000.0, 10.0, 0.0, 2000.0, 30.0);
        assert_eq!(snap.at_ms, 5_000.0);
        assert_eq!(snap.inbound.len(), 2);
        assert_eq!(snap.outbound.len(), 1);
        assert_eq!(snap.rtt_ms, Some(12.0));
        assert_eq!(snap.path, Some(MediaPath::Direct(CandidateType::Host)));
        let video = snap.main_video().unwrap();
        assert_eq!(video.codec.as_deref(), Some("video/VP8"));
        assert_eq!(video.resolution, Some((640, 480)));
    }

    #[test]
    fn the_first_sample_has_no_rates_but_shows_what_is_known() {
        let sample = Sample::between(None, &snapshot(1_000.0, 5_000.0, 50.0, 1.0, 9_000.0, 30.0));
        assert_eq!(sample.bitrate_in_kbps, None);
        assert_eq!(sample.bitrate_out_kbps, None);
        assert_eq!(sample.loss_percent, None);
        assert_eq!(sample.fps, None);
        assert_eq!(sample.resolution, Some((640, 480)));
        assert_eq!(sample.codec.as_deref(), Some("VP8, opus"));
        assert_eq!(sample.path.as_ref().map(MediaPath::label).as_deref(), Some("Direct (host)"));
        assert_eq!(sample.rtt_ms, Some(12.0));
    }

    #[test]
    fn rates_come_from_deltas_over_the_elapsed_time() {
        let before = snapshot(1_000.0, 10_000.0, 100.0, 2.0, 20_000.0, 30.0);
        // Two seconds later: 50 kB in (200 kbit/s), 100 kB out (400 kbit/s), 95 packets + 5 lost, 60 frames.
        let now = snapshot(3_000.0, 60_000.0, 195.0, 7.0, 120_000.0, 90.0);
        let sample = Sample::between(Some(&before), &now);
        assert_eq!(sample.bitrate_in_kbps, Some(200.0));
        assert_eq!(sample.bitrate_out_kbps, Some(400.0));
        assert_eq!(sample.loss_percent, Some(5.0));
        assert_eq!(sample.fps, Some(30.0));
    }

    #[test]
    fn the_browsers_frame_rate_wins_over_the_derived_one() {
        let mut entries = report(2_000.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        entries[0].set("framesPerSecond", num(24.0));
        let sample = Sample::between(None, &Snapshot::from_entries(&entries, 0.0));
        assert_eq!(sample.fps, Some(24.0));
    }

    #[test]
    fn counters_that_restart_count_from_zero_and_loss_never_goes_negative() {
        let before = snapshot(1_000.0, 80_000.0, 900.0, 40.0, 50_000.0, 300.0);
        // The stream restarted (a renegotiation): counters are small again.
        let now = snapshot(2_000.0, 1_000.0, 10.0, 0.0, 2_000.0, 3.0);
        let sample = Sample::between(Some(&before), &now);
        assert_eq!(sample.bitrate_in_kbps, Some(8.0));
        assert_eq!(sample.bitrate_out_kbps, Some(16.0));
        assert_eq!(sample.loss_percent, Some(0.0));
        // Duplicates make packetsLost shrink without a restart.
        let dupes = snapshot(3_000.0, 2_000.0, 20.0, -3.0, 3_000.0, 6.0);
        assert_eq!(Sample::between(Some(&now), &dupes).loss_percent, Some(0.0));
    }

    #[test]
    fn a_stream_that_appears_between_two_snapshots_counts_whole() {
        let before = Snapshot { at_ms: 0.0, ..Snapshot::default() };
        let now = snapshot(1_000.0, 1_250.0, 10.0, 0.0, 0.0, 0.0);
        assert_eq!(Sample::between(Some(&before), &now).bitrate_in_kbps, Some(10.0));
    }

    #[test]
    fn missing_fields_leave_gaps_instead_of_failing() {
        let entries = vec![
            StatsEntry::new("IT", "inbound-rtp").with("kind", text("video")).with("bytesReceived", text("oops")),
            StatsEntry::new("CP", "candidate-pair").with("nominated", StatValue::Flag(true)),
        ];
        let snap = Snapshot::from_entries(&entries, 7.0);
        assert_eq!(snap.at_ms, 7.0);
        assert_eq!(snap.path, None);
        assert_eq!(snap.rtt_ms, None);
        let sample = Sample::between(Some(&snap), &Snapshot { at_ms: 1_007.0, ..snap.clone() });
        assert_eq!(sample.bitrate_in_kbps, Some(0.0));
        assert_eq!(sample.loss_percent, None);
        assert_eq!(sample.fps, None);
        assert_eq!(sample.resolution, None);
        assert_eq!(sample.codec, None);
        // Time standing still gives no rate rather than a division by zero.
        assert_eq!(Sample::between(Some(&snap), &snap).bitrate_in_kbps, None);
        assert_eq!(Snapshot::from_entries(&[], 3.0), Snapshot { at_ms: 3.0, ..Snapshot::default() });
    }

    #[test]
    fn rtt_falls_back_to_the_rtp_streams() {
        let entries = vec![
            StatsEntry::new("RI1", "remote-inbound-rtp").with("roundTripTime", num(0.03)),
            StatsEntry::new("RI2", "remote-inbound-rtp").with("roundTripTime", num(0.05)),
        ];
        assert_eq!(Snapshot::from_entries(&entries, 0.0).rtt_ms, Some(50.0));
    }

    #[test]
    fn paths_are_direct_unless_an_end_is_a_relay() {
        use CandidateType::*;
        assert_eq!(MediaPath::classify(Host, Host, None).label(), "Direct (host)");
        assert_eq!(MediaPath::classify(Host, Srflx, None).label(), "Direct (srflx)");
        assert_eq!(MediaPath::classify(Prflx, Host, None).label(), "Direct (prflx)");
        assert_eq!(MediaPath::classify(Relay, Host, Some("udp")).label(), "Relayed (TURN)");
        assert_eq!(MediaPath::classify(Host, Relay, None).label(), "Relayed (TURN)");
        assert_eq!(MediaPath::classify(Relay, Srflx, Some("TLS")).label(), "Relayed (TURN over TLS)");
        assert!(MediaPath::classify(Relay, Relay, None).is_relayed());
        assert_eq!(CandidateType::parse("nonsense"), None);
    }

    #[test]
    fn firefox_marks_the_selected_pair_itself() {
        let entries = vec![
            StatsEntry::new("CP", "candidate-pair")
                .with("selected", StatValue::Flag(true))
                .with("localCandidateId", text("L"))
                .with("remoteCandidateId", text("R")),
            StatsEntry::new("L", "local-candidate")
                .with("candidateType", text("relay"))
                .with("relayProtocol", text("tcp")),
            StatsEntry::new("R", "remote-candidate").with("candidateType", text("srflx")),
        ];
        let path = Snapshot::from_entries(&entries, 0.0).path.unwrap();
        assert_eq!(path.label(), "Relayed (TURN over TCP)");
    }

    #[test]
    fn the_camera_is_the_main_video_when_a_screen_arrives_too() {
        let mut entries = report(1_000.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        entries.push(
            StatsEntry::new("IT02V", "inbound-rtp")
                .with("kind", text("video"))
                .with("mid", text("3"))
                .with("frameWidth", num(1920.0))
                .with("frameHeight", num(1080.0)),
        );
        entries.swap(0, 11);
        let snap = Snapshot::from_entries(&entries, 0.0);
        assert_eq!(snap.main_video().unwrap().resolution, Some((640, 480)));
    }

    /// A report with what the network monitor reads: freezes of the received camera, the sender's limitation and the
    /// bandwidth estimate.
    fn monitored(t: f64, frozen: f64, packets: f64, lost: f64) -> Snapshot {
        let mut entries = report(t, 0.0, packets, lost, 0.0, 0.0);
        entries[0].set("totalFreezesDuration", num(frozen));
        entries[0].set("framesPerSecond", num(12.0));
        entries.push(
            StatsEntry::new("OT02V", "outbound-rtp")
                .with("kind", text("video"))
                .with("mid", text("2"))
                .with("qualityLimitationReason", text("none")),
        );
        entries.push(
            StatsEntry::new("OT01C", "outbound-rtp")
                .with("kind", text("video"))
                .with("mid", text("1"))
                .with("qualityLimitationReason", text("bandwidth")),
        );
        entries[6].set("availableOutgoingBitrate", num(300_000.0));
        Snapshot::from_entries(&entries, 0.0)
    }

    #[test]
    fn a_link_report_reads_one_interval_of_the_connection() {
        let first = monitored(1_000.0, 0.5, 100.0, 0.0);
        let alone = link_report(None, &first);
        // What needs no interval is there from the first snapshot on.
        assert_eq!(alone.rtt_ms, Some(12.0));
        assert_eq!(alone.available_out_bps, Some(300_000.0));
        assert_eq!(alone.limited_by, Some(Limitation::Bandwidth), "the camera's sender, not the screen's");
        assert_eq!((alone.loss_in_percent, alone.loss_out_percent, alone.frozen_fraction), (None, None, None));
        assert_eq!(first.camera_out().unwrap().id, "OT01C");

        // Two seconds later: half a second more frozen, 190 packets arrived and 10 were lost.
        let next = monitored(3_000.0, 1.0, 290.0, 10.0);
        let report = link_report(Some(&first), &next);
        assert_eq!(report.frozen_fraction, Some(0.25));
        assert_eq!(report.loss_in_percent, Some(5.0));
        assert_eq!(report.fps_in, Some(12.0));
    }

    #[test]
    fn a_link_report_survives_restarted_streams_and_missing_fields() {
        let before = monitored(1_000.0, 9.0, 100.0, 0.0);
        // The camera's stream restarted: its freezes count from zero again.
        let after = monitored(2_000.0, 0.4, 10.0, 0.0);
        assert_eq!(link_report(Some(&before), &after).frozen_fraction, Some(0.4));
        let bare =
            Snapshot::from_entries(&[StatsEntry::new("RI", "remote-inbound-rtp").with("packetsLost", num(7.0))], 5.0);
        assert_eq!(link_report(Some(&bare), &bare), LinkReport::default());
    }

    /// What we sent by `t` (ms), and what the peer's last reports said of it: the camera's packets sent, lost by the
    /// peer's count and its `fractionLost`; the microphone's packets sent and its `fractionLost`.
    fn sent(t: f64, camera: (f64, f64, f64), audio: (f64, f64)) -> Snapshot {
        let (video_sent, video_lost, video_fraction) = camera;
        let entries = [
            StatsEntry::new("OV", "outbound-rtp")
                .with("timestamp", num(t))
                .with("kind", text("video"))
                .with("packetsSent", num(video_sent)),
            StatsEntry::new("RV", "remote-inbound-rtp")
                .with("localId", text("OV"))
                .with("packetsLost", num(video_lost))
                .with("fractionLost", num(video_fraction)),
            StatsEntry::new("OA", "outbound-rtp").with("kind", text("audio")).with("packetsSent", num(audio.0)),
            StatsEntry::new("RA", "remote-inbound-rtp").with("localId", text("OA")).with("fractionLost", num(audio.1)),
        ];
        Snapshot::from_entries(&entries, 0.0)
    }

    #[test]
    fn our_loss_is_counted_over_the_second_not_read_from_the_peers_last_report() {
        // A second on a path that loses 3 %: of 150 video packets, 4 and a half lost, and the peer, asking for them
        // again, reported after a handful of packets each time, the last of them with 1 lost of 3. Its audio
        // report, from seconds ago, says 2 %; 50 audio packets went out in the second.
        let before = sent(1_000.0, (1_000.0, 30.0, 0.0), (400.0, 0.02));
        let after = sent(2_000.0, (1_150.0, 35.0, 0.33), (450.0, 0.02));
        let loss = link_report(Some(&before), &after).loss_out_percent.unwrap();
        assert!((loss - 100.0 * (5.0 + 1.0) / 200.0).abs() < 1e-9, "{loss}");
        // Nothing to compare with: no figure.
        assert_eq!(link_report(None, &after).loss_out_percent, None);
        // Video paused: audio alone, by its report.
        let paused = sent(2_000.0, (1_000.0, 30.0, 0.9), (450.0, 0.06));
        assert_eq!(link_report(Some(&before), &paused).loss_out_percent, Some(6.0));
        // A restarted stream, a count that went back (duplicates): no loss made up.
        let restarted = sent(2_000.0, (10.0, 0.0, 0.0), (450.0, 0.0));
        assert_eq!(link_report(Some(&before), &restarted).loss_out_percent, Some(0.0));
        let recounted = sent(2_000.0, (1_150.0, 20.0, 0.0), (450.0, 0.0));
        assert_eq!(link_report(Some(&before), &recounted).loss_out_percent, Some(0.0));
        // An impossible fraction is no figure.
        let odd = sent(2_000.0, (1_000.0, 30.0, 0.0), (450.0, 7.0));
        assert_eq!(link_report(Some(&before), &odd).loss_out_percent, None);
    }

    #[test]
    fn what_we_send_is_told_apart_from_what_the_screen_sends() {
        let mut before = monitored(1_000.0, 0.0, 0.0, 0.0);
        let mut after = monitored(2_000.0, 0.0, 0.0, 0.0);
        assert_eq!(sent_rates(None, &after), (None, 0.0));
        // The audio/video stream of `report` sent 2 kB, the camera 10 kB and the screen 50 kB in the second.
        for (snap, scale) in [(&mut before, 0.0), (&mut after, 1.0)] {
            snap.outbound[0].bytes = Some(1_000 + (2_000.0 * scale) as u64);
            snap.outbound[1].bytes = Some(1_000 + (50_000.0 * scale) as u64);
            snap.outbound[2].bytes = Some(1_000 + (10_000.0 * scale) as u64);
        }
        assert_eq!(sent_rates(Some(&before), &after), (Some(496_000.0), 400_000.0));
    }

    #[test]
    fn what_we_send_counts_the_packets_headers() {
        assert!(fields_for("outbound-rtp").contains(&"headerBytesSent"));
        let at = |t: f64, payload: f64, headers: f64| {
            let stream = StatsEntry::new("OA", "outbound-rtp")
                .with("timestamp", num(t))
                .with("kind", text("audio"))
                .with("bytesSent", num(payload))
                .with("headerBytesSent", num(headers));
            Snapshot::from_entries(&[stream], 0.0)
        };
        // Opus speech: 4 kB of payload and 2.5 kB of headers in a second.
        let (before, after) = (at(1_000.0, 1_000.0, 500.0), at(2_000.0, 5_000.0, 3_000.0));
        assert_eq!(sent_rates(Some(&before), &after), (Some(52_000.0), 0.0));
    }

    #[test]
    fn an_outage_is_a_second_in_which_nothing_arrived() {
        assert!(fields_for("candidate-pair").contains(&"bytesReceived"));
        let at = |t: f64, received: Option<f64>| {
            let mut entries = report(t, 0.0, 0.0, 0.0, 0.0, 0.0);
            if let Some(bytes) = received {
                entries[6].set("bytesReceived", num(bytes));
            }
            Snapshot::from_entries(&entries, 0.0)
        };
        let first = at(1_000.0, Some(5_000.0));
        assert!(heard_from(None, &first));
        assert!(heard_from(Some(&first), &at(2_000.0, Some(9_000.0))));
        assert!(!heard_from(Some(&first), &at(2_000.0, Some(5_000.0))), "nothing arrived");
        assert!(heard_from(Some(&at(1_000.0, None)), &at(2_000.0, None)), "no figure says nothing");
    }

    #[test]
    fn history_keeps_the_last_minute() {
        let mut history = PeerHistory::default();
        assert!(history.latest().is_none());
        for second in 0..(HISTORY as u64 + 15) {
            let t = second as f64 * 1000.0;
            history.push(snapshot(t, second as f64 * 1000.0, 0.0, 0.0, 0.0, 0.0));
        }
        assert_eq!(history.samples().len(), HISTORY);
        assert_eq!(history.latest().unwrap().bitrate_in_kbps, Some(8.0));
        let series = history.series(|sample| sample.bitrate_in_kbps);
        assert_eq!(series.len(), HISTORY);
        assert!(series.iter().all(|v| *v == Some(8.0)), "the first sample (no rate) has been dropped");
    }

    #[test]
    fn sparklines_end_at_the_right_edge_and_scale_to_the_largest_value_with_headroom() {
        let line = Sparkline::new(&[Some(0.0), None, Some(50.0), Some(100.0)], 5, 100.0, 20.0, 0.0);
        // Five slots 25 apart; four values fill the last four; the gap is skipped.
        assert_eq!(line.points, "25,20 75,11.67 100,3.33");
        assert_eq!(line.area, "25,20 25,20 75,11.67 100,3.33 100,20");
        assert_eq!(line.len, 3);
        assert_eq!(line.max, 100.0);
        let padded = Sparkline::new(&[Some(1.0), Some(1.0)], 2, 10.0, 10.0, 1.0);
        assert_eq!(padded.points, "0,2.33 10,2.33");
    }

    #[test]
    fn flat_empty_and_odd_sparklines_stay_in_the_box() {
        let zero = Sparkline::new(&[Some(0.0), Some(0.0)], 60, 120.0, 24.0, 0.0);
        assert!(zero.points.ends_with("120,24"));
        let empty = Sparkline::new(&[], 60, 120.0, 24.0, 0.0);
        assert_eq!((empty.points.as_str(), empty.area.as_str(), empty.len), ("", "", 0));
        assert_eq!(Sparkline::new(&[Some(3.0)], 60, 120.0, 24.0, 0.0).area, "");
        let odd = Sparkline::new(&[Some(f64::NAN), Some(-5.0), Some(10.0)], 0, 10.0, 10.0, 0.0);
        assert_eq!(odd.points, "5,10 10,1.67");
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(format_kbps(0.0), "0.0 kbit/s");
        assert_eq!(format_kbps(8.54), "8.5 kbit/s");
        assert_eq!(format_kbps(812.4), "812 kbit/s");
        assert_eq!(format_ms(0.42), "0.4 ms");
        assert_eq!(format_ms(23.4), "23 ms");
        assert_eq!(format_percent(0.0), "0 %");
        assert_eq!(format_percent(0.44), "0.4 %");
        assert_eq!(format_percent(12.2), "12 %");
    }
}
