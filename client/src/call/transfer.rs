//! File transfers as plain Rust: checking offers, naming files safely, counting and hashing bytes, and the list of
//! transfers the call screen shows. The browser side (channels, blobs) is `crate::rtc::transfer`.

use huddle_common::{FileOffer, PeerId, PeerMessage};
use sha2::{Digest, Sha256};

use crate::call::decimal::fixed;

/// Bytes per data channel message: well under every browser's message size limit. Every chunk of a file is exactly
/// this long except the one that completes it ([`Receipt::add`]).
pub const CHUNK_BYTES: usize = 64 * 1024;
/// Bytes read from the file at a time (then sent as several chunks): fewer round trips to the browser's file reader,
/// and still a constant, small amount of memory whatever the file's size. A whole number of chunks, so that only the
/// file's last chunk is short.
pub const READ_BYTES: u64 = 1024 * 1024;
const _: () = assert!(READ_BYTES % CHUNK_BYTES as u64 == 0);
/// The sender pauses while more than this waits in the channel's buffer...
pub const HIGH_WATER_BYTES: u32 = 8 * 1024 * 1024;
/// ...and resumes once it drains below this (the channel's `bufferedAmountLowThreshold`).
pub const LOW_WATER_BYTES: u32 = 2 * 1024 * 1024;
/// A receiver holds at most this many received chunks as separate buffers before folding them into one `Blob`,
/// which the browser may keep outside the page's heap.
pub const FOLD_BYTES: u64 = 16 * 1024 * 1024;
/// ...or once it holds this many, whatever their size: a second bound, should chunks ever be smaller.
pub const FOLD_PARTS: u32 = (FOLD_BYTES / CHUNK_BYTES as u64) as u32;
/// At most this many transfers are received at once; accepting another waits until one ends.
pub const MAX_INCOMING: usize = 8;
/// An offer nobody answers is declined after this long: time enough to notice it and decide, and neither the sender
/// nor the list waits on it for the rest of the call.
pub const OFFER_TIMEOUT_MS: u32 = 60_000;
/// A sender gives up on an offer unanswered for [`OFFER_TIMEOUT_MS`] and this much more: the receiver declines it
/// first, and a receiver that never answers at all does not keep the sender waiting.
pub const OFFER_MARGIN_MS: u32 = 15_000;
/// Offers from one peer waiting for an answer at once, and offers from one peer refused by a rule and still listed.
/// A peer offering more is declined without a line (and counted): one person cannot fill the list with questions.
/// A sender keeps at most this many offers to one person outstanding and queues the rest ([`offers_to_send`]).
pub const MAX_PENDING_PER_PEER: usize = 3;
/// Finished transfers kept in the list (and their files in memory); the oldest go first when more finish.
pub const MAX_FINISHED_KEPT: usize = 20;
/// The choices the settings offer for the bytes received per call, in bytes.
pub const RECEIVE_LIMITS: [u64; 6] = [256 * MIB, GIB, 2 * GIB, 4 * GIB, 8 * GIB, 16 * GIB];
/// The bytes received per call until the person chooses otherwise: a few large files, not an unbounded stream.
pub const DEFAULT_RECEIVE_LIMIT: u64 = 2 * GIB;
const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;
/// The type a received file gets when its offered type is not on [`HARMLESS_TYPES`]: the browser only saves it.
pub const OCTET_STREAM: &str = "application/octet-stream";
/// Media types a received file keeps: types a browser only ever shows as a picture, a sound, a video, a PDF or plain
/// text. Anything that can be a document of Huddle's origin (HTML, SVG, XHTML, XML…) or carries parameters is not
/// here.
const HARMLESS_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/bmp",
    "image/x-icon",
    "image/vnd.microsoft.icon",
    "image/tiff",
    "image/heic",
    "image/heif",
    "audio/mpeg",
    "audio/mp4",
    "audio/aac",
    "audio/ogg",
    "audio/opus",
    "audio/wav",
    "audio/x-wav",
    "audio/webm",
    "audio/flac",
    "video/mp4",
    "video/webm",
    "video/ogg",
    "video/quicktime",
    "video/x-matroska",
    "application/pdf",
    "text/plain",
];
/// The longest file name kept, in characters.
const MAX_NAME_CHARS: usize = 200;

/// Why an offer of a file is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    /// More than [`FileOffer::MAX_SIZE`].
    #[error("{name} is {}: files up to 4 GB can be sent", size_of(.size))]
    TooLarge {
        /// The (sanitized) file name.
        name: String,
        /// Its size in bytes.
        size: u64,
    },
    /// The id is empty, too long or has characters other than `0`-`9` and `a`-`z`.
    #[error("the offer of {name} is malformed")]
    BadId {
        /// The (sanitized) file name.
        name: String,
    },
    /// The peer already has a transfer with this id running.
    #[error("{name} reuses the id of another transfer")]
    DuplicateId {
        /// The (sanitized) file name.
        name: String,
    },
    /// [`MAX_INCOMING`] transfers are already being received.
    #[error("{name} has to wait: too many files are arriving at once")]
    TooMany {
        /// The (sanitized) file name.
        name: String,
    },
    /// Receiving it would pass the bytes this person receives per call.
    #[error("{name} is {}, more than the {} left of the {} you receive per call (Settings)", size_of(.size), size_of(.left), size_of(.limit))]
    OverLimit {
        /// The (sanitized) file name.
        name: String,
        /// Its size in bytes.
        size: u64,
        /// What is left to receive in this call, in bytes.
        left: u64,
        /// The bytes received per call, at most.
        limit: u64,
    },
}

/// What the receiver knows about a peer when an offer from them arrives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// The peer already has a transfer with this id, running or listed.
    pub known: bool,
    /// Offers from the peer waiting for an answer.
    pub pending: usize,
    /// Offers from the peer refused by a rule and still listed.
    pub refused: usize,
}

/// What to do with an offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Ask the person: Accept or Decline.
    Ask(CheckedOffer),
    /// Decline it, and show why.
    Refuse(OfferError),
    /// Decline it without a line of its own: the peer already has [`MAX_PENDING_PER_PEER`] of those; it is counted.
    Drop,
}

/// An offer that passed the checks, with its name and media type made safe to use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedOffer {
    /// The transfer id.
    pub id: String,
    /// A file name without directories or control characters.
    pub name: String,
    /// The size in bytes.
    pub size: u64,
    /// The type its download gets: from [`HARMLESS_TYPES`], or [`OCTET_STREAM`].
    pub mime: &'static str,
}

/// Judges an offer from a peer, with what is known of them (`seen`) and the bytes left to receive in this call
/// (`room`). A peer that already has [`MAX_PENDING_PER_PEER`] offers waiting is not heard further; an offer that
/// breaks a rule is refused with the reason, unless the peer already has as many refusals listed.
pub fn judge_offer(offer: &FileOffer, seen: Seen, room: u64) -> Verdict {
    if seen.pending >= MAX_PENDING_PER_PEER {
        return Verdict::Drop;
    }
    match check_offer(offer, seen.known, room) {
        Ok(checked) => Verdict::Ask(checked),
        Err(_) if seen.refused >= MAX_PENDING_PER_PEER => Verdict::Drop,
        Err(refused) => Verdict::Refuse(refused),
    }
}

/// Checks an offer: its id, its size, that the id is new (`known` says it is not) and that it fits in `room`, the
/// bytes left to receive in this call.
fn check_offer(offer: &FileOffer, known: bool, room: u64) -> Result<CheckedOffer, OfferError> {
    let name = sanitize_name(&offer.name);
    if !valid_id(&offer.id) {
        return Err(OfferError::BadId { name });
    }
    if offer.size > FileOffer::MAX_SIZE {
        return Err(OfferError::TooLarge { name, size: offer.size });
    }
    if known {
        return Err(OfferError::DuplicateId { name });
    }
    let checked = CheckedOffer { id: offer.id.clone(), name, size: offer.size, mime: download_type(&offer.mime) };
    check_room(&checked, &Allowance { limit: room, used: 0 })?;
    Ok(checked)
}

/// Checks, when the person accepts `offer`, that fewer than [`MAX_INCOMING`] files are arriving (`incoming`) and that
/// it still fits in what `allowance` leaves: other files may have been accepted since it was offered, and the limit
/// may have been changed.
pub fn check_accept(offer: &CheckedOffer, incoming: usize, allowance: &Allowance) -> Result<(), OfferError> {
    if incoming >= MAX_INCOMING {
        return Err(OfferError::TooMany { name: offer.name.clone() });
    }
    check_room(offer, allowance)
}

