//! The figures of one call: per receiver (a person, and a remote person whose media they receive) and per phase,
//! from the probe's samples of the receiving page.

use super::probe::{PeerStats, Sample};
use super::profile::Profile;
use crate::call_setup::{percentile, Client};

/// The name of the record covering a whole multi-phase call (freezes are counted over it).
pub const WHOLE_CALL: &str = "whole call";

/// Who receives from whom: people are numbered in the order they join (0 is the first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Receiver {
    /// The person receiving.
    pub person: usize,
    /// The person sending.
    pub from: usize,
}

/// What one receiver saw and heard during one phase.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Window {
    /// How long the phase was measured, in seconds (on the receiving page's clock).
    pub seconds: f64,
    /// Video freezes that started in the phase, the browser's pauses included (see [`super::probe::Inbound::stops`]):
    /// `freezeCount` counts one when it ends, so one still going at the phase's end counts here, and one going at
    /// its start does not (see [`Window::between`]).
    pub freezes: f64,
    /// Seconds of frozen video in the phase: `totalFreezesDuration` + `totalPausesDuration`, with a freeze going at
    /// either end split at it.
    pub frozen_seconds: f64,
    /// Video frames decoded.
    pub frames: f64,
    /// Audio samples played out.
    pub audio_samples: f64,
    /// Of which concealed while the sender was not silent (`concealedSamples − silentConcealedSamples`): made up
    /// where there was something to hear.
    pub concealed_samples: f64,
    /// The median of the decoded frame heights sampled in the phase.
    pub height: Option<f64>,
    /// The smallest of them.
    pub min_height: Option<f64>,
    /// The mean round trip of the checks on the candidate pair selected at the phase's end, in ms.
    pub rtt_ms: Option<f64>,
    /// Media packets received (video and audio).
    pub packets: f64,
    /// Media packets lost, as the receiver counts them.
    pub lost: f64,
}

impl Window {
    /// Frozen video as a share of the phase, in %.
    pub fn frozen_percent(&self) -> f64 {
        if self.seconds > 0.0 {
            self.frozen_seconds / self.seconds * 100.0
        } else {
            0.0
        }
    }

    /// Video frames decoded per second.
    pub fn fps(&self) -> f64 {
        if self.seconds > 0.0 {
            self.frames / self.seconds
        } else {
            0.0
        }
    }

    /// Concealed audio as a share of the audio played out, in %; `None` when no audio was played.
    pub fn concealed_percent(&self) -> Option<f64> {
        (self.audio_samples > 0.0).then(|| self.concealed_samples / self.audio_samples * 100.0)
    }

    /// Packets lost as a share of those sent, in %; `None` when none were expected.
    pub fn lost_percent(&self) -> Option<f64> {
        let sent = self.packets + self.lost;
        (sent > 0.0).then(|| self.lost / sent * 100.0)
    }

