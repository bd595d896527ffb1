//! When to restart ICE on a peer connection, so that media comes back soon after the network path does, without a
//! rejoin: when the connection has stayed `disconnected` for a moment ([`DISCONNECTED_GRACE_MS`]), at once when it
//! turns `failed`, and when the browser comes back `online` (its network changed: the path in use may be gone without
//! the connection knowing yet). While the connection stays down, the restart is repeated, further and further apart:
//! a restart made while the path was still gone, or whose negotiation was lost with the relay, must not be the last
//! one.
//!
//! Why not at once on `disconnected`: Chromium says so only once its checks have gone unanswered for about five
//! seconds, so a path that drops for a few seconds reads `disconnected` around when it returns, and then the old
//! candidate pair resumes by itself, within a second. A restart at that moment only adds a negotiation per
//! connection (queued behind the relay connection's own retransmissions if the outage cut that too) and a switch to a
//! new candidate pair, on a page busy catching up. On the network benchmark's 5 s outage (docs/BENCHMARKS.md),
//! restarting at once brought the connections back no sooner and sometimes later.
//!
//! Both ends of a connection see it go `disconnected`, and two restarts at once collide: each side's offer meets the
//! other's, one is rolled back, and the negotiation takes a round more (traced on the benchmark's outage in calls of
//! 4: back after 4.4–5.6 s, with offers crossing on every connection). So one end, the one whose id is smaller, restarts
//! after [`DISCONNECTED_GRACE_MS`]; the other only after [`LATE_GRACE_MS`], should the first end's restart not have
//! brought the connection back (that end gone, or its restart lost). `failed` and `online` restart at once on
//! either end.
//!
//! The browser side ([`crate::rtc`]) reports states and `online` events, restarts when told, and calls back after a
//! [`Check`]'s delay; everything it needs to decide is here.

use crate::call::state::LinkState;

/// How long a connection stays `disconnected` before it is restarted, in milliseconds.
pub const DISCONNECTED_GRACE_MS: u32 = 2_000;

/// How long a connection stays `disconnected` before the end that leaves restarts to the other restarts it anyway,
/// in milliseconds: after the other end's restart and its first retry have had their time.
pub const LATE_GRACE_MS: u32 = 6_000;

/// How long after a restart the connection is checked again; doubled at each further restart, up to
/// [`LAST_RETRY_MS`].
pub const FIRST_RETRY_MS: u32 = 2_000;

/// The longest wait between two restarts of a connection that stays down.
pub const LAST_RETRY_MS: u32 = 8_000;

/// Restarts are not asked for closer together than this (a `disconnected` and an `online` arriving together make
/// one restart), in milliseconds.
pub const MIN_GAP_MS: f64 = 1_000.0;

/// What to do now about one connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// Restart ICE now (`RTCPeerConnection.restartIce()`).
    pub restart: bool,
    /// Call [`IceRestarts::on_check`] with this check once its delay has passed.
    pub check: Option<Check>,
}

/// A later look at the connection: only the latest one scheduled counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Check {
    /// Which check this is.
    pub id: u64,
    /// In how many milliseconds.
    pub after_ms: u32,
}

/// The ICE restart decisions for one connection.
#[derive(Debug)]
pub struct IceRestarts {
    /// How long `disconnected` lasts before a restart: [`DISCONNECTED_GRACE_MS`] on the end that restarts first.
    grace_ms: u32,
    state: LinkState,
    last_restart_ms: Option<f64>,
    next_retry_ms: u32,
    /// The id of the check that counts; earlier ones are stale.
    check: u64,
    /// An `online` came too soon after a restart: one more is owed once the gap has passed, whatever the state.
    owed: bool,
}

impl Default for IceRestarts {
    /// The end that restarts first.
    fn default() -> Self {
        IceRestarts {
            grace_ms: DISCONNECTED_GRACE_MS,
            state: LinkState::New,
            last_restart_ms: None,
            next_retry_ms: FIRST_RETRY_MS,
            check: 0,
            owed: false,
        }
    }
}

impl IceRestarts {
    /// The decisions for our end of a connection: `first` if it restarts first (our id is the smaller).
    pub fn new(first: bool) -> Self {
        IceRestarts { grace_ms: if first { DISCONNECTED_GRACE_MS } else { LATE_GRACE_MS }, ..IceRestarts::default() }
    }

    /// The connection's state changed (at `now_ms`, on any monotonic millisecond clock).
    pub fn on_state(&mut self, state: LinkState, now_ms: f64) -> Step {
        self.state = state;
        match state {
            LinkState::Failed => self.restart(now_ms, false),
            // Perhaps only for a moment: look again after the grace (a check already scheduled, of a restart under
            // way, is replaced by this one: the restart's checks have not connected either).
            LinkState::Disconnected => Step { restart: false, check: Some(self.schedule(self.grace_ms)) },
            LinkState::Connected | LinkState::Closed => {
                // Up again (or over): the next trouble starts from the first retry, and pending checks are stale,
                // unless one is to make a restart owed to `online` (the network changed under this path too).
                self.next_retry_ms = FIRST_RETRY_MS;
                if state == LinkState::Closed {
                    self.owed = false;
                }
                if !self.owed {
                    self.check += 1;
                }
                Step::default()
            }
            // Before the first connection, or a restart's checks under way (its check is already scheduled).
            LinkState::New | LinkState::Connecting => Step::default(),
        }
    }

