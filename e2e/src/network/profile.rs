//! The link profiles of the network benchmark, and their schedules.
//!
//! A profile is a list of phases; each phase says what every person's link does for how long. Steady profiles have
//! one phase, set before anyone joins. The drop and the outage hit the first person's link only (a person whose
//! Wi-Fi degrades): every receiver involving that person is affected, the others show what is left for them.
//!
//! Loss, delay and jitter are put on each person's uplink only, so that every media path (one person's uplink, the
//! other's downlink) crosses them once: "3 % loss, 50 ms RTT" is what a path between two people sees.

use std::time::Duration;

pub use crate::netlab::{Impairment, LinkShape};
use crate::shaping::Rate;

/// Whose links a phase impairs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whom {
    /// Everyone's.
    Everyone,
    /// The first person's (index 0); everyone else's link is clean.
    First,
}

/// One phase of a profile's schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct Phase {
    /// How the report names it.
    pub name: &'static str,
    /// How long it lasts.
    pub duration: Duration,
    /// The shape of the impaired links.
    pub shape: LinkShape,
    /// Whose links.
    pub whom: Whom,
    /// The impaired links pass nothing at all.
    pub outage: bool,
}

impl Phase {
    /// The shape of `person`'s link in this phase (outages aside).
    pub fn shape_of(&self, person: usize) -> LinkShape {
        match self.whom {
            Whom::First if person != 0 => LinkShape::default(),
            _ => self.shape.clone(),
        }
    }

    /// Whether `person`'s link is cut in this phase.
    pub fn cuts(&self, person: usize) -> bool {
        self.outage && (self.whom == Whom::Everyone || person == 0)
    }
}

/// How long the clean phase before a drop or an outage lasts.
const BEFORE: Duration = Duration::from_secs(5);
/// How long the drop lasts.
const DROP: Duration = Duration::from_secs(15);
/// How long the outage lasts.
const OUTAGE: Duration = Duration::from_secs(5);

/// A link profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Nothing impaired.
    Clean,
    /// 3 % loss, 50 ms round trip and 20 ms jitter on every path.
    Lossy,
    /// Every person's uplink at 1 Mbit/s.
    Uplink1M,
    /// Every person's link at 500 kbit/s both ways.
    Thin500k,
    /// The first person's link from clean to 300 kbit/s both ways for 15 s, and back.
    Drop300k,
    /// The first person's link passes nothing for 5 s.
    Outage,
}

impl Profile {
    /// Every profile, in the report's order.
    pub const ALL: [Profile; 6] =
        [Profile::Clean, Profile::Lossy, Profile::Uplink1M, Profile::Thin500k, Profile::Drop300k, Profile::Outage];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Clean => "clean",
            Profile::Lossy => "lossy",
            Profile::Uplink1M => "uplink-1mbit",
            Profile::Thin500k => "500kbit",
            Profile::Drop300k => "drop-300kbit",
            Profile::Outage => "outage",
        }
    }

    /// What the report calls it.
    pub fn label(self) -> &'static str {
        match self {
            Profile::Clean => "Clean links",
            Profile::Lossy => "3 % loss, 50 ms RTT, 20 ms jitter (every uplink)",
            Profile::Uplink1M => "1 Mbit/s uplink per person",
            Profile::Thin500k => "500 kbit/s up and down per person",
            Profile::Drop300k => "First person's link drops to 300 kbit/s for 15 s",
            Profile::Outage => "First person's link cut for 5 s",
        }
    }

    /// The profile named `name` on the command line.
    pub fn parse(name: &str) -> Result<Profile, String> {
        let name = name.trim();
        Profile::ALL.into_iter().find(|profile| profile.name() == name).ok_or_else(|| {
            let names: Vec<&str> = Profile::ALL.iter().map(|p| p.name()).collect();
            format!("no profile `{name}` (profiles: {})", names.join(", "))
        })
    }

    /// The schedule: steady profiles are measured for `seconds`; a drop or an outage is followed by `seconds` of
    /// recovery. The first phase's links are set before anyone joins.
    pub fn phases(self, seconds: u64) -> Vec<Phase> {
        let measured = Duration::from_secs(seconds);
        let steady = |shape: LinkShape| {
            vec![Phase { name: "call", duration: measured, shape, whom: Whom::Everyone, outage: false }]
        };
        let clean =
            |name, duration| Phase { name, duration, shape: LinkShape::default(), whom: Whom::First, outage: false };
        match self {
            Profile::Clean => steady(LinkShape::default()),
            Profile::Lossy => steady(LinkShape {
                up: Impairment {
                    rate: None,
                    loss: 0.03,
                    delay: Duration::from_millis(25),
                    jitter: Duration::from_millis(20),
                },
                down: Impairment::default(),
            }),
            Profile::Uplink1M => steady(LinkShape {
                up: Impairment { rate: Some(Rate::kbit(1000)), ..Impairment::default() },
                down: Impairment::default(),
            }),
            Profile::Thin500k => {
                steady(LinkShape::both(Impairment { rate: Some(Rate::kbit(500)), ..Impairment::default() }))
            }
            Profile::Drop300k => vec![
                clean("before", BEFORE),
                Phase {
                    name: "300 kbit/s",
                    shape: LinkShape::both(Impairment { rate: Some(Rate::kbit(300)), ..Impairment::default() }),
                    ..clean("", DROP)
                },
                clean("after", measured),
            ],
            Profile::Outage => vec![
                clean("before", BEFORE),
                Phase { name: "outage", outage: true, ..clean("", OUTAGE) },
                clean("after", measured),
            ],
        }
    }

    /// Whether the profile impairs only the first person's link (so only receivers involving them are affected).
    pub fn first_only(self) -> bool {
        let clean = LinkShape::default();
        self.phases(2).iter().any(|phase| phase.whom == Whom::First && (phase.outage || phase.shape != clean))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_parse_by_name_and_have_schedules() {
        for profile in Profile::ALL {
            assert_eq!(Profile::parse(profile.name()), Ok(profile));
            let phases = profile.phases(10);
            assert!(!phases.is_empty());
            assert!(phases.iter().all(|phase| phase.duration >= Duration::from_secs(5)));
        }
        assert!(Profile::parse("wifi").unwrap_err().contains("clean, lossy"));
        let drop = Profile::Drop300k.phases(20);
        assert_eq!(drop.iter().map(|p| p.name).collect::<Vec<_>>(), ["before", "300 kbit/s", "after"]);
        assert_eq!(drop[1].shape_of(0).down.rate, Some(Rate::kbit(300)));
        assert_eq!(drop[1].shape_of(1), LinkShape::default());
        assert_eq!(drop[2].duration, Duration::from_secs(20));
        let outage = Profile::Outage.phases(20);
        assert!(outage[1].cuts(0) && !outage[1].cuts(1) && !outage[0].cuts(0));
        assert!(Profile::Outage.first_only() && Profile::Drop300k.first_only());
        assert!(!Profile::Lossy.first_only() && !Profile::Clean.first_only());
        let lossy = &Profile::Lossy.phases(10)[0];
        assert_eq!(lossy.shape_of(3).up.loss, 0.03);
        assert!(lossy.shape_of(3).down == Impairment::default());
    }
}
