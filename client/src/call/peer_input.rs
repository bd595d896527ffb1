//! The gate every message from a peer's `huddle` data channel passes before the call acts on it: a peer can run any
//! code, so what it sends is input, bounded and checked like the relay checks what clients send.
//!
//! A message is dropped, and counted, when it is too big (checked before it is read), when the peer sends faster
//! than a person ever does (a token bucket for every message it sends, whatever it is; one for the bytes parsed; one
//! per kind of message after parsing), or when it is not a message this build knows. Nothing here can panic: the
//! worst a peer gets is its messages dropped. A peer past the message rate for everything is a flood, which no
//! person's Huddle sends: the page stops listening to that peer's channel for the rest of the connection, since even
//! a dropped message costs the page a call into Huddle's code and the browser's work to deliver it, and a flood of
//! them keeps the page from answering its person. Going over the byte rate only drops: a few long lines in a script
//! of three bytes a character get there without any flooding.
//!
//! The data channels a peer opens (one per file the person accepted) pass the gate too: a peer opening them faster
//! than anyone accepts files is no longer listened to for new channels.

use huddle_common::{FileOffer, PeerMessage};

/// The largest message taken, in bytes of UTF-8: room for the longest chat line in any script, with margin.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// Whether a text message the browser says is `utf16_units` long is too big to copy out of JavaScript: each UTF-16
/// unit is at most three bytes of UTF-8, so a string within this is within [`MAX_MESSAGE_BYTES`] and is read, and
/// one over it could be over and is dropped unread. Huddle's longest message (the longest chat line, in any script,
/// as JSON) is far within.
pub fn too_long_to_read(utf16_units: usize) -> bool {
    utf16_units > MAX_MESSAGE_BYTES / 3
}

/// The longest label of a data channel the page looks at, in UTF-16 units: `file:` and the longest transfer id. A
/// longer one is closed without being copied out of JavaScript.
pub const MAX_CHANNEL_LABEL: usize = FileOffer::CHANNEL_PREFIX.len() + FileOffer::MAX_ID_CHARS;

/// How fast a bucket refills and how much it holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// Messages (or bytes) a second, on average.
    pub per_sec: f64,
    /// Messages (or bytes) at once, after a quiet while.
    pub burst: f64,
}

/// Everything a peer sends, in messages: bounds the parsing, whatever the messages turn out to be. Above the sum of
/// the kinds'.
pub const ANY_RATE: Rate = Rate { per_sec: 60.0, burst: 150.0 };
/// Everything a peer sends, in bytes: parsing a message of crafted JSON near the size bound takes milliseconds, so
/// the bytes parsed are bounded too. A person's lines are usually far shorter, and far fewer; going over only drops.
pub const ANY_BYTES_RATE: Rate = Rate { per_sec: 32.0 * 1024.0, burst: 64.0 * 1024.0 };
/// Chat lines: a fast typist sends one or two a second; a burst covers a few quick ones after a pause.
pub const CHAT_RATE: Rate = Rate { per_sec: 5.0, burst: 20.0 };
/// Microphone, camera and screen state: one per change, a click or a key press each (builds before shortcuts ignored
/// the keyboard's auto-repeat sent one per repeat of a held key).
pub const MEDIA_STATE_RATE: Rate = Rate { per_sec: 40.0, burst: 80.0 };
/// The files' messages on this channel (offer, accept, cancel): a handful per file, a few files at once.
pub const FILE_RATE: Rate = Rate { per_sec: 10.0, burst: 40.0 };

/// Data channels a peer opens: the sender opens one per file the person accepted, each after a click.
pub const CHANNEL_RATE: Rate = Rate { per_sec: 5.0, burst: 30.0 };

/// One token bucket, on the caller's clock (milliseconds).
#[derive(Clone, Copy, Debug)]
struct Bucket {
    rate: Rate,
    tokens: f64,
    at_ms: f64,
}

impl Bucket {
    fn full(rate: Rate) -> Self {
        Bucket { rate, tokens: rate.burst, at_ms: f64::NEG_INFINITY }
    }

