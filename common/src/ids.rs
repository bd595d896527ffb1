//! Room ids, peer ids and display names: what makes each valid.

use std::fmt;

use serde::{Deserialize, Serialize};

/// RFC 4648 base32 alphabet, lowercase so links stay readable and case-insensitive input can be normalised.
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Characters in a room id: 128 random bits in base32.
pub const ROOM_ID_CHARS: usize = 26;

fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity((bytes.len() * 8).div_ceil(5));
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &byte in bytes {
        acc = (acc << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Whether `id` is exactly what [`base32`] writes for some `bytes` bytes: as many characters, all of the alphabet,
/// and the last one's spare low bits zero (the characters carry a few bits more than the bytes; 16 bytes take 26
/// characters, 130 bits, so 2 spare).
fn is_base32_of(id: &[u8], bytes: usize) -> bool {
    let chars = (bytes * 8).div_ceil(5);
    let spare_mask = (1 << (chars * 5 - bytes * 8)) - 1;
    id.len() == chars
        && id.iter().all(|b| BASE32.contains(b))
        && BASE32.iter().position(|c| *c == id[chars - 1]).is_some_and(|v| v & spare_mask == 0)
}

/// A room: an unguessable 128-bit id, shared as part of the room's link.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RoomId(String);

/// Why a string is not a [`RoomId`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidRoomId;

impl fmt::Display for InvalidRoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a room id is {ROOM_ID_CHARS} characters of a-z and 2-7")
    }
}

impl std::error::Error for InvalidRoomId {}

impl RoomId {
    /// The room id for 16 random bytes (the caller brings the randomness: `crypto.getRandomValues` or the OS).
    pub fn from_random(bytes: [u8; 16]) -> Self {
        Self(base32(&bytes))
    }

    /// Parses a room id as typed or pasted: surrounding spaces and upper case are forgiven.
    pub fn parse(input: &str) -> Result<Self, InvalidRoomId> {
        let id = input.trim().to_ascii_lowercase();
        if is_base32_of(id.as_bytes(), 16) {
            Ok(Self(id))
        } else {
            Err(InvalidRoomId)
        }
    }

    /// The id as it appears in links and on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for RoomId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        RoomId::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for RoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Characters in a peer id: 64 random bits in base32.
pub const PEER_ID_CHARS: usize = 13;

/// A participant, as the relay names it: 64 random bits in base32, assigned at join and kept across a resume.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PeerId(String);

/// Why a string is not a peer id the relay could have made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidPeerId;

impl fmt::Display for InvalidPeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a peer id is {PEER_ID_CHARS} characters of a-z and 2-7, as the relay assigned it")
    }
}

impl std::error::Error for InvalidPeerId {}

impl PeerId {
    /// The peer id for 8 random bytes.
    pub fn from_random(bytes: [u8; 8]) -> Self {
        Self(base32(&bytes))
    }

    /// Parses a peer id exactly as the relay wrote it (ids are compared byte-wise, so nothing is forgiven).
    pub fn parse(input: &str) -> Result<Self, InvalidPeerId> {
        let id = PeerId(input.to_owned());
        id.validate()?;
        Ok(id)
    }

    /// Whether this id has the form of one [`PeerId::from_random`] makes (ids read from the wire may not).
    pub fn validate(&self) -> Result<(), InvalidPeerId> {
        if is_base32_of(self.0.as_bytes(), 8) {
            Ok(())
        } else {
            Err(InvalidPeerId)
        }
    }

    /// The id as sent on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for PeerId {
    fn from(id: &str) -> Self {
        Self(id.to_owned())
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The most characters a display name may have.
pub const MAX_NAME_CHARS: usize = 32;

/// A display name: what others see on a tile. Unique within a room, compared case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

/// Why a string is not a [`DisplayName`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvalidName {
    /// Nothing but spaces.
    Empty,
    /// More than [`MAX_NAME_CHARS`] characters.
    TooLong,
    /// Control characters (newlines, escapes) and invisible formatting (zero-width, text-direction overrides)
    /// have no place on a tile: they make names that look empty or like someone else's.
    ControlCharacter,
}

impl fmt::Display for InvalidName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidName::Empty => f.write_str("a name cannot be empty"),
            InvalidName::TooLong => write!(f, "a name has at most {MAX_NAME_CHARS} characters"),
            InvalidName::ControlCharacter => f.write_str("a name cannot contain control or invisible characters"),
        }
    }
}

