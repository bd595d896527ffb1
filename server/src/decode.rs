//! Turning a text frame into an [`Incoming`] message, telling apart the ways it can be wrong.
//!
//! A `signal`'s payload is checked for its shape and then passed on as the sender wrote it: the relay never rebuilds
//! it. The usual `signal` takes a fast path (one pass over the frame that keeps the payload as a slice of it, then one
//! over the payload that checks its shape, with no allocation); anything that path does not accept is decoded again
//! as a [`ClientMessage`], which decides whether it is valid and, if not, which error it gets. The fast path accepts
//! only frames that decoding as a `ClientMessage` accepts too, so both are exactly as strict. A `signal` only the
//! slow path accepts (serde's other spellings: a payload `kind` as its variant's index, a payload or a whole message
//! written as an array) gets its payload as a slice of the frame too, from one more pass, so every payload is passed
//! on byte for byte.

use std::fmt;

use huddle_common::{ClientMessage, ErrorCode, InvalidPeerId, Join, PeerId};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// How deep JSON may nest. Real messages nest 3 levels; the limit stops hostile input before serde recurses.
pub const MAX_DEPTH: usize = 32;

/// A client message as the relay handles it: like [`ClientMessage`], but a `signal`'s payload is JSON text.
#[derive(Debug, PartialEq)]
pub enum Incoming<'a> {
    /// `join`.
    Join(Join),
    /// `signal`, with its payload's JSON text (checked: a valid `SignalPayload`, extra fields included).
    Signal {
        /// The recipient.
        to: PeerId,
        /// The payload as sent: a slice of the frame.
        payload: &'a str,
    },
    /// `leave`.
    Leave,
}

/// Why a frame is not a message, as the error code and a line for people. The line quotes what it found wrong only
/// in part (see [`shorten_quotes`]): the whole of a 60 KB value, escaped twice, made a reply four times the frame.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON at all.
    #[error("not valid JSON: {}", shorten_quotes(&.0.to_string()))]
    InvalidJson(serde_json::Error),
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("JSON nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// No `type`, or one not in [`ClientMessage::TYPES`] (its JSON text).
    #[error("unknown message type {}", shorten_quotes(.0.as_deref().unwrap_or("(none)")))]
    UnknownType(Option<String>),
    /// A known type with the wrong fields.
    #[error("invalid {kind} message: {}", shorten_quotes(&.source.to_string()))]
    InvalidMessage {
        /// The message's `type`.
        kind: String,
        /// What serde found wrong.
        source: serde_json::Error,
    },
    /// A `signal` whose `to` cannot be a peer id (the relay makes them all, see [`PeerId::validate`]).
    #[error("invalid signal message: `to` is not a peer id ({})", InvalidPeerId)]
    InvalidRecipient,
}

/// Most characters of a quoted value an error message repeats.
pub const MAX_QUOTED_CHARS: usize = 64;

/// Most characters of an error message in all, whatever it quotes.
const MAX_ERROR_CHARS: usize = 256;

/// `message` with each quoted part (between `"` or backticks, as serde quotes what it found) cut to
/// [`MAX_QUOTED_CHARS`] characters with an ellipsis, and the whole cut to [`MAX_ERROR_CHARS`]: an error says what
/// was wrong, it does not send the frame back. Cuts fall on character boundaries.
pub fn shorten_quotes(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(4 * MAX_ERROR_CHARS));
    let mut written = 0;
    // The quote character that closes the part being read, and how many characters it has had so far.
    let mut quote: Option<(char, usize)> = None;
    let mut escaped = false;
    for c in message.chars() {
        if written == MAX_ERROR_CHARS {
            out.push('…');
            break;
        }
        let shown = match &mut quote {
            None => {
                if c == '"' || c == '`' {
                    quote = Some((c, 0));
                }
                Some(c)
            }
            Some((close, _)) if c == *close && !escaped => {
                quote = None;
                Some(c)
            }
            Some((_, length)) => {
                escaped = c == '\\' && !escaped;
                *length += 1;
                match *length {
                    n if n <= MAX_QUOTED_CHARS => Some(c),
                    n if n == MAX_QUOTED_CHARS + 1 => Some('…'),
                    _ => None,
                }
            }
        };
        if let Some(shown) = shown {
            out.push(shown);
            written += 1;
        }
    }
    out
}

impl DecodeError {
    /// The wire error code for this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::InvalidJson(_) => ErrorCode::InvalidJson,
            DecodeError::TooDeep => ErrorCode::TooDeep,
            DecodeError::UnknownType(_) => ErrorCode::UnknownType,
            DecodeError::InvalidMessage { .. } | DecodeError::InvalidRecipient => ErrorCode::InvalidMessage,
        }
    }
}