fn check_room(offer: &CheckedOffer, allowance: &Allowance) -> Result<(), OfferError> {
    let left = allowance.room();
    if offer.size > left {
        let name = offer.name.clone();
        return Err(OfferError::OverLimit { name, size: offer.size, left, limit: allowance.limit });
    }
    Ok(())
}

/// The bytes this person receives per call: the limit they chose, and how much of it is used, counting files being
/// received at their full size until they end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowance {
    limit: u64,
    used: u64,
}

impl Allowance {
    /// Nothing received yet, at most `limit` bytes.
    pub fn new(limit: u64) -> Self {
        Allowance { limit, used: 0 }
    }

    /// The bytes received per call, at most.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Changes the limit; what is already received or accepted stays.
    pub fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
    }

    /// Received, or accepted and not yet received.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// What is left to accept.
    pub fn room(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }

    /// An accepted file of `size` bytes counts in full from now on.
    pub fn reserve(&mut self, size: u64) {
        self.used = self.used.saturating_add(size);
    }

    /// A file ended without `unreceived` of its bytes: those no longer count.
    pub fn release(&mut self, unreceived: u64) {
        self.used = self.used.saturating_sub(unreceived);
    }
}

/// The bytes received per call as stored in the settings, or the default when nothing (or not one of
/// [`RECEIVE_LIMITS`]) is stored.
pub fn receive_limit(stored: Option<&str>) -> u64 {
    stored
        .and_then(|text| text.parse().ok())
        .filter(|limit| RECEIVE_LIMITS.contains(limit))
        .unwrap_or(DEFAULT_RECEIVE_LIMIT)
}

/// Whether to fold the received chunks into one `Blob` now: they hold [`FOLD_BYTES`] or are [`FOLD_PARTS`] many.
pub fn should_fold(unfolded_bytes: u64, parts: u32) -> bool {
    unfolded_bytes >= FOLD_BYTES || parts >= FOLD_PARTS
}

/// How many of the `queued` offers to one person a sender may send now, with `outstanding` offers to them not
/// answered yet: at most [`MAX_PENDING_PER_PEER`] are outstanding, so an honest sender never trips the receiver's
/// rule (nor the rate of file messages the receiver's gate allows).
pub fn offers_to_send(outstanding: usize, queued: usize) -> usize {
    queued.min(MAX_PENDING_PER_PEER.saturating_sub(outstanding))
}

/// Whether `id` is a transfer id: 1 to 32 characters of `0`-`9` and `a`-`z`.
pub fn valid_id(id: &str) -> bool {
    (1..=FileOffer::MAX_ID_CHARS).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

/// The transfer id in a file channel's label (`file:<id>`), if it is one.
pub fn channel_id(label: &str) -> Option<&str> {
    label.strip_prefix(FileOffer::CHANNEL_PREFIX).filter(|id| valid_id(id))
}

/// A fresh transfer id from 64 random bits: base 36, at most 13 characters.
pub fn new_id(mut random: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut id = Vec::new();
    loop {
        id.push(DIGITS[(random % 36) as usize]);
        random /= 36;
        if random == 0 {
            break;
        }
    }
    id.reverse();
    String::from_utf8(id).expect("ASCII digits")
}

/// A name safe to show and to save under: path separators become `_` (so it can never name a directory), control
/// characters and characters that draw nothing (the display names' rule, [`huddle_common::is_invisible`]: Hangul
/// fillers, tag characters, zero-width and direction controls…) are dropped, surrounding spaces and dots are trimmed, and it is cut to 200
/// characters (keeping the extension). Empty, `.` or `..` becomes `file`.
pub fn sanitize_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .filter(|c| !c.is_control() && !huddle_common::is_invisible(*c))
        .map(|c| if matches!(c, '/' | '\\' | ':') { '_' } else { c })
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| c.is_whitespace() || c == '.');
    if trimmed.is_empty() {
        return "file".to_owned();
    }
    if trimmed.chars().count() <= MAX_NAME_CHARS {
        return trimmed.to_owned();
    }
    // Keep a short extension: "a very long name….pdf".
    let extension = trimmed.rsplit_once('.').map(|(_, ext)| ext).filter(|ext| (1..=10).contains(&ext.chars().count()));
    match extension {
        Some(ext) => {
            let keep = MAX_NAME_CHARS - ext.chars().count() - 2;
            format!("{}….{ext}", trimmed.chars().take(keep).collect::<String>())
        }
        None => format!("{}…", trimmed.chars().take(MAX_NAME_CHARS - 1).collect::<String>()),
    }
}

/// The type a received file's `Blob` gets from the type its sender gave: the same when it is on the allowlist of
/// harmless types (compared without regard to case or surrounding spaces), else [`OCTET_STREAM`]. So a received
/// file is never a page (HTML, SVG, XHTML) of Huddle's origin, whatever the sender says it is.
pub fn download_type(mime: &str) -> &'static str {
    let mime = mime.trim();
    HARMLESS_TYPES.iter().find(|harmless| harmless.eq_ignore_ascii_case(mime)).copied().unwrap_or(OCTET_STREAM)
}

/// A size for people: `0 B`, `900 B`, `12.3 KB`, `50.0 MB`, `4.0 GB` (units of 1024).
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{} {}", fixed(value, 1), UNITS[unit])
}

/// [`format_bytes`] for error messages, which see their fields by reference.
fn size_of(bytes: &u64) -> String {
    format_bytes(*bytes)
}

/// The byte ranges `[start, end)` a file of `size` bytes is read in, [`READ_BYTES`] at a time.
pub fn read_ranges(size: u64) -> impl Iterator<Item = (u64, u64)> {
    (0..size.div_ceil(READ_BYTES)).map(move |i| (i * READ_BYTES, ((i + 1) * READ_BYTES).min(size)))
}

/// SHA-256 as 64 lowercase hex digits.
fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sender's account of the bytes sent: how many, and their running SHA-256.
#[derive(Clone, Debug, Default)]
pub struct Sent {
    bytes: u64,
    hasher: Sha256,
}

impl Sent {
    /// Counts and hashes the next bytes.
    pub fn add(&mut self, bytes: &[u8]) {
        self.bytes += bytes.len() as u64;
        self.hasher.update(bytes);
    }

    /// How many bytes were sent.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The SHA-256 of everything sent, in hex.
    pub fn sha256(self) -> String {
        hex(&self.hasher.finalize())
    }
}

/// What can be wrong with what arrived.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReceiveError {
    /// More bytes than offered.
    #[error("{name} arrived damaged: more bytes than announced")]
    TooLong {
        /// The file name.
        name: String,
    },
    /// The sender finished before all the bytes arrived.
    #[error("{name} arrived damaged: {} of {} arrived", size_of(.received), size_of(.expected))]
    Incomplete {
        /// The file name.
        name: String,
        /// Bytes received.
        received: u64,
        /// Bytes offered.
        expected: u64,
    },
    /// The bytes do not hash to what the sender says they are.
    #[error("{name} arrived damaged: its checksum does not match")]
    Damaged {
        /// The file name.
        name: String,
    },
    /// A chunk that is not [`CHUNK_BYTES`] long and does not complete the file (Huddle sends no other).
    #[error("{name} arrived damaged: its sender sent a piece of the wrong size")]
    BadChunk {
        /// The file name.
        name: String,
    },
    /// A text message on the file's channel that is not this transfer's `file_end` or `file_cancel`.
    #[error("{name} arrived damaged: its sender sent something that is not part of a file")]
    Malformed {
        /// The file name.
        name: String,
    },
}

/// What a text message on a file channel says, once read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// `file_end`: every byte is sent, and this is their SHA-256.
    End {
        /// The hash, as sent.
        sha256: String,
    },
    /// `file_cancel`: the sender stopped.
    Cancel,
}

/// The receiver's account of the bytes received: how many of how many, and their running SHA-256.
#[derive(Clone, Debug)]
pub struct Receipt {
    name: String,
    expected: u64,
    received: u64,
    hasher: Sha256,
}

impl Receipt {
    /// Expecting `expected` bytes of the file `name`.
    pub fn new(name: &str, expected: u64) -> Self {
        Receipt { name: name.to_owned(), expected, received: 0, hasher: Sha256::new() }
    }

