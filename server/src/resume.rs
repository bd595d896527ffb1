//! Resume tokens: proof that a reconnecting client holds one join of a peer id in a room.
//!
//! A token is bound to one join by a nonce the relay picks at that join and keeps with the peer (in the registry,
//! and with a shared registry in the peer's entry in Redis): a resume is honoured only while the peer is in the room
//! with that nonce. Each resume picks a fresh nonce, so the token it replaces is void, and so is every token of a
//! peer that left or whose grace period ended. A token also carries its expiry (`--resume-ttl`), under the same
//! HMAC as the rest; verifying one needs no table of tokens, only the secret, so any relay sharing it can check one.
//!
//! Form (base64url, no padding; opaque to clients): version 2 (1 byte), nonce (16), issued and expires (ms since
//! the Unix epoch, 8 each, big-endian), then HMAC-SHA256 over a label, the room id, the peer id and those 33 bytes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use huddle_common::{PeerId, RoomId};
use sha2::Sha256;

/// The shortest `--resume-secret` accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

const VERSION: u8 = 2;
const NONCE_BYTES: usize = 16;
/// Version, nonce, issued, expires.
const CLAIM_BYTES: usize = 1 + NONCE_BYTES + 8 + 8;
const TAG_BYTES: usize = 32;

/// Picked at each join and kept with the peer: the join a token was issued for. Compared in constant time (a
/// nonce is as good as a token to whoever learns it).
#[derive(Clone, Copy, Eq)]
pub struct Nonce(pub(crate) [u8; NONCE_BYTES]);

impl PartialEq for Nonce {
    fn eq(&self, other: &Nonce) -> bool {
        self.0.iter().zip(other.0).fold(0, |diff, (a, b)| diff | (a ^ b)) == 0
    }
}

impl std::fmt::Debug for Nonce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Nonce(..)")
    }
}

impl Nonce {
    /// A fresh one, from the OS's random source.
    pub fn random() -> Self {
        let mut bytes = [0u8; NONCE_BYTES];
        getrandom::getrandom(&mut bytes).expect("the OS random source is available");
        Nonce(bytes)
    }

    /// Its text form, as the shared registry (Redis) stores it.
    pub fn to_hex(self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

/// What a genuine, unexpired token says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The nonce of the join it was issued at.
    pub nonce: Nonce,
    /// When it was issued.
    pub issued: SystemTime,
    /// When it stops being accepted.
    pub expires: SystemTime,
}

/// Why a token was refused before looking at the room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token of this relay's making for that room and peer id (altered, foreign, or another secret).
    #[error("the resume token is not valid for this room and peer")]
    Invalid,
    /// Genuine, but past its lifetime.
    #[error("the resume token has expired; join again")]
    Expired,
}

/// The `--resume-secret` is too short to be a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "--resume-secret must be at least {MIN_SECRET_BYTES} bytes long (it has {0}); `openssl rand -base64 32` makes one"
)]
pub struct ShortSecret(pub usize);

/// Issues and verifies resume tokens with one secret and lifetime.
#[derive(Clone)]
pub struct ResumeKey {
    mac: Hmac<Sha256>,
    lifetime: Duration,
}

impl std::fmt::Debug for ResumeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResumeKey").field("lifetime", &self.lifetime).finish_non_exhaustive()
    }
}

impl ResumeKey {
    /// A key from a configured secret, at least [`MIN_SECRET_BYTES`] long; its tokens last `lifetime`.
    pub fn new(secret: &[u8], lifetime: Duration) -> Result<Self, ShortSecret> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ShortSecret(secret.len()));
        }
        Ok(ResumeKey { mac: Hmac::new_from_slice(secret).expect("HMAC takes keys of any length"), lifetime })
    }

    /// A key from 32 random bytes: tokens then stay valid only as long as this process runs.
    pub fn random(lifetime: Duration) -> Self {
        let mut secret = [0u8; MIN_SECRET_BYTES];
        getrandom::getrandom(&mut secret).expect("the OS random source is available");
        ResumeKey::new(&secret, lifetime).expect("long enough")
    }

    fn mac(&self, room: &RoomId, peer: &PeerId, claim: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        // Room ids and peer ids are base32, so the separator cannot occur inside either.
        mac.update(b"huddle-resume-v2:");
        mac.update(room.as_str().as_bytes());
        mac.update(b":");
        mac.update(peer.as_str().as_bytes());
        mac.update(b":");
        mac.update(claim);
        mac
    }

    /// The token for the join of `peer` in `room` that picked `nonce`, issued at `now`.
    pub fn token(&self, room: &RoomId, peer: &PeerId, nonce: Nonce, now: SystemTime) -> String {
        let mut bytes = Vec::with_capacity(CLAIM_BYTES + TAG_BYTES);
        bytes.push(VERSION);
        bytes.extend_from_slice(&nonce.0);
        bytes.extend_from_slice(&unix_millis(now).to_be_bytes());
        bytes.extend_from_slice(&unix_millis(now + self.lifetime).to_be_bytes());
        let tag = self.mac(room, peer, &bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// What `token` claims, if this key issued it for `peer` in `room` (checked in constant time) and it has not
    /// expired at `now`.
    pub fn verify(&self, room: &RoomId, peer: &PeerId, token: &str, now: SystemTime) -> Result<Claim, TokenError> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| TokenError::Invalid)?;
        if bytes.len() != CLAIM_BYTES + TAG_BYTES || bytes[0] != VERSION {
            return Err(TokenError::Invalid);
        }
        let (claim, tag) = bytes.split_at(CLAIM_BYTES);
        self.mac(room, peer, claim).verify_slice(tag).map_err(|_| TokenError::Invalid)?;
        let millis = |at: usize| u64::from_be_bytes(claim[at..at + 8].try_into().expect("8 bytes"));
        let nonce = Nonce(claim[1..1 + NONCE_BYTES].try_into().expect("16 bytes"));
        let issued = UNIX_EPOCH + Duration::from_millis(millis(1 + NONCE_BYTES));
        let expires = UNIX_EPOCH + Duration::from_millis(millis(1 + NONCE_BYTES + 8));
        if now >= expires {
            return Err(TokenError::Expired);
        }
        Ok(Claim { nonce, issued, expires })
    }
}