    /// Refills up to `now_ms`, then takes `amount` tokens; false when there are not as many. A clock that goes back
    /// (or is not a number) refills nothing.
    fn take(&mut self, amount: f64, now_ms: f64) -> bool {
        if now_ms.is_finite() && now_ms > self.at_ms {
            // From the start (-inf), the refill is infinite, and the bucket full.
            let refill = (now_ms - self.at_ms) / 1e3 * self.rate.per_sec;
            self.tokens = (self.tokens + refill).min(self.rate.burst);
            self.at_ms = now_ms;
        }
        if self.tokens >= amount {
            self.tokens -= amount;
            true
        } else {
            false
        }
    }
}

/// Why a message was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// Over [`MAX_MESSAGE_BYTES`].
    TooBig,
    /// Sent faster than the rate for everything, or for its kind.
    TooFast,
    /// Not text, not JSON, or not a message this build knows.
    Malformed,
}

/// How many messages from one peer were dropped, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropCounts {
    /// Over the size bound.
    pub too_big: u64,
    /// Over a rate.
    pub too_fast: u64,
    /// Unreadable or unknown.
    pub malformed: u64,
    /// The peer flooded, and nothing more it sends on the channel is listened to.
    pub ignored: bool,
    /// Data channels the peer opened that were closed at once: too many too fast, or a label no file has.
    pub channels: u64,
    /// The peer opened channels faster than anyone accepts files, and new ones are no longer listened to.
    pub channels_ignored: bool,
}

impl DropCounts {
    /// All of them.
    pub fn total(&self) -> u64 {
        self.too_big.saturating_add(self.too_fast).saturating_add(self.malformed)
    }

    /// What the person is told, e.g. "12 messages dropped (too fast: 10, malformed: 2)"; None when nothing was.
    pub fn describe(&self) -> Option<String> {
        let total = self.total();
        let mut parts = Vec::new();
        if total > 0 {
            let reasons: Vec<String> =
                [("too fast", self.too_fast), ("malformed", self.malformed), ("too big", self.too_big)]
                    .into_iter()
                    .filter(|(_, count)| *count > 0)
                    .map(|(reason, count)| format!("{reason}: {count}"))
                    .collect();
            let noun = if total == 1 { "message" } else { "messages" };
            parts.push(format!("{total} {noun} dropped ({})", reasons.join(", ")));
        }
        if self.channels > 0 {
            let noun = if self.channels == 1 { "channel" } else { "channels" };
            parts.push(format!("{} data {noun} refused", self.channels));
        }
        if parts.is_empty() {
            return None;
        }
        if self.ignored || self.channels_ignored {
            parts.push("no longer listened to".to_owned());
        }
        Some(parts.join("; "))
    }

    fn count(&mut self, reason: Dropped) {
        let counter = match reason {
            Dropped::TooBig => &mut self.too_big,
            Dropped::TooFast => &mut self.too_fast,
            Dropped::Malformed => &mut self.malformed,
        };
        *counter = counter.saturating_add(1);
    }
}

/// The gate for one peer's `huddle` channel: its buckets and what it dropped.
#[derive(Clone, Debug)]
pub struct PeerInput {
    any: Bucket,
    any_bytes: Bucket,
    chat: Bucket,
    media_state: Bucket,
    file: Bucket,
    channels: Bucket,
    dropped: DropCounts,
    /// The last message was over the message rate for everything: stop listening.
    flooding: bool,
}

/// What to do with a data channel the peer opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelOpen {
    /// Look at it (the transfers decide whether it is a file the person accepted).
    Take,
    /// Close it unread; it is counted.
    Refuse,
    /// Close it, and listen to no more channels from this peer: it opens them faster than anyone accepts files.
    StopListening,
}

impl Default for PeerInput {
    fn default() -> Self {
        PeerInput {
            any: Bucket::full(ANY_RATE),
            any_bytes: Bucket::full(ANY_BYTES_RATE),
            chat: Bucket::full(CHAT_RATE),
            media_state: Bucket::full(MEDIA_STATE_RATE),
            file: Bucket::full(FILE_RATE),
            channels: Bucket::full(CHANNEL_RATE),
            dropped: DropCounts::default(),
            flooding: false,
        }
    }
}

