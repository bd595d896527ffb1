//! One measured call: N people, each in a browser of their own, join a fresh room with one client (Huddle's SPA or
//! the baseline) while their links follow a profile's schedule; the probe in every page is sampled each second.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::{sleep_until, Instant};

use super::cpu::CpuMeter;
use super::metrics::{setup_times, CallRecord, PhaseRecord, Receiver, Window, WHOLE_CALL};
use super::probe::{self, Sample};
use super::profile::{LinkShape, Profile};
use crate::call_setup::{open_lobby, page_path, Client, JOIN};
use crate::wait::{wait_for, wait_until, TIMEOUT};
use crate::{spa, Browser, BrowserOptions, Result};

/// The most people a call may have here (each is a headless Chromium): the relay's largest room.
pub const MAX_PEOPLE: usize = 6;
/// The people, in the order they join.
pub const NAMES: [&str; MAX_PEOPLE] = ["Ada", "Bob", "Cy", "Dee", "Eve", "Fay"];
/// How long everyone may take to see and hear everyone after the last Join, on the thinnest link.
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long after a link returns the benchmark waits for every affected receiver's video to move again.
const BACK_TIMEOUT: Duration = Duration::from_secs(30);
/// How often every page is sampled while measuring.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Where the people are: their links (which the benchmark shapes), the relay as each reaches it, their browsers.
pub trait Network {
    /// How the report describes the network (what is impaired, where).
    fn describe(&self) -> String;
    /// The URL by which `person` reaches `path` on the relay (which also serves the baseline, see
    /// `call_setup::site`).
    fn url(&self, person: usize, path: &str) -> String;
    /// A browser for `person`, on their link.
    fn browser(&self, person: usize, options: BrowserOptions) -> impl Future<Output = Result<Browser>>;
    /// Sets `person`'s link to `shape` (at any time).
    fn shape(&self, person: usize, shape: &LinkShape) -> Result<()>;
    /// Cuts `person`'s link (everything, both ways) while `on`.
    fn outage(&self, person: usize, on: bool) -> Result<()>;
    /// The processes of `person`'s browser, for its CPU time.
    fn browser_pids(&self, person: usize) -> Vec<u32>;
}

/// Milliseconds since the Unix epoch now (the pages' `performance.timeOrigin` is on the same clock).
fn epoch_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
}

/// Every page's sample, in the people's order.
async fn sample_all(browsers: &[Browser]) -> Result<Vec<Sample>> {
    let mut samples = Vec::with_capacity(browsers.len());
    for browser in browsers {
        samples.push(probe::sample(browser).await?);
    }
    Ok(samples)
}

/// Whether every person has been shown video from every other and played their audio.
fn everyone_receives(samples: &[Sample], ids: &[String]) -> bool {
    samples.iter().enumerate().all(|(person, sample)| {
        ids.iter().enumerate().filter(|(from, _)| *from != person).all(|(_, id)| {
            let heard = sample.peer(id).and_then(|p| p.audio?.total_samples_received).is_some_and(|n| n > 0.0);
            sample.video(id).is_some() && heard
        })
    })
}

/// Every receiver's window over `series` (each person's samples, in order); `ids[i]` is person i's peer id.
fn windows(series: &[Vec<Sample>], ids: &[String]) -> Vec<(Receiver, Window)> {
    receivers(series.len())
        .into_iter()
        .filter_map(|r| Some((r, Window::between(&series[r.person], &ids[r.from])?)))
        .collect()
}

/// Every receiver of a call of `people`, in order.
pub fn receivers(people: usize) -> Vec<Receiver> {
    (0..people)
        .flat_map(|person| (0..people).filter(move |f| *f != person).map(move |from| Receiver { person, from }))
        .collect()
}

/// One call of `people` with `client` under `profile` (steady phases measured for `seconds`), on `network`. The
/// links are clean again afterwards, whatever happened.
pub async fn one_call<N: Network>(
    network: &N,
    client: Client,
    profile: Profile,
    people: usize,
    seconds: u64,
) -> Result<CallRecord> {
    let outcome = measure(network, client, profile, people, seconds).await;
    let mut reset = Ok(());
    for person in 0..people {
        reset = reset.and(network.outage(person, false)).and(network.shape(person, &LinkShape::default()));
    }
    let record = outcome?;
    reset.map(|()| record)
}