    /// The browser came back online: the network changed, so restart any connection already made.
    pub fn on_online(&mut self, now_ms: f64) -> Step {
        match self.state {
            LinkState::New | LinkState::Closed => Step::default(),
            _ => self.restart(now_ms, true),
        }
    }

    /// A scheduled check is due: restart again if the connection is still down. One whose restart's checks are under
    /// way (`connecting`) is left to them: they end connected or failed, and failed restarts at once.
    pub fn on_check(&mut self, check: u64, now_ms: f64) -> Step {
        let down = matches!(self.state, LinkState::Disconnected | LinkState::Failed);
        if check != self.check || !(down || self.owed) {
            return Step::default();
        }
        self.restart(now_ms, false)
    }

    /// A restart now, or (`owed`: whatever the state then) once the gap since the last one has passed.
    fn restart(&mut self, now_ms: f64, owed: bool) -> Step {
        if let Some(last) = self.last_restart_ms {
            let since = now_ms - last;
            if since < MIN_GAP_MS {
                // One was just made: look again once the gap has passed.
                self.owed |= owed;
                return Step { restart: false, check: Some(self.schedule((MIN_GAP_MS - since).ceil() as u32)) };
            }
        }
        self.owed = false;
        self.last_restart_ms = Some(now_ms);
        let after_ms = self.next_retry_ms;
        self.next_retry_ms = (self.next_retry_ms * 2).min(LAST_RETRY_MS);
        Step { restart: true, check: Some(self.schedule(after_ms)) }
    }