impl PeerInput {
    /// What was dropped so far.
    pub fn dropped(&self) -> DropCounts {
        self.dropped
    }

    /// Counts a message dropped before it reached [`PeerInput::admit`], arrived at `now_ms`: binary data on this
    /// text-only channel, or a string [`too_long_to_read`], not copied out of JavaScript at all. It still counts
    /// against the message rate for everything.
    pub fn refuse(&mut self, reason: Dropped, now_ms: f64) {
        if !self.any.take(1.0, now_ms) {
            self.flooding = true;
        }
        self.dropped.count(reason);
    }

    /// Whether the page should stop listening to the peer's channel: true once, for the message that went past the
    /// message rate for everything; the counts then say the peer is no longer listened to.
    pub fn take_flooding(&mut self) -> bool {
        let flooding = std::mem::take(&mut self.flooding) && !self.dropped.ignored;
        self.dropped.ignored |= flooding;
        flooding
    }

    /// A data channel the peer opened at `now_ms`, its label `label_units` UTF-16 units long (read before the label
    /// is): what to do with it. Past [`CHANNEL_RATE`] the answer is to stop listening, once; a label longer than any
    /// file's is refused.
    pub fn open_channel(&mut self, label_units: usize, now_ms: f64) -> ChannelOpen {
        if self.dropped.channels_ignored {
            self.dropped.channels = self.dropped.channels.saturating_add(1);
            return ChannelOpen::Refuse;
        }
        if !self.channels.take(1.0, now_ms) {
            self.dropped.channels = self.dropped.channels.saturating_add(1);
            self.dropped.channels_ignored = true;
            return ChannelOpen::StopListening;
        }
        if label_units > MAX_CHANNEL_LABEL {
            self.dropped.channels = self.dropped.channels.saturating_add(1);
            return ChannelOpen::Refuse;
        }
        ChannelOpen::Take
    }

    /// Reads one text message that arrived at `now_ms`: the message, or why it was dropped (and counted).
    pub fn admit(&mut self, text: &str, now_ms: f64) -> Result<PeerMessage, Dropped> {
        let verdict = self.check(text, now_ms);
        if let Err(reason) = verdict {
            self.dropped.count(reason);
        }
        verdict
    }

