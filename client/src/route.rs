//! Where the app is: the address bar is the source of truth, so a room link opens the room, even one pasted with
//! the full stop of the sentence it came in.

use huddle_common::RoomId;

/// A screen reachable by URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/`: pick a name, start or open a room.
    Home,
    /// `/r/<room id>`: the lobby, then the call.
    Room(RoomId),
    /// Any other path (`/r/<not a room>`, `/anything`): a link that leads nowhere, kept as it was opened.
    BadRoom(String),
}

impl Route {
    /// The route for a path (`location.pathname`). A room path is read as forgivingly as [`room_from_input`] reads
    /// a paste: percent-escapes, white space, invisible characters, upper case and the punctuation around a link
    /// in a sentence do not stop it opening the room.
    pub fn from_path(path: &str) -> Route {
        if matches!(path, "" | "/" | "/index.html") {
            return Route::Home;
        }
        match path.get(..3).filter(|prefix| prefix.eq_ignore_ascii_case("/r/")).and(path.get(3..)) {
            Some(code) => match room_in(code) {
                Some(room) => Route::Room(room),
                None => Route::BadRoom(path.to_owned()),
            },
            None => Route::BadRoom(path.to_owned()),
        }
    }

    /// The path for this route: for a room, its canonical `/r/<room id>`.
    pub fn path(&self) -> String {
        match self {
            Route::Home => "/".to_owned(),
            Route::Room(room) => format!("/r/{room}"),
            Route::BadRoom(path) => path.clone(),
        }
    }

    /// The path to put in the address bar instead of `path` (by `history.replaceState`), when `path` leads to a
    /// room but is not written as that room's link: the link shared from there, and reloads, are then clean.
    pub fn canonical_path(&self, path: &str) -> Option<String> {
        let canonical = self.path();
        (matches!(self, Route::Room(_)) && canonical != path).then_some(canonical)
    }
}

/// Reads a room out of whatever a person pasted: a full link, a path, or the bare code, with what the sentence it
/// was copied from put around it.
pub fn room_from_input(input: &str) -> Option<RoomId> {
    let tail = input.rsplit_once("/r/").map_or(input, |(_, tail)| tail);
    room_in(tail.split(['?', '#']).next().unwrap_or_default())
}

/// The room whose code `text` is, once freed of escapes and of what came with it: white space and invisible
/// characters around it, sentence punctuation, brackets and quotes, a trailing `/`. Nothing is taken out of the
/// middle: a code with a stray character in it is not a room.
fn room_in(text: &str) -> Option<RoomId> {
    RoomId::parse(percent_decode(text)?.trim_matches(is_debris)).ok()
}

/// What may stick to a link copied out of a sentence, a chat or Markdown; never part of a room code (base32).
fn is_debris(c: char) -> bool {
    c.is_whitespace() || INVISIBLE.contains(&c) || PUNCTUATION.contains(c)
}

/// Zero-width space, non-joiner and joiner; word joiner; byte order mark.
const INVISIBLE: &[char] = &['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}'];

/// Sentence punctuation, brackets and quotes (and Markdown's emphasis and code marks) around a link.
const PUNCTUATION: &str = ".,;:!?/()[]{}<>\"'`*_“”‘’«»„";

