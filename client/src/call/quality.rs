//! How good a connection is, as a person would put it: what one second of a peer connection's statistics says
//! ([`LinkReport`], filled in by the call's network monitor) and what the tile shows for it ([`Grade`]).

use crate::call::decimal;

/// Why a sender sends less than it would: the browser's `qualityLimitationReason` of a video sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limitation {
    /// The estimated bandwidth does not carry more.
    Bandwidth,
    /// The encoder has not the processor time for more.
    Cpu,
}

impl Limitation {
    /// Reads `qualityLimitationReason` ("none" and "other" are no limitation here).
    pub fn parse(reason: &str) -> Option<Limitation> {
        match reason {
            "bandwidth" => Some(Limitation::Bandwidth),
            "cpu" => Some(Limitation::Cpu),
            _ => None,
        }
    }
}

/// One interval (about a second) of one peer connection, from our side of it: what arrives from them and what
/// leaves for them. `None` where the browser reported nothing yet.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkReport {
    /// Of the packets they sent us in the interval, the share lost, in percent (audio and video together).
    pub loss_in_percent: Option<f64>,
    /// Of the packets we sent them in the interval, the share they reported lost, in percent.
    pub loss_out_percent: Option<f64>,
    /// The round trip of the selected candidate pair, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// How much of the interval their video to us was frozen (`totalFreezesDuration`'s growth), as a fraction 0–1.
    pub frozen_fraction: Option<f64>,
    /// Frames of their camera decoded per second.
    pub fps_in: Option<f64>,
    /// What holds back our video to them, if anything.
    pub limited_by: Option<Limitation>,
    /// The bandwidth the browser estimates it can send to them (`availableOutgoingBitrate`), in bits per second.
    pub available_out_bps: Option<f64>,
}

/// A connection's quality, in the three words the tile uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Quality {
    /// Nothing a person would notice.
    Good,
    /// Noticeable: lower resolution or frame rate, a little loss or delay.
    Weak,
    /// Hard to follow: freezes, heavy loss, long delay.
    Poor,
}

/// What most lowers a connection's quality, for the tile's explanation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reason {
    /// Packets from them are lost, in percent.
    LossIn(f64),
    /// Packets to them are lost, in percent.
    LossOut(f64),
    /// The round trip, in milliseconds.
    Delay(f64),
    /// Their video froze for this fraction of the time.
    Freezes(f64),
    /// Our video to them is held back by the bandwidth.
    SendBandwidth,
    /// Our video to them is held back by the processor.
    SendCpu,
}

/// A connection's quality and, unless good, its main reason.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grade {
    /// The quality.
    pub quality: Quality,
    /// What lowers it most (`None` when good).
    pub reason: Option<Reason>,
}

/// What our own video is doing because of the network, for the notice "Your connection is weak: video reduced".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnVideo {
    /// Sent as captured (or as the person chose).
    Full,
    /// Sent at a lower resolution, frame rate or bitrate than captured to fit the uplink.
    Reduced,
    /// Not sent at all for now: the uplink carries only audio.
    Paused,
}

impl Quality {
    /// The word for it, as the tile's `data-quality` carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Good => "good",
            Quality::Weak => "weak",
            Quality::Poor => "poor",
        }
    }
}

impl Reason {
    /// What a person is told, after "Connection weak: ".
    pub fn describe(self) -> String {
        let (before, figure, after) = match self {
            Reason::LossIn(lost) => ("", Some(lost), " % of packets lost on the way to you"),
            Reason::LossOut(lost) => ("", Some(lost), " % of packets lost on the way to them"),
            Reason::Delay(ms) => ("", Some(ms), " ms round trip"),
            Reason::Freezes(frozen) => ("their video froze ", Some(frozen * 100.0), " % of the time"),
            Reason::SendBandwidth => ("your video to them is reduced to fit the bandwidth", None, ""),
            Reason::SendCpu => ("your video to them is reduced: your computer is busy", None, ""),
        };
        // Pieces pushed rather than `format!`ted: lighter in the wasm (docs/SIZE.md).
        let mut text = String::from(before);
        if let Some(figure) = figure {
            text.push_str(&decimal::fixed(figure, 0));
        }
        text.push_str(after);
        text
    }
}