    /// Counts and hashes the next chunk. More than offered is an error, and so is a chunk that is not exactly
    /// [`CHUNK_BYTES`] long unless it completes the file: so every chunk held costs its full size, and a peer cannot
    /// send a stream of empty or tiny ones.
    pub fn add(&mut self, bytes: &[u8]) -> Result<(), ReceiveError> {
        let received = self.received + bytes.len() as u64;
        if received > self.expected {
            return Err(ReceiveError::TooLong { name: self.name.clone() });
        }
        let completes = received == self.expected && !bytes.is_empty();
        if bytes.len() != CHUNK_BYTES && !completes {
            return Err(ReceiveError::BadChunk { name: self.name.clone() });
        }
        self.received = received;
        self.hasher.update(bytes);
        Ok(())
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Bytes offered and not received (yet).
    pub fn missing(&self) -> u64 {
        self.expected - self.received
    }

    /// Reads a text message that arrived on the channel of transfer `id`: its `file_end` or a `file_cancel`.
    /// Anything else (not JSON, another kind of message, the end of another transfer, a message cut short because
    /// it was too long: `None`) is damage.
    pub fn read_control(&self, id: &str, text: Option<&str>) -> Result<Control, ReceiveError> {
        match text.and_then(PeerMessage::from_json) {
            Some(PeerMessage::FileEnd { id: end_of, sha256 }) if end_of == id => Ok(Control::End { sha256 }),
            Some(PeerMessage::FileCancel { .. }) => Ok(Control::Cancel),
            _ => Err(ReceiveError::Malformed { name: self.name.clone() }),
        }
    }

    /// Checks, once the sender says it is done, that everything arrived and hashes to `sha256` (hex, any case).
    pub fn finish(&self, sha256: &str) -> Result<(), ReceiveError> {
        let name = self.name.clone();
        if self.received != self.expected {
            return Err(ReceiveError::Incomplete { name, received: self.received, expected: self.expected });
        }
        if hex(&self.hasher.clone().finalize()) != sha256.to_ascii_lowercase() {
            return Err(ReceiveError::Damaged { name });
        }
        Ok(())
    }
}

/// Lets progress through at most every 100 ms: each report re-renders the call screen.
#[derive(Clone, Debug, Default)]
pub struct Throttle {
    last_ms: Option<f64>,
}

impl Throttle {
    /// The gap between two reports.
    const INTERVAL_MS: f64 = 100.0;

    /// Whether to report now, at `now_ms`.
    pub fn due(&mut self, now_ms: f64) -> bool {
        match self.last_ms {
            Some(last) if now_ms - last < Self::INTERVAL_MS => false,
            _ => {
                self.last_ms = Some(now_ms);
                true
            }
        }
    }
}

/// Which way a file goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// We send it.
    Send,
    /// We receive it.
    Receive,
}

impl Direction {
    /// `send` or `receive`, as the page names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Send => "send",
            Direction::Receive => "receive",
        }
    }
}

/// Names one transfer: ids are chosen by senders, so the peer and the direction are part of the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferKey {
    /// The other side.
    pub peer: PeerId,
    /// The id from the offer.
    pub id: String,
    /// Which way.
    pub direction: Direction,
}

/// Where a transfer stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// Offered to us: waiting for this person to accept or decline it.
    Offered,
    /// To be offered by us once the other person has answered some of the offers we made them.
    Queued,
    /// Offered by us and not answered yet; or accepted by us, and the bytes have not started.
    Waiting,
    /// The bytes are moving.
    Moving,
    /// All there (and checked, on the receiving side).
    Done,
    /// Stopped by one side.
    Cancelled {
        /// By us.
        by_me: bool,
    },
    /// Not accepted.
    Declined(Declined),
    /// Went wrong, and why (for people).
    Failed(String),
    /// An offer (either way) that was never answered.
    NoAnswer(NoAnswer),
}

/// Why an offer was never answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoAnswer {
    /// The other person left the call while it waited.
    PeerLeft,
    /// We offered it, and the receiver neither accepted nor declined it within [`OFFER_TIMEOUT_MS`] and
    /// [`OFFER_MARGIN_MS`].
    TimedOut,
}

/// Why an offer was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Declined {
    /// This person declined it.
    ByMe,
    /// The person we offered it to declined it, or let it go unanswered: a sender cannot tell which.
    ByPeer,
    /// Nobody answered within [`OFFER_TIMEOUT_MS`].
    Unanswered,
    /// A rule refused it, for this reason (for people).
    Refused(String),
}

/// One file going to or coming from someone.
#[derive(Clone, Debug, PartialEq)]
pub struct Transfer {
    /// Which transfer.
    pub key: TransferKey,
    /// The other person's name (kept: they may leave).
    pub peer_name: String,
    /// The file name, sanitized.
    pub name: String,
    /// The file size in bytes.
    pub size: u64,
    /// Bytes sent or received so far.
    pub bytes: u64,
    /// Where it stands.
    pub status: Status,
    /// Received and checked: the `blob:` URL to save it from.
    pub download: Option<String>,
}

impl Transfer {
    /// A transfer that has not started.
    pub fn new(key: TransferKey, name: String, size: u64) -> Self {
        Transfer { key, peer_name: String::new(), name, size, bytes: 0, status: Status::Waiting, download: None }
    }

    /// Whether it is over (done, cancelled, declined or failed): nothing changes it any more, and it can be dismissed.
    pub fn is_finished(&self) -> bool {
        !matches!(self.status, Status::Offered | Status::Queued | Status::Waiting | Status::Moving)
    }

    /// The state as the page's `data-state` says it: `offered`, `queued`, `sending`, `receiving`, `done`,
    /// `cancelled`, `declined` or `failed`.
    pub fn data_state(&self) -> &'static str {
        match (&self.status, self.key.direction) {
            (Status::Offered, _) => "offered",
            (Status::Queued, _) => "queued",
            (Status::Waiting | Status::Moving, Direction::Send) => "sending",
            (Status::Waiting | Status::Moving, Direction::Receive) => "receiving",
            (Status::Done, _) => "done",
            (Status::Cancelled { .. }, _) => "cancelled",
            (Status::Declined(_), _) => "declined",
            (Status::Failed(_) | Status::NoAnswer(_), _) => "failed",
        }
    }

    /// One line for people: where it stands.
    pub fn status_line(&self) -> String {
        let who = if self.peer_name.is_empty() { "them" } else { self.peer_name.as_str() };
        let sending = self.key.direction == Direction::Send;
        match &self.status {
            Status::Offered => format!("{who} offers you this file"),
            Status::Queued => format!("Queued: {who} has other offers to answer"),
            Status::Waiting if sending => format!("Waiting for {who} to accept…"),
            Status::Waiting => format!("From {who}, starting…"),
            Status::Moving if sending => format!("Sending to {who}"),
            Status::Moving => format!("From {who}"),
            Status::Done if sending => format!("Sent to {who}"),
            Status::Done => format!("Received from {who}"),
            Status::Cancelled { by_me: true } => "Cancelled".to_owned(),
            Status::Cancelled { by_me: false } => format!("Cancelled by {who}"),
            Status::Declined(Declined::ByMe) => "Declined".to_owned(),
            Status::Declined(Declined::ByPeer) => format!("Declined by {who}"),
            Status::Declined(Declined::Unanswered) => {
                format!("Declined: not answered within {} s", OFFER_TIMEOUT_MS / 1000)
            }
            Status::Declined(Declined::Refused(why)) => format!("Declined: {why}"),
            Status::Failed(why) => why.clone(),
            Status::NoAnswer(NoAnswer::PeerLeft) if sending => format!("{who} left before answering"),
            Status::NoAnswer(NoAnswer::PeerLeft) => format!("{who} left before you answered"),
            Status::NoAnswer(NoAnswer::TimedOut) => format!("No answer from {who}"),
        }
    }

    /// The amount line: `12.3 MB of 50.0 MB`, or the size alone when no bytes are to move (offered, queued, done,
    /// declined, never answered).
    pub fn amount_line(&self) -> String {
        match self.status {
            Status::Offered | Status::Queued | Status::Done | Status::Declined(_) | Status::NoAnswer(_) => {
                format_bytes(self.size)
            }
            _ => format!("{} of {}", format_bytes(self.bytes), format_bytes(self.size)),
        }
    }
}

