//! ICE servers for `joined`: STUN URLs as configured, TURN URLs with short-lived REST credentials.
//!
//! The credentials follow the TURN REST convention that coturn verifies with `use-auth-secret`:
//! username = `<unix expiry>:<peer id>`, credential = base64(HMAC-SHA1(secret, username)).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use huddle_common::{IceServer, IceTransportPolicy, PeerId};
use sha1::Sha1;

use crate::config::IcePolicy;

/// The ICE servers a relay hands out, and which candidates clients may use.
#[derive(Clone, Debug, Default)]
pub struct IceConfig {
    stun_urls: Vec<String>,
    turn: Option<Turn>,
    policy: IceTransportPolicy,
}

#[derive(Clone, Debug)]
struct Turn {
    urls: Vec<String>,
    secret: String,
    ttl: Duration,
}

impl IceConfig {
    /// STUN URLs, and TURN URLs with their shared secret and credential lifetime (TURN needs both).
    pub fn new(
        stun_urls: Vec<String>,
        turn_urls: Vec<String>,
        turn_secret: Option<String>,
        turn_ttl: Duration,
    ) -> Self {
        let turn = match turn_secret {
            Some(secret) if !turn_urls.is_empty() => Some(Turn { urls: turn_urls, secret, ttl: turn_ttl }),
            _ => None,
        };
        IceConfig { stun_urls, turn, policy: IceTransportPolicy::All }
    }

    /// The same servers, with clients told to use only the candidates `policy` allows.
    pub fn with_policy(self, policy: IcePolicy) -> Self {
        let policy = match policy {
            IcePolicy::All => IceTransportPolicy::All,
            IcePolicy::Relay => IceTransportPolicy::Relay,
        };
        IceConfig { policy, ..self }
    }

    /// What `joined.ice_transport_policy` says.
    pub fn transport_policy(&self) -> IceTransportPolicy {
        self.policy
    }

    /// How long after handing out credentials to hand out fresh ones (`ice_servers`): two thirds of their lifetime,
    /// which leaves a third for the message to arrive and for clocks that disagree. `None` without TURN: STUN
    /// servers need no renewing.
    pub fn refresh_after(&self) -> Option<Duration> {
        self.turn.as_ref().map(|turn| turn.ttl * 2 / 3)
    }

    /// The list for one peer, with TURN credentials valid from `now` for the configured lifetime.
    pub fn servers_for(&self, peer: &PeerId, now: SystemTime) -> Vec<IceServer> {
        let mut servers = Vec::new();
        if !self.stun_urls.is_empty() {
            servers.push(IceServer { urls: self.stun_urls.clone(), username: None, credential: None });
        }
        if let Some(turn) = &self.turn {
            let expiry = (now + turn.ttl).duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
            let username = format!("{expiry}:{peer}");
            let credential = turn_credential(&turn.secret, &username);
            servers.push(IceServer { urls: turn.urls.clone(), username: Some(username), credential: Some(credential) });
        }
        servers
    }
}

/// base64(HMAC-SHA1(secret, username)): the password coturn expects for `username`.
fn turn_credential(secret: &str, username: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_servers_unless_configured() {
        let config = IceConfig::new(vec![], vec!["turn:127.0.0.1:3478".into()], None, Duration::from_secs(60));
        assert!(config.servers_for(&PeerId::from("p"), SystemTime::now()).is_empty());
    }

    #[test]
    fn fresh_credentials_come_at_two_thirds_of_their_lifetime_and_only_with_turn() {
        let turn = |secret: Option<&str>| {
            let urls = vec!["turn:127.0.0.1:3478".to_owned()];
            IceConfig::new(
                vec!["stun:127.0.0.1:3478".into()],
                urls,
                secret.map(str::to_owned),
                Duration::from_secs(600),
            )
        };
        assert_eq!(turn(Some("s")).refresh_after(), Some(Duration::from_secs(400)));
        assert_eq!(turn(None).refresh_after(), None);
    }

    #[test]
    fn credential_matches_the_rfc_2202_hmac_sha1_vector() {
        // RFC 2202 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(turn_credential("Jefe", "what do ya want for nothing?"), "7/zfauXrL6LSdBbV8YTfnCWafHk=");
    }
}