    /// The figures from `peer` between the first and the last of `samples` (the receiving page's, in order).
    /// `None` if the page had no connection to `peer` at both ends.
    ///
    /// A freeze is in the browser's counters only once it has ended, in full. So one still going at the window's
    /// end (no frame presented for longer than a freeze, see [`ongoing_freeze`]) counts here, for the time since
    /// the last frame; and one going at its start counted in the window before, so that part is taken off here.
    pub fn between(samples: &[Sample], peer: &str) -> Option<Window> {
        let (first, last) = (samples.first()?, samples.last()?);
        let (start, end) = (first.peer(peer)?, last.peer(peer)?);
        // Counters only grow; a stream that appeared in the phase counts from zero.
        let delta =
            |pick: fn(&PeerStats) -> Option<f64>| (pick(end).unwrap_or(0.0) - pick(start).unwrap_or(0.0)).max(0.0);
        let mut heights: Vec<f64> = samples
            .iter()
            .filter_map(|sample| sample.peer(peer)?.video?.frame_height)
            .filter(|height| *height > 0.0)
            .collect();
        heights.sort_by(f64::total_cmp);
        let rtt_ms = round_trip(samples, peer);
        let seconds = (last.at - first.at) / 1000.0;
        let frames = delta(|s| s.video?.frames_decoded);
        let frame_ms = if frames > 0.0 { seconds * 1000.0 / frames } else { 0.0 };
        let going = |sample: &Sample| ongoing_freeze(sample.at - sample.last_frame(peer)?, frame_ms);
        let (at_start, at_end) = (going(first), going(last));
        let count = |freeze: Option<f64>| if freeze.is_some() { 1.0 } else { 0.0 };
        let freezes = delta(|s| s.video?.stops()) - count(at_start) + count(at_end);
        let frozen_ms =
            delta(|s| s.video?.stopped_seconds()) * 1000.0 - at_start.unwrap_or(0.0) + at_end.unwrap_or(0.0);
        Some(Window {
            seconds,
            freezes: freezes.max(0.0),
            frozen_seconds: (frozen_ms / 1000.0).clamp(0.0, seconds.max(0.0)),
            frames,
            audio_samples: delta(|s| s.audio?.total_samples_received),
            concealed_samples: delta(|s| {
                Some(s.audio?.concealed_samples? - s.audio?.silent_concealed_samples.unwrap_or(0.0))
            }),
            height: percentile(&heights, 0.5),
            min_height: heights.first().copied(),
            rtt_ms,
            packets: delta(|s| Some(s.video?.packets_received + s.audio?.packets_received)),
            lost: delta(|s| Some(s.video?.packets_lost + s.audio?.packets_lost)),
        })
    }
}

/// A freeze going on when no frame was presented for `gap_ms`, with frames `frame_ms` apart on average (0: none):
/// its length so far, in ms. A freeze as the browser counts one: a frame later than three times the average frame
/// duration and than the average plus 150 ms.
pub fn ongoing_freeze(gap_ms: f64, frame_ms: f64) -> Option<f64> {
    (gap_ms > (3.0 * frame_ms).max(frame_ms + 150.0)).then_some(gap_ms)
}

/// One phase of a call: every receiver's window.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PhaseRecord {
    /// The phase's name (see `profile::Phase`).
    pub name: String,
    /// Each receiver's figures.
    pub windows: Vec<(Receiver, Window)>,
}

/// One measured call.
#[derive(Clone, Debug, PartialEq)]
pub struct CallRecord {
    /// Which page made it.
    pub client: Client,
    /// Under which profile.
    pub profile: Profile,
    /// How many people.
    pub people: usize,
    /// The receivers the profile affects (all, unless it impairs the first person only).
    pub affected: Vec<Receiver>,
    /// From the later of the two Join clicks to the sender's first video frame presented at the receiver, in ms.
    pub setup_ms: Vec<(Receiver, f64)>,
    /// The phases, in order.
    pub phases: Vec<PhaseRecord>,
    /// After an outage: from the link's return to the first frame presented again, per affected receiver (`None`:
    /// none within the bound).
    pub back_ms: Vec<(Receiver, Option<f64>)>,
    /// Per person: their browser's CPU time over the measured phases, in % of one core.
    pub cpu_percent: Vec<Option<f64>>,
}

/// The mean round trip of the checks answered on the pair selected at a window's end, since its first sample in the
/// window (a restart or a better path may have selected it within the window; before, the counters were another
/// pair's), in ms.
fn round_trip(samples: &[Sample], peer: &str) -> Option<f64> {
    let end = samples.last()?.peer(peer)?.rtt.as_ref()?;
    let start = samples.iter().find_map(|sample| sample.peer(peer)?.rtt.as_ref().filter(|rtt| rtt.pair == end.pair))?;
    (end.responses > start.responses).then(|| (end.total - start.total) / (end.responses - start.responses) * 1000.0)
}

