//! Turning a text frame into a [`ClientMessage`], telling apart the ways it can be wrong.

use huddle_common::{ClientMessage, ErrorCode};
use serde::Deserialize;

/// How deep JSON may nest. Real messages nest 3 levels; the limit stops hostile input before serde recurses.
pub const MAX_DEPTH: usize = 32;

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
pub fn decode(text: &str) -> Result<ClientMessage, DecodeError> {
    if nesting_depth(text) > MAX_DEPTH {
        return Err(DecodeError::TooDeep);
    }
    serde_json::from_str(text).map_err(|source| classify(text, source))
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
        assert!(matches!(decode(&text), Ok(ClientMessage::Signal { .. })));
        assert_eq!(nesting_depth(r#"{"a":"\"[[["}"#), 1);
        assert_eq!(nesting_depth(r#"{"a":"\\\\"}"#), 1, "an escaped backslash ends before the quote");
        assert_eq!(nesting_depth(r#"[[],[[]],{"b":[{}]}]"#), 4);
        assert_eq!(nesting_depth(r#"[1,"unterminated [[[["#), 1);
        assert_eq!(nesting_depth("]]]][[["), 3);
        assert_eq!(nesting_depth("[\"\\"), 1, "a backslash at the very end");
    }
}
