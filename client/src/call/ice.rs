//! Problems with the ICE servers a call was given, as the browser reports them (`icecandidateerror`), and what the
//! person is told about them. The relay cannot know: the TURN server answers the browser, not the relay.

/// Something wrong with the call's ICE servers that the person should be told about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IceProblem {
    /// A TURN server answered 401 Unauthorized: the credentials the relay issued are wrong (its TURN secret is not
    /// the TURN server's) or expired.
    TurnCredentialsRefused,
}

/// STUN's "Unauthorized" (RFC 8489): the credentials are missing, wrong or no longer valid. Browsers report it only
/// once their authenticated retry was refused too.
const UNAUTHORIZED: u16 = 401;

impl IceProblem {
    /// The problem an `icecandidateerror` (the server's `url` and the STUN `errorCode`) means, if it is one to tell.
    /// Other errors need no telling: a STUN server out of reach (701) only costs one kind of candidate.
    pub fn from_candidate_error(url: &str, error_code: u16) -> Option<IceProblem> {
        let scheme = url.split(':').next().unwrap_or_default().to_ascii_lowercase();
        let turn = scheme == "turn" || scheme == "turns";
        (turn && error_code == UNAUTHORIZED).then_some(IceProblem::TurnCredentialsRefused)
    }

    /// A stable name, for the page (`data-problem`) and the tests.
    pub fn code(self) -> &'static str {
        match self {
            IceProblem::TurnCredentialsRefused => "turn_credentials_refused",
        }
    }

    /// What the person is told. Stable: the end-to-end tests and docs/DEPLOY.md (TURN) quote it.
    pub fn message(self) -> &'static str {
        match self {
            IceProblem::TurnCredentialsRefused => {
                "The TURN server refused this call's credentials, so connections through it cannot be made. \
                 Leave and rejoin to get new ones; if that does not help, the relay's TURN secret does not match \
                 the TURN server's."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_server_refusing_the_credentials_is_told() {
        for url in ["turn:127.0.0.1:3478?transport=udp", "turns:turn.example.com:5349?transport=tcp", "TURN:h:1"] {
            assert_eq!(IceProblem::from_candidate_error(url, 401), Some(IceProblem::TurnCredentialsRefused), "{url}");
        }
        let problem = IceProblem::TurnCredentialsRefused;
        assert_eq!(problem.code(), "turn_credentials_refused");
        assert_eq!(
            problem.message(),
            "The TURN server refused this call's credentials, so connections through it cannot be made. Leave and \
             rejoin to get new ones; if that does not help, the relay's TURN secret does not match the TURN server's."
        );
    }

    #[test]
    fn other_candidate_errors_are_not_told() {
        // A STUN server has no credentials to refuse; an unreachable server, or another TURN error, is no 401.
        assert_eq!(IceProblem::from_candidate_error("stun:127.0.0.1:3478", 401), None);
        assert_eq!(IceProblem::from_candidate_error("turn:127.0.0.1:3478?transport=udp", 701), None);
        assert_eq!(IceProblem::from_candidate_error("turn:127.0.0.1:3478?transport=udp", 486), None);
        assert_eq!(IceProblem::from_candidate_error("", 401), None);
    }
}