    fn schedule(&mut self, after_ms: u32) -> Check {
        self.check += 1;
        Check { id: self.check, after_ms }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connected() -> IceRestarts {
        let mut restarts = IceRestarts::default();
        restarts.on_state(LinkState::Connecting, 0.0);
        restarts.on_state(LinkState::Connected, 100.0);
        restarts
    }

    #[test]
    fn the_other_end_restarts_only_if_the_first_ends_restart_did_not_help() {
        let mut first = IceRestarts::new(true);
        let mut other = IceRestarts::new(false);
        for restarts in [&mut first, &mut other] {
            restarts.on_state(LinkState::Connected, 0.0);
        }
        let (first_look, other_look) =
            (first.on_state(LinkState::Disconnected, 1000.0), other.on_state(LinkState::Disconnected, 1000.0));
        assert_eq!(first_look.check.map(|check| check.after_ms), Some(DISCONNECTED_GRACE_MS));
        assert_eq!(other_look.check.map(|check| check.after_ms), Some(LATE_GRACE_MS));
        assert!(first.on_check(first_look.check.unwrap().id, 3000.0).restart);
        // The first end's restart brought it back: the other end's look finds it up, and does nothing.
        other.on_state(LinkState::Connected, 3500.0);
        assert_eq!(other.on_check(other_look.check.unwrap().id, 7000.0), Step::default());
        // Still down when its look comes: it restarts too.
        let look = other.on_state(LinkState::Disconnected, 8000.0).check.unwrap();
        assert!(other.on_check(look.id, 14_000.0).restart);
        // `failed` and `online` do not wait, on either end.
        let other_end = || {
            let mut restarts = IceRestarts::new(false);
            restarts.on_state(LinkState::Connected, 100.0);
            restarts
        };
        assert!(other_end().on_state(LinkState::Failed, 200.0).restart);
        assert!(other_end().on_online(200.0).restart);
    }

    #[test]
    fn setting_up_restarts_nothing() {
        let mut restarts = IceRestarts::default();
        assert_eq!(restarts.on_online(0.0), Step::default());
        assert_eq!(restarts.on_state(LinkState::Connecting, 0.0), Step::default());
        assert_eq!(restarts.on_state(LinkState::Connected, 50.0), Step::default());
    }

    /// Disconnected at `at_ms` and still so after the grace: the step then, a restart.
    fn disconnected_for_a_moment(restarts: &mut IceRestarts, at_ms: f64) -> Step {
        let grace = restarts.on_state(LinkState::Disconnected, at_ms);
        assert!(!grace.restart, "not at once");
        let check = grace.check.expect("a look after the grace");
        assert_eq!(check.after_ms, DISCONNECTED_GRACE_MS);
        let step = restarts.on_check(check.id, at_ms + f64::from(DISCONNECTED_GRACE_MS));
        assert!(step.restart, "still disconnected after the grace");
        step
    }

    #[test]
    fn a_disconnection_that_lasts_restarts_and_again_while_it_lasts() {
        let mut restarts = connected();
        let first = disconnected_for_a_moment(&mut restarts, 10_000.0);
        let check = first.check.unwrap();
        assert_eq!(check.after_ms, FIRST_RETRY_MS);
        // The restart's negotiation got nowhere: still disconnected when the check is due.
        let second = restarts.on_check(check.id, 14_000.0);
        assert!(second.restart);
        assert_eq!(second.check.unwrap().after_ms, 2 * FIRST_RETRY_MS);
        let third = restarts.on_check(second.check.unwrap().id, 18_000.0);
        assert_eq!(third.check.unwrap().after_ms, LAST_RETRY_MS);
        let fourth = restarts.on_check(third.check.unwrap().id, 26_000.0);
        assert!(fourth.restart);
        assert_eq!(fourth.check.unwrap().after_ms, LAST_RETRY_MS);
    }

    #[test]
    fn a_path_back_within_the_grace_is_not_restarted() {
        let mut restarts = connected();
        let grace = restarts.on_state(LinkState::Disconnected, 10_000.0);
        assert_eq!(restarts.on_state(LinkState::Connected, 10_800.0), Step::default());
        assert_eq!(restarts.on_check(grace.check.unwrap().id, 12_000.0), Step::default());
        // Nor is the next blip restarted at once.
        assert!(!restarts.on_state(LinkState::Disconnected, 30_000.0).restart);
    }

    #[test]
    fn coming_back_ends_the_retries_and_the_next_trouble_starts_over() {
        let mut restarts = connected();
        let first = disconnected_for_a_moment(&mut restarts, 10_000.0);
        let second = restarts.on_check(first.check.unwrap().id, 14_000.0);
        assert_eq!(restarts.on_state(LinkState::Connected, 14_500.0), Step::default());
        // The check scheduled before it came back is stale.
        assert_eq!(restarts.on_check(second.check.unwrap().id, 18_000.0), Step::default());
        let again = disconnected_for_a_moment(&mut restarts, 60_000.0);
        assert_eq!(again.check.unwrap().after_ms, FIRST_RETRY_MS);
    }

    #[test]
    fn a_restart_under_way_is_left_to_finish() {
        let mut restarts = connected();
        let first = disconnected_for_a_moment(&mut restarts, 10_000.0);
        assert_eq!(restarts.on_state(LinkState::Connecting, 12_050.0), Step::default());
        assert_eq!(restarts.on_check(first.check.unwrap().id, 14_000.0), Step::default());
        // Its checks failed: restart at once.
        assert!(restarts.on_state(LinkState::Failed, 17_000.0).restart);
    }

    #[test]
    fn failing_restarts_too() {
        let mut restarts = connected();
        assert!(restarts.on_state(LinkState::Failed, 5_000.0).restart);
    }

    #[test]
    fn online_restarts_a_connection_even_if_it_still_reads_connected() {
        let mut restarts = connected();
        let step = restarts.on_online(5_000.0);
        assert!(step.restart);
        // Its check finds it connected: nothing more.
        assert_eq!(restarts.on_check(step.check.unwrap().id, 7_000.0), Step::default());
    }

    #[test]
    fn restarts_come_at_most_one_per_gap() {
        let mut restarts = connected();
        assert!(restarts.on_state(LinkState::Failed, 5_000.0).restart);
        let soon = restarts.on_online(5_300.0);
        assert!(!soon.restart);
        let check = soon.check.unwrap();
        assert_eq!(check.after_ms, 700);
        // The check the gap scheduled replaces the earlier one, and restarts if the connection is still down.
        assert!(restarts.on_check(check.id, 6_000.0).restart);
    }

    #[test]
    fn online_just_after_a_restart_still_restarts_once_the_gap_has_passed() {
        let mut restarts = connected();
        assert!(restarts.on_state(LinkState::Failed, 5_000.0).restart);
        assert_eq!(restarts.on_state(LinkState::Connected, 5_100.0), Step::default());
        let soon = restarts.on_online(5_200.0);
        assert!(!soon.restart);
        // Connected meanwhile, and yet the network changed: the restart is still made.
        assert_eq!(restarts.on_state(LinkState::Connected, 5_300.0), Step::default());
        let due = restarts.on_check(soon.check.unwrap().id, 6_000.0);
        assert!(due.restart);
        // Only once.
        assert_eq!(restarts.on_check(due.check.unwrap().id, 8_000.0), Step::default());
    }

    #[test]
    fn a_closed_connection_is_left_alone() {
        let mut restarts = connected();
        let step = restarts.on_state(LinkState::Disconnected, 5_000.0);
        assert_eq!(restarts.on_state(LinkState::Closed, 5_100.0), Step::default());
        assert_eq!(restarts.on_online(5_200.0), Step::default());
        assert_eq!(restarts.on_check(step.check.unwrap().id, 7_000.0), Step::default());
    }
}