/// Decodes one client frame.
pub fn decode(text: &str) -> Result<Incoming<'_>, DecodeError> {
    let incoming = decode_shape(text)?;
    match &incoming {
        Incoming::Signal { to, .. } if to.validate().is_err() => Err(DecodeError::InvalidRecipient),
        _ => Ok(incoming),
    }
}

/// Decodes one client frame as a [`ClientMessage`] would be, a signal's `to` any string.
fn decode_shape(text: &str) -> Result<Incoming<'_>, DecodeError> {
    // The fast path checks the nesting as it reads (every value goes through it), so only what it does not take
    // needs the separate scan.
    if let Some(signal) = fast_signal(text) {
        return Ok(signal);
    }
    if nesting_depth(text) > MAX_DEPTH {
        return Err(DecodeError::TooDeep);
    }
    match serde_json::from_str(text) {
        Ok(ClientMessage::Join(join)) => Ok(Incoming::Join(join)),
        Ok(ClientMessage::Leave) => Ok(Incoming::Leave),
        Ok(ClientMessage::Signal { to, .. }) => match serde_json::from_str::<RawPayload>(text) {
            Ok(RawPayload(payload)) => Ok(Incoming::Signal { to, payload: payload.get() }),
            // Not expected: serde has just read this frame as a signal, so it has one payload.
            Err(source) => Err(DecodeError::InvalidMessage { kind: "signal".into(), source }),
        },
        Err(source) => Err(classify(text, source)),
    }
}

/// The payload of a frame that decodes as a `signal`, found where serde finds it: the `payload` member (its key
/// compared after unescaping, as serde compares it), or the third item of a message written as an array (the tag,
/// then the fields in order). Only on the slow path, after the frame decoded as a [`ClientMessage`].
struct RawPayload<'a>(&'a RawValue);

impl<'de> Deserialize<'de> for RawPayload<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawPayloadVisitor)
    }
}

struct RawPayloadVisitor;

impl<'de> Visitor<'de> for RawPayloadVisitor {
    type Value = RawPayload<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a signal message")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut payload = None;
        while let Some(key) = map.next_key::<Key>()? {
            match key.0 {
                Field::Payload => payload = Some(map.next_value()?),
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        payload.map(RawPayload).ok_or_else(|| de::Error::missing_field("payload"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // The tag and `to`, then the payload.
        seq.next_element::<de::IgnoredAny>()?;
        seq.next_element::<de::IgnoredAny>()?;
        let payload = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(2, &self))?;
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(RawPayload(payload))
    }
}

/// The usual `signal`: an object with `type` `"signal"`, `to` and a payload of a known shape, each once. `None` for
/// anything else, valid or not.
fn fast_signal(text: &str) -> Option<Incoming<'_>> {
    let FastSignal { to, payload } = serde_json::from_str(text).ok()?;
    let payload = payload.get();
    serde_json::from_str::<PayloadShape>(payload).ok()?;
    Some(Incoming::Signal { to, payload })
}

/// A `signal` read by the fast path, its payload not yet checked.
struct FastSignal<'a> {
    to: PeerId,
    payload: &'a RawValue,
}

impl<'de> Deserialize<'de> for FastSignal<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(FastSignalVisitor)
    }
}

struct FastSignalVisitor;

impl<'de> Visitor<'de> for FastSignalVisitor {
    type Value = FastSignal<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a signal message")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut tagged, mut to, mut payload) = (false, None, None);
        while let Some(key) = map.next_key::<Key>()? {
            match key.0 {
                Field::Type if !tagged => {
                    // Anything but "signal" (or `type` twice) is left to the slow path.
                    map.next_value::<SignalTag>()?;
                    tagged = true;
                }
                Field::To if to.is_none() => to = Some(map.next_value::<PeerId>()?),
                Field::Payload if payload.is_none() => payload = Some(map.next_value::<&RawValue>()?),
                Field::Type | Field::To | Field::Payload => return Err(de::Error::custom("a field twice")),
                _ => {
                    map.next_value_seed(Probe { depth: 2 })?;
                }
            }
        }
        match (tagged, to, payload) {
            (true, Some(to), Some(payload)) => Ok(FastSignal { to, payload }),
            _ => Err(de::Error::custom("not a complete signal")),
        }
    }
}

