//! The benchmark's network: the network lab (`netlab`), each person in a namespace of their own behind a link the
//! benchmark shapes, with the lab's relay serving both the SPA and the baseline.

use super::call::Network;
use super::profile::LinkShape;
use crate::netlab::{Lab, LabOptions};
use crate::{call_setup, Browser, BrowserOptions, Result, ScratchDir};

/// A lab whose relay serves the SPA and the baseline (`call_setup::site`).
pub struct BenchLab {
    lab: Lab,
    // Served by the lab's relay: dropped after it.
    _site: ScratchDir,
}

impl BenchLab {
    /// Starts a lab for calls of up to `people`.
    pub async fn start(people: usize) -> Result<BenchLab> {
        let site = call_setup::site()?;
        // The relay's room takes the largest call measured, whatever its default.
        let options = LabOptions {
            static_dir: Some(site.path().to_path_buf()),
            relay_args: vec!["--room-capacity".to_owned(), people.max(2).to_string()],
        };
        let lab = Lab::start_with(people, options).await?;
        Ok(BenchLab { lab, _site: site })
    }

    /// The lab.
    pub fn lab(&self) -> &Lab {
        &self.lab
    }
}

impl Network for BenchLab {
    fn describe(&self) -> String {
        "each person in a network namespace of their own, linked by a veth pair to a router namespace that hosts the \
         relay (`e2e/src/netlab.rs`); uplink and downlink shaped separately: rates by the kernel's `tbf`, loss, \
         delay and jitter by an NFQUEUE impairer; media between two people crosses the sender's uplink and the \
         receiver's downlink"
            .to_owned()
    }

    fn url(&self, person: usize, path: &str) -> String {
        self.lab.relay_url(person, path)
    }

    async fn browser(&self, person: usize, options: BrowserOptions) -> Result<Browser> {
        self.lab.browser(person, options).await
    }

    fn shape(&self, person: usize, shape: &LinkShape) -> Result<()> {
        self.lab.shape(person, shape)
    }

    fn outage(&self, person: usize, on: bool) -> Result<()> {
        self.lab.outage(person, on)
    }

    fn browser_pids(&self, person: usize) -> Vec<u32> {
        self.lab.browser_pids(person)
    }
}
