//! Sealed envelopes: every message one relay sends another through Redis carries a tag made with the cluster
//! secret (`--cluster-secret`), and a relay drops (and counts) whatever arrives on its channel without a valid one.
//! Without it, anything that could PUBLISH on a relay's channel could put words in any peer's mouth or close its
//! connection.
//!
//! # Two keys, because Redis decides membership but must never speak for a peer
//!
//! Both are derived from the cluster secret, which never leaves the relay:
//! - the **content key** (HMAC-SHA256) seals `deliver`, a peer's own words (SDP, ICE candidates). Only relays hold
//!   it: the relay seals the envelope before the script that routes it runs, and `signal.lua` publishes it as it
//!   came. Nothing that can reach Redis, not even its administrator, can forge or alter a signal.
//! - the **membership key** (HMAC-SHA1) seals `joined`, `left` and `taken_over`: news that Redis itself decides
//!   (who joined, whose grace period ended inside `sync.lua`, who resumed where). The scripts seal these
//!   themselves, in the same atomic step that changes the room, so that no relay dying between "changed" and
//!   "told" can leave the others with a ghost. Redis' Lua has `redis.sha1hex` but no SHA-256, hence HMAC-SHA1 (as a
//!   MAC it stands). The relay hands the key's two padded forms to every script call (see
//!   [`ClusterKey::pads`]): they are visible to whoever may run `MONITOR` or read `SLOWLOG` on Redis, commands
//!   the relays' ACL user (docs/DEPLOY.md) does not need. That is no new trust: whoever can write the relays' keys
//!   can already change who is in a room, which is all this key vouches for.
//!
//! The alternative of having the scripts return their news for the relay to seal and publish would keep even the
//! membership key out of Redis, but loses the atomicity above and adds a round trip; sealing `deliver` in the
//! script with a key passed along would put the key that guards what peers say into Redis for nothing.
//!
//! # What is covered
//!
//! The wire form is `<tag>.<scheme>.<at>.<seq>.<recipient>.<body>`; the tag covers everything after its dot:
//! - `scheme`: `c` (content key) or `m` (membership key); each accepts only its own kinds of envelope;
//! - `at`: when it was sealed (ms since the Unix epoch; the relay's clock for `c`, Redis' for `m`). Envelopes more
//!   than [`MAX_SKEW`] away from the receiver's clock are dropped: keep the clocks in sync (NTP);
//! - `seq`: for `m`, a counter of the scripts (`<prefix>:seq`, a hybrid clock: the larger of the last value + 1
//!   and `at` × 1000, so it keeps rising across a Redis restart or failover). Scripts run one at a time and a
//!   channel delivers in order, so a relay accepts an `m` envelope only above the last it accepted: **replaying a
//!   membership envelope never works**. `c` envelopes carry `0`;
//! - `recipient`: the relay whose channel it is meant for. `m` envelopes always name it. A `deliver` names it when
//!   the sender knows it (what a relay held for a peer that resumed elsewhere); one routed by `signal.lua` says
//!   `*`, since only the script learns where the recipient is, and the receiving relay delivers it only to a peer
//!   of that room it holds.
//! - `body`: the envelope's JSON.
//!
//! Not covered: a `deliver` replayed by someone who can both read and publish on the relays' channels, within
//! [`MAX_SKEW`], reaches its peer a second time (it cannot be altered, redirected to another peer, or be made to
//! come from anyone else); the ACL in docs/DEPLOY.md keeps those channels to the relays' own user.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;

/// The shortest cluster secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// How far an envelope's seal time may be from the receiver's clock (transit time plus clock skew).
pub const MAX_SKEW: Duration = Duration::from_secs(30);

/// HMAC-SHA1's block size: the length of the padded keys the scripts get.
const SHA1_BLOCK: usize = 64;

/// The cluster secret is too short to be a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be at least {MIN_SECRET_BYTES} bytes long (it has {0}); `openssl rand -base64 32` makes one")]
pub struct ShortSecret(pub usize);

/// The keys derived from the cluster secret.
#[derive(Clone)]
pub struct ClusterKey {
    content: Hmac<Sha256>,
    membership: Hmac<Sha1>,
    inner_pad: Vec<u8>,
    outer_pad: Vec<u8>,
}

impl std::fmt::Debug for ClusterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterKey(..)")
    }
}

