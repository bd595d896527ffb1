//! File transfers as plain Rust: checking offers, naming files safely, counting and hashing bytes, and the list of
//! transfers the call screen shows. The browser side (channels, blobs) is `crate::rtc::transfer`.

use huddle_common::{FileOffer, PeerId};
use sha2::{Digest, Sha256};

use crate::call::decimal::fixed;

/// Bytes per data channel message: well under every browser's message size limit.
pub const CHUNK_BYTES: usize = 64 * 1024;
/// Bytes read from the file at a time (then sent as several chunks): fewer round trips to the browser's file reader,
/// and still a constant, small amount of memory whatever the file's size.
pub const READ_BYTES: u64 = 1024 * 1024;
/// The sender pauses while more than this waits in the channel's buffer...
pub const HIGH_WATER_BYTES: u32 = 8 * 1024 * 1024;
/// ...and resumes once it drains below this (the channel's `bufferedAmountLowThreshold`).
pub const LOW_WATER_BYTES: u32 = 2 * 1024 * 1024;
/// A receiver holds at most this many received chunks as separate buffers before folding them into one `Blob`,
/// which the browser may keep outside the page's heap.
pub const FOLD_BYTES: u64 = 16 * 1024 * 1024;
/// At most this many transfers are received at once; more offers are refused.
pub const MAX_INCOMING: usize = 8;
/// The longest file name kept, in characters.
const MAX_NAME_CHARS: usize = 200;
/// The longest media type kept, in characters.
const MAX_MIME_CHARS: usize = 100;

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
    /// A media type of the form `type/subtype`, or `application/octet-stream`.
    pub mime: String,
}

/// Checks an offer from a peer. `running` says whether the peer already has a transfer with that id, and `incoming`
/// is how many transfers are being received now.
pub fn check_offer(offer: &FileOffer, running: bool, incoming: usize) -> Result<CheckedOffer, OfferError> {
    let name = sanitize_name(&offer.name);
    if !valid_id(&offer.id) {
        return Err(OfferError::BadId { name });
    }
    if offer.size > FileOffer::MAX_SIZE {
        return Err(OfferError::TooLarge { name, size: offer.size });
    }
    if running {
        return Err(OfferError::DuplicateId { name });
    }
    if incoming >= MAX_INCOMING {
        return Err(OfferError::TooMany { name });
    }
    Ok(CheckedOffer { id: offer.id.clone(), name, size: offer.size, mime: sanitize_mime(&offer.mime) })
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
/// and invisible formatting characters are dropped, surrounding spaces and dots are trimmed, and it is cut to 200
/// characters (keeping the extension). Empty, `.` or `..` becomes `file`.
pub fn sanitize_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .filter(|c| !c.is_control() && !is_invisible(*c))
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

/// Zero-width and text-direction characters, which can make a name look like another (`exe.pdf` shown as `fdp.exe`).
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// A media type safe to give a `Blob`: `type/subtype` of token characters, lowercase; anything else is
/// `application/octet-stream`.
pub fn sanitize_mime(mime: &str) -> String {
    let mime = mime.trim().to_ascii_lowercase();
    let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b));
    match mime.split_once('/') {
        Some((kind, sub)) if mime.len() <= MAX_MIME_CHARS && token(kind) && token(sub) => mime,
        _ => "application/octet-stream".to_owned(),
    }
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

    /// Counts and hashes the next bytes; more than offered is an error.
    pub fn add(&mut self, bytes: &[u8]) -> Result<(), ReceiveError> {
        let received = self.received + bytes.len() as u64;
        if received > self.expected {
            return Err(ReceiveError::TooLong { name: self.name.clone() });
        }
        self.received = received;
        self.hasher.update(bytes);
        Ok(())
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Checks, once the sender says it is done, that everything arrived and hashes to `sha256` (hex, any case).
    pub fn finish(self, sha256: &str) -> Result<(), ReceiveError> {
        if self.received != self.expected {
            return Err(ReceiveError::Incomplete { name: self.name, received: self.received, expected: self.expected });
        }
        if hex(&self.hasher.finalize()) != sha256.to_ascii_lowercase() {
            return Err(ReceiveError::Damaged { name: self.name });
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
    /// Offered; the bytes have not started moving.
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
    /// Went wrong, and why (for people).
    Failed(String),
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

    /// Whether it is over (done, cancelled or failed): nothing changes it any more.
    pub fn is_finished(&self) -> bool {
        !matches!(self.status, Status::Waiting | Status::Moving)
    }

    /// The state as the page's `data-state` says it: `sending`, `receiving`, `done`, `cancelled` or `failed`.
    pub fn data_state(&self) -> &'static str {
        match (&self.status, self.key.direction) {
            (Status::Waiting | Status::Moving, Direction::Send) => "sending",
            (Status::Waiting | Status::Moving, Direction::Receive) => "receiving",
            (Status::Done, _) => "done",
            (Status::Cancelled { .. }, _) => "cancelled",
            (Status::Failed(_), _) => "failed",
        }
    }

    /// One line for people: where it stands.
    pub fn status_line(&self) -> String {
        let who = if self.peer_name.is_empty() { "them" } else { self.peer_name.as_str() };
        let sending = self.key.direction == Direction::Send;
        match &self.status {
            Status::Waiting if sending => format!("Waiting for {who}…"),
            Status::Waiting => format!("From {who}, starting…"),
            Status::Moving if sending => format!("Sending to {who}"),
            Status::Moving => format!("From {who}"),
            Status::Done if sending => format!("Sent to {who}"),
            Status::Done => format!("Received from {who}"),
            Status::Cancelled { by_me: true } => "Cancelled".to_owned(),
            Status::Cancelled { by_me: false } => format!("Cancelled by {who}"),
            Status::Failed(why) => why.clone(),
        }
    }

    /// The amount line: `12.3 MB of 50.0 MB`, or the size once done.
    pub fn amount_line(&self) -> String {
        match self.status {
            Status::Done => format_bytes(self.size),
            _ => format!("{} of {}", format_bytes(self.bytes), format_bytes(self.size)),
        }
    }
}

/// Everything that happens to transfers.
#[derive(Clone, Debug, PartialEq)]
pub enum TransferEvent {
    /// A new transfer, either way (possibly already failed: a refused offer).
    Added(Transfer),
    /// Bytes moved: the total so far.
    Progress(TransferKey, u64),
    /// Finished; on the receiving side, with the URL to save it from.
    Done(TransferKey, Option<String>),
    /// Stopped by one side.
    Cancelled(TransferKey, bool),
    /// Went wrong.
    Failed(TransferKey, String),
}

/// The transfers of this call, oldest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TransferList {
    /// The transfers.
    pub items: Vec<Transfer>,
}