impl Grade {
    /// Good, with nothing to explain.
    pub const GOOD: Grade = Grade { quality: Quality::Good, reason: None };

    /// The indicator's accessible name and tooltip: "Connection weak: 6 % of packets lost on the way to you".
    pub fn label(&self) -> String {
        let mut text = String::from("Connection ");
        text.push_str(self.quality.as_str());
        if let Some(reason) = self.reason {
            text.push_str(": ");
            text.push_str(&reason.describe());
        }
        text
    }
}

impl Default for Grade {
    fn default() -> Grade {
        Grade::GOOD
    }
}

impl OwnVideo {
    /// The lasting notice while the network holds our video back (`None` when sent in full).
    pub fn notice(self) -> Option<&'static str> {
        match self {
            OwnVideo::Full => None,
            OwnVideo::Reduced => Some("Your connection is weak: video reduced"),
            OwnVideo::Paused => Some("Your connection is weak: video paused, audio continues"),
        }
    }
}

/// Loss, either way, in percent, above which a person notices: Opus in-band FEC restores an isolated lost audio
/// packet and video retransmissions fill isolated gaps, but not more than a couple in a hundred.
pub const WEAK_LOSS_PERCENT: f64 = 2.0;
/// Loss above which losses come in runs that FEC and retransmission cannot cover: words drop out, video stalls
/// until the next keyframe.
pub const POOR_LOSS_PERCENT: f64 = 10.0;
/// Round trip, in milliseconds, above which people start talking over each other (ITU-T G.114: beyond 150 ms one
/// way, conversation suffers).
pub const WEAK_RTT_MS: f64 = 300.0;
/// Round trip above which a conversation breaks down into turns (G.114: beyond 400 ms one way is unacceptable).
pub const POOR_RTT_MS: f64 = 800.0;
/// Share of an interval their video was frozen above which it shows. The browser counts a freeze only when a frame
/// comes far behind the rhythm (three frame intervals, and at least 150 ms late), so every counted freeze was
/// visible: this only keeps rounding from counting.
pub const WEAK_FROZEN: f64 = 0.02;
/// Frozen for a quarter of the time or more: movement stops and lips no longer follow the voice.
pub const POOR_FROZEN: f64 = 0.25;
/// Reports in a row a sender must be held back before it counts: the bandwidth estimate starts low and ramps up
/// in the first seconds of every call (and a busy processor has moments), limiting video while it does.
pub const LIMITED_REPORTS: u32 = 5;
/// Reports in a row better than the shown grade before it shows better: a link that keeps dipping is weak,
/// whatever its good seconds, and an indicator that flickers tells nothing.
pub const RECOVERY_REPORTS: u32 = 4;

/// Turns a peer connection's successive [`LinkReport`]s into the [`Grade`] its tile shows: worse at once, better
/// only after [`RECOVERY_REPORTS`] better ones in a row. A report that measured nothing changes nothing; nothing is
/// graded before the first report that measured something.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Grader {
    shown: Option<Grade>,
    /// Reports in a row better than `shown`, and the worst of them (what shows once they are enough).
    better: u32,
    better_worst: Grade,
    /// The latest report's sender limitation, and for how many reports in a row it has been the same.
    limited: Option<Limitation>,
    limited_for: u32,
}

impl Grader {
    /// The grade shown (`None` before anything was measured).
    pub fn grade(&self) -> Option<Grade> {
        self.shown
    }

    /// Takes the next report; returns the grade to show if it reads differently from the one shown before (a
    /// figure that moved within its rounding is no news): the call screen re-renders only for news.
    pub fn news(&mut self, report: &LinkReport) -> Option<Grade> {
        let before = self.shown.map(|grade| grade.label());
        let now = self.report(report)?;
        (before.as_deref() != Some(now.label().as_str())).then_some(now)
    }