impl ClusterKey {
    /// The keys of `secret`, which must be at least [`MIN_SECRET_BYTES`] long.
    pub fn new(secret: &[u8]) -> Result<Self, ShortSecret> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ShortSecret(secret.len()));
        }
        let derive = |label: &[u8]| {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
            mac.update(label);
            mac.finalize().into_bytes()
        };
        let content = derive(b"huddle-cluster-v1 content");
        let membership = derive(b"huddle-cluster-v1 membership");
        // HMAC's padded keys (RFC 2104): the key, zero-filled to the block size, XOR 0x36 and XOR 0x5c. With them a
        // script computes HMAC-SHA1 with nothing but SHA-1.
        let mut block = [0u8; SHA1_BLOCK];
        block[..membership.len()].copy_from_slice(&membership);
        Ok(ClusterKey {
            content: Mac::new_from_slice(&content).expect("HMAC takes keys of any length"),
            membership: Mac::new_from_slice(&membership).expect("HMAC takes keys of any length"),
            inner_pad: block.iter().map(|byte| byte ^ 0x36).collect(),
            outer_pad: block.iter().map(|byte| byte ^ 0x5c).collect(),
        })
    }

    /// The membership key's inner and outer padded forms, which every script takes as its second and third
    /// argument.
    pub fn pads(&self) -> (&[u8], &[u8]) {
        (&self.inner_pad, &self.outer_pad)
    }

    /// Seals `body` (a `deliver` envelope's JSON) with the content key, for relay `recipient`, or for whichever
    /// relay holds its peer (`None`), sealed at `at`.
    pub fn seal_content(&self, recipient: Option<&str>, at: SystemTime, body: &str) -> String {
        let signed = format!("c.{}.0.{}.{body}", unix_millis(at), recipient.unwrap_or("*"));
        let mut mac = self.content.clone();
        mac.update(signed.as_bytes());
        let mut sealed = hex(&mac.finalize().into_bytes());
        sealed.push('.');
        sealed.push_str(&signed);
        sealed
    }
}

/// Which key sealed an envelope, which decides what it may say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// The content key: a `deliver`.
    Content,
    /// The membership key: `joined`, `left` or `taken_over`, written by a script.
    Membership,
}

/// Why an envelope was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Dropped {
    /// No seal, a malformed one, or a tag the cluster secret did not make.
    #[error("no valid tag")]
    Unauthenticated,
    /// Sealed for another relay.
    #[error("sealed for another relay")]
    Misdirected,
    /// Sealed longer ago (or further ahead) than the clocks allow.
    #[error("outside the time window")]
    Stale,
    /// A membership envelope no newer than one already accepted.
    #[error("replayed")]
    Replayed,
    /// Sealed, but its body is not an envelope this scheme may carry.
    #[error("unreadable")]
    Unreadable,
}

impl Dropped {
    /// Every reason, in the order `/metrics` lists them.
    pub const ALL: [Dropped; 5] =
        [Dropped::Unauthenticated, Dropped::Misdirected, Dropped::Stale, Dropped::Replayed, Dropped::Unreadable];

    /// The reason's label in `/metrics`.
    pub fn as_str(self) -> &'static str {
        match self {
            Dropped::Unauthenticated => "unauthenticated",
            Dropped::Misdirected => "misdirected",
            Dropped::Stale => "stale",
            Dropped::Replayed => "replayed",
            Dropped::Unreadable => "unreadable",
        }
    }
}

/// Envelopes dropped since start, by reason.
#[derive(Debug, Default)]
pub struct DropCounts([AtomicU64; Dropped::ALL.len()]);

impl DropCounts {
    /// Counts one; returns how many of that reason there are now.
    pub fn count(&self, reason: Dropped) -> u64 {
        self.0[reason as usize].fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Each reason with its count.
    pub fn snapshot(&self) -> [(Dropped, u64); Dropped::ALL.len()] {
        Dropped::ALL.map(|reason| (reason, self.0[reason as usize].load(Ordering::Relaxed)))
    }
}

/// Opens the envelopes on one relay's channel (one per subscription listener: it remembers the last membership
/// envelope it accepted).
#[derive(Debug)]
pub struct Opener {
    key: ClusterKey,
    relay: String,
    last_seq: u64,
}

impl Opener {
    /// An opener for relay `relay`'s channel.
    pub fn new(key: ClusterKey, relay: &str) -> Self {
        Opener { key, relay: relay.to_owned(), last_seq: 0 }
    }

