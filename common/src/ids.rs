//! Room ids, peer ids and display names: what makes each valid.

use std::fmt;

use serde::{Deserialize, Serialize};

mod name_chars;

pub use name_chars::is_invisible;

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

/// A display name: what others see on a tile. Only visible characters (see [`InvalidName`]); unique within a room,
/// where the relay compares names by what they look like (`server/src/names.rs`), not byte for byte.
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
    /// Control characters (newlines, escapes) have no place on a tile.
    ControlCharacter,
    /// A character that draws nothing or a blank (zero-width, text-direction, fillers, tags): it makes names that
    /// look empty or like someone else's.
    Invisible(char),
    /// A variation selector where there is nothing to vary (e.g. "Ada" + U+FE0F): invisible there, for the same
    /// reason.
    Stray(char),
}

impl fmt::Display for InvalidName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidName::Empty => f.write_str("a name cannot be empty"),
            InvalidName::TooLong => write!(f, "a name has at most {MAX_NAME_CHARS} characters"),
            InvalidName::ControlCharacter => f.write_str("a name cannot contain control characters or line breaks"),
            InvalidName::Invisible(c) => {
                write!(f, "a name cannot contain invisible or blank characters (this one has U+{:04X})", u32::from(*c))
            }
            InvalidName::Stray(c) => {
                write!(f, "a name cannot contain U+{:04X} there: it has nothing to vary", u32::from(*c))
            }
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
        } else {
            name_chars::check(name)?;
            Ok(Self(name.to_owned()))
        }
    }

    /// The name as shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
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
        assert_eq!(DisplayName::parse("Ada\u{2028}Lovelace"), Err(InvalidName::ControlCharacter));
        assert_eq!(DisplayName::parse("\u{200B}"), Err(InvalidName::Invisible('\u{200B}')));
        assert_eq!(DisplayName::parse("Ada\u{202E}evE"), Err(InvalidName::Invisible('\u{202E}')));
    }

    /// "Ada" with something unseen: each of these would show as "Ada" (or "Ada" and a blank) on a tile.
    #[test]
    fn names_with_invisible_or_blank_characters_are_refused() {
        let refused = [
            ("Ada\u{034F}", InvalidName::Invisible('\u{034F}')),
            ("Ada\u{3164}", InvalidName::Invisible('\u{3164}')),
            ("\u{3164}", InvalidName::Invisible('\u{3164}')),
            ("Ada\u{2800}", InvalidName::Invisible('\u{2800}')),
            ("Ada\u{180E}", InvalidName::Invisible('\u{180E}')),
            ("Ada\u{061C}", InvalidName::Invisible('\u{061C}')),
            ("\u{115F}Ada", InvalidName::Invisible('\u{115F}')),
            ("Ada\u{1160}", InvalidName::Invisible('\u{1160}')),
            ("Ada\u{FFA0}", InvalidName::Invisible('\u{FFA0}')),
            ("Ada\u{17B4}", InvalidName::Invisible('\u{17B4}')),
            ("Ada\u{E0041}", InvalidName::Invisible('\u{E0041}')),
            ("Ada\u{FE00}", InvalidName::Invisible('\u{FE00}')),
            ("Ada\u{00AD}", InvalidName::Invisible('\u{00AD}')),
            // England's flag: a black flag and tag characters spelling "gbeng".
            ("\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}", InvalidName::Invisible('\u{E0067}')),
            ("Ada\u{FE0F}", InvalidName::Stray('\u{FE0F}')),
            ("\u{FE0F}Ada", InvalidName::Stray('\u{FE0F}')),
            ("Ada\u{FE0E}", InvalidName::Stray('\u{FE0E}')),
            ("Ada\u{E0100}", InvalidName::Stray('\u{E0100}')),
            ("A\u{200D}da", InvalidName::Invisible('\u{200D}')),
            // Emoji ZWJ sequences (technologist) stay refused: see name_chars.rs.
            ("\u{1F469}\u{200D}\u{1F4BB} Ada", InvalidName::Invisible('\u{200D}')),
        ];
        for (name, why) in refused {
            assert_eq!(DisplayName::parse(name), Err(why), "{name:?}");
        }
    }

    #[test]
    fn visible_names_in_any_script_and_emoji_are_accepted() {
        let accepted = [
            "José",
            "Zoë",
            "李雷",
            "🦊 Fox",
            "Ada Lovelace",
            "Nguyễn Thị Ánh",
            "محمد",
            "Σωκράτης",
            "Дмитрий",
            "🇫🇷 Léa",
            // Heart with emoji presentation (VS16), a keycap, a skin tone.
            "\u{2764}\u{FE0F} Ada",
            "1\u{FE0F}\u{20E3} Ada",
            "\u{1F469}\u{1F3FD} Ada",
            // An ideographic variation sequence: the registered glyph of 葛 in a family name.
            "\u{845B}\u{E0100}飾",
        ];
        for name in accepted {
            assert_eq!(DisplayName::parse(name).map(|n| n.as_str().to_owned()), Ok(name.to_owned()));
        }
    }

    #[test]
    fn invalid_names_say_which_character() {
        assert_eq!(
            DisplayName::parse("Ada\u{3164}").unwrap_err().to_string(),
            "a name cannot contain invisible or blank characters (this one has U+3164)"
        );
        assert_eq!(
            DisplayName::parse("Ada\u{FE0F}").unwrap_err().to_string(),
            "a name cannot contain U+FE0F there: it has nothing to vary"
        );
    }
}