impl std::error::Error for InvalidName {}

impl DisplayName {
    /// Validates a name as typed; surrounding spaces are dropped.
    pub fn parse(input: &str) -> Result<Self, InvalidName> {
        let name = input.trim();
        if name.is_empty() {
            Err(InvalidName::Empty)
        } else if name.chars().count() > MAX_NAME_CHARS {
            Err(InvalidName::TooLong)
        } else if name.chars().any(|c| c.is_control() || is_invisible_format(c)) {
            Err(InvalidName::ControlCharacter)
        } else {
            Ok(Self(name.to_owned()))
        }
    }

    /// The name as shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form two names are compared in for uniqueness: "Ada" and "ada" cannot share a room.
    pub fn uniqueness_key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// Zero-width and text-direction formatting characters.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

impl<'de> Deserialize<'de> for DisplayName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        DisplayName::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_ids_from_random_bytes_parse_back() {
        for bytes in [[0u8; 16], [0xff; 16], *b"0123456789abcdef"] {
            let id = RoomId::from_random(bytes);
            assert_eq!(id.as_str().len(), ROOM_ID_CHARS);
            assert_eq!(RoomId::parse(id.as_str()), Ok(id));
        }
    }

    #[test]
    fn room_id_parse_forgives_case_and_spaces_only() {
        let id = RoomId::from_random([7; 16]);
        assert_eq!(RoomId::parse(&format!("  {}\n", id.as_str().to_uppercase())), Ok(id.clone()));
        assert_eq!(RoomId::parse(&id.as_str()[1..]), Err(InvalidRoomId));
        assert_eq!(RoomId::parse(&format!("{}a", id.as_str())), Err(InvalidRoomId));
        assert_eq!(RoomId::parse("abcdefghijklmnopqrstuvwx1a"), Err(InvalidRoomId));
        assert_eq!(RoomId::parse("../../etc/passwd"), Err(InvalidRoomId));
    }

    #[test]
    fn peer_ids_from_random_bytes_parse_back_and_nothing_else_does() {
        for bytes in [[0u8; 8], [0xff; 8], *b"01234567"] {
            let id = PeerId::from_random(bytes);
            assert_eq!(id.as_str().len(), PEER_ID_CHARS);
            assert_eq!(PeerId::parse(id.as_str()), Ok(id));
        }
        let id = PeerId::from_random(*b"huddle!!");
        assert_eq!(PeerId::parse(&id.as_str().to_uppercase()), Err(InvalidPeerId));
        assert_eq!(PeerId::parse(&format!(" {id}")), Err(InvalidPeerId));
        assert_eq!(PeerId::parse(&id.as_str()[1..]), Err(InvalidPeerId));
        assert_eq!(PeerId::parse("abcdefghijkl1"), Err(InvalidPeerId));
        // The last character's spare bit is set: no 8 bytes encode to this.
        assert_eq!(PeerId::parse("aaaaaaaaaaaab"), Err(InvalidPeerId));
        assert_eq!(PeerId::parse(""), Err(InvalidPeerId));
        assert_eq!(PeerId::from("abc").validate(), Err(InvalidPeerId));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Ada ").unwrap().as_str(), "Ada");
        assert_eq!(DisplayName::parse("   "), Err(InvalidName::Empty));
        assert_eq!(DisplayName::parse(&"é".repeat(MAX_NAME_CHARS)).unwrap().as_str().chars().count(), MAX_NAME_CHARS);
        assert_eq!(DisplayName::parse(&"x".repeat(MAX_NAME_CHARS + 1)), Err(InvalidName::TooLong));
        assert_eq!(DisplayName::parse("a\u{1b}[2J"), Err(InvalidName::ControlCharacter));
        assert_eq!(DisplayName::parse("\u{200B}"), Err(InvalidName::ControlCharacter));
        assert_eq!(DisplayName::parse("Ada\u{202E}evE"), Err(InvalidName::ControlCharacter));
        assert_eq!(
            DisplayName::parse("Ada").unwrap().uniqueness_key(),
            DisplayName::parse("ADA").unwrap().uniqueness_key()
        );
    }
}