/// `text` with its `%XX` escapes decoded; a `%` not followed by two hex digits stays as it is. `None` if that is
/// not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(text).decode_utf8().ok().map(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> RoomId {
        RoomId::from_random([9; 16])
    }

    #[test]
    fn paths_map_to_routes_and_back() {
        let room = room();
        assert_eq!(Route::from_path("/"), Route::Home);
        assert_eq!(Route::from_path("/index.html"), Route::Home);
        assert_eq!(Route::from_path(&format!("/r/{room}")), Route::Room(room.clone()));
        assert_eq!(Route::Room(room.clone()).path(), format!("/r/{room}"));
        assert_eq!(Route::Home.path(), "/");
    }

    #[test]
    fn a_room_path_as_pasted_from_a_sentence_opens_the_room() {
        let room = room();
        let upper = room.to_string().to_uppercase();
        for path in [
            format!("/r/{room}."),
            format!("/r/{room},"),
            format!("/r/{room};"),
            format!("/r/{room}:"),
            format!("/r/{room}!"),
            format!("/r/{room}?"),
            format!("/r/{room})"),
            format!("/r/{room})."),
            format!("/r/{room}]"),
            format!("/r/{room}%7D"),
            format!("/r/{room}%3E"),
            format!("/r/{room}%22"),
            format!("/r/{room}'"),
            format!("/r/{room}%E2%80%9D"), // ”
            format!("/r/{room}%E2%80%99"), // ’
            format!("/r/{room}%20"),
            format!("/r/%20{room}"),
            format!("/r/{room}%C2%A0"),    // no-break space
            format!("/r/{room}%E2%80%8B"), // zero-width space
            format!("/r/%E2%80%8B{room}"),
            format!("/r/{room}%EF%BB%BF"), // byte order mark
            format!("/r/{room}/"),
            format!("/r/{room}//"),
            format!("/r/{room}%0A"),
            format!("/r/{upper}"),
            format!("/R/{upper}."),
        ] {
            assert_eq!(Route::from_path(&path), Route::Room(room.clone()), "{path}");
        }
    }

    #[test]
    fn only_a_room_path_not_written_canonically_is_rewritten() {
        let room = room();
        let canonical = format!("/r/{room}");
        let messy = format!("/r/{}%E2%80%8B.", room.to_string().to_uppercase());
        assert_eq!(Route::from_path(&messy).canonical_path(&messy), Some(canonical.clone()));
        assert_eq!(
            Route::from_path(&format!("{canonical}/")).canonical_path(&format!("{canonical}/")),
            Some(canonical.clone())
        );
        assert_eq!(Route::from_path(&canonical).canonical_path(&canonical), None);
        assert_eq!(Route::from_path("/").canonical_path("/"), None);
        assert_eq!(Route::from_path("/index.html").canonical_path("/index.html"), None);
        assert_eq!(Route::from_path("/r/nope.").canonical_path("/r/nope."), None);
    }

    #[test]
    fn any_other_path_leads_nowhere_and_is_kept_as_opened() {
        let room = room().to_string();
        let mut wrong_last = room.clone();
        wrong_last.replace_range(25.., "b"); // the last character carries two zero bits: "b" cannot end a room id
        for path in [
            "/anything".to_owned(),
            "/anything/".to_owned(),
            "/foo/bar.".to_owned(),
            "/r".to_owned(),
            "/r/".to_owned(),
            "/r/nope".to_owned(),
            "/r/not-a-room.".to_owned(),
            format!("/r/{wrong_last}"),
            format!("/r/{}", &room[..25]),
            format!("/r/{room}a"),
            // Punctuation inside the code is not silently dropped.
            format!("/r/{}.{}", &room[..10], &room[10..]),
            format!("/r/{}%E2%80%8B{}", &room[..10], &room[10..]),
            format!("/r/{}-{}", &room[..10], &room[10..]),
            format!("/r/{room}/extra"),
            format!("/r/{room}%20see%20you"),
            format!("/r/{room}%FF"),
            format!("/x/{room}"),
            format!("/rooms/{room}"),
        ] {
            assert_eq!(Route::from_path(&path), Route::BadRoom(path.clone()), "{path}");
            assert_eq!(Route::from_path(&path).path(), path);
        }
    }

    #[test]
    fn a_pasted_link_or_code_yields_its_room() {
        let room = RoomId::from_random([3; 16]);
        for input in [
            format!("https://huddle.example/r/{room}"),
            format!("  http://127.0.0.1:8080/r/{room}?x=1 "),
            format!("/r/{room}#top"),
            room.to_string().to_uppercase(),
            format!("https://huddle.example/r/{room}."),
            format!("(https://huddle.example/r/{room})"),
            format!("Join me: https://huddle.example/r/{room}!"),
            format!("“https://huddle.example/r/{room}”"),
            format!("https://huddle.example/r/{room}/ \n"),
            format!("https://huddle.example/r/{room}\u{200B}"),
            format!("https://huddle.example/r/%20{room}%20"),
            format!("<https://huddle.example/r/{room}>"),
            format!("`{room}`"),
            format!("\u{a0}{room}.\n"),
        ] {
            assert_eq!(room_from_input(&input), Some(room.clone()), "{input}");
        }
        for input in [
            "https://huddle.example/r/nope".to_owned(),
            String::new(),
            "   ".to_owned(),
            format!("https://huddle.example/r/{}.{}", &room.to_string()[..10], &room.to_string()[10..]),
            format!("https://huddle.example/r/{room}x"),
            format!("https://huddle.example/r/{room} see you there"),
        ] {
            assert_eq!(room_from_input(&input), None, "{input}");
        }
    }

    #[test]
    fn percent_escapes_decode_and_stray_percents_stay() {
        assert_eq!(percent_decode("a%20b%E2%80%8Bc").as_deref(), Some("a b\u{200B}c"));
        assert_eq!(percent_decode("100%").as_deref(), Some("100%"));
        assert_eq!(percent_decode("%zz%4").as_deref(), Some("%zz%4"));
        assert_eq!(percent_decode("%ff"), None);
    }
}