/// Setup per receiver: from the later of the receiver's and the sender's Join clicks (through both pages' clock
/// origins) to the sender's first frame presented at the receiver. `samples[i]` is person i's page, `ids[i]` their
/// peer id.
pub fn setup_times(samples: &[Sample], ids: &[String]) -> Vec<(Receiver, f64)> {
    let join = |person: usize| samples.get(person).and_then(|s| Some(s.epoch(s.join?)));
    let mut setups = Vec::new();
    for (person, sample) in samples.iter().enumerate() {
        for (from, id) in ids.iter().enumerate() {
            if from == person {
                continue;
            }
            let (Some(video), Some(mine), Some(theirs)) = (sample.video(id), join(person), join(from)) else {
                continue;
            };
            setups.push((Receiver { person, from }, sample.epoch(video.first) - mine.max(theirs)));
        }
    }
    setups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::probe::{Inbound, RemoteVideo, RoundTrips};

    fn sample(at: f64, frames: f64, freezes: f64, frozen: f64, height: f64, concealed: f64, played: f64) -> Sample {
        Sample {
            at,
            peers: vec![PeerStats {
                peer: "b".into(),
                state: "connected".into(),
                video: Some(Inbound {
                    frames_decoded: Some(frames),
                    freeze_count: Some(freezes),
                    total_freezes_duration: Some(frozen),
                    frame_height: Some(height),
                    ..Inbound::default()
                }),
                audio: Some(Inbound {
                    concealed_samples: Some(concealed),
                    total_samples_received: Some(played),
                    ..Inbound::default()
                }),
                rtt: Some(RoundTrips { pair: "CP1".into(), total: at / 1000.0 * 0.05, responses: at / 1000.0 }),
            }],
            ..Sample::default()
        }
    }

    #[test]
    fn a_pause_is_frozen_time_too() {
        // The browser noticed the stream go quiet and counts the 4 s without frames as a pause, not a freeze.
        let mut samples =
            [sample(1000.0, 30.0, 0.0, 0.0, 480.0, 0.0, 0.0), sample(11_000.0, 150.0, 0.0, 0.0, 480.0, 0.0, 0.0)];
        let video = samples[1].peers[0].video.as_mut().unwrap();
        (video.pause_count, video.total_pauses_duration) = (Some(1.0), Some(4.0));
        let window = Window::between(&samples, "b").unwrap();
        assert_eq!((window.freezes, window.frozen_seconds), (1.0, 4.0));
    }

    #[test]
    fn a_window_is_the_difference_of_its_ends() {
        let samples = [
            sample(1000.0, 30.0, 1.0, 0.5, 480.0, 100.0, 48_000.0),
            sample(2000.0, 60.0, 1.0, 0.5, 240.0, 100.0, 96_000.0),
            sample(11_000.0, 330.0, 3.0, 1.5, 480.0, 1060.0, 528_000.0),
        ];
        let window = Window::between(&samples, "b").unwrap();
        assert_eq!(window.seconds, 10.0);
        assert_eq!(window.fps(), 30.0);
        assert_eq!((window.freezes, window.frozen_seconds), (2.0, 1.0));
        assert_eq!(window.frozen_percent(), 10.0);
        assert_eq!(window.concealed_percent(), Some(960.0 / 480_000.0 * 100.0));
        assert_eq!((window.height, window.min_height), (Some(480.0), Some(240.0)));
        assert!((window.rtt_ms.unwrap() - 50.0).abs() < 1e-9);
        assert_eq!(Window::between(&samples, "c"), None);
        assert_eq!(Window::between(&samples[..1], "b").unwrap().rtt_ms, None);
    }

    #[test]
    fn the_round_trip_is_the_pair_selected_at_the_end() {
        // An ICE restart in the window selects a new pair, whose counters start afresh (and at 20 ms).
        let mut samples = [1000.0, 2000.0, 3000.0, 4000.0].map(|at| sample(at, 30.0, 0.0, 0.0, 480.0, 0.0, 48_000.0));
        for (sample, responses) in samples[2..].iter_mut().zip([2.0, 6.0]) {
            sample.peers[0].rtt = Some(RoundTrips { pair: "CP2".into(), total: responses * 0.02, responses });
        }
        assert!((Window::between(&samples, "b").unwrap().rtt_ms.unwrap() - 20.0).abs() < 1e-9);
        // Only one sample of it: no round trip yet.
        assert_eq!(Window::between(&samples[..3], "b").unwrap().rtt_ms, None);
    }

    /// `sample` with Bob's video last presented at `last_frame` and `silent` of the concealed samples in silence.
    fn with_video(mut sample: Sample, last_frame: f64, silent: f64) -> Sample {
        sample.videos = vec![RemoteVideo { peer: "b".into(), first: 0.0, frames: 0.0, last: last_frame }];
        if let Some(audio) = sample.peers[0].audio.as_mut() {
            audio.silent_concealed_samples = Some(silent);
        }
        sample
    }

    #[test]
    fn a_freeze_still_going_at_the_end_counts_for_the_time_since_the_last_frame() {
        // 30 fps until 8 s, then nothing: the browser has counted no freeze yet.
        let samples = [
            with_video(sample(1000.0, 30.0, 0.0, 0.0, 480.0, 0.0, 48_000.0), 990.0, 0.0),
            with_video(sample(11_000.0, 240.0, 0.0, 0.0, 480.0, 0.0, 480_000.0), 8000.0, 0.0),
        ];
        let window = Window::between(&samples, "b").unwrap();
        assert_eq!(window.freezes, 1.0);
        assert_eq!(window.frozen_seconds, 3.0);
        assert_eq!(window.frozen_percent(), 30.0);
    }

    #[test]
    fn a_freeze_going_at_the_start_counts_only_from_the_start() {
        // Frozen since 0.5 s at the start (1 s); it ends at 3.5 s, and the browser counts all 3 s of it then.
        let samples = [
            with_video(sample(1000.0, 0.0, 0.0, 0.0, 480.0, 0.0, 48_000.0), 500.0, 0.0),
            with_video(sample(11_000.0, 225.0, 1.0, 3.0, 480.0, 0.0, 480_000.0), 10_990.0, 0.0),
        ];
        let window = Window::between(&samples, "b").unwrap();
        assert_eq!(window.freezes, 0.0, "the window before counted it");
        assert!((window.frozen_seconds - 2.5).abs() < 1e-9, "{window:?}");
    }

    #[test]
    fn frames_on_time_are_no_freeze() {
        assert_eq!(ongoing_freeze(40.0, 33.3), None);
        assert_eq!(ongoing_freeze(150.0, 33.3), None);
        assert_eq!(ongoing_freeze(200.0, 33.3), Some(200.0));
        // At 4 fps, a frame 600 ms late is slow video, not a freeze; without frames, anything past 150 ms is.
        assert_eq!(ongoing_freeze(600.0, 250.0), None);
        assert_eq!(ongoing_freeze(151.0, 0.0), Some(151.0));
    }

    #[test]
    fn concealment_in_silence_is_not_counted() {
        let samples = [
            with_video(sample(1000.0, 30.0, 0.0, 0.0, 480.0, 100.0, 48_000.0), 990.0, 50.0),
            with_video(sample(11_000.0, 330.0, 0.0, 0.0, 480.0, 10_100.0, 528_000.0), 10_990.0, 9050.0),
        ];
        let window = Window::between(&samples, "b").unwrap();
        assert_eq!(window.concealed_samples, 1000.0);
        assert_eq!(window.concealed_percent(), Some(1000.0 / 480_000.0 * 100.0));
    }

    #[test]
    fn setup_counts_from_the_later_join() {
        let page = |origin: f64, join: f64, videos: &[(&str, f64)]| Sample {
            time_origin: origin,
            join: Some(join),
            videos: videos
                .iter()
                .map(|(peer, first)| RemoteVideo { peer: peer.to_string(), first: *first, frames: 10.0, last: *first })
                .collect(),
            ..Sample::default()
        };
        // Ada joins at epoch 1100, Bob at 5300; each sees the other's first frame at epoch 5800.
        let samples = [page(1000.0, 100.0, &[("bob", 4800.0)]), page(5000.0, 300.0, &[("ada", 800.0)])];
        let ids = ["ada".to_owned(), "bob".to_owned()];
        let setups = setup_times(&samples, &ids);
        assert_eq!(setups, [(Receiver { person: 0, from: 1 }, 500.0), (Receiver { person: 1, from: 0 }, 500.0)]);
    }
}
