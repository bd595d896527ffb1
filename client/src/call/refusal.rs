//! What a refused join leads to: a name the relay will not take sends the person back to the lobby to pick another,
//! camera and microphone still on; any other refusal ends on a screen saying why (`ui::ended`).

use huddle_common::ErrorCode;

use crate::call::state::Ending;

/// What the lobby says under the name field when the name is taken.
pub const NAME_TAKEN: &str = "Someone in this call already uses that name, or one that looks the same. Pick another.";

/// The reason to show under the lobby's name field when the call ends with `ending`, or `None` to end on the
/// refusal screen. Only a refusal of the first join returns to the lobby: once the relay had admitted us
/// (`ever_joined`), the lobby has given way to the call screen, and a refusal while joining again after losing the
/// relay ends the call as any other ending does.
pub fn back_to_lobby(ending: &Ending, ever_joined: bool) -> Option<String> {
    match ending {
        _ if ever_joined => None,
        Ending::Refused { code: ErrorCode::NameTaken, .. } => Some(NAME_TAKEN.to_owned()),
        // The lobby checks names as the relay does; a relay with other rules says what they are.
        Ending::Refused { code: ErrorCode::InvalidName, message } => Some(sentence(message)),
        _ => None,
    }
}

/// Our own messages (the relay's and `InvalidName`'s) as sentences: they are ASCII and start in lower case.
pub fn sentence(text: &str) -> String {
    let mut sentence = text.to_owned();
    if let Some(first) = sentence.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    sentence
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: ErrorCode, message: &str) -> Ending {
        Ending::Refused { code, message: message.to_owned() }
    }

    #[test]
    fn a_refused_name_returns_to_the_lobby_with_the_reason() {
        assert_eq!(back_to_lobby(&refused(ErrorCode::NameTaken, "name taken"), false).as_deref(), Some(NAME_TAKEN));
        assert_eq!(
            back_to_lobby(&refused(ErrorCode::InvalidName, "a name has at most 32 characters"), false).as_deref(),
            Some("A name has at most 32 characters")
        );
    }

    #[test]
    fn other_refusals_and_endings_end_the_call() {
        for code in [ErrorCode::RoomFull, ErrorCode::InvalidRoom, ErrorCode::UnsupportedVersion, ErrorCode::Unavailable]
        {
            assert_eq!(back_to_lobby(&refused(code, "no"), false), None, "{}", code.as_str());
        }
        for ending in [Ending::Left, Ending::Replaced, Ending::RelayUnavailable] {
            assert_eq!(back_to_lobby(&ending, false), None, "{ending:?}");
        }
    }

    #[test]
    fn a_name_refused_after_the_call_began_ends_it() {
        assert_eq!(back_to_lobby(&refused(ErrorCode::NameTaken, "name taken"), true), None);
        assert_eq!(back_to_lobby(&refused(ErrorCode::InvalidName, "bad name"), true), None);
    }

    #[test]
    fn sentences_start_with_a_capital() {
        assert_eq!(sentence("a name is required"), "A name is required");
        assert_eq!(sentence(""), "");
    }
}