    fn check(&mut self, text: &str, now_ms: f64) -> Result<PeerMessage, Dropped> {
        // Every message counts, too big ones included: a flood of anything is a flood. Only this rate, which no
        // person's Huddle reaches, is a flood; the others only drop.
        if !self.any.take(1.0, now_ms) {
            self.flooding = true;
            return Err(Dropped::TooFast);
        }
        if text.len() > MAX_MESSAGE_BYTES {
            return Err(Dropped::TooBig);
        }
        // Before parsing: a flood of junk costs its sender the bucket, and the receiver no parsing past it.
        if !self.any_bytes.take(text.len() as f64, now_ms) {
            return Err(Dropped::TooFast);
        }
        let message = PeerMessage::from_json(text).ok_or(Dropped::Malformed)?;
        let bucket = match message {
            PeerMessage::Chat { .. } => &mut self.chat,
            PeerMessage::MediaState { .. } => &mut self.media_state,
            PeerMessage::FileOffer(_)
            | PeerMessage::FileAccept { .. }
            | PeerMessage::FileEnd { .. }
            | PeerMessage::FileCancel { .. } => &mut self.file,
        };
        if !bucket.take(1.0, now_ms) {
            return Err(Dropped::TooFast);
        }
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(text: &str) -> String {
        PeerMessage::Chat { text: text.into() }.to_json()
    }

    fn media(mic: bool) -> String {
        PeerMessage::MediaState { mic, camera: true, screen: false, video_paused: false }.to_json()
    }

    /// Sends `count` copies of `text` at `now_ms`; how many got through.
    fn send_all(input: &mut PeerInput, text: &str, count: usize, now_ms: f64) -> usize {
        (0..count).filter(|_| input.admit(text, now_ms).is_ok()).count()
    }

    #[test]
    fn a_person_chatting_and_toggling_is_never_dropped() {
        let mut input = PeerInput::default();
        // Ten minutes of a busy person: a line every half second, mute toggled twice a second, a file now and then.
        for tick in 0..1_200 {
            let now = f64::from(tick) * 500.0;
            assert!(input.admit(&chat("a line"), now).is_ok(), "line at {now} ms");
            assert!(input.admit(&media(tick % 2 == 0), now).is_ok());
            if tick % 20 == 0 {
                let offer = PeerMessage::FileCancel { id: "k3".into() }.to_json();
                assert!(input.admit(&offer, now).is_ok());
            }
        }
        assert_eq!(input.dropped(), DropCounts::default());
    }

    #[test]
    fn a_chat_flood_gets_the_burst_then_the_rate_and_is_counted() {
        let mut input = PeerInput::default();
        let line = chat("spam");
        assert_eq!(send_all(&mut input, &line, 1_000, 0.0), CHAT_RATE.burst as usize);
        // A second later: a second's worth of lines, no more.
        assert_eq!(send_all(&mut input, &line, 1_000, 1_000.0), CHAT_RATE.per_sec as usize);
        let dropped = input.dropped();
        assert_eq!(dropped.too_fast, 2_000 - (CHAT_RATE.burst + CHAT_RATE.per_sec) as u64);
        assert_eq!((dropped.malformed, dropped.too_big), (0, 0));
    }

    #[test]
    fn each_kind_has_its_own_bucket() {
        let mut input = PeerInput::default();
        assert_eq!(send_all(&mut input, &chat("spam"), 100, 0.0), CHAT_RATE.burst as usize);
        // Chat ran out; mute still gets through, and so does a file's message.
        assert!(input.admit(&media(false), 0.0).is_ok());
        assert!(input.admit(&PeerMessage::FileAccept { id: "a1".into() }.to_json(), 0.0).is_ok());
    }

    #[test]
    fn junk_is_rate_limited_before_it_is_parsed() {
        let mut input = PeerInput::default();
        let junk = "{\"type\":\"nonsense\"}";
        let through = (0..1_000).filter(|_| input.admit(junk, 0.0) == Err(Dropped::Malformed)).count();
        assert_eq!(through, ANY_RATE.burst as usize, "only the burst is parsed");
        let dropped = input.dropped();
        assert_eq!((dropped.malformed, dropped.too_fast), (ANY_RATE.burst as u64, 1_000 - ANY_RATE.burst as u64));
        // And the junk used up the budget for everything: a chat line now waits for the refill too.
        assert_eq!(input.admit(&chat("hi"), 0.0), Err(Dropped::TooFast));
        assert!(input.admit(&chat("hi"), 1_000.0).is_ok());
    }

    #[test]
    fn big_messages_are_rate_limited_by_their_bytes() {
        let mut input = PeerInput::default();
        // Just under the size bound, and crafted to be slow to parse.
        let mut junk = String::from("{");
        for key in 0.. {
            if junk.len() > MAX_MESSAGE_BYTES - 16 {
                break;
            }
            junk.push_str(&format!("\"{key:04}\":0,"));
        }
        junk.push_str("\"type\":\"x\"}");
        assert!(junk.len() <= MAX_MESSAGE_BYTES);
        let burst = (ANY_BYTES_RATE.burst / junk.len() as f64) as usize;
        let parsed = |input: &mut PeerInput, now_ms| {
            (0..100).filter(|_| input.admit(&junk, now_ms) == Err(Dropped::Malformed)).count()
        };
        assert_eq!(parsed(&mut input, 0.0), burst, "only the burst's bytes are parsed");
        assert_eq!(input.dropped().too_fast, 100 - burst as u64);
        // Far fewer than the message rate allows: the bytes ran out.
        assert!(burst < ANY_RATE.burst as usize);
        // Refilled after a quiet while.
        assert_eq!(parsed(&mut input, 2_000.0), burst);
    }

    #[test]
    fn oversized_malformed_and_unknown_messages_are_dropped_and_counted() {
        let mut input = PeerInput::default();
        let huge = chat(&"x".repeat(MAX_MESSAGE_BYTES));
        assert_eq!(input.admit(&huge, 0.0), Err(Dropped::TooBig));
        for bad in [
            "",
            "not json",
            "[]",
            "{\"type\":\"chat\"}",
            "{\"type\":\"chat\",\"text\":7}",
            "{\"type\":\"media_state\",\"mic\":\"yes\",\"camera\":true}",
            "{\"type\":\"file_offer\",\"id\":\"a\",\"name\":\"x\",\"size\":-1}",
            "{\"type\":\"chat\",\"text\":\"a\",\"text\":\"b\"}",
            "{\"type\":\"from_the_future\"}",
            &"[".repeat(10_000),
        ] {
            assert_eq!(input.admit(bad, 0.0), Err(Dropped::Malformed), "{bad:.40}");
        }
        input.refuse(Dropped::Malformed, 0.0);
        input.refuse(Dropped::TooBig, 0.0);
        assert_eq!(input.dropped(), DropCounts { too_big: 2, malformed: 11, ..DropCounts::default() });
        assert_eq!(input.dropped().describe().as_deref(), Some("13 messages dropped (malformed: 11, too big: 2)"));
        assert_eq!(DropCounts::default().describe(), None);
    }

    #[test]
    fn a_clock_going_back_or_broken_gives_no_extra_tokens() {
        let mut input = PeerInput::default();
        let line = chat("spam");
        assert_eq!(send_all(&mut input, &line, 100, 10_000.0), CHAT_RATE.burst as usize);
        assert_eq!(send_all(&mut input, &line, 100, 0.0), 0);
        assert_eq!(send_all(&mut input, &line, 100, f64::NAN), 0);
        assert_eq!(send_all(&mut input, &line, 100, 10_000.0), 0);
        assert_eq!(send_all(&mut input, &line, 100, 11_000.0), CHAT_RATE.per_sec as usize);
    }

    #[test]
    fn past_the_message_rate_for_everything_the_peer_is_flooding_said_once() {
        let mut input = PeerInput::default();
        let line = chat("hi");
        // The chat bucket runs out first: over a kind's rate is not a flood.
        for _ in 0..ANY_RATE.burst as usize {
            let _ = input.admit(&line, 0.0);
            assert!(!input.take_flooding());
        }
        assert_eq!(input.admit(&line, 0.0), Err(Dropped::TooFast));
        assert!(input.take_flooding());
        assert!(!input.take_flooding(), "said once");
        // Junk that is never read counts against the same rate; the peer is already not listened to, and the page
        // is told only once.
        input.refuse(Dropped::Malformed, 0.0);
        assert!(!input.take_flooding());
        let dropped = input.dropped();
        assert!(dropped.ignored);
        assert_eq!(
            dropped.describe().as_deref(),
            Some("132 messages dropped (too fast: 131, malformed: 1); no longer listened to")
        );
    }

    #[test]
    fn text_over_the_size_bound_counts_toward_the_flood() {
        // Within the browser's count of UTF-16 units as the size bound once was, three times over it in UTF-8.
        let euros = "€".repeat(MAX_MESSAGE_BYTES);
        assert!(too_long_to_read(euros.encode_utf16().count()), "not copied out of JavaScript");
        let mut input = PeerInput::default();
        let too_big = (0..1_000).filter(|_| input.admit(&euros, 0.0) == Err(Dropped::TooBig)).count();
        assert_eq!(too_big, ANY_RATE.burst as usize, "each counted against the rate for everything");
        assert!(input.take_flooding(), "a flood of them is a flood");
        assert_eq!(input.dropped().too_fast, 1_000 - ANY_RATE.burst as u64);
        // Refused unread, the same.
        let mut input = PeerInput::default();
        for _ in 0..=ANY_RATE.burst as usize {
            input.refuse(Dropped::TooBig, 0.0);
        }
        assert!(input.take_flooding());
        assert_eq!(input.dropped().too_big, ANY_RATE.burst as u64 + 1);
    }

    #[test]
    fn what_is_read_fits_the_size_bound_and_the_longest_line_is_read() {
        // The longest string read, in the widest characters per UTF-16 unit.
        let widest = "語".repeat(MAX_MESSAGE_BYTES / 3);
        assert!(!too_long_to_read(widest.encode_utf16().count()));
        assert!(widest.len() <= MAX_MESSAGE_BYTES);
        assert!(too_long_to_read(widest.encode_utf16().count() + 1));
        // The longest chat lines a person sends: astral characters (two units each), and characters JSON escapes.
        for longest in ["😀", "\"", "\\", "語"] {
            let line = chat(&longest.repeat(PeerMessage::MAX_CHAT_CHARS));
            assert!(!too_long_to_read(line.encode_utf16().count()), "{longest}");
            assert!(PeerInput::default().admit(&line, 0.0).is_ok(), "{longest}");
        }
    }

    #[test]
    fn long_lines_over_the_byte_rate_are_dropped_but_are_no_flood() {
        let mut input = PeerInput::default();
        // A dozen of the longest lines in a script of three bytes a character, pasted in quick succession.
        let line = chat(&"語".repeat(PeerMessage::MAX_CHAT_CHARS));
        let through = send_all(&mut input, &line, 12, 0.0);
        assert!(through < 12, "over the byte rate");
        assert_eq!(input.dropped().too_fast, 12 - through as u64);
        assert!(!input.take_flooding());
        assert!(!input.dropped().ignored);
        // And a few seconds on, their lines get through again.
        assert!(input.admit(&line, 3_000.0).is_ok());
    }

    #[test]
    fn a_person_receiving_files_has_every_channel_looked_at() {
        let mut input = PeerInput::default();
        // Accepting a burst of offers at once, then a file a second for ten minutes.
        for _ in 0..CHANNEL_RATE.burst as usize {
            assert_eq!(input.open_channel(9, 0.0), ChannelOpen::Take);
        }
        for second in 1..600 {
            assert_eq!(input.open_channel(MAX_CHANNEL_LABEL, f64::from(second) * 1e3), ChannelOpen::Take);
        }
        assert_eq!(input.dropped(), DropCounts::default());
    }

    #[test]
    fn channels_opened_by_the_hundred_stop_being_listened_to() {
        let mut input = PeerInput::default();
        let verdicts: Vec<ChannelOpen> = (0..500).map(|_| input.open_channel(9, 0.0)).collect();
        let burst = CHANNEL_RATE.burst as usize;
        assert!(verdicts[..burst].iter().all(|verdict| *verdict == ChannelOpen::Take));
        assert_eq!(verdicts[burst], ChannelOpen::StopListening, "once");
        assert!(verdicts[burst + 1..].iter().all(|verdict| *verdict == ChannelOpen::Refuse));
        // Not even after a quiet while.
        assert_eq!(input.open_channel(9, 60_000.0), ChannelOpen::Refuse);
        let dropped = input.dropped();
        assert_eq!(
            (dropped.channels, dropped.channels_ignored, dropped.ignored),
            (500 - burst as u64 + 1, true, false)
        );
        assert_eq!(dropped.describe().as_deref(), Some("471 data channels refused; no longer listened to"));
    }

    #[test]
    fn a_channel_label_longer_than_any_file_s_is_refused() {
        let mut input = PeerInput::default();
        assert_eq!(input.open_channel(MAX_CHANNEL_LABEL + 1, 0.0), ChannelOpen::Refuse);
        assert_eq!(input.open_channel(65_535, 0.0), ChannelOpen::Refuse);
        assert_eq!(input.open_channel(MAX_CHANNEL_LABEL, 0.0), ChannelOpen::Take);
        assert_eq!(input.dropped().describe().as_deref(), Some("2 data channels refused"));
        input.refuse(Dropped::Malformed, 0.0);
        assert_eq!(
            input.dropped().describe().as_deref(),
            Some("1 message dropped (malformed: 1); 2 data channels refused")
        );
    }
}
