//! Turning a text frame into an [`Incoming`] message, telling apart the ways it can be wrong.
//!
//! A `signal`'s payload is checked for its shape and then passed on as the sender wrote it: the relay never rebuilds
//! it. The usual `signal` takes a fast path (one pass over the frame that keeps the payload as a slice of it, then one
//! over the payload that checks its shape, with no allocation); anything that path does not accept is decoded again
//! as a [`ClientMessage`], which decides whether it is valid and, if not, which error it gets. The fast path accepts
//! only frames that decoding as a `ClientMessage` accepts too, so both are exactly as strict.

use std::borrow::Cow;
use std::fmt;

use huddle_common::{ClientMessage, ErrorCode, Join, PeerId};
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
        /// The payload as sent (or, for the rare frame only the slow path reads, as serde writes it).
        payload: Cow<'a, str>,
    },
    /// `leave`.
    Leave,
}

/// Why a frame is not a message, as the error code and a line for people.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON at all.
    #[error("not valid JSON: {0}")]
    InvalidJson(serde_json::Error),
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("JSON nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// No `type`, or one not in [`ClientMessage::TYPES`].
    #[error("unknown message type {0:?}")]
    UnknownType(Option<String>),
    /// A known type with the wrong fields.
    #[error("invalid {kind} message: {source}")]
    InvalidMessage {
        /// The message's `type`.
        kind: String,
        /// What serde found wrong.
        source: serde_json::Error,
    },
}

impl DecodeError {
    /// The wire error code for this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::InvalidJson(_) => ErrorCode::InvalidJson,
            DecodeError::TooDeep => ErrorCode::TooDeep,
            DecodeError::UnknownType(_) => ErrorCode::UnknownType,
            DecodeError::InvalidMessage { .. } => ErrorCode::InvalidMessage,
        }
    }
}

/// Decodes one client frame.
pub fn decode(text: &str) -> Result<Incoming<'_>, DecodeError> {
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
        Ok(ClientMessage::Signal { to, payload }) => {
            let payload = serde_json::to_string(&payload).expect("payloads always serialize");
            Ok(Incoming::Signal { to, payload: Cow::Owned(payload) })
        }
        Err(source) => Err(classify(text, source)),
    }
}

/// The usual `signal`: an object with `type` `"signal"`, `to` and a payload of a known shape, each once. `None` for
/// anything else, valid or not.
fn fast_signal(text: &str) -> Option<Incoming<'_>> {
    let FastSignal { to, payload } = serde_json::from_str(text).ok()?;
    let payload = payload.get();
    serde_json::from_str::<PayloadShape>(payload).ok()?;
    Some(Incoming::Signal { to, payload: Cow::Borrowed(payload) })
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
mod tests {
    use huddle_common::SignalPayload;

    use super::*;

    fn code(text: &str) -> ErrorCode {
        decode(text).expect_err(text).code()
    }

    #[test]
    fn each_kind_of_bad_frame_gets_its_own_code() {
        assert_eq!(code("hello"), ErrorCode::InvalidJson);
        assert_eq!(code("{\"type\":\"join\""), ErrorCode::InvalidJson);
        assert_eq!(code("{\"type\":\"dance\"}"), ErrorCode::UnknownType);
        assert_eq!(code("{\"to\":\"x\"}"), ErrorCode::UnknownType);
        assert_eq!(code("[1,2]"), ErrorCode::UnknownType);
        assert_eq!(code("{\"type\":7}"), ErrorCode::UnknownType);
        assert_eq!(code("{\"type\":\"signal\",\"to\":\"x\"}"), ErrorCode::InvalidMessage);
        assert_eq!(
            code("{\"type\":\"join\",\"version\":\"one\",\"room\":\"r\",\"name\":\"n\"}"),
            ErrorCode::InvalidMessage
        );
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(code(&deep), ErrorCode::TooDeep);
    }