/// Fields of a `signal` and of its payload, by name (after unescaping, as serde compares them).
enum Field {
    Type,
    To,
    Payload,
    Kind,
    Sdp,
    Candidate,
    SdpMid,
    SdpMLineIndex,
    UsernameFragment,
    Other,
}

/// A key of an object, as a [`Field`].
struct Key(Field);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(Key(match key {
                    "type" => Field::Type,
                    "to" => Field::To,
                    "payload" => Field::Payload,
                    "kind" => Field::Kind,
                    "sdp" => Field::Sdp,
                    "candidate" => Field::Candidate,
                    "sdp_mid" => Field::SdpMid,
                    "sdp_m_line_index" => Field::SdpMLineIndex,
                    "username_fragment" => Field::UsernameFragment,
                    _ => Field::Other,
                }))
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// The string `"signal"`, and nothing else.
struct SignalTag;

impl<'de> Deserialize<'de> for SignalTag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TagVisitor;
        impl Visitor<'_> for TagVisitor {
            type Value = SignalTag;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"signal\"")
            }
            fn visit_str<E: de::Error>(self, tag: &str) -> Result<SignalTag, E> {
                (tag == "signal").then_some(SignalTag).ok_or_else(|| E::custom("not a signal"))
            }
        }
        deserializer.deserialize_str(TagVisitor)
    }
}

/// Reads any JSON value the way serde reads a field it ignores while buffering an internally tagged enum (numbers
/// are parsed, so one out of range is refused as there), keeping only its [`Shape`]. `depth` is the nesting depth
/// of the value (the frame's object is 1): a container deeper than [`MAX_DEPTH`] is refused, as `decode` would.
#[derive(Clone, Copy)]
struct Probe {
    depth: usize,
}

/// What a probed value was, for the payload fields whose type matters only for some kinds.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Null,
    Str,
    Unsigned(u64),
    Other,
}

impl<'de> DeserializeSeed<'de> for Probe {
    type Value = Shape;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Shape, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Probe {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_unit<E>(self) -> Result<Shape, E> {
        Ok(Shape::Null)
    }
    fn visit_none<E>(self) -> Result<Shape, E> {
        Ok(Shape::Null)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
        Ok(Shape::Other)
    }
    fn visit_u64<E>(self, n: u64) -> Result<Shape, E> {
        Ok(Shape::Unsigned(n))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape::Other)
    }
    fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape::Str)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        let inner = self.inner()?;
        while seq.next_element_seed(inner)?.is_some() {}
        Ok(Shape::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        let inner = self.inner()?;
        while map.next_key::<IgnoredKey>()?.is_some() {
            map.next_value_seed(inner)?;
        }
        Ok(Shape::Other)
    }
}

impl Probe {
    /// The values of a container at `self.depth`, which must not be too deep.
    fn inner<E: de::Error>(self) -> Result<Probe, E> {
        if self.depth > MAX_DEPTH {
            return Err(E::custom("too deep"));
        }
        Ok(Probe { depth: self.depth + 1 })
    }
}

/// An object key, read (so checked) and dropped.
struct IgnoredKey;

impl<'de> Deserialize<'de> for IgnoredKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Key::deserialize(deserializer).map(|_| IgnoredKey)
    }
}

/// The payload `kind`s, as `SignalPayload` names them.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Offer,
    Answer,
    Candidate,
    EndOfCandidates,
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KindVisitor;
        impl Visitor<'_> for KindVisitor {
            type Value = Kind;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a payload kind")
            }
            fn visit_str<E: de::Error>(self, kind: &str) -> Result<Kind, E> {
                match kind {
                    "offer" => Ok(Kind::Offer),
                    "answer" => Ok(Kind::Answer),
                    "candidate" => Ok(Kind::Candidate),
                    "end_of_candidates" => Ok(Kind::EndOfCandidates),
                    _ => Err(E::custom("unknown kind")),
                }
            }
        }
        deserializer.deserialize_str(KindVisitor)
    }
}

/// A payload with the shape of a `SignalPayload`: read field by field in whatever order they come, without keeping
/// any of them. A field matters only for the kinds that have it (`SignalPayload` ignores an `sdp_mid` in an offer),
/// so each is recorded with its shape and how often it came, and judged once the kind is known.
struct PayloadShape;

impl<'de> Deserialize<'de> for PayloadShape {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(PayloadVisitor)
    }
}

struct PayloadVisitor;

/// One payload field as seen: how many times, and the shape of its last value.
#[derive(Clone, Copy)]
struct Seen {
    count: u8,
    shape: Shape,
}

