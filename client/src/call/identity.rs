//! A person's identity chip: a colour and initials, the same on their tile and before each of their chat lines, so
//! a line is tied to a tile and not only to a name.
//!
//! The colour comes from the peer id, which the relay assigns at random and keeps across a resume: everyone in the
//! room sees a person in the same colour, and a name cannot choose it. The initials come from the name. The colours
//! themselves are in the stylesheet (`.avatar[data-colour="…"]`), the one place styles may live under the CSP;
//! a test here holds the stylesheet to [`COLOURS`] and to legible contrast.

use huddle_common::PeerId;

/// How many colours the stylesheet has for chips (`data-colour` 0 to `COLOURS - 1`), evenly spaced in hue.
pub const COLOURS: u32 = 12;

/// The chip's colour for `peer`: an index into the stylesheet's colours, the same on every device.
pub fn colour(peer: &PeerId) -> u32 {
    // FNV-1a: stable everywhere (unlike std's randomly seeded hasher), and ids are random already, so any mixing
    // spreads them over the colours.
    let hash =
        peer.as_str().bytes().fold(0x811c_9dc5_u32, |hash, byte| (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193));
    hash % COLOURS
}

/// Up to two initials of `name`: the first character of its first word and of its last, past any ASCII
/// punctuation (the stylesheet capitalizes them, knowing every script's case).
pub fn initials(name: &str) -> String {
    let mut words = name.split_whitespace();
    let first = words.next().map(initial);
    let last = words.last().map(initial);
    first.into_iter().chain(last).collect()
}

/// A word's initial: its first character past any ASCII punctuation (or its first, if that is all it has), with
/// the characters drawn with it (combining accents, a skin tone, the second half of a flag). ASCII only, because
/// asking which characters are letters would bring Unicode's tables into the SPA for the odd "(Ada)".
fn initial(word: &str) -> String {
    let start = word.char_indices().find(|(_, c)| !c.is_ascii_punctuation()).map_or(0, |(i, _)| i);
    let mut chars = word[start..].chars();
    let Some(first) = chars.next() else { return String::new() };
    let flag = is_regional_indicator(first);
    let mut initial = String::from(first);
    for (i, c) in chars.enumerate() {
        if !(is_attached(c) || (flag && i == 0 && is_regional_indicator(c))) {
            break;
        }
        initial.push(c);
    }
    initial
}

/// Characters drawn as part of the one before: combining diacritical marks (the blocks that precomposed letters do
/// not cover, as typed on some keyboards), variation selectors, emoji skin tones and the keycap.
fn is_attached(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}'
        | '\u{FE00}'..='\u{FE0F}' | '\u{FE20}'..='\u{FE2F}' | '\u{1F3FB}'..='\u{1F3FF}' | '\u{E0100}'..='\u{E01EF}')
}

/// Regional indicators: two of them make a flag.
fn is_regional_indicator(c: char) -> bool {
    matches!(c, '\u{1F1E6}'..='\u{1F1FF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_are_the_first_letters_of_the_first_and_last_words() {
        assert_eq!(initials("Ada"), "A");
        assert_eq!(initials("ada lovelace"), "al");
        assert_eq!(initials("Ada King Lovelace"), "AL");
        assert_eq!(initials("  Ada   Lovelace  "), "AL");
        assert_eq!(initials("José"), "J");
        assert_eq!(initials("Zoë Ólafsdóttir"), "ZÓ");
        assert_eq!(initials("李雷"), "李");
        assert_eq!(initials("Дмитрий Иванов"), "ДИ");
        assert_eq!(initials("(Ada) Lovelace"), "AL");
        assert_eq!(initials("Ada -"), "A-");
        assert_eq!(initials("🦊 Fox"), "🦊F");
    }

    #[test]
    fn an_initial_keeps_what_is_drawn_with_it() {
        // A decomposed Ñ, a skin tone, a flag (two regional indicators), an emoji-style heart.
        assert_eq!(initials("N\u{303}ando"), "N\u{303}");
        assert_eq!(initials("\u{1F469}\u{1F3FD} Ada"), "\u{1F469}\u{1F3FD}A");
        assert_eq!(initials("\u{1F1EB}\u{1F1F7} Léa"), "\u{1F1EB}\u{1F1F7}L");
        assert_eq!(initials("\u{1F1EB}\u{1F1F7}\u{1F1EB}\u{1F1F7}"), "\u{1F1EB}\u{1F1F7}");
        assert_eq!(initials("\u{2764}\u{FE0F}"), "\u{2764}\u{FE0F}");
    }

    #[test]
    fn a_peer_keeps_its_colour_and_ids_spread_over_all_colours() {
        let ada = PeerId::from_random(*b"ada-ada!");
        assert_eq!(colour(&ada), colour(&PeerId::parse(ada.as_str()).unwrap()));
        let mut seen = [0u32; COLOURS as usize];
        for i in 0..1200u32 {
            let mut bytes = [0u8; 8];
            bytes[..4].copy_from_slice(&i.to_le_bytes());
            seen[colour(&PeerId::from_random(bytes)) as usize] += 1;
        }
        // 100 each if perfectly even; none starved, none hogging.
        assert!(seen.iter().all(|&n| (50..=150).contains(&n)), "{seen:?}");
    }

    /// What the stylesheet says for the chips: the text colour, and each `data-colour`'s background.
    fn stylesheet_colours() -> (Rgb, Vec<Rgb>) {
        let css = include_str!("../../style.css");
        let text = css
            .lines()
            .find(|line| line.starts_with(".avatar {"))
            .and_then(|line| hex_after(line, " color: "))
            .expect("style.css: `.avatar { … color: #rrggbb; … }`");
        let backgrounds = (0..COLOURS)
            .map(|i| {
                let selector = format!(".avatar[data-colour=\"{i}\"]");
                css.lines()
                    .find(|line| line.starts_with(&selector))
                    .and_then(|line| hex_after(line, "background: "))
                    .unwrap_or_else(|| panic!("style.css: `{selector} {{ background: #rrggbb; }}`"))
            })
            .collect();
        assert!(!css.contains(&format!(".avatar[data-colour=\"{COLOURS}\"]")), "more colours than COLOURS");
        (text, backgrounds)
    }

    type Rgb = [u8; 3];

    fn hex_after(line: &str, property: &str) -> Option<Rgb> {
        let hex = line.split(property).nth(1)?.strip_prefix('#')?.get(..6)?;
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        Some([byte(0)?, byte(2)?, byte(4)?])
    }

    /// WCAG 2 relative luminance.
    fn luminance(rgb: Rgb) -> f64 {
        let linear = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * linear(rgb[0]) + 0.7152 * linear(rgb[1]) + 0.0722 * linear(rgb[2])
    }

    fn contrast(a: Rgb, b: Rgb) -> f64 {
        let (a, b) = (luminance(a), luminance(b));
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }

    /// Initials are small text: WCAG AA asks 4.5:1 of it. And two people should not get colours hard to tell apart.
    #[test]
    fn every_chip_colour_is_legible_and_distinct() {
        let (text, backgrounds) = stylesheet_colours();
        for (i, background) in backgrounds.iter().enumerate() {
            let ratio = contrast(text, *background);
            assert!(ratio >= 4.5, "data-colour {i}: contrast {ratio:.2} with its text");
        }
        for (i, a) in backgrounds.iter().enumerate() {
            for (j, b) in backgrounds.iter().enumerate().skip(i + 1) {
                let distance =
                    a.iter().zip(b).map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2)).sum::<f64>().sqrt();
                assert!(distance > 40.0, "data-colour {i} and {j} look alike");
            }
        }
    }
}