async fn measure<N: Network>(
    network: &N,
    client: Client,
    profile: Profile,
    people: usize,
    seconds: u64,
) -> Result<CallRecord> {
    let phases = profile.phases(seconds);
    for person in 0..people {
        network.shape(person, &phases[0].shape_of(person))?;
        network.outage(person, phases[0].cuts(person))?;
    }
    let room = spa::new_room_id();
    let mut browsers = Vec::with_capacity(people);
    for (person, name) in NAMES.iter().enumerate().take(people) {
        let browser = network.browser(person, BrowserOptions::new(name)).await?;
        open_lobby(&browser, client, &network.url(person, &page_path(client, &room, name))).await?;
        probe::install(&browser).await?;
        browsers.push(browser);
    }
    // One after another, each once the relay has said `joined` (the page says so without waiting for its
    // connections, so both pages are paced alike): the later ones offer to those already there.
    let mut ids = Vec::with_capacity(people);
    for browser in &browsers {
        browser.click(JOIN).await?;
        let what = format!("{} has joined", browser.label());
        ids.push(wait_for(what, TIMEOUT, async || probe::self_id(browser).await).await?);
    }
    let joined = wait_for("everyone sees and hears everyone", SETUP_TIMEOUT, async || {
        let samples = sample_all(&browsers).await?;
        Ok(everyone_receives(&samples, &ids).then_some(samples))
    })
    .await?;
    let setup_ms = setup_times(&joined, &ids);

    let affected: Vec<Receiver> =
        receivers(people).into_iter().filter(|r| !profile.first_only() || r.person == 0 || r.from == 0).collect();
    let mut cpu: Vec<CpuMeter> = (0..people).map(|person| CpuMeter::start(&network.browser_pids(person))).collect();
    let measuring = Instant::now();
    let mut records = Vec::with_capacity(phases.len());
    let mut restored = None;
    // Each phase's first and last samples, per person.
    let mut whole: Vec<Vec<Sample>> = vec![Vec::new(); people];
    for (index, phase) in phases.iter().enumerate() {
        if index > 0 {
            let before = &phases[index - 1];
            let mut returned = None;
            for person in 0..people {
                network.shape(person, &phase.shape_of(person))?;
                if phase.cuts(person) != before.cuts(person) {
                    network.outage(person, phase.cuts(person))?;
                    if before.cuts(person) {
                        returned = Some(epoch_ms());
                    }
                }
            }
            if let Some(at) = returned {
                restored = Some(at);
                for browser in &browsers {
                    probe::mark_since(browser, at).await?;
                }
            }
        }
        let start = Instant::now();
        let mut series: Vec<Vec<Sample>> = vec![Vec::new(); people];
        let mut next = start;
        while next <= start + phase.duration {
            sleep_until(next).await;
            for (person, sample) in sample_all(&browsers).await?.into_iter().enumerate() {
                series[person].push(sample);
            }
            next += SAMPLE_EVERY;
        }
        records.push(PhaseRecord { name: phase.name.to_owned(), windows: windows(&series, &ids) });
        // At each phase's end (the last one's is the call's), listing the processes again: new ones count, and one
        // that exits later keeps what it used until about then.
        for (person, meter) in cpu.iter_mut().enumerate() {
            meter.read(&network.browser_pids(person));
        }
        for (person, samples) in series.into_iter().enumerate() {
            let ends = [samples.first(), samples.last()];
            whole[person].extend(ends.into_iter().flatten().cloned());
        }
    }
    if phases.len() > 1 {
        records.push(PhaseRecord { name: WHOLE_CALL.to_owned(), windows: windows(&whole, &ids) });
    }
    let elapsed = measuring.elapsed().as_secs_f64();
    let cpu_percent = cpu.iter().map(|meter| Some(meter.used_seconds()? / elapsed * 100.0)).collect();

    let mut back_ms = Vec::new();
    if let Some(restored) = restored {
        let frames = async || {
            let mut all = Vec::with_capacity(people);
            for browser in &browsers {
                all.push(probe::frames_since(browser).await?);
            }
            Ok::<_, crate::Error>(all)
        };
        let back =
            |all: &[Vec<probe::FrameSince>], r: &Receiver| all[r.person].iter().find(|f| f.peer == ids[r.from])?.at;
        // Receivers whose video is still not back after the bound are reported as such, not as a failed call.
        let _ = wait_until("every affected receiver's video moves again", BACK_TIMEOUT, async || {
            let all = frames().await?;
            Ok(affected.iter().all(|r| back(&all, r).is_some()))
        })
        .await;
        let (all, last) = (frames().await?, sample_all(&browsers).await?);
        back_ms = affected.iter().map(|r| (*r, back(&all, r).map(|at| last[r.person].epoch(at) - restored))).collect();
    }
    Ok(CallRecord { client, profile, people, affected, setup_ms, phases: records, back_ms, cpu_percent })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::probe::{Inbound, PeerStats, RemoteVideo};

    #[test]
    fn receivers_are_every_ordered_pair() {
        assert_eq!(receivers(2), [Receiver { person: 0, from: 1 }, Receiver { person: 1, from: 0 }]);
        assert_eq!(receivers(4).len(), 12);
    }

    #[test]
    fn everyone_receives_needs_video_and_audio_from_each() {
        let page = |others: &[&str], audio: f64| Sample {
            peers: others
                .iter()
                .map(|id| PeerStats {
                    peer: id.to_string(),
                    audio: Some(Inbound { total_samples_received: Some(audio), ..Inbound::default() }),
                    ..PeerStats::default()
                })
                .collect(),
            videos: others.iter().map(|id| RemoteVideo { peer: id.to_string(), ..RemoteVideo::default() }).collect(),
            ..Sample::default()
        };
        let ids = ["a".to_owned(), "b".to_owned()];
        assert!(everyone_receives(&[page(&["b"], 10.0), page(&["a"], 10.0)], &ids));
        assert!(!everyone_receives(&[page(&["b"], 10.0), page(&["a"], 0.0)], &ids));
        assert!(!everyone_receives(&[page(&["b"], 10.0), page(&[], 10.0)], &ids));
    }
}
