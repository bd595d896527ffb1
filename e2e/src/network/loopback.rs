//! The benchmark's network where people have no links of their own: everyone's browser in the harness's isolated
//! namespace, talking over loopback. What can be impaired there is impaired for everyone at once, on WebRTC's media
//! (UDP) only, never on the pages, signaling or WebDriver (TCP):
//!
//! - a rate: the kernel's `tbf` on `lo` ([`Shaper::install_udp`]) at the first person's rate times the number of
//!   people (every person's media shares one bucket);
//! - loss: iptables drops that share of UDP packets at random (`statistic` match), in a chain of its own;
//! - an outage: the same chain drops every UDP packet;
//! - delay and jitter: **not applied** (this kernel has no `netem`).
//!
//! The first person's shape stands for everyone's. Per-person links need the network lab.

use std::sync::Mutex;

use super::call::Network;
use super::cpu;
use super::profile::LinkShape;
use crate::shaping::{run_tool, Rate, Shaper};
use crate::{call_setup, isolation, Browser, BrowserOptions, Error, Relay, Result, ScratchDir};

/// The iptables chain holding the loss and outage rules.
const CHAIN: &str = "HUDDLE_NETBENCH";

/// What loopback is set to now.
#[derive(Default)]
struct Applied {
    shapes: Vec<LinkShape>,
    cut: Vec<bool>,
    rate: Option<Rate>,
    loss: f64,
    outage: bool,
    shaper: Option<Shaper>,
}

/// Loopback as the benchmark's network, with the relay serving the SPA and the baseline. Loopback is left as it was
/// found when this is dropped.
pub struct Loopback {
    relay: Relay,
    _site: ScratchDir,
    people: usize,
    applied: Mutex<Applied>,
}

impl Loopback {
    /// Starts the relay for calls of up to `people`, and the (empty) iptables chain.
    pub async fn start(people: usize) -> Result<Loopback> {
        isolation::verify().map_err(|why| Error::Check(format!("refusing to impair loopback: {why}")))?;
        let site = call_setup::site()?;
        let relay = Relay::serving(site.path(), &[]).await?;
        let _ = iptables(&format!("-D OUTPUT -o lo -p udp -j {CHAIN}"));
        let _ = iptables(&format!("-F {CHAIN}"));
        let _ = iptables(&format!("-X {CHAIN}"));
        iptables(&format!("-N {CHAIN}"))?;
        iptables(&format!("-I OUTPUT -o lo -p udp -j {CHAIN}"))?;
        let applied = Mutex::new(Applied {
            shapes: vec![LinkShape::default(); people],
            cut: vec![false; people],
            ..Applied::default()
        });
        Ok(Loopback { relay, _site: site, people, applied })
    }

    /// The relay.
    pub fn relay(&self) -> &Relay {
        &self.relay
    }

    /// Brings loopback in line with the people's shapes (the first person's stands for everyone's).
    fn apply(&self, applied: &mut Applied) -> Result<()> {
        let first = applied.shapes.first().copied().unwrap_or_default();
        let per_person = first.up.rate.or(first.down.rate);
        let rate = per_person.map(|rate| Rate::kbit(rate.as_kbit() * self.people as u32));
        if rate != applied.rate {
            applied.shaper = None;
            applied.shaper = rate.map(Shaper::install_udp).transpose()?;
            applied.rate = rate;
        }
        // A packet on loopback passes OUTPUT once: the uplink's and the downlink's loss together.
        let loss = (first.up.loss + first.down.loss).min(1.0);
        let outage = applied.cut.first().copied().unwrap_or(false);
        if loss != applied.loss || outage != applied.outage {
            iptables(&format!("-F {CHAIN}"))?;
            if outage {
                iptables(&format!("-A {CHAIN} -j DROP"))?;
            } else if loss > 0.0 {
                iptables(&format!("-A {CHAIN} -m statistic --mode random --probability {loss:.4} -j DROP"))?;
            }
            applied.loss = loss;
            applied.outage = outage;
        }
        Ok(())
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        let _ = iptables(&format!("-D OUTPUT -o lo -p udp -j {CHAIN}"));
        let _ = iptables(&format!("-F {CHAIN}"));
        let _ = iptables(&format!("-X {CHAIN}"));
    }
}

fn iptables(args: &str) -> Result<String> {
    run_tool(&format!("iptables -w {args}"))
}

impl Network for Loopback {
    fn describe(&self) -> String {
        "loopback in one isolated namespace: the first person's link profile applied to everyone's media at once \
         (rates multiplied by the people in the call, loss by iptables; **no delay or jitter**: this kernel has no \
         netem)"
            .to_owned()
    }

    fn url(&self, _person: usize, path: &str) -> String {
        self.relay.url(path)
    }

    async fn browser(&self, _person: usize, options: BrowserOptions) -> Result<Browser> {
        Browser::launch_with(options).await
    }

    fn shape(&self, person: usize, shape: &LinkShape) -> Result<()> {
        let mut applied = self.applied.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = applied.shapes.get_mut(person) {
            *slot = *shape;
        }
        self.apply(&mut applied)
    }

    fn outage(&self, person: usize, on: bool) -> Result<()> {
        let mut applied = self.applied.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = applied.cut.get_mut(person) {
            *slot = on;
        }
        self.apply(&mut applied)
    }

    fn browser_pids(&self, _person: usize, browser: &Browser) -> Vec<u32> {
        cpu::browser_processes(browser.profile_dir())
    }
}