impl TransferList {
    /// The transfer with this key.
    pub fn get(&self, key: &TransferKey) -> Option<&Transfer> {
        self.items.iter().find(|t| &t.key == key)
    }

    /// Applies one event; `name_of` gives a peer's display name. A finished transfer never changes again, progress
    /// never goes backwards nor past the size, and an event for an unknown transfer is ignored.
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
            TransferEvent::Progress(key, _)
            | TransferEvent::Done(key, _)
            | TransferEvent::Cancelled(key, _)
            | TransferEvent::Failed(key, _) => key,
        };
        let Some(transfer) = self.items.iter_mut().find(|t| &t.key == key) else { return };
        if transfer.is_finished() {
            return;
        }
        match event {
            TransferEvent::Added(_) => {}
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
            TransferEvent::Failed(_, why) => transfer.status = Status::Failed(why),
        }
    }
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

    #[test]
    fn a_sound_offer_is_taken_with_its_name_and_type() {
        let checked = check_offer(&offer("k3v9", "notes.txt", 12), false, 0).unwrap();
        assert_eq!(
            checked,
            CheckedOffer { id: "k3v9".into(), name: "notes.txt".into(), size: 12, mime: "text/plain".into() }
        );
        let at_limit = check_offer(&offer("a", "x", FileOffer::MAX_SIZE), false, MAX_INCOMING - 1);
        assert!(at_limit.is_ok());
    }

    #[test]
    fn offers_over_4_gib_or_with_bad_ids_or_too_many_are_refused_with_a_reason() {
        let huge = check_offer(&offer("k3v9", "disk.img", FileOffer::MAX_SIZE + 1), false, 0).unwrap_err();
        assert_eq!(huge.to_string(), "disk.img is 4.0 GB: files up to 4 GB can be sent");
        let absurd = check_offer(&offer("k3v9", "x", u64::MAX), false, 0).unwrap_err();
        assert!(matches!(absurd, OfferError::TooLarge { .. }));
        for id in ["", "UPPER", "has space", "../etc", &"a".repeat(33)] {
            let refused = check_offer(&offer(id, "x", 1), false, 0).unwrap_err();
            assert_eq!(refused, OfferError::BadId { name: "x".into() }, "{id:?}");
        }
        assert!(matches!(check_offer(&offer("k3v9", "x", 1), true, 0), Err(OfferError::DuplicateId { .. })));
        let busy = check_offer(&offer("k3v9", "x", 1), false, MAX_INCOMING).unwrap_err();
        assert_eq!(busy.to_string(), "x has to wait: too many files are arriving at once");
    }

    #[test]
    fn names_cannot_point_into_directories_or_hide_their_extension() {
        assert_eq!(sanitize_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(sanitize_name("C:\\Windows\\evil.dll"), "C__Windows_evil.dll");
        assert_eq!(sanitize_name("report\u{202E}fdp.exe"), "reportfdp.exe");
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
    fn media_types_are_kept_only_when_well_formed() {
        assert_eq!(sanitize_mime("Image/PNG"), "image/png");
        assert_eq!(sanitize_mime("application/vnd.ms-excel"), "application/vnd.ms-excel");
        for bad in ["", "text", "text/html; charset=utf-8", "a/b/c", "<script>/x", &format!("a/{}", "b".repeat(200))] {
            assert_eq!(sanitize_mime(bad), "application/octet-stream", "{bad:?}");
        }
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
        let file: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        let mut sent = Sent::default();
        let mut receipt = Receipt::new("data.bin", file.len() as u64);
        // Different chunkings on each side: the hash is of the bytes, not of the messages.
        for chunk in file.chunks(CHUNK_BYTES) {
            sent.add(chunk);
        }
        for chunk in file.chunks(1000) {
            receipt.add(chunk).unwrap();
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
        let mut short = Receipt::new("a.bin", 10);
        short.add(&[1; 4]).unwrap();
        let incomplete = short.finish(&Sent::default().sha256()).unwrap_err();
        assert_eq!(incomplete.to_string(), "a.bin arrived damaged: 4 B of 10 B arrived");

        let mut long = Receipt::new("a.bin", 10);
        long.add(&[1; 8]).unwrap();
        assert_eq!(long.add(&[1; 3]), Err(ReceiveError::TooLong { name: "a.bin".into() }));
        assert_eq!(long.received(), 8);

        let mut sent = Sent::default();
        sent.add(&[1; 10]);
        let mut altered = Receipt::new("a.bin", 10);
        altered.add(&[1, 1, 1, 1, 0, 1, 1, 1, 1, 1]).unwrap();
        let damaged = altered.finish(&sent.sha256()).unwrap_err();
        assert_eq!(damaged.to_string(), "a.bin arrived damaged: its checksum does not match");
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
}