impl Seen {
    const NONE: Seen = Seen { count: 0, shape: Shape::Null };

    fn record(&mut self, shape: Shape) {
        self.count = self.count.saturating_add(1);
        self.shape = shape;
    }

    /// A required string field, once.
    fn is_string(self) -> bool {
        self.count == 1 && self.shape == Shape::Str
    }

    /// An optional string field (`null` counts as absent), at most once.
    fn is_optional_string(self) -> bool {
        self.count == 0 || (self.count == 1 && matches!(self.shape, Shape::Null | Shape::Str))
    }

    /// An optional `u16` field, at most once.
    fn is_optional_u16(self) -> bool {
        let fits = match self.shape {
            Shape::Null => true,
            Shape::Unsigned(n) => n <= u64::from(u16::MAX),
            Shape::Str | Shape::Other => false,
        };
        self.count == 0 || (self.count == 1 && fits)
    }
}

impl<'de> Visitor<'de> for PayloadVisitor {
    type Value = PayloadShape;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a signal payload")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PayloadShape, A::Error> {
        let mut kind = None;
        let [mut sdp, mut candidate, mut sdp_mid, mut index, mut ufrag] = [Seen::NONE; 5];
        while let Some(key) = map.next_key::<Key>()? {
            let seen = match key.0 {
                Field::Kind if kind.is_none() => {
                    kind = Some(map.next_value::<Kind>()?);
                    continue;
                }
                Field::Kind => return Err(de::Error::custom("kind twice")),
                Field::Sdp => &mut sdp,
                Field::Candidate => &mut candidate,
                Field::SdpMid => &mut sdp_mid,
                Field::SdpMLineIndex => &mut index,
                Field::UsernameFragment => &mut ufrag,
                _ => {
                    map.next_value_seed(Probe { depth: 3 })?;
                    continue;
                }
            };
            seen.record(map.next_value_seed(Probe { depth: 3 })?);
        }
        let valid = match kind {
            Some(Kind::Offer | Kind::Answer) => sdp.is_string(),
            Some(Kind::Candidate) => {
                candidate.is_string()
                    && sdp_mid.is_optional_string()
                    && index.is_optional_u16()
                    && ufrag.is_optional_string()
            }
            Some(Kind::EndOfCandidates) => true,
            None => false,
        };
        valid.then_some(PayloadShape).ok_or_else(|| de::Error::custom("not a payload the fast path takes"))
    }
}

/// Only on the error path: reads just the `type` to say whether the type or the shape is wrong.
fn classify(text: &str, source: serde_json::Error) -> DecodeError {
    #[derive(Deserialize)]
    struct Tagged {
        #[serde(rename = "type")]
        kind: Option<serde_json::Value>,
    }
    match serde_json::from_str::<Tagged>(text) {
        Err(_) if source.is_syntax() || source.is_eof() => DecodeError::InvalidJson(source),
        Err(_) => DecodeError::UnknownType(None),
        Ok(Tagged { kind: Some(serde_json::Value::String(kind)) }) if ClientMessage::TYPES.contains(&kind.as_str()) => {
            DecodeError::InvalidMessage { kind, source }
        }
        Ok(Tagged { kind }) => DecodeError::UnknownType(kind.map(|k| k.to_string())),
    }
}

/// The deepest nesting of arrays and objects, counted without parsing (brackets inside strings do not count).
/// Strings are skipped with `memchr` (they are most of a message: SDP text), the rest is read byte by byte.
fn nesting_depth(text: &str) -> usize {
    let bytes = text.as_bytes();
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut at = 0;
    while let Some(offset) = memchr::memchr3(b'"', b'[', b'{', &bytes[at..]).map(|o| o + at) {
        // Closing brackets between here and the last stop.
        depth = depth.saturating_sub(bytes[at..offset].iter().filter(|&&b| b == b']' || b == b'}').count());
        match bytes[offset] {
            b'"' => {
                // Skip to the closing quote: the next quote not escaped by a backslash.
                let mut end = offset + 1;
                loop {
                    match memchr::memchr2(b'"', b'\\', &bytes[end..]) {
                        Some(o) if bytes[end + o] == b'\\' => {
                            end += o + 2;
                            if end >= bytes.len() {
                                return deepest;
                            }
                        }
                        Some(o) => {
                            end += o + 1;
                            break;
                        }
                        None => return deepest,
                    }
                }
                at = end;
            }
            _ => {
                depth += 1;
                deepest = deepest.max(depth);
                at = offset + 1;
            }
        }
    }
    deepest
}

#[cfg(test)]
mod tests;
