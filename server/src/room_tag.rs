//! Rooms in log lines. A room id is the room's only credential (whoever has it can join), so logs never carry it:
//! they carry a tag, a keyed hash of it, which tells the lines of one room apart from another's and gives nothing
//! away. The key is random for each process, so a tag means something only within one relay's run.

use std::fmt;
use std::sync::LazyLock;

use hmac::{Hmac, Mac};
use huddle_common::RoomId;
use sha2::Sha256;

/// Bytes of the hash kept: enough that two rooms of one run practically never share a tag.
const TAG_BYTES: usize = 6;

static KEY: LazyLock<Hmac<Sha256>> = LazyLock::new(|| {
    let mut key = [0u8; 32];
    getrandom::getrandom(&mut key).expect("the OS random source is available");
    Hmac::new_from_slice(&key).expect("HMAC takes keys of any length")
});

/// How a log line names a room: `room = %RoomTag::of(&room)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoomTag([u8; TAG_BYTES]);

impl RoomTag {
    /// The tag of `room` in this process.
    pub fn of(room: &RoomId) -> Self {
        let mut mac = KEY.clone();
        mac.update(room.as_str().as_bytes());
        let hash = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_BYTES];
        tag.copy_from_slice(&hash[..TAG_BYTES]);
        RoomTag(tag)
    }
}

impl fmt::Display for RoomTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_always_gets_the_same_tag_and_the_tag_does_not_show_the_room() {
        let (ada, bob) = (RoomId::from_random([1; 16]), RoomId::from_random([2; 16]));
        assert_eq!(RoomTag::of(&ada), RoomTag::of(&ada.clone()));
        assert_ne!(RoomTag::of(&ada), RoomTag::of(&bob));
        let tag = RoomTag::of(&ada).to_string();
        assert_eq!(tag.len(), 2 * TAG_BYTES);
        assert!(tag.bytes().all(|b| b.is_ascii_hexdigit()), "{tag}");
        assert!(!ada.as_str().contains(&tag) && !tag.contains(&ada.as_str()[..8]), "{tag}");
    }
}