    /// Checks a sealed envelope that arrived at `now`; returns which key sealed it and its body.
    pub fn open<'a>(&mut self, sealed: &'a [u8], now: SystemTime) -> Result<(Scheme, &'a str), Dropped> {
        let text = std::str::from_utf8(sealed).map_err(|_| Dropped::Unauthenticated)?;
        let (tag, signed) = text.split_once('.').ok_or(Dropped::Unauthenticated)?;
        let mut fields = signed.splitn(5, '.');
        let mut field = || fields.next().ok_or(Dropped::Unauthenticated);
        let (scheme, at, seq, recipient, body) = (field()?, field()?, field()?, field()?, field()?);
        let tag = unhex(tag).ok_or(Dropped::Unauthenticated)?;
        let scheme = match scheme {
            "c" => {
                let mut mac = self.key.content.clone();
                mac.update(signed.as_bytes());
                mac.verify_slice(&tag).map_err(|_| Dropped::Unauthenticated)?;
                Scheme::Content
            }
            "m" => {
                let mut mac = self.key.membership.clone();
                mac.update(signed.as_bytes());
                mac.verify_slice(&tag).map_err(|_| Dropped::Unauthenticated)?;
                Scheme::Membership
            }
            _ => return Err(Dropped::Unauthenticated),
        };
        // From here on the envelope is genuine: what is left is whether it is meant for here and now.
        let for_anyone = recipient == "*" && scheme == Scheme::Content;
        if recipient != self.relay && !for_anyone {
            return Err(Dropped::Misdirected);
        }
        let at: u64 = at.parse().map_err(|_| Dropped::Unreadable)?;
        if unix_millis(now).abs_diff(at) > u64::try_from(MAX_SKEW.as_millis()).unwrap_or(u64::MAX) {
            return Err(Dropped::Stale);
        }
        if scheme == Scheme::Membership {
            let seq: u64 = seq.parse().map_err(|_| Dropped::Unreadable)?;
            if seq <= self.last_seq {
                return Err(Dropped::Replayed);
            }
            self.last_seq = seq;
        }
        Ok((scheme, body))
    }
}

fn unix_millis(time: SystemTime) -> u64 {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    let digit = |c: u8| char::from(c).to_digit(16).and_then(|d| u8::try_from(d).ok());
    text.as_bytes().chunks_exact(2).map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?)).collect()
}

#[cfg(test)]
mod tests {
    use sha1::Digest;

    use super::*;

    const SECRET: &[u8] = b"a cluster secret of at least 32 bytes";

    /// What `seal()` in `prelude.lua` computes: SHA-1 over the padded keys, as the script does it.
    fn seal_as_the_scripts_do(key: &ClusterKey, at: u64, seq: u64, recipient: &str, body: &str) -> String {
        let signed = format!("m.{at}.{seq}.{recipient}.{body}");
        let (inner_pad, outer_pad) = key.pads();
        let inner = Sha1::new().chain_update(inner_pad).chain_update(signed.as_bytes()).finalize();
        let tag = Sha1::new().chain_update(outer_pad).chain_update(inner).finalize();
        format!("{}.{signed}", hex(&tag))
    }

    fn now_ms() -> u64 {
        unix_millis(SystemTime::now())
    }

    #[test]
    fn short_secrets_are_refused() {
        assert_eq!(ClusterKey::new(&[7; 31]).unwrap_err(), ShortSecret(31));
        assert!(ClusterKey::new(&[7; 32]).is_ok());
        assert!(ShortSecret(3).to_string().contains("at least 32 bytes"));
    }