    /// What the relay did before payloads were passed on as text: decode a whole `ClientMessage`.
    fn reference(text: &str) -> Result<ClientMessage, ErrorCode> {
        if nesting_depth(text) > MAX_DEPTH {
            return Err(ErrorCode::TooDeep);
        }
        serde_json::from_str(text).map_err(|source| classify(text, source).code())
    }

    /// `decode` accepts what `reference` accepts, refuses the rest with the same code, and the payload text it
    /// passes on reads as the payload `reference` decoded.
    fn assert_agrees(text: &str) {
        match (decode(text), reference(text)) {
            (
                Ok(Incoming::Signal { to, payload }),
                Ok(ClientMessage::Signal { to: expected_to, payload: expected }),
            ) => {
                assert_eq!(to, expected_to, "{text}");
                assert_eq!(serde_json::from_str::<SignalPayload>(&payload).unwrap(), expected, "{text}");
            }
            (Ok(Incoming::Join(join)), Ok(ClientMessage::Join(expected))) => assert_eq!(join, expected, "{text}"),
            (Ok(Incoming::Leave), Ok(ClientMessage::Leave)) => {}
            (Err(error), Err(expected)) => assert_eq!(error.code(), expected, "{text}"),
            (got, expected) => panic!("{text}: decoded as {got:?}, before as {expected:?}"),
        }
    }

    /// A small deterministic generator (xorshift), so that failures can be replayed.
    struct Dice(u64);