/// Everything that happens to transfers.
#[derive(Clone, Debug, PartialEq)]
pub enum TransferEvent {
    /// A new transfer, either way (possibly already over: a refused offer).
    Added(Transfer),
    /// The receiver accepted it: the bytes are about to move.
    Accepted(TransferKey),
    /// A queued offer of ours went out: it waits for an answer now.
    Offered(TransferKey),
    /// Bytes moved: the total so far.
    Progress(TransferKey, u64),
    /// Finished; on the receiving side, with the URL to save it from.
    Done(TransferKey, Option<String>),
    /// Stopped by one side.
    Cancelled(TransferKey, bool),
    /// Not accepted.
    Declined(TransferKey, Declined),
    /// Went wrong.
    Failed(TransferKey, String),
    /// An offer was never answered.
    NoAnswer(TransferKey, NoAnswer),
    /// Taken off the list (dismissed, or pushed out by newer ones); its file is released.
    Dismissed(TransferKey),
    /// An offer from this peer was declined without a line of its own ([`Verdict::Drop`]).
    Dropped(PeerId),
}

impl TransferEvent {
    /// The transfer this event ends, and whether it ended as a refusal by a rule: `None` when it ends none.
    fn ends(&self) -> Option<(&TransferKey, bool)> {
        match self {
            TransferEvent::Added(transfer) if transfer.is_finished() => {
                Some((&transfer.key, matches!(transfer.status, Status::Declined(Declined::Refused(_)))))
            }
            TransferEvent::Done(key, _)
            | TransferEvent::Cancelled(key, _)
            | TransferEvent::Declined(key, _)
            | TransferEvent::Failed(key, _)
            | TransferEvent::NoAnswer(key, _) => Some((key, false)),
            _ => None,
        }
    }
}

/// Offers from one peer declined without a line of their own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// Who offered them.
    pub peer: PeerId,
    /// Their name (kept: they may leave).
    pub peer_name: String,
    /// How many.
    pub count: u32,
}

impl Dropped {
    /// One line for people.
    pub fn line(&self) -> String {
        let who = if self.peer_name.is_empty() { "someone" } else { self.peer_name.as_str() };
        let offers = if self.count == 1 { "offer" } else { "offers" };
        format!("Declined {} more {offers} from {who} without asking you", self.count)
    }
}

/// The transfers of this call, oldest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TransferList {
    /// The transfers.
    pub items: Vec<Transfer>,
    /// Offers declined without a line, by peer.
    pub dropped: Vec<Dropped>,
}

impl TransferList {
    /// The transfer with this key.
    pub fn get(&self, key: &TransferKey) -> Option<&Transfer> {
        self.items.iter().find(|t| &t.key == key)
    }

    /// Whether there is nothing to show.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.dropped.is_empty()
    }

    /// Applies one event; `name_of` gives a peer's display name. A finished transfer never changes again (it can
    /// only be dismissed), progress never goes backwards nor past the size, and an event for an unknown transfer is
    /// ignored.
    pub fn apply(&mut self, event: TransferEvent, name_of: impl Fn(&PeerId) -> Option<String>) {
        let key = match &event {
            TransferEvent::Added(transfer) => {
                if self.get(&transfer.key).is_none() {
                    let mut transfer = transfer.clone();
                    if transfer.peer_name.is_empty() {
                        transfer.peer_name = name_of(&transfer.key.peer).unwrap_or_default();
                    }
                    self.items.push(transfer);
                }
                return;
            }
            TransferEvent::Dismissed(key) => {
                self.items.retain(|t| &t.key != key);
                return;
            }
            TransferEvent::Dropped(peer) => {
                match self.dropped.iter_mut().find(|dropped| &dropped.peer == peer) {
                    Some(dropped) => dropped.count = dropped.count.saturating_add(1),
                    None => {
                        let peer_name = name_of(peer).unwrap_or_default();
                        self.dropped.push(Dropped { peer: peer.clone(), peer_name, count: 1 });
                    }
                }
                return;
            }
            TransferEvent::Accepted(key)
            | TransferEvent::Offered(key)
            | TransferEvent::NoAnswer(key, _)
            | TransferEvent::Progress(key, _)
            | TransferEvent::Done(key, _)
            | TransferEvent::Cancelled(key, _)
            | TransferEvent::Declined(key, _)
            | TransferEvent::Failed(key, _) => key,
        };
        let Some(transfer) = self.items.iter_mut().find(|t| &t.key == key) else { return };
        if transfer.is_finished() {
            return;
        }
        match event {
            TransferEvent::Added(_) | TransferEvent::Dismissed(_) | TransferEvent::Dropped(_) => {}
            TransferEvent::Offered(_) => {
                if matches!(transfer.status, Status::Queued) {
                    transfer.status = Status::Waiting;
                }
            }
            TransferEvent::NoAnswer(_, why) => transfer.status = Status::NoAnswer(why),
            TransferEvent::Accepted(_) => {
                transfer.status = match transfer.key.direction {
                    Direction::Send => Status::Moving,
                    Direction::Receive => Status::Waiting,
                }
            }
            TransferEvent::Progress(_, bytes) => {
                transfer.bytes = transfer.bytes.max(bytes.min(transfer.size));
                transfer.status = Status::Moving;
            }
            TransferEvent::Done(_, download) => {
                transfer.bytes = transfer.size;
                transfer.status = Status::Done;
                transfer.download = download;
            }
            TransferEvent::Cancelled(_, by_me) => transfer.status = Status::Cancelled { by_me },
            TransferEvent::Declined(_, why) => transfer.status = Status::Declined(why),
            TransferEvent::Failed(_, why) => transfer.status = Status::Failed(why),
        }
    }
}

/// A finished transfer on the list, as [`Shelf`] keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Shelved {
    key: TransferKey,
    download: Option<String>,
    refused: bool,
}

/// The finished transfers on the list, in the order they finished, with their downloads: what to release when one
/// is dismissed, and which go when more than [`MAX_FINISHED_KEPT`] have finished. It sees every event the list
/// sees, so the two agree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Shelf {
    items: Vec<Shelved>,
}

/// A transfer taken off the list: its key, and the download URL to release.
pub type Released = (TransferKey, Option<String>);

impl Shelf {
    /// Notes what `event` finishes; once more than [`MAX_FINISHED_KEPT`] have finished, returns the one that
    /// leaves the list ([`TransferEvent::Dismissed`]): the oldest without a file to save, or else the oldest (never
    /// the one just finished). So a stream of offers declined or refused cannot push a received file off the list.
    pub fn record(&mut self, event: &TransferEvent) -> Option<Released> {
        let (key, refused) = event.ends()?;
        if self.holds(key) {
            return None;
        }
        let download = match event {
            TransferEvent::Done(_, download) => download.clone(),
            _ => None,
        };
        self.items.push(Shelved { key: key.clone(), download, refused });
        if self.items.len() <= MAX_FINISHED_KEPT {
            return None;
        }
        // The one just finished stays to be seen.
        let older = &self.items[..self.items.len() - 1];
        let index = older.iter().position(|item| item.download.is_none()).unwrap_or(0);
        let gone = self.items.remove(index);
        Some((gone.key, gone.download))
    }

    /// Whether this transfer is finished and listed.
    pub fn holds(&self, key: &TransferKey) -> bool {
        self.items.iter().any(|item| &item.key == key)
    }

    /// Takes a finished transfer off (dismissed): `None` when it is not finished or not listed.
    pub fn take(&mut self, key: &TransferKey) -> Option<Released> {
        let index = self.items.iter().position(|item| &item.key == key)?;
        let gone = self.items.remove(index);
        Some((gone.key, gone.download))
    }

    /// How many offers from `peer` a rule refused that are still listed.
    pub fn refusals_from(&self, peer: &PeerId) -> usize {
        self.items.iter().filter(|item| item.refused && &item.key.peer == peer).count()
    }

    /// Empties it (the call ends): the download URLs to release.
    pub fn clear(&mut self) -> Vec<String> {
        self.items.drain(..).filter_map(|item| item.download).collect()
    }
}

