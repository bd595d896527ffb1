//! When two display names are the same name: the relay keeps names unique within a room by what they look like.
//!
//! Names are compared by a key: NFKC (full-width "Ａda" and ligatures become their plain letters), case folding
//! ("ADA", "Straße" and "STRASSE"), NFKC again (folding can leave a string unnormalized), then the skeleton of
//! UTS #39, which drops default-ignorable code points and maps each character to the prototype of the characters
//! it can be mistaken for (Cyrillic "А", Greek "Α" and Latin "A" alike); a run of spaces counts as one, as a page
//! shows it. Two names with the same key would read the same on a tile, so the second is refused `name_taken`.
//! Accents, other scripts and emoji keep their own shapes, so "José" and "Jose", or "李雷" and "🦊 Fox", stay
//! distinct.
//!
//! The key is what Redis compares when relays share rooms (`cluster/join.lua`): every relay of a cluster must
//! compute it alike, so relays of a version before this rule and after it should not share rooms for long (names
//! that only the new key tells apart would pass between them).
//!
//! The Unicode tables live here, on the relay, not in `huddle-common`: the SPA never compares names, and the
//! confusables and normalization data would weigh on its download.

use huddle_common::DisplayName;
use icu_casemap::CaseMapper;
use unicode_normalization::UnicodeNormalization;

/// The form in which two names are compared for uniqueness within a room (a skeleton: never shown to anyone).
pub fn uniqueness_key(name: &DisplayName) -> String {
    let compatible: String = name.as_str().nfkc().collect();
    let folded: String = CaseMapper::new().fold_string(&compatible).nfkc().collect();
    let skeleton: String = unicode_security::skeleton(&folded).collect();
    // A page shows a run of spaces as one: "Ada  Lovelace" reads as "Ada Lovelace".
    skeleton.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> String {
        uniqueness_key(&DisplayName::parse(name).unwrap_or_else(|error| panic!("{name:?}: {error}")))
    }

    /// Every impostor of "Ada" from issue 15 either is not a name at all (the character rules of
    /// `DisplayName::parse`) or has Ada's key, so the relay refuses it `name_taken` next to Ada.
    #[test]
    fn impostors_of_ada_are_refused_or_collide() {
        let ada = key("Ada");
        let invisible = [
            "Ada\u{034F}",
            "Ada\u{3164}",
            "Ada\u{2800}",
            "Ada\u{180E}",
            "Ada\u{061C}",
            "Ada\u{115F}",
            "Ada\u{1160}",
            "Ada\u{FFA0}",
            "Ada\u{17B4}",
            "Ada\u{FE0F}",
            "\u{FE0F}Ada",
            "Ada\u{E0041}",
            "Ada\u{200B}",
            "A\u{2028}da",
            "A\u{2029}da",
        ];
        for name in invisible {
            assert!(DisplayName::parse(name).is_err(), "{name:?} should not be a name");
        }
        let look_alikes = [
            "ADA",
            "ada",
            "\u{410}da",                // Cyrillic capital A
            "\u{391}da",                // Greek capital Alpha
            "\u{FF21}da",               // full-width A
            "\u{FF21}\u{FF44}\u{FF41}", // full-width Ada
            "Ad\u{430}",                // Cyrillic small a
            "\u{1D400}da",              // mathematical bold capital A
            "A\u{501}a",                // Cyrillic komi de
            "\u{410}D\u{410}",          // Cyrillic A, Latin D, Cyrillic A
        ];
        for name in look_alikes {
            assert_eq!(key(name), ada, "{name:?} should collide with Ada");
        }
    }

    #[test]
    fn spaces_compare_as_a_page_shows_them() {
        let ada = key("Ada Lovelace");
        for name in ["Ada  Lovelace", "Ada\u{A0}Lovelace", "Ada\u{3000}Lovelace", "Ada \u{2003} Lovelace"] {
            assert_eq!(key(name), ada, "{name:?} should collide with Ada Lovelace");
        }
        assert_ne!(key("AdaLovelace"), ada);
    }

    #[test]
    fn case_folding_is_full() {
        assert_eq!(key("Straße"), key("STRASSE"));
        assert_eq!(key("ΟΔΥΣΣΕΥΣ"), key("οδυσσευς"));
    }

    /// Accented names, other scripts and emoji are names of their own.
    #[test]
    fn distinct_names_keep_distinct_keys() {
        let names = [
            "Ada",
            "Ada Lovelace",
            "José",
            "Jose",
            "Zoë",
            "Zoe",
            "李雷",
            "李雪",
            "🦊 Fox",
            "🐺 Fox",
            "Fox",
            "\u{1F469}\u{1F3FD} Ada",
            "\u{1F469}\u{1F3FF} Ada",
            "Дмитрий",
            "محمد",
            "Nguyễn",
            "Nguyên",
        ];
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                assert_ne!(key(a), key(b), "{a:?} and {b:?} should be different names");
            }
        }
    }

    #[test]
    fn spaces_of_any_width_count_as_one_kind() {
        assert_eq!(key("Ada\u{3000}Lovelace"), key("Ada Lovelace"));
        assert_eq!(key("Ada\u{00A0}Lovelace"), key("Ada Lovelace"));
    }
}