    impl Dice {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }

        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[self.below(from.len())]
        }
    }

    /// Values that each field might hold, valid for some fields and not for others (as JSON text).
    const VALUES: &[&str] = &[
        r#""s""#,
        r#""v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n""#,
        r#""\u0041\/\"""#,
        r#""\ud800""#,
        r#""\ud83d\ude00""#,
        "null",
        "0",
        "65535",
        "65536",
        "-1",
        "1.5",
        "1e400",
        "18446744073709551616",
        "true",
        "[]",
        "[1,{\"a\":null}]",
        "{}",
        r#"{"kind":"offer"}"#,
        // Arrays nested 29, 30 and 31 deep (see `message`): at the edge of MAX_DEPTH inside a payload or beside it.
        r#""DEEP29""#,
        r#""DEEP30""#,
        r#""DEEP31""#,
    ];

    fn payload(dice: &mut Dice) -> String {
        const KINDS: &[&str] = &[
            r#""offer""#,
            r#""answer""#,
            r#""candidate""#,
            r#""candidate""#,
            r#""end_of_candidates""#,
            r#""\u006ffer""#,
            r#""dance""#,
            "0",
            "2",
            "null",
        ];
        const FIELDS: &[&str] =
            &["sdp", "candidate", "sdp_mid", "sdp_m_line_index", "username_fragment", "from", "kind"];
        // Values near the edge of what each field takes.
        const INDEXES: &[&str] = &["0", "65535", "65536", "-1", "1.5", "null", r#""0""#];
        const STRINGS: &[&str] = &[r#""s""#, "null", "5", r#""\ud800""#, r#""\u00e9\r\n""#];
        let mut members = Vec::new();
        let kind = dice.pick(KINDS);
        if dice.below(10) > 0 {
            members.push(format!(r#""kind":{kind}"#));
        }
        // Usually the field the kind needs, so that many payloads are valid.
        if dice.below(4) > 0 {
            match kind {
                r#""candidate""# | "2" => {
                    members.push(r#""candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host""#.into())
                }
                _ => members.push(r#""sdp":"v=0\r\n""#.into()),
            }
        }
        for _ in 0..dice.below(4) {
            let field = dice.pick(FIELDS);
            let value = match (field, dice.below(2)) {
                ("kind", _) => dice.pick(KINDS),
                (_, 0) => dice.pick(VALUES),
                ("sdp_m_line_index", _) => dice.pick(INDEXES),
                _ => dice.pick(STRINGS),
            };
            members.push(format!(r#""{field}":{value}"#));
        }
        let start = dice.below(members.len() + 1).min(members.len());
        members.rotate_left(start);
        match dice.below(20) {
            0 => format!("[{}]", members.join(",")),
            1 => "null".into(),
            _ => format!("{{{}}}", members.join(", ")),
        }
    }

    fn message(dice: &mut Dice) -> String {
        const TYPES: &[&str] =
            &[r#""signal""#, r#""signal""#, r#""signal""#, r#""\u0073ignal""#, r#""leave""#, "1", r#""sig""#];
        const TOS: &[&str] = &[r#""abc""#, r#""abc""#, r#""a\"b""#, "5", "null"];
        let mut members = Vec::new();
        // Each member usually once, sometimes missing or twice.
        let times = |dice: &mut Dice| [1, 1, 1, 1, 1, 1, 0, 2][dice.below(8)];
        for _ in 0..times(dice) {
            members.push(format!(r#""type":{}"#, dice.pick(TYPES)));
        }
        for _ in 0..times(dice) {
            members.push(format!(r#""to":{}"#, dice.pick(TOS)));
        }
        for _ in 0..times(dice) {
            members.push(format!(r#""payload":{}"#, payload(dice)));
        }
        for _ in 0..dice.below(3) * dice.below(2) {
            members.push(format!(r#""{}":{}"#, dice.pick(&["from", "kind", "sdp", "x"]), dice.pick(VALUES)));
        }
        let start = dice.below(members.len() + 1).min(members.len());
        members.rotate_left(start);
        let mut text = format!("{{{}}}", members.join(","));
        for n in [29, 30, 31] {
            text = text.replace(&format!(r#""DEEP{n}""#), &format!("{}{}", "[".repeat(n), "]".repeat(n)));
        }
        match dice.below(30) {
            0 => format!("{text} x"),
            1 => format!(" {text}\n"),
            2 => format!("[{}]", members.join(",")),
            _ => text,
        }
    }

    #[test]
    fn decoding_agrees_with_decoding_a_whole_client_message_on_generated_frames() {
        let mut dice = Dice(0x9e37_79b9_7f4a_7c15);
        let (mut fast, mut valid) = (0, 0);
        for _ in 0..50_000 {
            let text = message(&mut dice);
            assert_agrees(&text);
            fast += usize::from(fast_signal(&text).is_some());
            valid += usize::from(matches!(reference(&text), Ok(ClientMessage::Signal { .. })));
        }
        // The generator reaches both paths often enough for the comparison to mean something.
        assert!(fast > 500 && valid > fast, "{fast} fast of {valid} valid signals");
    }

    #[test]
    fn odd_but_valid_signals_are_decoded_as_before() {
        for text in [
            r#"["signal","abc",{"kind":"end_of_candidates"}]"#,
            r#"{"type":1,"to":"abc","payload":{"kind":"offer","sdp":"x"}}"#,
            r#"{"type":"signal","to":"abc","payload":{"kind":0,"sdp":"x"}}"#,
            r#"{"type":"signal","to":"abc","payload":["answer","x"]}"#,
            r#"{"type":"join","version":1,"room":"r","name":"n"}"#,
            r#"{"type":"leave","to":5}"#,
        ] {
            assert_agrees(text);
            assert!(fast_signal(text).is_none(), "{text}");
        }
    }

    #[test]
    fn the_usual_signals_take_the_fast_path_with_their_payload_as_sent() {
        for payload in [
            r#"{"kind":"offer","sdp":"v=0\r\no=- 46117 2 IN IP4 127.0.0.1\r\n"}"#,
            r#"{"sdp":"v=0\r\n","kind":"answer"}"#,
            r#"{"kind":"candidate","candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdp_mid":"0","sdp_m_line_index":0,"username_fragment":"EsAw"}"#,
            r#"{"kind":"candidate","candidate":"c","sdp_mid":null,"sdp_m_line_index":65535}"#,
            r#"{"kind":"end_of_candidates","from":"someone","extra":[1,{"a":2}]}"#,
            r#"{ "kind" : "offer" , "sdp" : "\u0076=0" , "sdp_mid" : 5 }"#,
        ] {
            let text = format!(r#"{{"to":"abc","type":"signal","from":"forged","payload":{payload}}}"#);
            assert_agrees(&text);
            assert_eq!(fast_signal(&text), Some(Incoming::Signal { to: PeerId::from("abc"), payload: payload.into() }));
        }
    }

    /// `PayloadVisitor` spells out `SignalPayload`'s fields by hand. This match names every variant and field with no
    /// `..`, so a field or kind added to `SignalPayload` stops the build here until the fast path (and the generator
    /// above) learn it: otherwise the fast path would pass payloads lacking a new required field.
    #[test]
    fn the_fast_path_knows_every_payload_field() {
        let known = |payload: &SignalPayload| match payload {
            SignalPayload::Offer { sdp } | SignalPayload::Answer { sdp } => !sdp.is_empty(),
            SignalPayload::Candidate { candidate, sdp_mid, sdp_m_line_index, username_fragment } => {
                !candidate.is_empty() && sdp_mid.is_some() && sdp_m_line_index.is_some() && username_fragment.is_some()
            }
            SignalPayload::EndOfCandidates => true,
        };
        for payload in [
            r#"{"kind":"offer","sdp":"v=0"}"#,
            r#"{"kind":"answer","sdp":"v=0"}"#,
            r#"{"kind":"candidate","candidate":"c","sdp_mid":"0","sdp_m_line_index":0,"username_fragment":"u"}"#,
            r#"{"kind":"end_of_candidates"}"#,
        ] {
            let text = format!(r#"{{"type":"signal","to":"abc","payload":{payload}}}"#);
            let Some(Incoming::Signal { payload: passed, .. }) = fast_signal(&text) else { panic!("{text}") };
            assert!(known(&serde_json::from_str(&passed).unwrap()), "{passed}");
        }
    }

    /// The plain byte-by-byte definition that `nesting_depth` must agree with.
    fn reference_depth(text: &str) -> usize {
        let (mut depth, mut deepest) = (0usize, 0usize);
        let (mut in_string, mut escaped) = (false, false);
        for byte in text.bytes() {
            if in_string {
                match byte {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match byte {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        deepest
    }

    #[test]
    fn depth_agrees_with_the_byte_by_byte_definition_on_every_short_input() {
        const ALPHABET: &[u8] = b"[]{}\"\\a";
        let mut text = Vec::new();
        for len in 0..=6u32 {
            for mut index in 0..ALPHABET.len().pow(len) {
                text.clear();
                for _ in 0..len {
                    text.push(ALPHABET[index % ALPHABET.len()]);
                    index /= ALPHABET.len();
                }
                let text = std::str::from_utf8(&text).unwrap();
                assert_eq!(nesting_depth(text), reference_depth(text), "{text:?}");
            }
        }
    }

    #[test]
    fn brackets_inside_strings_do_not_count_as_nesting() {
        let sdp = format!("v=0 {}", "[{".repeat(1000));
        let text =
            serde_json::json!({"type": "signal", "to": "p", "payload": {"kind": "offer", "sdp": sdp}}).to_string();
        assert!(matches!(decode(&text), Ok(Incoming::Signal { .. })));
        assert_eq!(nesting_depth(r#"{"a":"\"[[["}"#), 1);
        assert_eq!(nesting_depth(r#"{"a":"\\\\"}"#), 1, "an escaped backslash ends before the quote");
        assert_eq!(nesting_depth(r#"[[],[[]],{"b":[{}]}]"#), 4);
        assert_eq!(nesting_depth(r#"[1,"unterminated [[[["#), 1);
        assert_eq!(nesting_depth("]]]][[["), 3);
        assert_eq!(nesting_depth("[\"\\"), 1, "a backslash at the very end");
    }
}
