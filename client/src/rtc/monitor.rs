//! The call's network monitor: once a second, while in a call, a `getStats()` snapshot of every peer connection,
//! read (in `call::stats`) into a [`LinkReport`] per peer for the quality indicator.

use huddle_common::PeerId;
use web_sys::RtcPeerConnection;

use crate::call::quality::LinkReport;
use crate::call::stats::{link_report, Snapshot};
use crate::rtc::stats::{reports, snapshot};
use crate::small_map::SmallMap;

/// How often the connections are looked at: the interval a [`LinkReport`] covers.
pub const INTERVAL_MS: u32 = 1_000;

/// What the monitor remembers between two looks: each peer's previous snapshot.
#[derive(Default)]
pub struct Monitor {
    last: SmallMap<PeerId, Snapshot>,
}

impl Monitor {
    /// Takes a snapshot of each connection and returns each peer's report of the interval since the last look, with
    /// the snapshot itself. Peers no longer listed are forgotten.
    pub async fn look(&mut self, connections: &[(PeerId, RtcPeerConnection)]) -> Vec<(PeerId, LinkReport, Snapshot)> {
        let pcs: Vec<RtcPeerConnection> = connections.iter().map(|(_, pc)| pc.clone()).collect();
        let reports = reports(&pcs).await;
        self.last.retain(|peer, _| connections.iter().any(|(listed, _)| listed == peer));
        let mut looked = Vec::with_capacity(connections.len());
        for ((peer, _), report) in connections.iter().zip(reports) {
            // A connection closed meanwhile has no report: it is gone by the next look.
            let Ok(report) = report else { continue };
            let now = snapshot(&report);
            let link = link_report(self.last.get(peer), &now);
            self.last.insert(peer.clone(), now.clone());
            looked.push((peer.clone(), link, now));
        }
        looked
    }
}
