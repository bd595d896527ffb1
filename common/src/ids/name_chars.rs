//! Which characters a display name may have: everything visible, nothing that hides.
//!
//! A name is what people trust to tell who is speaking, so a character that draws nothing (or a blank) would let
//! "Ada" plus something unseen sit next to "Ada". The relay's skeleton comparison (`server/src/names.rs`) already
//! makes such a pair collide; refusing the characters outright also keeps them out of every tile and chat line,
//! and the SPA's lobby, which runs these same rules, can say so before anyone joins.
//!
//! The Unicode data comes from ICU4X's compiled properties; only the sets named here are linked into the SPA.

use icu_properties::props::{BinaryProperty, DefaultIgnorableCodePoint, Emoji, UnifiedIdeograph};

use super::InvalidName;

/// Text and emoji presentation selectors (VS15, VS16).
const PRESENTATION_SELECTORS: [char; 2] = ['\u{FE0E}', '\u{FE0F}'];
/// Ideographic variation selectors (VS17–VS256).
const IDEOGRAPHIC_SELECTORS: std::ops::RangeInclusive<char> = '\u{E0100}'..='\u{E01EF}';

/// Refuses the first character of `name` that a name may not have.
pub fn check(name: &str) -> Result<(), InvalidName> {
    let mut before = None;
    for c in name.chars() {
        if let Some(refusal) = judge(before, c) {
            return Err(refusal);
        }
        before = Some(c);
    }
    Ok(())
}

/// Whether `c`, after `before` (if anything), has no place in a name.
fn judge(before: Option<char>, c: char) -> Option<InvalidName> {
    if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
        return Some(InvalidName::ControlCharacter);
    }
    // Variation selectors are default-ignorable, yet part of how some visible text is spelt, so these are judged by
    // what they are attached to before the blanket rule below. Every other variation selector is refused: the
    // standardized variants of FE00–FE0D and the Mongolian free variation selectors only nudge a glyph's shape, and
    // a name reads the same without them.
    if PRESENTATION_SELECTORS.contains(&c) {
        // Only characters with the Emoji property have text and emoji presentation sequences (❤️, 1️⃣); after any
        // other character (Ada + U+FE0F) the selector varies nothing and only makes a different string. (Digits
        // have the property, for keycaps, so "Ada1" + U+FE0F passes here; the relay's comparison drops selectors,
        // so that is still Ada1's name.)
        return (!before.is_some_and(Emoji::for_char)).then_some(InvalidName::Stray(c));
    }
    if IDEOGRAPHIC_SELECTORS.contains(&c) {
        // Ideographic variation sequences choose the registered glyph of a CJK ideograph, which personal names
        // (Japanese family names in particular) do use; after anything else they vary nothing.
        return (!before.is_some_and(UnifiedIdeograph::for_char)).then_some(InvalidName::Stray(c));
    }
    // Default-ignorable code points: the zero-width characters, text-direction controls, the Hangul fillers (U+115F,
    // U+1160, U+3164, U+FFA0), U+034F, U+061C, U+17B4/5, U+180E, the tag characters (U+E0000–E0FFF), and more.
    // That refuses subdivision flags (🏴 + tags) too: their tags could as well spell hidden text. The zero-width
    // joiner stays refused, as it always was, in emoji ZWJ sequences (👩‍💻) too: admitting it would loosen the
    // rules, which older SPAs also apply to the names of the peers they are told of, so they would lose sight of
    // such a peer (docs/PROTOCOL.md, "Versions"). U+2800, the blank Braille pattern, is a visible character by its
    // properties but draws nothing.
    if is_invisible(c) {
        return Some(InvalidName::Invisible(c));
    }
    None
}

/// Whether `c` draws nothing where text shows it: a default-ignorable code point (Hangul fillers, tags, zero-width and direction controls…) or U+2800, the
/// blank Braille pattern. Anything else that names something people read (file names) drops these by the same rule.
pub fn is_invisible(c: char) -> bool {
    DefaultIgnorableCodePoint::for_char(c) || c == '\u{2800}'
}