/// What the person asks of a transfer from the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Receive the offered file.
    Accept,
    /// Do not receive the offered file.
    Decline,
    /// Stop it while it moves.
    Cancel,
    /// Take it off the list, releasing its file.
    Dismiss,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(id: &str, name: &str, size: u64) -> FileOffer {
        FileOffer { id: id.into(), name: name.into(), size, mime: "text/plain".into() }
    }

    fn key(direction: Direction) -> TransferKey {
        TransferKey { peer: "ada".into(), id: "k3v9".into(), direction }
    }

    fn list_with(direction: Direction, size: u64) -> TransferList {
        let mut list = TransferList::default();
        list.apply(TransferEvent::Added(Transfer::new(key(direction), "big.bin".into(), size)), |_| Some("Ada".into()));
        list
    }

    const ROOMY: u64 = u64::MAX;

    fn asked(offer: &FileOffer) -> CheckedOffer {
        match judge_offer(offer, Seen::default(), ROOMY) {
            Verdict::Ask(checked) => checked,
            other => panic!("{offer:?} was not asked about: {other:?}"),
        }
    }

    fn refused(offer: &FileOffer, seen: Seen, room: u64) -> OfferError {
        match judge_offer(offer, seen, room) {
            Verdict::Refuse(why) => why,
            other => panic!("{offer:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn a_sound_offer_is_put_to_the_person_with_its_name_and_type() {
        let checked = asked(&offer("k3v9", "notes.txt", 12));
        assert_eq!(checked, CheckedOffer { id: "k3v9".into(), name: "notes.txt".into(), size: 12, mime: "text/plain" });
        let at_limits = Seen { known: false, pending: MAX_PENDING_PER_PEER - 1, refused: MAX_PENDING_PER_PEER - 1 };
        let big = offer("a", "x", FileOffer::MAX_SIZE);
        assert!(matches!(judge_offer(&big, at_limits, FileOffer::MAX_SIZE), Verdict::Ask(_)));
    }

    #[test]
    fn offers_over_4_gib_or_with_bad_ids_or_reused_ids_are_refused_with_a_reason() {
        let huge = refused(&offer("k3v9", "disk.img", FileOffer::MAX_SIZE + 1), Seen::default(), ROOMY);
        assert_eq!(huge.to_string(), "disk.img is 4.0 GB: files up to 4 GB can be sent");
        let absurd = refused(&offer("k3v9", "x", u64::MAX), Seen::default(), ROOMY);
        assert!(matches!(absurd, OfferError::TooLarge { .. }));
        for id in ["", "UPPER", "has space", "../etc", &"a".repeat(33)] {
            let why = refused(&offer(id, "x", 1), Seen::default(), ROOMY);
            assert_eq!(why, OfferError::BadId { name: "x".into() }, "{id:?}");
        }
        let known = Seen { known: true, ..Seen::default() };
        assert_eq!(refused(&offer("k3v9", "x", 1), known, ROOMY), OfferError::DuplicateId { name: "x".into() });
    }

    #[test]
    fn a_peer_with_three_offers_waiting_is_not_heard_further() {
        let sound = offer("k3v9", "x", 1);
        let bad = offer("BAD", "x", 1);
        for pending in 0..MAX_PENDING_PER_PEER {
            let seen = Seen { pending, ..Seen::default() };
            assert!(matches!(judge_offer(&sound, seen, ROOMY), Verdict::Ask(_)), "{pending} waiting");
        }
        for pending in [MAX_PENDING_PER_PEER, MAX_PENDING_PER_PEER + 1, 1000] {
            let seen = Seen { pending, ..Seen::default() };
            // Sound or not: no line, no question.
            assert_eq!(judge_offer(&sound, seen, ROOMY), Verdict::Drop, "{pending} waiting");
            assert_eq!(judge_offer(&bad, seen, ROOMY), Verdict::Drop, "{pending} waiting");
        }
    }

    #[test]
    fn refusals_are_shown_three_at_a_time_per_peer_and_then_only_counted() {
        let bad = offer("BAD", "x", 1);
        for refused in 0..MAX_PENDING_PER_PEER {
            let seen = Seen { refused, ..Seen::default() };
            assert!(matches!(judge_offer(&bad, seen, ROOMY), Verdict::Refuse(_)), "{refused} listed");
        }
        let full = Seen { refused: MAX_PENDING_PER_PEER, ..Seen::default() };
        assert_eq!(judge_offer(&bad, full, ROOMY), Verdict::Drop);
        // A sound offer is still asked about.
        assert!(matches!(judge_offer(&offer("k3v9", "x", 1), full, ROOMY), Verdict::Ask(_)));
    }

    #[test]
    fn an_offer_that_would_pass_the_bytes_per_call_is_refused_saying_so() {
        let mut allowance = Allowance::new(DEFAULT_RECEIVE_LIMIT);
        assert_eq!((allowance.limit(), allowance.used(), allowance.room()), (2 * GIB, 0, 2 * GIB));
        let film = offer("k3v9", "film.mkv", 3 * GIB);
        let why = refused(&film, Seen::default(), allowance.room());
        assert_eq!(
            why.to_string(),
            "film.mkv is 3.0 GB, more than the 2.0 GB left of the 2.0 GB you receive per call (Settings)"
        );
        // Exactly what is left fits.
        let fits = asked(&offer("a", "a.bin", GIB + 512 * MIB));
        assert_eq!(check_accept(&fits, 0, &allowance), Ok(()));
        allowance.reserve(fits.size);
        assert_eq!(allowance.room(), 512 * MIB);
        let exact = asked(&offer("b", "b.bin", 512 * MIB));
        assert_eq!(check_accept(&exact, 1, &allowance), Ok(()));
        let over = asked(&offer("c", "c.bin", 512 * MIB + 1));
        assert!(
            matches!(check_accept(&over, 1, &allowance), Err(OfferError::OverLimit { left, .. }) if left == 512 * MIB)
        );
        // A file that ends part-way gives back what did not arrive; a smaller limit leaves no room, never less.
        allowance.release(GIB);
        assert_eq!(allowance.used(), 512 * MIB);
        allowance.set_limit(256 * MIB);
        assert_eq!(allowance.room(), 0);
        allowance.release(u64::MAX);
        assert_eq!(allowance.used(), 0);
        allowance.reserve(u64::MAX);
        allowance.reserve(1);
        assert_eq!(allowance.used(), u64::MAX);
    }

    #[test]
    fn accepting_waits_while_too_many_files_are_arriving() {
        let checked = asked(&offer("k3v9", "x", 1));
        let allowance = Allowance::new(DEFAULT_RECEIVE_LIMIT);
        assert_eq!(check_accept(&checked, MAX_INCOMING - 1, &allowance), Ok(()));
        let busy = check_accept(&checked, MAX_INCOMING, &allowance).unwrap_err();
        assert_eq!(busy.to_string(), "x has to wait: too many files are arriving at once");
    }

    #[test]
    fn the_bytes_per_call_setting_reads_back_only_as_one_of_its_choices() {
        assert_eq!(receive_limit(None), DEFAULT_RECEIVE_LIMIT);
        assert!(RECEIVE_LIMITS.contains(&DEFAULT_RECEIVE_LIMIT));
        for limit in RECEIVE_LIMITS {
            assert_eq!(receive_limit(Some(&limit.to_string())), limit);
        }
        for stored in ["", "0", "1", "-1", "2 GB", "18446744073709551616", &(3 * GIB).to_string(), "1e9"] {
            assert_eq!(receive_limit(Some(stored)), DEFAULT_RECEIVE_LIMIT, "{stored:?}");
        }
    }

    #[test]
    fn names_cannot_point_into_directories_or_hide_their_extension() {
        assert_eq!(sanitize_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(sanitize_name("C:\\Windows\\evil.dll"), "C__Windows_evil.dll");
        assert_eq!(sanitize_name("report\u{202E}fdp.exe"), "reportfdp.exe");
        // Characters that draw nothing, as display names refuse them: a long run of Hangul fillers would push the
        // real extension out of sight ("report.pdf …") and the file would save as .exe.
        let filler = format!("report.pdf{}.exe", "\u{3164}".repeat(150));
        assert_eq!(sanitize_name(&filler), "report.pdf.exe");
        for hidden in ['\u{3164}', '\u{115F}', '\u{1160}', '\u{FFA0}', '\u{034F}', '\u{061C}', '\u{E0041}', '\u{180E}']
        {
            assert_eq!(sanitize_name(&format!("a{hidden}b.txt")), "ab.txt", "U+{:04X}", hidden as u32);
        }
        assert_eq!(sanitize_name("\u{3164}\u{3164}"), "file");
        // Visible letters of every script stay.
        assert_eq!(sanitize_name("한글 ㄱ 日本語 Ünïcödé.txt"), "한글 ㄱ 日本語 Ünïcödé.txt");
        assert_eq!(sanitize_name("line\nbreak\t.txt"), "linebreak.txt");
        assert_eq!(sanitize_name("  .hidden  "), "hidden");
        for empty in ["", "   ", ".", "..", "\u{0}\u{1}"] {
            assert_eq!(sanitize_name(empty), "file", "{empty:?}");
        }
        assert_eq!(sanitize_name("résumé 📄.pdf"), "résumé 📄.pdf");
        let long = sanitize_name(&format!("{}.pdf", "x".repeat(500)));
        assert_eq!(long.chars().count(), 200);
        assert!(long.ends_with("….pdf"));
        assert_eq!(sanitize_name(&"y".repeat(500)).chars().count(), 200);
    }

    #[test]
    fn only_harmless_types_are_kept_and_anything_else_downloads_as_bytes() {
        for harmless in
            ["image/png", "image/jpeg", "audio/mpeg", "video/mp4", "video/webm", "application/pdf", "text/plain"]
        {
            assert_eq!(download_type(harmless), harmless);
        }
        assert_eq!(download_type("Image/PNG"), "image/png");
        assert_eq!(download_type("  TEXT/PLAIN "), "text/plain");
        for page in [
            "text/html",
            "TEXT/HTML",
            "text/html; charset=utf-8",
            "text/plain; charset=utf-8",
            "text/plain;text/html",
            "image/svg+xml",
            "Image/SVG+XML",
            "application/xhtml+xml",
            "application/xml",
            "text/xml",
            "text/javascript",
            "application/javascript",
            "multipart/x-mixed-replace",
            "application/vnd.ms-excel",
            "",
            "text",
            "a/b/c",
            "<script>/x",
            "text/plain\u{0}",
            "image/png\nContent-Type: text/html",
            &format!("image/{}", "p".repeat(10_000)),
        ] {
            assert_eq!(download_type(page), OCTET_STREAM, "{page:?}");
        }
        // What the offer keeps is the download type.
        let html = FileOffer { id: "k3v9".into(), name: "invoice.html".into(), size: 10, mime: "text/html".into() };
        assert_eq!(asked(&html).mime, OCTET_STREAM);
    }

    #[test]
    fn ids_are_fresh_base36_and_channel_labels_name_them() {
        assert_eq!(new_id(0), "0");
        assert_eq!(new_id(35), "z");
        assert_eq!(new_id(36), "10");
        assert_eq!(new_id(u64::MAX), "3w5e11264sgsf");
        assert!(valid_id(&new_id(u64::MAX)));
        assert_eq!(channel_id("file:k3v9"), Some("k3v9"));
        for label in ["huddle", "file:", "file:BAD", "files:k3v9", "k3v9"] {
            assert_eq!(channel_id(label), None, "{label:?}");
        }
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(format_bytes(0), "0 B");
        assert_eq!(format_bytes(1023), "1023 B");
        assert_eq!(format_bytes(1536), "1.5 KB");
        assert_eq!(format_bytes(50 * 1024 * 1024), "50.0 MB");
        assert_eq!(format_bytes(FileOffer::MAX_SIZE), "4.0 GB");
        assert_eq!(format_bytes(u64::MAX), "16777216.0 TB");
    }

    #[test]
    fn read_ranges_cover_the_file_exactly_once() {
        assert_eq!(read_ranges(0).count(), 0);
        assert_eq!(read_ranges(1).collect::<Vec<_>>(), [(0, 1)]);
        assert_eq!(read_ranges(READ_BYTES).collect::<Vec<_>>(), [(0, READ_BYTES)]);
        let size = 50 * 1024 * 1024 + 7;
        let ranges: Vec<_> = read_ranges(size).collect();
        assert_eq!(ranges.len(), 51);
        assert!(ranges.windows(2).all(|pair| pair[0].1 == pair[1].0));
        assert_eq!((ranges[0].0, ranges[50].1), (0, size));
        assert!(ranges.iter().all(|(start, end)| end - start <= READ_BYTES && end > start));
    }

    #[test]
    fn bytes_hashed_in_chunks_check_out_on_the_other_side() {
        let size = 2 * READ_BYTES as u32 + 70_000;
        let file: Vec<u8> = (0..size).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        let mut sent = Sent::default();
        let mut receipt = Receipt::new("data.bin", file.len() as u64);
        // As the sender sends it: read a slice at a time, each cut into chunks; every chunk passes the receiver's
        // rule (exactly CHUNK_BYTES, but the last).
        for (start, end) in read_ranges(file.len() as u64) {
            for chunk in file[start as usize..end as usize].chunks(CHUNK_BYTES) {
                sent.add(chunk);
                receipt.add(chunk).unwrap();
            }
        }
        assert_eq!(sent.bytes(), file.len() as u64);
        let sha256 = sent.sha256();
        assert_eq!(sha256, hex(&Sha256::digest(&file)));
        assert_eq!(receipt.received(), file.len() as u64);
        assert_eq!(receipt.clone().finish(&sha256.to_uppercase()), Ok(()));
        assert_eq!(
            Receipt::new("empty", 0).finish("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            Ok(())
        );
    }

    #[test]
    fn missing_extra_or_altered_bytes_are_damage() {
        let full = [1; CHUNK_BYTES];
        let mut short = Receipt::new("a.bin", 2 * CHUNK_BYTES as u64);
        short.add(&full).unwrap();
        let incomplete = short.finish(&Sent::default().sha256()).unwrap_err();
        assert_eq!(incomplete.to_string(), "a.bin arrived damaged: 64.0 KB of 128.0 KB arrived");

        let mut long = Receipt::new("a.bin", CHUNK_BYTES as u64 + 5);
        long.add(&full).unwrap();
        assert_eq!(long.add(&[1; 8]), Err(ReceiveError::TooLong { name: "a.bin".into() }));
        assert_eq!(long.received(), CHUNK_BYTES as u64);

        let mut sent = Sent::default();
        sent.add(&[1; 10]);
        let mut altered = Receipt::new("a.bin", 10);
        altered.add(&[1, 1, 1, 1, 0, 1, 1, 1, 1, 1]).unwrap();
        let damaged = altered.finish(&sent.sha256()).unwrap_err();
        assert_eq!(damaged.to_string(), "a.bin arrived damaged: its checksum does not match");
    }

    #[test]
    fn every_chunk_is_whole_but_the_one_that_completes_the_file() {
        let size = 3 * CHUNK_BYTES as u64 + 100;
        let bad = Err(ReceiveError::BadChunk { name: "a.bin".into() });
        // Empty, tiny, a byte short or a byte long of a chunk, and anything at all before the first chunk.
        for chunk in [0, 1, 100, CHUNK_BYTES - 1, CHUNK_BYTES + 1] {
            let mut receipt = Receipt::new("a.bin", size);
            assert_eq!(receipt.add(&vec![0; chunk]), bad, "a first chunk of {chunk} bytes");
            assert_eq!(receipt.received(), 0);
        }
        let mut receipt = Receipt::new("a.bin", size);
        receipt.add(&[0; CHUNK_BYTES]).unwrap();
        // The last chunk may be short only when it is the last one.
        assert_eq!(receipt.add(&[0; 100]), bad);
        receipt.add(&[0; CHUNK_BYTES]).unwrap();
        receipt.add(&[0; CHUNK_BYTES]).unwrap();
        assert_eq!(receipt.add(&[]), bad, "an empty chunk before the last");
        receipt.add(&[0; 100]).unwrap();
        assert_eq!(receipt.missing(), 0);
        assert_eq!(receipt.add(&[]), bad, "an empty chunk once all is there");
        assert_eq!(
            Receipt::new("a.bin", 1).add(&[]),
            Err(ReceiveError::BadChunk { name: "a.bin".into() }),
            "an empty file sends no chunk"
        );
        let message = ReceiveError::BadChunk { name: "a.bin".into() }.to_string();
        assert_eq!(message, "a.bin arrived damaged: its sender sent a piece of the wrong size");
        // A file of exact chunks ends on a whole one.
        let mut exact = Receipt::new("b.bin", 2 * CHUNK_BYTES as u64);
        exact.add(&[0; CHUNK_BYTES]).unwrap();
        exact.add(&[0; CHUNK_BYTES]).unwrap();
        assert_eq!(exact.missing(), 0);
    }

    #[test]
    fn received_chunks_fold_by_bytes_and_by_count() {
        assert!(!should_fold(0, 0));
        assert!(!should_fold(FOLD_BYTES - 1, FOLD_PARTS - 1));
        assert!(should_fold(FOLD_BYTES, 1));
        assert!(should_fold(0, FOLD_PARTS), "many parts of nothing fold too");
        // Whole chunks reach both bounds together.
        assert_eq!(u64::from(FOLD_PARTS) * CHUNK_BYTES as u64, FOLD_BYTES);
    }

    #[test]
    fn a_sender_keeps_three_offers_to_a_person_outstanding_and_queues_the_rest() {
        // Five files at once: three go, two wait.
        assert_eq!(offers_to_send(0, 5), MAX_PENDING_PER_PEER);
        assert_eq!(offers_to_send(3, 2), 0);
        // One answered: one more goes.
        assert_eq!(offers_to_send(2, 2), 1);
        assert_eq!(offers_to_send(0, 1), 1);
        assert_eq!(offers_to_send(0, 0), 0);
        assert_eq!(offers_to_send(7, 4), 0, "more outstanding than allowed (never): nothing");
        // What the list shows of a queued offer, then of one never answered.
        let k = key(Direction::Send);
        let names = |_: &PeerId| Some("Ada".to_owned());
        let mut list = TransferList::default();
        let mut queued = Transfer::new(k.clone(), "notes.txt".into(), 2048);
        queued.status = Status::Queued;
        list.apply(TransferEvent::Added(queued), names);
        let shown = list.get(&k).unwrap();
        assert_eq!(
            (shown.data_state(), shown.status_line().as_str()),
            ("queued", "Queued: Ada has other offers to answer")
        );
        assert_eq!(shown.amount_line(), "2.0 KB");
        assert!(!shown.is_finished());
        list.apply(TransferEvent::Offered(k.clone()), names);
        assert_eq!(list.get(&k).unwrap().status_line(), "Waiting for Ada to accept…");
        let mut timed_out = list.clone();
        timed_out.apply(TransferEvent::NoAnswer(k.clone(), NoAnswer::TimedOut), names);
        let shown = timed_out.get(&k).unwrap();
        assert_eq!((shown.data_state(), shown.status_line().as_str()), ("failed", "No answer from Ada"));
        assert!(shown.is_finished());
        // A late `Offered` changes nothing once it has gone further.
        list.apply(TransferEvent::Accepted(k.clone()), names);
        list.apply(TransferEvent::Offered(k.clone()), names);
        assert_eq!(list.get(&k).unwrap().status_line(), "Sending to Ada");
    }

    #[test]
    fn an_offer_whose_peer_leaves_says_so() {
        let names = |_: &PeerId| Some("Ada".to_owned());
        for (direction, line) in
            [(Direction::Send, "Ada left before answering"), (Direction::Receive, "Ada left before you answered")]
        {
            let k = key(direction);
            let mut list = TransferList::default();
            let mut offer = Transfer::new(k.clone(), "notes.txt".into(), 10);
            offer.status = if direction == Direction::Receive { Status::Offered } else { Status::Waiting };
            list.apply(TransferEvent::Added(offer), names);
            list.apply(TransferEvent::NoAnswer(k.clone(), NoAnswer::PeerLeft), names);
            let shown = list.get(&k).unwrap();
            assert_eq!((shown.data_state(), shown.status_line().as_str()), ("failed", line));
        }
    }

    #[test]
    fn progress_is_reported_at_most_every_100_ms() {
        let mut throttle = Throttle::default();
        assert!(throttle.due(1000.0));
        assert!(!throttle.due(1050.0));
        assert!(throttle.due(1100.0));
        assert!(!throttle.due(1199.0));
    }

    #[test]
    fn a_transfer_moves_forward_to_done_and_then_never_changes() {
        let mut list = list_with(Direction::Receive, 100);
        let k = key(Direction::Receive);
        let names = |_: &PeerId| None;
        assert_eq!(list.get(&k).unwrap().peer_name, "Ada");
        assert_eq!(list.get(&k).unwrap().data_state(), "receiving");
        assert_eq!(list.get(&k).unwrap().status_line(), "From Ada, starting…");
        list.apply(TransferEvent::Progress(k.clone(), 60), names);
        list.apply(TransferEvent::Progress(k.clone(), 40), names);
        assert_eq!(list.get(&k).unwrap().bytes, 60, "progress never goes backwards");
        list.apply(TransferEvent::Progress(k.clone(), 1_000), names);
        assert_eq!(list.get(&k).unwrap().bytes, 100, "nor past the size");
        list.apply(TransferEvent::Done(k.clone(), Some("blob:x".into())), names);
        let done = list.get(&k).unwrap().clone();
        assert_eq!((done.data_state(), done.download.as_deref()), ("done", Some("blob:x")));
        list.apply(TransferEvent::Cancelled(k.clone(), false), names);
        list.apply(TransferEvent::Failed(k.clone(), "late".into()), names);
        assert_eq!(list.get(&k), Some(&done));
    }

    #[test]
    fn cancelling_either_side_and_failures_show_who_and_why() {
        let mut sending = list_with(Direction::Send, 100);
        let k = key(Direction::Send);
        assert_eq!(sending.get(&k).unwrap().data_state(), "sending");
        sending.apply(TransferEvent::Progress(k.clone(), 10), |_| None);
        assert_eq!(sending.get(&k).unwrap().status_line(), "Sending to Ada");
        assert_eq!(sending.get(&k).unwrap().amount_line(), "10 B of 100 B");
        sending.apply(TransferEvent::Cancelled(k.clone(), false), |_| None);
        let cancelled = sending.get(&k).unwrap();
        assert_eq!((cancelled.data_state(), cancelled.status_line()), ("cancelled", "Cancelled by Ada".to_owned()));

        let mut receiving = list_with(Direction::Receive, 100);
        let k = key(Direction::Receive);
        receiving.apply(TransferEvent::Failed(k.clone(), "big.bin arrived damaged".into()), |_| None);
        let failed = receiving.get(&k).unwrap();
        assert_eq!((failed.data_state(), failed.status_line()), ("failed", "big.bin arrived damaged".to_owned()));
    }

    #[test]
    fn events_for_unknown_transfers_and_duplicate_additions_change_nothing() {
        let mut list = list_with(Direction::Receive, 100);
        let before = list.clone();
        let stranger = TransferKey { peer: "mallory".into(), id: "k3v9".into(), direction: Direction::Receive };
        list.apply(TransferEvent::Progress(stranger.clone(), 5), |_| None);
        list.apply(TransferEvent::Done(stranger, None), |_| None);
        // Same id, other direction: another transfer.
        list.apply(TransferEvent::Progress(key(Direction::Send), 5), |_| None);
        list.apply(TransferEvent::Added(Transfer::new(key(Direction::Receive), "other".into(), 1)), |_| None);
        assert_eq!(list, before);
    }

    #[test]
    fn only_this_transfers_end_or_a_cancel_may_arrive_as_text() {
        let receipt = Receipt::new("a.bin", 10);
        let sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let end = PeerMessage::FileEnd { id: "k3v9".into(), sha256: sha256.into() }.to_json();
        assert_eq!(receipt.read_control("k3v9", Some(&end)), Ok(Control::End { sha256: sha256.into() }));
        let cancel = PeerMessage::FileCancel { id: "k3v9".into() }.to_json();
        assert_eq!(receipt.read_control("k3v9", Some(&cancel)), Ok(Control::Cancel));
        let other_end = PeerMessage::FileEnd { id: "zzzz".into(), sha256: sha256.into() }.to_json();
        let chat = PeerMessage::Chat { text: "hi".into() }.to_json();
        let offer = PeerMessage::FileOffer(offer("k3v9", "x", 1)).to_json();
        for text in [
            Some(other_end.as_str()),
            Some(chat.as_str()),
            Some(offer.as_str()),
            Some(r#"{"type":"file_end","id":"k3v9"}"#),
            Some(r#"{"type":"file_end","id":"k3v9","sha256":7}"#),
            Some("file_end"),
            Some(""),
            None,
        ] {
            let damage = receipt.read_control("k3v9", text).unwrap_err();
            assert_eq!(
                damage.to_string(),
                "a.bin arrived damaged: its sender sent something that is not part of a file"
            );
        }
        // An end that is not hex, or that comes early, is read, and then does not check out.
        let bad_hash = PeerMessage::FileEnd { id: "k3v9".into(), sha256: "<b>".into() }.to_json();
        let Ok(Control::End { sha256: bad }) = receipt.read_control("k3v9", Some(&bad_hash)) else { panic!() };
        let mut full = Receipt::new("a.bin", 1);
        full.add(&[0]).unwrap();
        assert!(matches!(full.finish(&bad), Err(ReceiveError::Damaged { .. })));
        assert!(matches!(receipt.finish(sha256), Err(ReceiveError::Incomplete { .. })));
        assert_eq!(receipt.missing(), 10);
    }

    #[test]
    fn an_offer_waits_for_an_answer_and_says_how_it_was_declined() {
        let k = key(Direction::Receive);
        let names = |_: &PeerId| Some("Ada".to_owned());
        let offered = |list: &mut TransferList| {
            let mut transfer = Transfer::new(k.clone(), "notes.txt".into(), 2048);
            transfer.status = Status::Offered;
            list.apply(TransferEvent::Added(transfer), names);
        };
        let mut list = TransferList::default();
        offered(&mut list);
        let shown = list.get(&k).unwrap();
        assert_eq!((shown.data_state(), shown.status_line()), ("offered", "Ada offers you this file".to_owned()));
        assert_eq!(shown.amount_line(), "2.0 KB");
        assert!(!shown.is_finished(), "an offer cannot be dismissed before it is answered");
        list.apply(TransferEvent::Accepted(k.clone()), names);
        assert_eq!(list.get(&k).unwrap().data_state(), "receiving");
        assert_eq!(list.get(&k).unwrap().status_line(), "From Ada, starting…");

        for (why, line) in [
            (Declined::ByMe, "Declined"),
            (Declined::Unanswered, "Declined: not answered within 60 s"),
            (Declined::Refused("x is too big".into()), "Declined: x is too big"),
        ] {
            let mut list = TransferList::default();
            offered(&mut list);
            list.apply(TransferEvent::Declined(k.clone(), why), names);
            let declined = list.get(&k).unwrap();
            assert_eq!((declined.data_state(), declined.status_line().as_str()), ("declined", line));
            assert!(declined.is_finished());
            list.apply(TransferEvent::Accepted(k.clone()), names);
            assert_eq!(list.get(&k).unwrap().data_state(), "declined", "a declined offer cannot be accepted");
        }

        let mut sending = list_with(Direction::Send, 100);
        let s = key(Direction::Send);
        assert_eq!(sending.get(&s).unwrap().status_line(), "Waiting for Ada to accept…");
        let mut declined = sending.clone();
        declined.apply(TransferEvent::Declined(s.clone(), Declined::ByPeer), names);
        assert_eq!(declined.get(&s).unwrap().status_line(), "Declined by Ada");
        sending.apply(TransferEvent::Accepted(s.clone()), names);
        assert_eq!(sending.get(&s).unwrap().status_line(), "Sending to Ada");
    }

    #[test]
    fn dismissing_takes_an_item_off_and_dropped_offers_are_one_line_per_peer() {
        let mut list = list_with(Direction::Receive, 100);
        let k = key(Direction::Receive);
        list.apply(TransferEvent::Dismissed(k.clone()), |_| None);
        assert!(list.get(&k).is_none());
        assert!(list.is_empty());

        let names = |peer: &PeerId| Some(if peer.as_str() == "ada" { "Ada" } else { "Mallory" }.to_owned());
        for _ in 0..97 {
            list.apply(TransferEvent::Dropped("mallory".into()), names);
        }
        list.apply(TransferEvent::Dropped("ada".into()), names);
        let lines: Vec<String> = list.dropped.iter().map(Dropped::line).collect();
        assert_eq!(
            lines,
            [
                "Declined 97 more offers from Mallory without asking you",
                "Declined 1 more offer from Ada without asking you"
            ]
        );
        assert!(list.items.is_empty() && !list.is_empty());
    }

    /// What the browser side does with each event: the list and the shelf both see it, and what the shelf pushes out
    /// leaves the list.
    fn apply_both(list: &mut TransferList, shelf: &mut Shelf, event: TransferEvent) -> Option<Released> {
        let released = shelf.record(&event);
        list.apply(event, |_| None);
        if let Some((key, _)) = &released {
            list.apply(TransferEvent::Dismissed(key.clone()), |_| None);
        }
        released
    }

    fn received(id: &str) -> TransferKey {
        TransferKey { peer: "ada".into(), id: id.into(), direction: Direction::Receive }
    }

    #[test]
    fn the_list_keeps_the_newest_finished_transfers_and_every_live_one() {
        let (mut list, mut shelf) = (TransferList::default(), Shelf::default());
        // Two live ones, first of all: they stay whatever finishes after them.
        for id in ["live0", "live1"] {
            apply_both(&mut list, &mut shelf, TransferEvent::Added(Transfer::new(received(id), id.into(), 10)));
        }
        let mut released = Vec::new();
        // Every finished one has a file here: the oldest go first.
        for i in 0..MAX_FINISHED_KEPT + 5 {
            let id = format!("f{i}");
            apply_both(&mut list, &mut shelf, TransferEvent::Added(Transfer::new(received(&id), id.clone(), 10)));
            let url = format!("blob:{id}");
            released.extend(apply_both(&mut list, &mut shelf, TransferEvent::Done(received(&id), Some(url))));
        }
        assert_eq!(list.items.len(), MAX_FINISHED_KEPT + 2);
        let expected: Vec<Released> =
            (0..5).map(|i| (received(&format!("f{i}")), Some(format!("blob:f{i}")))).collect();
        assert_eq!(released, expected, "the oldest finished go first, with their files");
        assert!(list.get(&received("live0")).is_some() && list.get(&received("live1")).is_some());
        assert!(list.get(&received("f4")).is_none() && list.get(&received("f5")).is_some());

        // Finishing order counts, not the order they were added in: live0 finishes now and is the newest.
        let out = apply_both(&mut list, &mut shelf, TransferEvent::Failed(received("live0"), "lost".into()));
        assert_eq!(out, Some((received("f5"), Some("blob:f5".to_owned()))));
        assert!(list.get(&received("live0")).is_some());
        // A second ending of the same transfer takes no second place.
        assert_eq!(apply_both(&mut list, &mut shelf, TransferEvent::Cancelled(received("live0"), true)), None);
        assert_eq!(list.items.len(), MAX_FINISHED_KEPT + 1);
    }

    #[test]
    fn a_stream_of_declined_offers_cannot_push_a_received_file_off_the_list() {
        let (mut list, mut shelf) = (TransferList::default(), Shelf::default());
        apply_both(&mut list, &mut shelf, TransferEvent::Added(Transfer::new(received("file"), "file".into(), 10)));
        apply_both(&mut list, &mut shelf, TransferEvent::Done(received("file"), Some("blob:file".into())));
        let mut gone = Vec::new();
        for i in 0..3 * MAX_FINISHED_KEPT {
            let mut offer = Transfer::new(received(&format!("o{i}")), "spam".into(), 1);
            offer.status = Status::Offered;
            apply_both(&mut list, &mut shelf, TransferEvent::Added(offer));
            let why = Declined::Unanswered;
            gone.extend(apply_both(&mut list, &mut shelf, TransferEvent::Declined(received(&format!("o{i}")), why)));
        }
        assert_eq!(list.items.len(), MAX_FINISHED_KEPT);
        assert!(list.get(&received("file")).is_some_and(|t| t.download.as_deref() == Some("blob:file")));
        // The declined ones went oldest first, and none had a file to release.
        let expected: Vec<Released> =
            (0..2 * MAX_FINISHED_KEPT + 1).map(|i| (received(&format!("o{i}")), None)).collect();
        assert_eq!(gone, expected);
    }

    #[test]
    fn a_dismissed_transfer_releases_its_file_and_only_finished_ones_can_go() {
        let (mut list, mut shelf) = (TransferList::default(), Shelf::default());
        apply_both(&mut list, &mut shelf, TransferEvent::Added(Transfer::new(received("a"), "a".into(), 10)));
        assert_eq!(shelf.take(&received("a")), None, "a live transfer is not dismissed");
        apply_both(&mut list, &mut shelf, TransferEvent::Done(received("a"), Some("blob:a".into())));
        assert!(shelf.holds(&received("a")));
        assert_eq!(shelf.take(&received("a")), Some((received("a"), Some("blob:a".into()))));
        assert_eq!(shelf.take(&received("a")), None);

        let mut refusal = Transfer::new(received("r"), "r".into(), 10);
        refusal.status = Status::Declined(Declined::Refused("too big".into()));
        apply_both(&mut list, &mut shelf, TransferEvent::Added(refusal));
        let mut declined = Transfer::new(received("d"), "d".into(), 10);
        declined.status = Status::Offered;
        apply_both(&mut list, &mut shelf, TransferEvent::Added(declined));
        apply_both(&mut list, &mut shelf, TransferEvent::Declined(received("d"), Declined::ByMe));
        assert_eq!(shelf.refusals_from(&"ada".into()), 1, "declined by the person is not a refusal");
        assert_eq!(shelf.refusals_from(&"bob".into()), 0);
        apply_both(&mut list, &mut shelf, TransferEvent::Done(received("e"), Some("blob:e".into())));
        assert_eq!(shelf.clear(), ["blob:e"]);
        assert_eq!(shelf.refusals_from(&"ada".into()), 0);
    }
}