    /// Takes the next report, and returns the grade to show.
    pub fn report(&mut self, report: &LinkReport) -> Option<Grade> {
        let same = report.limited_by.is_some() && report.limited_by == self.limited;
        self.limited_for = if same { self.limited_for.saturating_add(1) } else { 1 };
        self.limited = report.limited_by;
        let lasting = self.limited.filter(|_| self.limited_for >= LIMITED_REPORTS);
        let Some(sample) = assess(report, lasting) else { return self.shown };
        // The first grade shows at once.
        let shown = self.shown.get_or_insert(sample);
        if sample.quality >= shown.quality {
            // Worse shows at once; the same refreshes the reason and its figure.
            *shown = sample;
            self.better = 0;
        } else {
            if self.better == 0 || sample.quality >= self.better_worst.quality {
                self.better_worst = sample;
            }
            self.better += 1;
            if self.better >= RECOVERY_REPORTS {
                *shown = self.better_worst;
                self.better = 0;
            }
        }
        self.shown
    }
}

/// One report on its own: the worst of what it measured (`None` if it measured nothing). `limited`: a sender
/// limitation that has lasted.
fn assess(report: &LinkReport, limited: Option<Limitation>) -> Option<Grade> {
    let mut grade = limited.map(|limitation| Grade {
        quality: Quality::Weak,
        reason: Some(match limitation {
            Limitation::Bandwidth => Reason::SendBandwidth,
            Limitation::Cpu => Reason::SendCpu,
        }),
    });
    // Among equally bad measures the later one is the reason: a cause before its symptoms (loss explains freezes),
    // and our own reception (loss on the way to us) first, being what the person sees on this tile.
    let measures = [
        (report.frozen_fraction, WEAK_FROZEN, POOR_FROZEN, Reason::Freezes as fn(f64) -> Reason),
        (report.rtt_ms, WEAK_RTT_MS, POOR_RTT_MS, Reason::Delay),
        (report.loss_out_percent, WEAK_LOSS_PERCENT, POOR_LOSS_PERCENT, Reason::LossOut),
        (report.loss_in_percent, WEAK_LOSS_PERCENT, POOR_LOSS_PERCENT, Reason::LossIn),
    ];
    for (value, weak, poor, reason) in measures {
        let Some(value) = value.filter(|value| value.is_finite()) else { continue };
        let quality = if value > poor {
            Quality::Poor
        } else if value > weak {
            Quality::Weak
        } else {
            Quality::Good
        };
        let shown = grade.unwrap_or(Grade::GOOD);
        let worse = quality > Quality::Good && quality >= shown.quality;
        grade = Some(if worse { Grade { quality, reason: Some(reason(value)) } } else { shown });
    }
    grade
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second of a healthy call: no loss, a short round trip, fluid video.
    fn clean() -> LinkReport {
        LinkReport {
            loss_in_percent: Some(0.0),
            loss_out_percent: Some(0.0),
            rtt_ms: Some(40.0),
            frozen_fraction: Some(0.0),
            fps_in: Some(30.0),
            limited_by: None,
            available_out_bps: Some(2_500_000.0),
        }
    }

    fn lossy(percent: f64) -> LinkReport {
        LinkReport { loss_in_percent: Some(percent), ..clean() }
    }

    fn quality_after(reports: &[LinkReport]) -> Option<Quality> {
        let mut grader = Grader::default();
        reports.iter().map(|report| grader.report(report)).last().flatten().map(|grade| grade.quality)
    }

    #[test]
    fn nothing_is_graded_until_a_report_measured_something() {
        let mut grader = Grader::default();
        assert_eq!(grader.grade(), None);
        let blank = LinkReport { fps_in: Some(0.0), available_out_bps: Some(300_000.0), ..LinkReport::default() };
        assert_eq!(grader.report(&blank), None);
        assert_eq!(grader.report(&LinkReport::default()), None);
        assert_eq!(grader.report(&clean()), Some(Grade::GOOD));
        assert_eq!(grader.grade().unwrap().label(), "Connection good");
    }

    #[test]
    fn each_measure_grades_by_its_thresholds_and_says_why() {
        let grade = |report: LinkReport| Grader::default().report(&report).unwrap();
        // Within what FEC, retransmission and a conversation absorb.
        assert_eq!(grade(lossy(1.5)), Grade::GOOD);
        assert_eq!(grade(LinkReport { rtt_ms: Some(250.0), ..clean() }), Grade::GOOD);
        assert_eq!(grade(LinkReport { frozen_fraction: Some(0.01), ..clean() }), Grade::GOOD);

        let weak = grade(lossy(6.2));
        assert_eq!(weak.quality, Quality::Weak);
        assert_eq!(weak.label(), "Connection weak: 6 % of packets lost on the way to you");
        let weak = grade(LinkReport { loss_out_percent: Some(4.0), ..clean() });
        assert_eq!(weak.label(), "Connection weak: 4 % of packets lost on the way to them");
        let weak = grade(LinkReport { rtt_ms: Some(450.4), ..clean() });
        assert_eq!(weak.label(), "Connection weak: 450 ms round trip");
        let weak = grade(LinkReport { frozen_fraction: Some(0.2), ..clean() });
        assert_eq!(weak.label(), "Connection weak: their video froze 20 % of the time");

        let poor = grade(lossy(18.0));
        assert_eq!(poor.label(), "Connection poor: 18 % of packets lost on the way to you");
        assert_eq!(grade(LinkReport { rtt_ms: Some(1200.0), ..clean() }).quality, Quality::Poor);
        assert_eq!(grade(LinkReport { frozen_fraction: Some(0.4), ..clean() }).quality, Quality::Poor);
    }

    #[test]
    fn the_worst_measure_is_the_reason_and_among_equals_loss_explains_the_rest() {
        let reason = |report: LinkReport| Grader::default().report(&report).unwrap().reason;
        let report = LinkReport { loss_in_percent: Some(5.0), rtt_ms: Some(900.0), ..clean() };
        assert_eq!(reason(report), Some(Reason::Delay(900.0)));
        let report = LinkReport { loss_in_percent: Some(5.0), frozen_fraction: Some(0.1), ..clean() };
        assert_eq!(reason(report), Some(Reason::LossIn(5.0)));
        let report = LinkReport { loss_in_percent: Some(3.0), loss_out_percent: Some(4.0), ..clean() };
        assert_eq!(reason(report), Some(Reason::LossIn(3.0)), "what reaches this person first");
        let report = LinkReport { loss_out_percent: Some(4.0), rtt_ms: Some(400.0), ..clean() };
        assert_eq!(reason(report), Some(Reason::LossOut(4.0)));
        let report = LinkReport { loss_in_percent: Some(5.0), frozen_fraction: Some(0.5), ..clean() };
        assert_eq!(reason(report), Some(Reason::Freezes(0.5)), "the worse one, whatever the order");
        let limited = LinkReport { limited_by: Some(Limitation::Bandwidth), ..lossy(3.0) };
        let mut grader = Grader::default();
        let last = (0..LIMITED_REPORTS).map(|_| grader.report(&limited)).last().flatten();
        assert_eq!(last.unwrap().reason, Some(Reason::LossIn(3.0)), "a measure over a sender's limitation");
    }

    #[test]
    fn worse_shows_at_once_and_better_only_after_a_few_better_seconds() {
        let mut grader = Grader::default();
        grader.report(&clean());
        assert_eq!(grader.report(&lossy(15.0)).unwrap().quality, Quality::Poor, "one bad second is enough");
        for second in 1..RECOVERY_REPORTS {
            assert_eq!(grader.report(&clean()).unwrap().quality, Quality::Poor, "after {second} good seconds");
        }
        assert_eq!(grader.report(&clean()), Some(Grade::GOOD));
    }

    #[test]
    fn a_relapse_during_recovery_starts_the_count_again() {
        let mut grader = Grader::default();
        grader.report(&lossy(5.0));
        for _ in 1..RECOVERY_REPORTS {
            grader.report(&clean());
        }
        assert_eq!(grader.report(&lossy(7.0)).unwrap().reason, Some(Reason::LossIn(7.0)), "the latest figure");
        for _ in 1..RECOVERY_REPORTS {
            assert_eq!(grader.report(&clean()).unwrap().quality, Quality::Weak);
        }
        assert_eq!(grader.report(&clean()), Some(Grade::GOOD));
    }

    #[test]
    fn a_link_that_keeps_dipping_stays_weak_without_flickering() {
        let mut grader = Grader::default();
        let shown: Vec<_> =
            (0..20).map(|second| grader.report(&lossy(if second % 3 == 0 { 5.0 } else { 0.0 })).unwrap()).collect();
        assert!(shown.iter().all(|grade| grade.quality == Quality::Weak), "{shown:?}");
    }

    #[test]
    fn recovering_from_poor_shows_the_worst_of_the_better_seconds() {
        let mut grader = Grader::default();
        grader.report(&lossy(20.0));
        let better = [clean(), lossy(4.0), clean(), clean()];
        let shown: Vec<_> = better.iter().map(|report| grader.report(report).unwrap().quality).collect();
        assert_eq!(shown, [Quality::Poor, Quality::Poor, Quality::Poor, Quality::Weak]);
        assert_eq!(grader.grade().unwrap().reason, Some(Reason::LossIn(4.0)));
    }

    #[test]
    fn missing_figures_never_grade_poor_nor_count_as_good_seconds() {
        let mut grader = Grader::default();
        // Only a round trip so far (no media yet): graded on what is known.
        let rtt_only = LinkReport { rtt_ms: Some(60.0), ..LinkReport::default() };
        assert_eq!(grader.report(&rtt_only), Some(Grade::GOOD));
        let gone = LinkReport { loss_in_percent: Some(f64::NAN), rtt_ms: Some(f64::INFINITY), ..LinkReport::default() };
        assert_eq!(grader.report(&gone), Some(Grade::GOOD), "figures that are not numbers are missing");
        grader.report(&lossy(12.0));
        for _ in 0..RECOVERY_REPORTS * 3 {
            assert_eq!(grader.report(&LinkReport::default()).unwrap().quality, Quality::Poor);
        }
    }

    #[test]
    fn a_sender_held_back_counts_only_once_it_lasts() {
        let limited = |by| LinkReport { limited_by: Some(by), available_out_bps: Some(250_000.0), ..clean() };
        // The bandwidth estimate ramping up at the start of a call.
        let mut ramp = vec![limited(Limitation::Bandwidth); LIMITED_REPORTS as usize - 1];
        ramp.push(clean());
        assert_eq!(quality_after(&ramp), Some(Quality::Good));

        let mut grader = Grader::default();
        for _ in 1..LIMITED_REPORTS {
            assert_eq!(grader.report(&limited(Limitation::Bandwidth)), Some(Grade::GOOD));
        }
        let grade = grader.report(&limited(Limitation::Bandwidth)).unwrap();
        assert_eq!(grade.label(), "Connection weak: your video to them is reduced to fit the bandwidth");

        // A change of limitation starts its count again; the grade shown holds meanwhile.
        let mut grader = Grader::default();
        for _ in 0..LIMITED_REPORTS - 1 {
            grader.report(&limited(Limitation::Bandwidth));
        }
        assert_eq!(grader.report(&limited(Limitation::Cpu)), Some(Grade::GOOD));
        let reports = vec![limited(Limitation::Cpu); LIMITED_REPORTS as usize];
        let grade = reports.iter().map(|report| grader.report(report)).last().flatten().unwrap();
        assert_eq!(grade.reason, Some(Reason::SendCpu));
    }

    #[test]
    fn news_is_only_a_grade_that_reads_differently() {
        let mut grader = Grader::default();
        assert_eq!(grader.news(&LinkReport::default()), None, "nothing measured");
        assert_eq!(grader.news(&clean()), Some(Grade::GOOD));
        assert_eq!(grader.news(&clean()), None);
        let weak = grader.news(&lossy(6.2)).unwrap();
        assert_eq!(weak.label(), "Connection weak: 6 % of packets lost on the way to you");
        assert_eq!(grader.news(&lossy(6.4)), None, "6.4 % reads as 6 % too");
        assert_eq!(grader.news(&lossy(6.6)).unwrap().reason, Some(Reason::LossIn(6.6)));
        // Better only after a few better seconds: no news until then.
        for _ in 1..RECOVERY_REPORTS {
            assert_eq!(grader.news(&clean()), None);
        }
        assert_eq!(grader.news(&clean()), Some(Grade::GOOD));
    }

    #[test]
    fn own_video_notices() {
        assert_eq!(OwnVideo::Full.notice(), None);
        assert_eq!(OwnVideo::Reduced.notice(), Some("Your connection is weak: video reduced"));
        assert!(OwnVideo::Paused.notice().unwrap().starts_with("Your connection is weak: video paused"));
    }
}