fn unix_millis(time: SystemTime) -> u64 {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a resume secret of at least 32 bytes";
    const LIFETIME: Duration = Duration::from_secs(600);

    fn key() -> ResumeKey {
        ResumeKey::new(SECRET, LIFETIME).unwrap()
    }

    #[test]
    fn a_token_verifies_only_for_its_room_peer_and_key_and_says_which_join() {
        let key = key();
        let (room, other_room) = (RoomId::from_random([1; 16]), RoomId::from_random([2; 16]));
        let (peer, other_peer) = (PeerId::from_random([1; 8]), PeerId::from_random([2; 8]));
        let (nonce, now) = (Nonce::random(), SystemTime::now());
        let token = key.token(&room, &peer, nonce, now);
        let claim = key.verify(&room, &peer, &token, now).unwrap();
        assert!(claim.nonce == nonce);
        assert_eq!(unix_millis(claim.issued), unix_millis(now));
        assert_eq!(unix_millis(claim.expires), unix_millis(now + LIFETIME));
        assert_eq!(key.verify(&other_room, &peer, &token, now), Err(TokenError::Invalid));
        assert_eq!(key.verify(&room, &other_peer, &token, now), Err(TokenError::Invalid));
        let other_key = ResumeKey::new(b"another resume secret, 32 bytes long", LIFETIME).unwrap();
        assert_eq!(other_key.verify(&room, &peer, &token, now), Err(TokenError::Invalid));
        assert_eq!(key.verify(&room, &peer, "not base64 !", now), Err(TokenError::Invalid));
        assert_eq!(key.verify(&room, &peer, "", now), Err(TokenError::Invalid));
        // Each join's token names its own nonce.
        let next = key.token(&room, &peer, Nonce::random(), now);
        assert_ne!(next, token);
        assert!(key.verify(&room, &peer, &next, now).unwrap().nonce != nonce);
    }

    #[test]
    fn a_token_expires_after_its_lifetime() {
        let key = key();
        let (room, peer, issued) = (RoomId::from_random([1; 16]), PeerId::from_random([1; 8]), SystemTime::now());
        let token = key.token(&room, &peer, Nonce::random(), issued);
        assert!(key.verify(&room, &peer, &token, issued + LIFETIME - Duration::from_millis(1)).is_ok());
        assert_eq!(key.verify(&room, &peer, &token, issued + LIFETIME), Err(TokenError::Expired));
        assert_eq!(key.verify(&room, &peer, &token, issued + LIFETIME * 100), Err(TokenError::Expired));
    }

    #[test]
    fn any_altered_byte_makes_a_token_invalid() {
        let key = key();
        let (room, peer, now) = (RoomId::from_random([1; 16]), PeerId::from_random([1; 8]), SystemTime::now());
        let token = key.token(&room, &peer, Nonce::random(), now);
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&token).unwrap();
        for index in 0..bytes.len() {
            let mut altered = bytes.clone();
            altered[index] ^= 0x01;
            let altered = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(altered);
            assert_eq!(key.verify(&room, &peer, &altered, now), Err(TokenError::Invalid), "byte {index}");
        }
        // A later expiry cannot be written in: it is under the HMAC too (byte 25 on is `expires`).
        let mut extended = bytes.clone();
        extended[1 + NONCE_BYTES + 8] = 0xff;
        let extended = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(extended);
        assert_eq!(key.verify(&room, &peer, &extended, now), Err(TokenError::Invalid));
        assert_eq!(key.verify(&room, &peer, &token[..token.len() - 2], now), Err(TokenError::Invalid));
    }

    #[test]
    fn short_secrets_are_refused() {
        assert_eq!(ResumeKey::new(&[1; 31], LIFETIME).unwrap_err(), ShortSecret(31));
        assert!(ResumeKey::new(&[1; 32], LIFETIME).is_ok());
    }
}
