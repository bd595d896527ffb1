//! Resume tokens: proof that a reconnecting client held a peer id in a room.
//!
//! A token is an HMAC over the room and the peer id, so the relay keeps no table of them: a relay that restarted,
//! or another relay sharing the secret, can verify a token it never issued.

use base64::Engine;
use hmac::{Hmac, Mac};
use huddle_common::{PeerId, RoomId};
use sha2::Sha256;

/// Issues and verifies resume tokens with one secret.
#[derive(Clone)]
pub struct ResumeKey(Hmac<Sha256>);

impl std::fmt::Debug for ResumeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResumeKey(..)")
    }
}

impl ResumeKey {
    /// A key from a configured secret.
    pub fn new(secret: &[u8]) -> Self {
        ResumeKey(Hmac::new_from_slice(secret).expect("HMAC takes keys of any length"))
    }

    /// A key from 32 random bytes: tokens then stay valid only as long as this process runs.
    pub fn random() -> Self {
        let mut secret = [0u8; 32];
        getrandom::getrandom(&mut secret).expect("the OS random source is available");
        ResumeKey::new(&secret)
    }

    fn mac(&self, room: &RoomId, peer: &PeerId) -> Hmac<Sha256> {
        let mut mac = self.0.clone();
        // Room ids and peer ids are base32, so the separator cannot occur inside either.
        mac.update(b"huddle-resume-v1:");
        mac.update(room.as_str().as_bytes());
        mac.update(b":");
        mac.update(peer.as_str().as_bytes());
        mac
    }

    /// The token for `peer` in `room`.
    pub fn token(&self, room: &RoomId, peer: &PeerId) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.mac(room, peer).finalize().into_bytes())
    }

    /// Whether `token` was issued for `peer` in `room` (compared in constant time).
    pub fn verify(&self, room: &RoomId, peer: &PeerId, token: &str) -> bool {
        match base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token) {
            Ok(bytes) => self.mac(room, peer).verify_slice(&bytes).is_ok(),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_only_for_its_room_and_peer_and_key() {
        let key = ResumeKey::new(b"secret");
        let (room, other_room) = (RoomId::from_random([1; 16]), RoomId::from_random([2; 16]));
        let (peer, other_peer) = (PeerId::from_random([1; 8]), PeerId::from_random([2; 8]));
        let token = key.token(&room, &peer);
        assert!(key.verify(&room, &peer, &token));
        assert!(!key.verify(&other_room, &peer, &token));
        assert!(!key.verify(&room, &other_peer, &token));
        assert!(!ResumeKey::new(b"other").verify(&room, &peer, &token));
        assert!(!key.verify(&room, &peer, "not base64 !"));
        assert!(!key.verify(&room, &peer, ""));
    }
}