    #[test]
    fn content_envelopes_open_for_their_recipient_or_anyone_when_unnamed() {
        let key = ClusterKey::new(SECRET).unwrap();
        let now = SystemTime::now();
        let sealed = key.seal_content(Some("bbb"), now, r#"{"kind":"deliver"}"#);
        assert_eq!(
            Opener::new(key.clone(), "bbb").open(sealed.as_bytes(), now),
            Ok((Scheme::Content, r#"{"kind":"deliver"}"#))
        );
        assert_eq!(Opener::new(key.clone(), "ccc").open(sealed.as_bytes(), now), Err(Dropped::Misdirected));
        let anyone = key.seal_content(None, now, "{}");
        assert_eq!(Opener::new(key.clone(), "ccc").open(anyone.as_bytes(), now), Ok((Scheme::Content, "{}")));
        // The same envelope a second time is not caught: the documented gap (within the time window).
        let mut opener = Opener::new(key, "ccc");
        assert!(opener.open(anyone.as_bytes(), now).is_ok() && opener.open(anyone.as_bytes(), now).is_ok());
    }

    #[test]
    fn the_scripts_seal_is_hmac_sha1_under_the_membership_key() {
        let key = ClusterKey::new(SECRET).unwrap();
        let sealed = seal_as_the_scripts_do(&key, now_ms(), 5, "bbb", r#"{"kind":"left"}"#);
        let mut opener = Opener::new(key, "bbb");
        assert_eq!(opener.open(sealed.as_bytes(), SystemTime::now()), Ok((Scheme::Membership, r#"{"kind":"left"}"#)));
    }

    #[test]
    fn anything_altered_or_sealed_with_another_secret_is_unauthenticated() {
        let key = ClusterKey::new(SECRET).unwrap();
        let other = ClusterKey::new(b"another secret, also 32 bytes or more").unwrap();
        let now = SystemTime::now();
        let mut opener = Opener::new(key.clone(), "bbb");
        let genuine = key.seal_content(Some("bbb"), now, r#"{"from":"bob"}"#);
        let forged_body = genuine.replace("bob", "eve");
        let forged_recipient = genuine.replace(".bbb.", ".*.");
        let membership = seal_as_the_scripts_do(&key, now_ms(), 9, "bbb", "{}");
        let as_content = membership.replacen(".m.", ".c.", 1);
        for forged in [
            String::new(),
            r#"{"kind":"left","room":"r","peer":"p","reason":"left"}"#.to_owned(),
            format!("{}.c.{}.0.bbb.{{}}", "00".repeat(32), now_ms()),
            format!("zz.c.{}.0.bbb.{{}}", now_ms()),
            other.seal_content(Some("bbb"), now, "{}"),
            seal_as_the_scripts_do(&other, now_ms(), 1, "bbb", "{}"),
            forged_body,
            forged_recipient,
            as_content,
        ] {
            assert_eq!(opener.open(forged.as_bytes(), now), Err(Dropped::Unauthenticated), "{forged}");
        }
        assert_eq!(opener.open(&[0xff, 0xfe], now), Err(Dropped::Unauthenticated));
        assert!(opener.open(genuine.as_bytes(), now).is_ok());
    }

    #[test]
    fn old_or_future_envelopes_are_stale_and_membership_envelopes_cannot_be_replayed() {
        let key = ClusterKey::new(SECRET).unwrap();
        let now = SystemTime::now();
        let mut opener = Opener::new(key.clone(), "bbb");
        let old = key.seal_content(Some("bbb"), now - MAX_SKEW - Duration::from_secs(1), "{}");
        let ahead = key.seal_content(Some("bbb"), now + MAX_SKEW + Duration::from_secs(1), "{}");
        assert_eq!(opener.open(old.as_bytes(), now), Err(Dropped::Stale));
        assert_eq!(opener.open(ahead.as_bytes(), now), Err(Dropped::Stale));
        let first = seal_as_the_scripts_do(&key, now_ms(), 10, "bbb", "{}");
        let second = seal_as_the_scripts_do(&key, now_ms(), 12, "bbb", "{}");
        assert!(opener.open(first.as_bytes(), now).is_ok());
        assert!(opener.open(second.as_bytes(), now).is_ok());
        assert_eq!(opener.open(first.as_bytes(), now), Err(Dropped::Replayed));
        assert_eq!(opener.open(second.as_bytes(), now), Err(Dropped::Replayed));
        let for_anyone = seal_as_the_scripts_do(&key, now_ms(), 13, "*", "{}");
        assert_eq!(opener.open(for_anyone.as_bytes(), now), Err(Dropped::Misdirected));
    }

    #[test]
    fn hex_round_trips_and_refuses_what_is_not_hex() {
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(unhex("00abff"), Some(vec![0, 0xab, 0xff]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }
}
