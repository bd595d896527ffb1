//! How much video we send to each peer, decided from what the network monitor sees of each connection.
//!
//! In a mesh every sender encodes one stream per other person, all through the same uplink. Each second the
//! [`Adapter`] takes one [`Observed`] per connection and gives each camera sender an [`Encoding`] (the
//! `RTCRtpEncodingParameters` `rtc` applies): a rung of [`LADDER`], or paused.
//!
//! - The budget: per connection, the browser's bandwidth estimate (`availableOutgoingBitrate`) less what audio and a
//!   shared screen take. When the uplink as a whole is congested (most connections losing packets at once, for a
//!   few seconds), what actually got out becomes a ceiling for all of them together, split evenly, a
//!   connection that needs less leaving the rest to the others; the ceiling rises slowly again while all is well, and
//!   fast once every connection's round trip is back near its best (the queues drained: the uplink carries more).
//! - A rung's cap is a ceiling the encoder fills as far as the estimate lets it, so a rung fits a budget up to
//!   twice its size ([`RUNG_SLACK`]): within that the browser's own congestion control does the fine work, and the
//!   ladder bounds it (resolution and frame rate only on the lowest rungs).
//! - Down quickly: a rung the budget has not fitted for [`DOWN_AFTER`] seconds is left, as far down as needed (the
//!   estimate wobbles from one second to the next, more so with several connections sharing an uplink, and until
//!   the rung changes the encoder follows the estimate under its cap anyway); heavy loss, or the processor holding
//!   the encoder back for a few seconds (or bandwidth, where the browser gives no estimate), each take one rung more,
//!   the processor waiting longer before each further rung it takes.
//! - Up carefully: one rung at a time, after a few clean seconds (no loss to speak of, or no heavy loss where the
//!   estimate carries the rung above; no limitation but our own cap, the round trip near its recent best, the
//!   current rung fully carried). The browser only probes for bandwidth up to what the encoder is allowed, so the
//!   next rung is itself the probe; a step up that is undone soon after makes the next wait twice as long.
//! - Audio first: audio's share is set aside before video gets any, and when even the lowest rung does not fit,
//!   neither the connection's budget nor the uplink's even share, video pauses (the receiving tile says so) rather
//!   than starve it.
//! - A standing queue on the lowest rung: where several senders' lowest rungs fill one person's downlink (three
//!   others on 500 kbit/s), each encoder sits at its cap with the estimate above it, so nothing in the browser's
//!   congestion control sees the queue it keeps full. A round trip far above its best for a few seconds there lowers
//!   that connection's cap in steps, down to the least video a browser sends, and it rises again while the round
//!   trip is back near its best; only at the full lowest rung does the next step up count clean seconds.
//! - In a call of three or more, the grid's tiles are smaller: no rung sends more than the 360 lines they show of
//!   the camera's 480 ([`GRID_SCALE`]).
//! - A new connection starts at the top: the estimate starts low and climbs within seconds, so only loss counts
//!   for a short grace period.

use huddle_common::PeerId;

use crate::call::quality::{Limitation, LinkReport, OwnVideo};

/// One step of the camera's ladder: the most it may send, how much smaller than captured, how many frames a second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rung {
    /// `maxBitrate`, bits per second.
    pub max_bitrate_bps: u32,
    /// `scaleResolutionDownBy`: 1 sends the camera's own size.
    pub scale_down_by: f64,
    /// `maxFramerate`.
    pub max_framerate: f64,
}

/// The camera's rungs, best first. The top one is what a good connection carries of a webcam picture; each one
/// below asks for about half to two thirds of the bits. Down to 300 kbit/s the picture keeps the camera's size: the
/// encoder lowers it itself when the bits run short (Chromium's quality scaler, all the JavaScript baseline of
/// `bench/NETWORK.md` has, and which keeps a 640×480 camera near its own size on 300 kbit/s), and forcing it smaller
/// there only cost resolution the link could carry. The two lowest rungs make it smaller and slower outright, to keep
/// motion and spare the processor, though no smaller than Chromium itself goes on such links (240 lines on about
/// 100 kbit/s, in `bench/NETWORK.md`'s 500 kbit/s calls of 4): its quality scaler still goes lower when the picture
/// needs it.
pub const LADDER: [Rung; 6] = [
    Rung { max_bitrate_bps: 1_200_000, scale_down_by: 1.0, max_framerate: 30.0 },
    Rung { max_bitrate_bps: 800_000, scale_down_by: 1.0, max_framerate: 30.0 },
    Rung { max_bitrate_bps: 500_000, scale_down_by: 1.0, max_framerate: 30.0 },
    Rung { max_bitrate_bps: 300_000, scale_down_by: 1.0, max_framerate: 24.0 },
    Rung { max_bitrate_bps: 180_000, scale_down_by: 1.5, max_framerate: 24.0 },
    Rung { max_bitrate_bps: 100_000, scale_down_by: 2.0, max_framerate: 20.0 },
];

/// `scaleResolutionDownBy` at least, on every rung, in a call of three or more ([`GRID_FROM_PEERS`]): the grid then
/// has two rows of tiles, each about 340 px tall in a laptop's 1280×800 window, so of the 480 lines Chromium
/// captures by default 360 are what a tile shows. Fewer pixels to encode once per peer and to decode once per peer
/// are also what lets the browsers of a call of four keep up on two cores (`bench/NETWORK.md`, calls of four).
pub const GRID_SCALE: f64 = 4.0 / 3.0;
/// How many other people make the grid [`GRID_SCALE`] is for.
pub const GRID_FROM_PEERS: usize = 2;
/// What audio may take on a connection, bits per second (Opus speech with its packet overhead), set aside first.
pub const AUDIO_RESERVE_BPS: f64 = 48_000.0;
/// The share of the bandwidth estimate spent: the rest absorbs the estimate's wobble.
const ESTIMATE_USE: f64 = 0.9;
/// A rung fits a budget up to this many times its size. A rung's `maxBitrate` is a ceiling, not a target: the
/// encoder sends what the estimate allows below it, so a rung somewhat above the budget costs nothing, while one
/// below it wastes the link, and holds the estimate down too (the browser probes for bandwidth little above what the
/// encoder may send).
const RUNG_SLACK: f64 = 2.0;
/// Below this budget video pauses rather than starve audio: Chromium's own least video bitrate. Down to it the
/// lowest rung's encoder still moves a small picture, and each connection's estimate on an uplink several share is
/// low (on a 500 kbit/s uplink split four ways, 40 to 130 kbit/s each, audio included).
pub const PAUSE_BELOW_BPS: f64 = 30_000.0;
/// Loss (percent, as the peer reports it) that takes a rung down every second it lasts.
const LOSS_DOWN_PERCENT: f64 = 10.0;
/// Loss (percent) under which a second counts as clean for a step up: a few percent lost at random (radio) is
/// no sign of a full link, and Opus's FEC and video's retransmissions cover it.
const LOSS_CLEAN_PERCENT: f64 = 5.0;
/// Loss (percent) that, on most connections at once for [`CONGESTED_AFTER`] seconds, says the uplink itself is
/// congested. Higher than what a lossy radio link shows, which is no shortage of bandwidth.
const LOSS_CONGESTED_PERCENT: f64 = 8.0;
/// Seconds of loss on most connections before the uplink counts as congested.
const CONGESTED_AFTER: u32 = 2;
/// How far (ms) the round trip may be above its recent best for a second to count as clean: more is a queue building
/// up.
const RTT_CLEAN_MARGIN_MS: f64 = 100.0;
/// Seconds a best round trip counts for (between one and two of these): a path that became longer for good (an ICE
/// restart onto a relay, Wi-Fi to 4G) has a new best soon, rather than never a clean second again.
const RTT_BEST_FOR: u32 = 30;
/// Seconds the budget must stay below a rung for it to be left.
const DOWN_AFTER: usize = 3;
/// Seconds a limitation (processor, or bandwidth without an estimate) must last to take a rung down, at first:
/// each rung the processor takes doubles the wait for the next, since the browser's own adaptation to the
/// processor acts meanwhile (it lowers resolution itself) and a rung takes a few seconds to lighten the load.
const LIMITED_DOWN_AFTER: u32 = 3;
/// The longest wait before the processor takes another rung.
const LIMITED_DOWN_AFTER_MAX: u32 = 24;
/// Clean seconds before a step up, at first.
const UP_AFTER: u32 = 4;
/// Clean seconds before video paused for lack of bandwidth is tried again, at first.
const RESUME_AFTER: u32 = 10;
/// Seconds of a drained queue (the round trip back near its best, after a queue built up since video last resumed)
/// before paused video is tried again: the uplink came back, as when a drop ends.
const RESUME_DRAINED_AFTER: u32 = 3;
/// The longest wait before a step up, however often they failed.
const UP_AFTER_MAX: u32 = 32;
/// A step down within this many seconds of a step up means the step up failed (video resumed after a pause gets
/// [`GRACE`] seconds, and then [`DOWN_AFTER`] more, before it can be paused again).
const UP_FAILED_WITHIN: u32 = GRACE + DOWN_AFTER as u32 + 2;
/// The seconds after a connection starts (or video resumes) in which only loss counts.
pub const GRACE: u32 = 3;
/// How many rungs below the top the network must have taken video to some peer for our notice "Your connection is
/// weak" to show: one rung is a trim nobody notices, and the estimate may take longer than the grace period to
/// climb on a clean call.
const NOTICE_FROM_RUNG: usize = 2;
/// How far (ms) the round trip must be above its recent best, seconds on end, to be a standing queue on the lowest
/// rung: well beyond what a busy processor adds to a round trip (a hundred milliseconds or two in calls of four
/// on two cores), well within the half second a full queue on a thin link adds.
const QUEUE_MARGIN_MS: f64 = 200.0;
/// Seconds of a standing queue before the lowest rung's cap is lowered, and between each further step.
const QUEUE_AFTER: u32 = 3;
/// Each step down of the lowest rung's cap under a standing queue multiplies it by this.
const SQUEEZE_DOWN: f64 = 0.7;
/// Each second of a drained queue multiplies it by this, up to the full rung.
const SQUEEZE_UP: f64 = 1.1;
/// How much the uplink ceiling rises each second while nothing is congested.
const CEILING_RISE: f64 = 1.05;
/// How much it rises each second while every connection's queue is drained too: the uplink carries more than is
/// sent, as when a drop ends (a ceiling measured while video was paused is mostly audio).
const CEILING_RISE_DRAINED: f64 = 1.25;

/// The parameters of one camera sender's single encoding.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Encoding {
    /// Whether video is sent at all.
    pub active: bool,
    /// `maxBitrate`, bits per second.
    pub max_bitrate_bps: u32,
    /// `scaleResolutionDownBy`.
    pub scale_down_by: f64,
    /// `maxFramerate`.
    pub max_framerate: f64,
}

impl Encoding {
    /// The encoding of `rung`, its cap multiplied by `squeeze` (at most 1, below it on the lowest rung only, under
    /// a queue, and never below [`PAUSE_BELOW_BPS`]: `squeeze_under_a_standing_queue` bounds it).
    /// In a call of three or more (`grid`), no more than [`GRID_SCALE`] of the camera's size.
    fn squeezed(rung: usize, squeeze: f64, grid: bool) -> Encoding {
        let full = Encoding::of(rung);
        Encoding {
            max_bitrate_bps: (f64::from(full.max_bitrate_bps) * squeeze).round() as u32,
            scale_down_by: if grid && full.scale_down_by < GRID_SCALE { GRID_SCALE } else { full.scale_down_by },
            ..full
        }
    }

    fn of(rung: usize) -> Encoding {
        match LADDER.get(rung) {
            Some(step) => Encoding {
                active: true,
                max_bitrate_bps: step.max_bitrate_bps,
                scale_down_by: step.scale_down_by,
                max_framerate: step.max_framerate,
            },
            None => Encoding { active: false, ..Encoding::of(LADDER.len() - 1) },
        }
    }
}

/// One second of one connection, as the adaptation reads it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    /// The browser's estimate of what it can send to this peer, bits per second (Chrome only).
    pub available_out_bps: Option<f64>,
    /// Of our packets, the share the peer reported lost, percent.
    pub loss_out_percent: Option<f64>,
    /// The round trip, ms.
    pub rtt_ms: Option<f64>,
    /// What holds back our camera's encoder for this peer.
    pub limited_by: Option<Limitation>,
    /// What we actually sent this peer in the second (all media, RTP headers included), bits per second.
    pub sent_bps: Option<f64>,
    /// What our shared screen sent this peer, bits per second (it keeps its resolution; the camera fits around it).
    pub screen_bps: f64,
    /// Nothing arrived from the peer in the second, or the connection is not up: an outage. The figures are left
    /// from before it (the loss the peer last reported) or fall for want of feedback (the estimate), and nothing is
    /// decided on them: when the link is back, video goes on as it was.
    pub stale: bool,
}

impl Observed {
    /// From a connection's report and what we sent on it.
    pub fn from_report(report: &LinkReport, sent_bps: Option<f64>, screen_bps: f64) -> Observed {
        Observed {
            available_out_bps: report.available_out_bps,
            loss_out_percent: report.loss_out_percent,
            rtt_ms: report.rtt_ms,
            limited_by: report.limited_by,
            sent_bps,
            screen_bps,
            stale: false,
        }
    }

    fn lossy(&self, percent: f64) -> bool {
        self.loss_out_percent.is_some_and(|loss| loss >= percent)
    }
}

/// What the adaptation remembers of one connection.
#[derive(Clone, Debug)]
struct PeerState {
    /// Index into [`LADDER`]; `LADDER.len()` is paused.
    rung: usize,
    /// The rung the network alone took video down to: the steps down for the processor are not the connection's.
    network_rung: usize,
    /// Seconds since the connection started, or video resumed.
    age: u32,
    /// Clean seconds in a row.
    clean: u32,
    /// Clean seconds needed for the next step up.
    up_after: u32,
    /// Seconds since the last step up, if one was made.
    since_up: Option<u32>,
    /// Seconds in a row the encoder was held back.
    limited: u32,
    /// Seconds of being held back needed for the next rung down.
    limited_after: u32,
    /// The budgets of the last [`DOWN_AFTER`] seconds, newest last (emptied when a second has none).
    budgets: Vec<f64>,
    /// The best round trip seen lately.
    best_rtt: RecentBest,
    /// Whether a queue built up (the round trip far from its best) since video last resumed.
    queued: bool,
    /// Seconds in a row the round trip was near its best.
    drained: u32,
    /// Seconds in a row of a standing queue on the lowest rung.
    standing: u32,
    /// What the lowest rung's cap is multiplied by: below 1 while a standing queue is drained.
    squeeze: f64,
}

/// The least of the values seen over the last [`RTT_BEST_FOR`] to twice that many seconds: kept in two halves, the
/// older dropped as a new one starts.
#[derive(Clone, Debug, Default)]
struct RecentBest {
    older: Option<f64>,
    newer: Option<f64>,
    /// Seconds into the newer half.
    seconds: u32,
}

impl RecentBest {
    /// Takes one second's value, if any.
    fn push(&mut self, value: Option<f64>) {
        self.seconds += 1;
        if self.seconds > RTT_BEST_FOR {
            self.older = self.newer.take();
            self.seconds = 1;
        }
        if let Some(value) = value {
            self.newer = Some(self.newer.map_or(value, |best| best.min(value)));
        }
    }

    fn get(&self) -> Option<f64> {
        match (self.older, self.newer) {
            (Some(older), Some(newer)) => Some(older.min(newer)),
            (older, newer) => older.or(newer),
        }
    }

    /// Whether `rtt` is near the best (when either is unknown, nothing says otherwise).
    fn near(&self, rtt: Option<f64>) -> bool {
        !self.above(rtt, RTT_CLEAN_MARGIN_MS)
    }

    /// Whether `rtt` is more than `margin` ms above the best (when either is unknown, nothing says so).
    fn above(&self, rtt: Option<f64>, margin: f64) -> bool {
        rtt.zip(self.get()).is_some_and(|(rtt, best)| rtt > best + margin)
    }
}

impl PeerState {
    fn new() -> PeerState {
        PeerState {
            rung: 0,
            network_rung: 0,
            age: 0,
            clean: 0,
            up_after: UP_AFTER,
            since_up: None,
            limited: 0,
            limited_after: LIMITED_DOWN_AFTER,
            budgets: Vec::with_capacity(DOWN_AFTER),
            best_rtt: RecentBest::default(),
            queued: false,
            drained: 0,
            standing: 0,
            squeeze: 1.0,
        }
    }

    fn paused(&self) -> bool {
        self.rung >= LADDER.len()
    }

    /// Whether `seen`'s round trip is near the best seen lately: no queue on the way.
    fn drained_now(&self, seen: &Observed) -> bool {
        seen.rtt_ms.is_some() && self.best_rtt.near(seen.rtt_ms)
    }

    /// Goes down to `rung` (no higher than the current one), for the network's sake or (`network` false) the
    /// processor's; a step up undone this soon is remembered as failed.
    fn down_to(&mut self, rung: usize, network: bool) {
        if rung <= self.rung {
            return;
        }
        if network {
            self.network_rung = rung;
        }
        if self.since_up.is_some_and(|since| since <= UP_FAILED_WITHIN) {
            self.up_after = (self.up_after * 2).min(UP_AFTER_MAX);
        }
        self.since_up = None;
        self.rung = rung;
        self.clean = 0;
        self.limited = 0;
    }
}

/// The highest rung that fits `budget` bits per second; `LADDER.len()` (paused) below [`PAUSE_BELOW_BPS`].
pub fn rung_for(budget: f64) -> usize {
    match LADDER.iter().position(|rung| f64::from(rung.max_bitrate_bps) <= budget * RUNG_SLACK) {
        Some(rung) => rung,
        None if budget >= PAUSE_BELOW_BPS => LADDER.len() - 1,
        None => LADDER.len(),
    }
}

/// Splits `total` among connections that may each take at most their `caps`: evenly, a connection that needs less
/// than an even share leaving the rest to the others.
pub fn split(total: f64, caps: &[f64]) -> Vec<f64> {
    // NaN: not settled yet.
    let mut shares = vec![f64::NAN; caps.len()];
    let mut left = total.max(0.0);
    // Each round settles every connection whose cap is below the even share of what is left, or, when none is, all
    // the others: a round per connection at most. Bounded all the same: an infinite figure makes what is left NaN,
    // and a share of it would read as not settled for ever.
    for _ in 0..=caps.len() {
        let open = shares.iter().filter(|share| share.is_nan()).count();
        let even = left / open as f64;
        let mut settled = false;
        for (share, cap) in shares.iter_mut().zip(caps) {
            if share.is_nan() && *cap <= even {
                *share = cap.max(0.0);
                left -= *share;
                settled = true;
            }
        }
        if !settled {
            for share in shares.iter_mut().filter(|share| share.is_nan()) {
                *share = even;
            }
        }
    }
    shares
}

/// The adaptation of our camera senders, one state per connection.
#[derive(Clone, Debug, Default)]
pub struct Adapter {
    peers: Vec<(PeerId, PeerState)>,
    /// What the uplink as a whole carried when it was last congested, rising slowly since; `None`: no limit seen.
    ceiling_bps: Option<f64>,
    /// Seconds in a row the uplink looked congested.
    congested: u32,
}

impl Adapter {
    /// Takes one second of the connections observed and returns each one's camera encoding. A connection not
    /// listed (its statistics could not be read this time), or [`Observed::stale`], keeps its state (and gets no
    /// encoding) until [`Adapter::forget`].
    pub fn decide(&mut self, observed: &[(PeerId, Observed)]) -> Vec<(PeerId, Encoding)> {
        // A connection in an outage is left as it is.
        let observed: Vec<(PeerId, Observed)> = observed.iter().filter(|(_, seen)| !seen.stale).cloned().collect();
        let observed = observed.as_slice();
        for (peer, _) in observed {
            if !self.peers.iter().any(|(known, _)| known == peer) {
                self.peers.push((peer.clone(), PeerState::new()));
            }
        }
        let grid = self.peers.len() >= GRID_FROM_PEERS;
        let budgets = self.budgets(observed);
        let known: Vec<f64> = budgets.iter().flatten().copied().collect();
        let share = (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64);
        observed
            .iter()
            .zip(budgets)
            .map(|((peer, seen), budget)| {
                let state = &mut self.peers.iter_mut().find(|(known, _)| known == peer).expect("added above").1;
                step(state, seen, budget, share);
                (peer.clone(), Encoding::squeezed(state.rung, state.squeeze, grid))
            })
            .collect()
    }

    /// Each connection's video budget (`None` where the browser gives no estimate), after the uplink's ceiling.
    fn budgets(&mut self, observed: &[(PeerId, Observed)]) -> Vec<Option<f64>> {
        let mut caps = Vec::with_capacity(observed.len());
        // Congested: most of two or more connections losing packets at once (connections still in their grace
        // period, whose estimates are still climbing, do not count).
        let mut troubled = 0;
        let (mut sent, mut estimated, mut reserved) = (0.0, Some(0.0), 0.0);
        for (_, seen) in observed {
            let fixed = AUDIO_RESERVE_BPS + seen.screen_bps;
            caps.push(seen.available_out_bps.map(|bps| (bps * ESTIMATE_USE - fixed).max(0.0)));
            if seen.lossy(LOSS_CONGESTED_PERCENT) {
                troubled += 1;
            }
            sent += seen.sent_bps.unwrap_or(0.0);
            estimated = estimated.zip(seen.available_out_bps).map(|(sum, bps)| sum + bps);
            reserved += fixed;
        }
        let settled = self.peers.iter().all(|(_, state)| state.age > GRACE);
        self.congested =
            if settled && observed.len() >= 2 && troubled * 2 > observed.len() { self.congested + 1 } else { 0 };
        if self.congested >= CONGESTED_AFTER {
            if sent > 0.0 {
                // What gets out while congested is what the uplink carries now: no lower figure from an earlier
                // congestion is kept, since then encoders held under their caps sent less than the uplink could.
                self.ceiling_bps = Some(sent);
            }
        } else if let Some(ceiling) = self.ceiling_bps {
            let drained = observed.iter().all(|(peer, seen)| {
                !seen.lossy(LOSS_CLEAN_PERCENT)
                    && self.peers.iter().any(|(known, state)| known == peer && state.drained_now(seen))
            });
            let risen = ceiling * if drained { CEILING_RISE_DRAINED } else { CEILING_RISE };
            // Once the estimates allow more than the ceiling, it has served its purpose.
            self.ceiling_bps = estimated.is_none_or(|estimated| risen < estimated).then_some(risen);
        }
        match self.ceiling_bps {
            Some(ceiling) if caps.iter().all(Option::is_some) => {
                let known: Vec<f64> = caps.iter().map(|cap| cap.unwrap_or_default()).collect();
                split(ceiling - reserved, &known).into_iter().map(Some).collect()
            }
            _ => caps,
        }
    }

    /// Forgets the connection to `peer`: it closed, or a new one replaced it (which starts afresh, at the top).
    pub fn forget(&mut self, peer: &PeerId) {
        self.peers.retain(|(known, _)| known != peer);
    }

    /// Whether video to `peer` is paused.
    pub fn paused(&self, peer: &PeerId) -> bool {
        self.peers.iter().any(|(known, state)| known == peer && state.paused())
    }

    /// What the network does to our video overall: paused if paused to everyone, reduced if the network took it
    /// [`NOTICE_FROM_RUNG`] rungs down or more for anyone (the processor's reductions are no weak connection).
    pub fn own_video(&self) -> OwnVideo {
        if !self.peers.is_empty() && self.peers.iter().all(|(_, state)| state.paused()) {
            OwnVideo::Paused
        } else if self.peers.iter().any(|(_, state)| state.network_rung >= NOTICE_FROM_RUNG) {
            OwnVideo::Reduced
        } else {
            OwnVideo::Full
        }
    }
}

/// One second of one connection: moves its rung down quickly or up carefully. `share` is the connections' mean
/// budget: the uplink's even share.
fn step(state: &mut PeerState, seen: &Observed, budget: Option<f64>, share: Option<f64>) {
    state.age = state.age.saturating_add(1);
    state.since_up = state.since_up.map(|since| since.saturating_add(1));
    let drained = state.drained_now(seen);
    state.drained = if drained { state.drained + 1 } else { 0 };
    state.queued |= !drained;
    let in_grace = state.age <= GRACE;
    squeeze_under_a_standing_queue(state, seen, drained, in_grace);
    state.best_rtt.push(seen.rtt_ms);
    let fits = budget.map(rung_for);
    match budget {
        Some(budget) => {
            if state.budgets.len() == DOWN_AFTER {
                state.budgets.remove(0);
            }
            state.budgets.push(budget);
        }
        None => state.budgets.clear(),
    }
    // Down quickly: to the rung the best budget of the last seconds fits, however far.
    let held_fits = (state.budgets.len() == DOWN_AFTER).then(|| {
        let fits = rung_for(state.budgets.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        // One estimate far below the others is connections sharing the uplink unevenly, which the browser's
        // congestion control evens out while the lowest rung keeps sending; pausing would hold that estimate down
        // (with only audio it has nothing to climb on). Video pauses when the uplink's even share is short too.
        let uneven = fits == LADDER.len() && share.is_some_and(|share| share >= PAUSE_BELOW_BPS);
        if uneven {
            fits - 1
        } else {
            fits
        }
    });
    if let Some(fits) = held_fits.filter(|_| !in_grace) {
        if fits > state.rung {
            state.down_to(fits, true);
            if state.paused() {
                state.up_after = state.up_after.max(RESUME_AFTER);
            }
            return;
        }
    }
    // Loss between clean and heavy that lasts is a lossy radio link rather than a full one: where the budget
    // carries the rung above, the budget, not that loss, says whether to try it.
    let above_fits = fits.is_some_and(|fits| fits < state.rung);
    let clean_loss = !seen.lossy(if above_fits { LOSS_DOWN_PERCENT } else { LOSS_CLEAN_PERCENT });
    if state.paused() {
        return resume_when_clean(state, clean_loss);
    }
    let lowest = LADDER.len() - 1;
    // Heavy loss: a rung every second it lasts (never a pause: loss alone is no shortage of bandwidth).
    if seen.lossy(LOSS_DOWN_PERCENT) {
        state.down_to((state.rung + 1).min(lowest), true);
        return;
    }
    // Held back for a few seconds by the processor, or by bandwidth where the browser gives no estimate (Firefox):
    // a rung down. Where it gives one, the budget above follows it already, and an encoder fitting itself under a
    // rung's cap is the cap working as meant.
    let held = match seen.limited_by {
        Some(Limitation::Cpu) => true,
        Some(Limitation::Bandwidth) => budget.is_none() && !in_grace,
        None => false,
    };
    state.limited = if held { state.limited + 1 } else { 0 };
    if state.limited >= state.limited_after {
        let cpu = seen.limited_by == Some(Limitation::Cpu);
        state.down_to((state.rung + 1).min(lowest), !cpu);
        if cpu {
            state.limited_after = (state.limited_after * 2).min(LIMITED_DOWN_AFTER_MAX);
        }
        return;
    }
    // Up carefully.
    let rtt_near_best = state.best_rtt.near(seen.rtt_ms);
    let carried = fits.is_none_or(|fits| fits <= state.rung);
    // Held back by bandwidth while the estimate carries the rung above: by our own cap, which the step up lifts.
    let limited = match seen.limited_by {
        Some(Limitation::Cpu) => true,
        Some(Limitation::Bandwidth) => !above_fits,
        None => false,
    };
    let clean = clean_loss && !limited && rtt_near_best && carried && state.squeeze >= 1.0;
    state.clean = if clean { state.clean + 1 } else { 0 };
    if state.since_up.is_some_and(|since| since > UP_FAILED_WITHIN) {
        // The last step up held.
        state.up_after = UP_AFTER;
        state.since_up = None;
    }
    if state.rung > 0 && state.clean >= state.up_after {
        state.rung -= 1;
        state.limited_after = LIMITED_DOWN_AFTER;
        state.network_rung = state.network_rung.min(state.rung);
        state.clean = 0;
        state.since_up = Some(0);
    }
}

/// On the lowest rung, a round trip more than [`QUEUE_MARGIN_MS`] above its best for [`QUEUE_AFTER`] seconds
/// lowers the rung's cap, and again after as many more while the queue stands; each second of a `drained` queue
/// raises it again. Any other rung, or video paused, takes the whole cap.
fn squeeze_under_a_standing_queue(state: &mut PeerState, seen: &Observed, drained: bool, in_grace: bool) {
    if state.rung != LADDER.len() - 1 {
        state.standing = 0;
        state.squeeze = 1.0;
        return;
    }
    let standing = !in_grace && state.best_rtt.above(seen.rtt_ms, QUEUE_MARGIN_MS);
    state.standing = if standing { state.standing + 1 } else { 0 };
    let least = PAUSE_BELOW_BPS / f64::from(LADDER[LADDER.len() - 1].max_bitrate_bps);
    if state.standing >= QUEUE_AFTER {
        state.squeeze = (state.squeeze * SQUEEZE_DOWN).max(least);
        state.standing = 0;
    } else if drained {
        state.squeeze = (state.squeeze * SQUEEZE_UP).min(1.0);
    }
}

/// Paused: after enough seconds without heavy loss (`clean_loss`), video comes back on the lowest rung, which is
/// itself the probe: while paused, the estimate has only audio to go by and stays low. The round trip is no
/// condition here: where other connections share the uplink, their queues keep it long. But a queue that built up
/// (since video last resumed) and has drained for a few seconds, the round trip back near its best, is the uplink
/// coming back, as when a drop ends: video is tried again then, whatever the waits failed tries have set.
fn resume_when_clean(state: &mut PeerState, clean_loss: bool) {
    state.clean = if clean_loss { state.clean + 1 } else { 0 };
    let uplink_back = state.queued && state.drained >= RESUME_DRAINED_AFTER;
    if state.clean >= state.up_after || (uplink_back && state.clean >= RESUME_DRAINED_AFTER) {
        state.rung = LADDER.len() - 1;
        state.network_rung = state.rung;
        state.queued = false;
        state.clean = 0;
        state.since_up = Some(0);
        // The estimate climbs with the probe: give it the grace a new connection gets.
        state.age = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seconds for a lower budget to take the rung down.
    const DOWN: u32 = DOWN_AFTER as u32;

    fn ada() -> PeerId {
        "ada".into()
    }

    /// A clean second with this bandwidth estimate.
    fn estimate(bps: f64) -> Observed {
        Observed { available_out_bps: Some(bps), rtt_ms: Some(20.0), ..Observed::default() }
    }

    /// Runs `seconds` identical seconds of one connection to Ada; returns the last encoding.
    fn run(adapter: &mut Adapter, seen: &Observed, seconds: u32) -> Encoding {
        let mut last = None;
        for _ in 0..seconds {
            last = Some(adapter.decide(&[(ada(), seen.clone())])[0].1);
        }
        last.expect("at least a second")
    }

    fn rung(encoding: Encoding) -> usize {
        if !encoding.active {
            return LADDER.len();
        }
        let lowest = LADDER.len() - 1;
        if encoding.max_bitrate_bps < LADDER[lowest].max_bitrate_bps {
            // Squeezed under a standing queue.
            return lowest;
        }
        LADDER.iter().position(|rung| rung.max_bitrate_bps == encoding.max_bitrate_bps).unwrap()
    }

    /// An adapter whose connection to Ada is past its start at the top rung.
    fn settled() -> Adapter {
        let mut adapter = Adapter::default();
        assert_eq!(rung(run(&mut adapter, &estimate(3_000_000.0), 10)), 0);
        adapter
    }

    #[test]
    fn rungs_fit_budgets_and_below_the_lowest_video_pauses() {
        assert_eq!(rung_for(5_000_000.0), 0);
        assert_eq!(rung_for(600_000.0), 0, "a cap up to twice the budget is a ceiling the encoder fills as it can");
        assert_eq!(rung_for(590_000.0), 1);
        assert_eq!(rung_for(250_000.0), 2);
        assert_eq!(rung_for(140_000.0), 4);
        assert_eq!(rung_for(60_000.0), LADDER.len() - 1);
        assert_eq!(rung_for(PAUSE_BELOW_BPS), LADDER.len() - 1, "the lowest rung, however little it gets");
        assert_eq!(rung_for(PAUSE_BELOW_BPS - 1.0), LADDER.len(), "below the least, video pauses");
        assert_eq!(rung_for(0.0), LADDER.len());
        // Each rung asks for less, and never for more pixels or frames, than the one above.
        for pair in LADDER.windows(2) {
            assert!(pair[1].max_bitrate_bps < pair[0].max_bitrate_bps);
            assert!(pair[1].scale_down_by >= pair[0].scale_down_by);
            assert!(pair[1].max_framerate <= pair[0].max_framerate);
        }
    }

    #[test]
    fn the_uplink_splits_evenly_and_what_one_needs_less_goes_to_the_others() {
        assert_eq!(split(900.0, &[1_000.0, 1_000.0, 1_000.0]), vec![300.0, 300.0, 300.0]);
        assert_eq!(split(900.0, &[100.0, 1_000.0, 1_000.0]), vec![100.0, 400.0, 400.0]);
        assert_eq!(split(900.0, &[100.0, 200.0, 1_000.0]), vec![100.0, 200.0, 600.0]);
        assert_eq!(split(900.0, &[100.0, 200.0]), vec![100.0, 200.0], "never more than a connection can carry");
        assert_eq!(split(-5.0, &[100.0, 100.0]), vec![0.0, 0.0]);
        assert!(split(100.0, &[]).is_empty());
        // Figures that are not numbers end the split all the same.
        assert_eq!(split(f64::INFINITY, &[f64::INFINITY, f64::NAN]).len(), 2);
        assert_eq!(split(f64::INFINITY, &[f64::INFINITY, 100.0])[1], 100.0);
    }

    #[test]
    fn a_new_connection_starts_at_the_top_while_the_estimate_climbs() {
        let mut adapter = Adapter::default();
        // Chrome's estimate starts near 300 kbit/s: no reason to drop the picture in the first seconds.
        let start = run(&mut adapter, &estimate(300_000.0), GRACE);
        assert_eq!(start, Encoding::of(0));
        assert_eq!(adapter.own_video(), OwnVideo::Full);
        // Still that low after the grace: it is the link.
        assert_eq!(rung(run(&mut adapter, &estimate(300_000.0), 1)), 3);
        assert_eq!(adapter.own_video(), OwnVideo::Reduced);
    }

    #[test]
    fn down_quickly_as_far_as_needed_up_one_rung_at_a_time() {
        let mut adapter = settled();
        // The estimate collapses: a moment is no trend, but a few seconds later the encoding fits it.
        let thin = estimate(250_000.0);
        assert_eq!(rung(run(&mut adapter, &thin, DOWN - 1)), 0);
        let down = run(&mut adapter, &thin, 1);
        assert_eq!(rung(down), rung_for(250_000.0 * ESTIMATE_USE - AUDIO_RESERVE_BPS));
        assert_eq!(down.scale_down_by, LADDER[rung(down)].scale_down_by);
        // The link recovers: one rung per UP_AFTER clean seconds, never two at once.
        let good = estimate(3_000_000.0);
        let mut rungs = vec![rung(down)];
        for _ in 0..40 {
            let now = rung(run(&mut adapter, &good, 1));
            assert!(now + 1 >= *rungs.last().unwrap(), "climbed two rungs in a second: {rungs:?}");
            if now != *rungs.last().unwrap() {
                rungs.push(now);
            }
        }
        assert_eq!(rungs, vec![3, 2, 1, 0]);
    }

    #[test]
    fn no_step_up_while_the_link_is_not_clean() {
        for (what, seen) in [
            ("loss, the estimate carrying no more", Observed { loss_out_percent: Some(6.0), ..estimate(400_000.0) }),
            ("loss, no estimate", Observed { loss_out_percent: Some(6.0), available_out_bps: None, ..estimate(0.0) }),
            ("a queue", Observed { rtt_ms: Some(400.0), ..estimate(3_000_000.0) }),
            ("the processor", Observed { limited_by: Some(Limitation::Cpu), ..estimate(3_000_000.0) }),
        ] {
            let mut adapter = settled();
            let start = rung(run(&mut adapter, &estimate(400_000.0), DOWN));
            assert_eq!(start, 2);
            let after = rung(run(&mut adapter, &seen, 30));
            assert!(after >= start, "stepped up despite {what}: rung {after}");
        }
    }

    #[test]
    fn a_path_that_became_longer_for_good_is_climbed_again() {
        let mut adapter = settled();
        // An ICE restart onto a relay far away: 200 ms instead of 20 from now on, and a dip while it happens.
        let far = |bps| Observed { rtt_ms: Some(200.0), ..estimate(bps) };
        assert_eq!(rung(run(&mut adapter, &far(400_000.0), DOWN)), 2);
        let top = (1..=300).find(|_| rung(run(&mut adapter, &far(3_000_000.0), 1)) == 0);
        assert!(top.is_some(), "never climbed back on the longer path");
        // Paused on it, video comes back too.
        assert!(!run(&mut adapter, &far(60_000.0), DOWN).active);
        assert!((1..=300).any(|_| run(&mut adapter, &far(3_000_000.0), 1).active), "never resumed");
    }

    #[test]
    fn steady_moderate_loss_does_not_hold_video_down_when_the_estimate_carries_more() {
        // A radio link losing 7 % at random, always: between clean and heavy.
        let radio = |bps| Observed { loss_out_percent: Some(7.0), ..estimate(bps) };
        let mut adapter = settled();
        assert_eq!(rung(run(&mut adapter, &radio(400_000.0), DOWN)), 2);
        assert!((1..=120).any(|_| rung(run(&mut adapter, &radio(3_000_000.0), 1)) == 0), "never climbed back");
        assert!(!run(&mut adapter, &radio(60_000.0), DOWN).active);
        assert!((1..=120).any(|_| run(&mut adapter, &radio(3_000_000.0), 1).active), "never resumed");
    }

    #[test]
    fn a_step_up_that_fails_makes_the_next_wait_longer() {
        let mut adapter = settled();
        run(&mut adapter, &estimate(600_000.0), DOWN);
        let mut waits = Vec::new();
        for _ in 0..3 {
            // Clean seconds at a rung the estimate carries, until a step up.
            let before = rung(run(&mut adapter, &estimate(600_000.0), 1));
            let mut waited = 1;
            while rung(run(&mut adapter, &estimate(600_000.0), 1)) == before {
                waited += 1;
                assert!(waited < 100, "never stepped up");
            }
            waits.push(waited);
            // The probe shows the rung above does not fit: back down.
            assert_eq!(rung(run(&mut adapter, &estimate(500_000.0), DOWN)), before);
        }
        assert!(waits[1] > waits[0] && waits[2] > waits[1], "waits {waits:?}");
    }

    #[test]
    fn our_video_counts_as_reduced_from_two_rungs_down() {
        let mut adapter = settled();
        assert_eq!(rung(run(&mut adapter, &estimate(600_000.0), DOWN)), 1);
        assert_eq!(adapter.own_video(), OwnVideo::Full, "one rung is a trim");
        assert_eq!(rung(run(&mut adapter, &estimate(400_000.0), DOWN)), 2);
        assert_eq!(adapter.own_video(), OwnVideo::Reduced);
        // Back up one rung: a trim again.
        assert!((1..=60).any(|_| rung(run(&mut adapter, &estimate(600_000.0), 1)) == 1));
        assert_eq!(adapter.own_video(), OwnVideo::Full);
        // The processor takes a rung on top of the network's one: still the network's one rung.
        let cpu = Observed { limited_by: Some(Limitation::Cpu), ..estimate(600_000.0) };
        assert_eq!(rung(run(&mut adapter, &cpu, LIMITED_DOWN_AFTER)), 2);
        assert_eq!(adapter.own_video(), OwnVideo::Full);
    }

    #[test]
    fn heavy_loss_takes_a_rung_every_second_but_never_pauses() {
        let mut adapter = settled();
        let lossy = Observed { loss_out_percent: Some(15.0), ..estimate(3_000_000.0) };
        assert_eq!(rung(run(&mut adapter, &lossy, 1)), 1);
        assert_eq!(rung(run(&mut adapter, &lossy, 1)), 2);
        assert_eq!(rung(run(&mut adapter, &lossy, 20)), LADDER.len() - 1);
        assert!(!adapter.paused(&ada()));
    }

    #[test]
    fn the_encoder_held_back_for_seconds_takes_a_rung_down() {
        let mut adapter = settled();
        let cpu = Observed { limited_by: Some(Limitation::Cpu), ..estimate(3_000_000.0) };
        assert_eq!(rung(run(&mut adapter, &cpu, LIMITED_DOWN_AFTER - 1)), 0, "a moment is no trend");
        assert_eq!(rung(run(&mut adapter, &cpu, 1)), 1);
        // Each further rung waits twice as long: the browser's own adaptation to the processor acts meanwhile.
        assert_eq!(rung(run(&mut adapter, &cpu, LIMITED_DOWN_AFTER * 2 - 1)), 1);
        assert_eq!(rung(run(&mut adapter, &cpu, 1)), 2);
        assert_eq!(rung(run(&mut adapter, &cpu, LIMITED_DOWN_AFTER * 4)), 3);
        assert_eq!(adapter.own_video(), OwnVideo::Full, "a busy processor is no weak connection");
        // The bandwidth limiting an encoder under a rung the estimate fits is the encoder's own business, even with
        // the estimate below the cap: the cap is a ceiling.
        let mut adapter = settled();
        let bandwidth = Observed { limited_by: Some(Limitation::Bandwidth), ..estimate(3_000_000.0) };
        assert_eq!(rung(run(&mut adapter, &bandwidth, 10)), 0);
        let tight = Observed { limited_by: Some(Limitation::Bandwidth), ..estimate(800_000.0) };
        assert_eq!(rung(run(&mut adapter, &tight, 10)), 0);
        // Without an estimate (Firefox), the limitation is all there is to go by.
        let blind = Observed { limited_by: Some(Limitation::Bandwidth), ..Observed::default() };
        assert_eq!(rung(run(&mut adapter, &blind, LIMITED_DOWN_AFTER)), 1);
    }

    #[test]
    fn a_bandwidth_limit_from_our_own_cap_does_not_hold_video_down() {
        let mut adapter = settled();
        assert_eq!(rung(run(&mut adapter, &estimate(250_000.0), DOWN)), 3);
        // The estimate has room again; the encoder, held by the rung's cap, names bandwidth as its limit.
        let capped = Observed { limited_by: Some(Limitation::Bandwidth), ..estimate(3_000_000.0) };
        assert!((1..=60).any(|_| rung(run(&mut adapter, &capped, 1)) == 0), "held down by its own cap");
        // Where the estimate does not carry the rung above, the same limit keeps the rung.
        let mut adapter = settled();
        let tight = Observed { limited_by: Some(Limitation::Bandwidth), ..estimate(400_000.0) };
        assert_eq!(rung(run(&mut adapter, &tight, 60)), 2);
    }

    #[test]
    fn video_pauses_before_audio_starves_and_comes_back_when_the_link_does() {
        let mut adapter = settled();
        let starved = estimate(70_000.0);
        let paused = run(&mut adapter, &starved, DOWN);
        assert!(!paused.active);
        assert!(adapter.paused(&ada()));
        assert_eq!(adapter.own_video(), OwnVideo::Paused);
        // Clean again: after a while, the lowest rung as a probe, then up.
        let good = estimate(3_000_000.0);
        assert!(!run(&mut adapter, &good, RESUME_AFTER - 1).active, "resumed too soon");
        assert_eq!(rung(run(&mut adapter, &good, 1)), LADDER.len() - 1);
        assert_eq!(adapter.own_video(), OwnVideo::Reduced);
        assert_eq!(rung(run(&mut adapter, &good, 120)), 0);
        assert_eq!(adapter.own_video(), OwnVideo::Full);
    }

    #[test]
    fn paused_video_is_tried_again_while_other_queues_keep_the_round_trip_long() {
        let mut adapter = settled();
        let queued = |bps| Observed { rtt_ms: Some(300.0), ..estimate(bps) };
        assert!(!run(&mut adapter, &queued(60_000.0), DOWN).active);
        // The estimate stays low with only audio to go by: the lowest rung is the probe, on time all the same.
        assert!(!run(&mut adapter, &queued(60_000.0), RESUME_AFTER - 1).active);
        assert!(run(&mut adapter, &queued(60_000.0), 1).active);
        // It does not fit: paused again after the grace, and the next try waits twice as long.
        let seconds_on = (1..=GRACE + DOWN_AFTER as u32 + 1).find(|_| !run(&mut adapter, &queued(60_000.0), 1).active);
        assert!(seconds_on.is_some(), "never paused again");
        assert!(!run(&mut adapter, &queued(60_000.0), 2 * RESUME_AFTER - 1).active, "tried again too soon");
        assert!(run(&mut adapter, &queued(60_000.0), 1).active);
    }

    #[test]
    fn one_starved_connection_beside_well_fed_ones_keeps_the_lowest_rung() {
        let peers: Vec<PeerId> = ["ada", "bob", "cy"].into_iter().map(PeerId::from).collect();
        let mut adapter = Adapter::default();
        let seconds = |adapter: &mut Adapter, estimates: [f64; 3], seconds: u32| {
            let observed: Vec<_> = peers.iter().cloned().zip(estimates.map(estimate)).collect();
            (0..seconds).map(|_| adapter.decide(&observed)).last().expect("a second")
        };
        seconds(&mut adapter, [2_000_000.0; 3], 10);
        // Ada's estimate sinks below what pauses video on its own, while Bob's and Cy's carry plenty.
        let uneven = seconds(&mut adapter, [70_000.0, 600_000.0, 600_000.0], 30);
        assert_eq!(rung(uneven[0].1), LADDER.len() - 1, "Ada's video still goes out, at the lowest rung");
        assert!(!adapter.paused(&peers[0]));
        // The whole uplink short: every connection pauses.
        let short = seconds(&mut adapter, [70_000.0; 3], DOWN);
        assert!(short.iter().all(|(_, encoding)| !encoding.active), "{short:?}");
    }

    #[test]
    fn paused_video_comes_back_soon_once_the_queue_drains_after_a_failed_try() {
        let mut adapter = settled();
        let queued = |bps| Observed { rtt_ms: Some(900.0), ..estimate(bps) };
        assert!(!run(&mut adapter, &queued(60_000.0), DOWN).active);
        // A try that fails while the uplink stays short: the next wait is twice as long.
        assert!(run(&mut adapter, &queued(60_000.0), RESUME_AFTER).active, "never tried again");
        let off = (1..=GRACE + DOWN + 1).find(|_| !run(&mut adapter, &queued(60_000.0), 1).active);
        assert!(off.is_some(), "never paused again");
        // The drop ends: the round trip falls back to its best (the estimate, with only audio to go by, does not
        // climb), and video comes back a few seconds later.
        let drained = Observed { rtt_ms: Some(20.0), ..estimate(60_000.0) };
        assert!(!run(&mut adapter, &drained, RESUME_DRAINED_AFTER - 1).active, "resumed too soon");
        assert!(run(&mut adapter, &drained, 1).active, "still waiting out the failed try");
    }

    #[test]
    fn a_round_trip_that_never_queued_does_not_hurry_a_resume() {
        let mut adapter = settled();
        // Starved with no queue to see: the waits are the usual ones.
        assert!(!run(&mut adapter, &estimate(60_000.0), DOWN).active);
        assert!(!run(&mut adapter, &estimate(60_000.0), RESUME_AFTER - 1).active, "resumed too soon");
        assert!(run(&mut adapter, &estimate(60_000.0), 1).active);
    }

    #[test]
    fn a_ceiling_set_while_video_was_paused_rises_fast_once_the_queues_drain() {
        let peers: Vec<PeerId> = ["ada", "bob", "cy"].into_iter().map(PeerId::from).collect();
        let each = |seen: &Observed| peers.iter().map(|peer| (peer.clone(), seen.clone())).collect::<Vec<_>>();
        let mut adapter = Adapter::default();
        for _ in 0..10 {
            adapter.decide(&each(&estimate(2_000_000.0)));
        }
        // A drop: every connection loses packets with a long queue, video pauses, and only audio gets out.
        let dropped = Observed {
            loss_out_percent: Some(9.0),
            sent_bps: Some(40_000.0),
            rtt_ms: Some(900.0),
            ..estimate(60_000.0)
        };
        for _ in 0..10 {
            adapter.decide(&each(&dropped));
        }
        assert!(peers.iter().all(|peer| adapter.paused(peer)));
        // The drop ends: queues drain and the estimates climb with the probes; within a few seconds of the resume
        // the ceiling no longer holds video at the lowest rung.
        let back = Observed { rtt_ms: Some(20.0), sent_bps: Some(100_000.0), ..estimate(1_000_000.0) };
        let seconds = (1..=30)
            .find(|_| adapter.decide(&each(&back)).iter().all(|(_, encoding)| rung(*encoding) < LADDER.len() - 1));
        assert!(seconds.is_some_and(|seconds| seconds <= 15), "video held low for {seconds:?} s");
    }

    #[test]
    fn a_standing_queue_on_the_lowest_rung_lowers_its_cap_until_it_drains() {
        let lowest = LADDER.len() - 1;
        let full = LADDER[lowest].max_bitrate_bps;
        let mut adapter = settled();
        // Three others' lowest rungs fill one person's thin downlink: the estimate carries the lowest rung, the
        // round trip stands half a second above its best.
        let thin = estimate(150_000.0);
        assert_eq!(rung(run(&mut adapter, &thin, DOWN)), lowest);
        let queued = Observed { rtt_ms: Some(550.0), ..thin };
        assert_eq!(run(&mut adapter, &queued, QUEUE_AFTER - 1).max_bitrate_bps, full, "a moment is no standing queue");
        let caps: Vec<Encoding> = (0..20).map(|_| run(&mut adapter, &queued, 1)).collect();
        assert!(caps[0].max_bitrate_bps < full);
        assert!(caps.windows(2).all(|pair| pair[1].max_bitrate_bps <= pair[0].max_bitrate_bps));
        assert_eq!(caps[19].max_bitrate_bps, PAUSE_BELOW_BPS as u32, "down to the least video a browser sends");
        assert!(caps.iter().all(|encoding| encoding.active), "a queue alone never pauses video");
        assert_eq!(caps[19].scale_down_by, LADDER[lowest].scale_down_by);
        // Drained: the cap comes back, and only at the full rung does a step up count clean seconds.
        let back: Vec<Encoding> = (0..60).map(|_| run(&mut adapter, &estimate(3_000_000.0), 1)).collect();
        let refilled = back.iter().position(|encoding| encoding.max_bitrate_bps == full).expect("the cap came back");
        assert!(refilled > 5, "the cap came back at once: {back:?}");
        let up = back.iter().position(|encoding| rung(*encoding) < lowest).expect("never stepped up");
        assert!(up > refilled);
    }

    #[test]
    fn a_round_trip_a_busy_processor_lengthens_leaves_the_cap_alone() {
        let lowest = LADDER.len() - 1;
        let mut adapter = settled();
        let thin = estimate(150_000.0);
        run(&mut adapter, &thin, DOWN);
        // 150 ms above its best, for good: a machine busy with a call of four.
        let busy = Observed { rtt_ms: Some(170.0), ..thin };
        let full = LADDER[lowest].max_bitrate_bps;
        assert!((0..60).all(|_| run(&mut adapter, &busy, 1).max_bitrate_bps >= full));
        // A queue on a higher rung is left to the browser's estimate, which the encoder follows there.
        let mut adapter = settled();
        let queued = Observed { rtt_ms: Some(600.0), ..estimate(3_000_000.0) };
        assert_eq!(run(&mut adapter, &queued, 20), Encoding::of(0));
    }

    #[test]
    fn a_shared_screen_comes_before_the_camera() {
        let mut adapter = settled();
        let sharing = Observed { screen_bps: 900_000.0, ..estimate(1_300_000.0) };
        // 1.3 Mbit/s less the screen and audio leaves the camera about 220 kbit/s.
        assert_eq!(rung(run(&mut adapter, &sharing, DOWN)), 3);
    }

    #[test]
    fn a_congested_uplink_is_split_across_the_peers() {
        let peers: Vec<PeerId> = ["ada", "bob", "cy"].into_iter().map(PeerId::from).collect();
        let mut adapter = Adapter::default();
        let each = |seen: &Observed| peers.iter().map(|peer| (peer.clone(), seen.clone())).collect::<Vec<_>>();
        for _ in 0..10 {
            adapter.decide(&each(&estimate(2_000_000.0)));
        }
        // Every connection's estimate looks fine, but all of them lose packets: together they got 900 kbit/s out.
        let congested = Observed { loss_out_percent: Some(9.0), sent_bps: Some(300_000.0), ..estimate(2_000_000.0) };
        let first = adapter.decide(&each(&congested));
        assert!(first.iter().all(|(_, encoding)| rung(*encoding) == 0), "a second of loss is no congestion yet");
        // From the second second on the uplink counts as congested; the rungs follow once that has lasted.
        let mut decided = Vec::new();
        for _ in 0..DOWN {
            decided = adapter.decide(&each(&congested));
        }
        let even = (900_000.0 - 3.0 * AUDIO_RESERVE_BPS) / 3.0;
        for (_, encoding) in &decided {
            assert_eq!(rung(*encoding), rung_for(even));
        }
        // One peer's own link carries less: the others get what it leaves.
        let mut mixed = each(&congested);
        mixed[0].1.available_out_bps = Some(150_000.0);
        for _ in 0..DOWN {
            decided = adapter.decide(&mixed);
        }
        let ada_cap = 150_000.0 * ESTIMATE_USE - AUDIO_RESERVE_BPS;
        assert_eq!(rung(decided[0].1), rung_for(ada_cap));
        assert!(rung(decided[1].1) <= rung_for(even), "bob gets at least an even share");
        // The congestion passes: the ceiling rises and the rungs come back up.
        for _ in 0..120 {
            adapter.decide(&each(&estimate(2_000_000.0)));
        }
        assert!(adapter.decide(&each(&estimate(2_000_000.0))).iter().all(|(_, encoding)| rung(*encoding) == 0));
    }

    #[test]
    fn no_ceiling_from_a_lossy_radio_link_or_while_the_estimates_climb() {
        let peers: Vec<PeerId> = ["ada", "bob"].into_iter().map(PeerId::from).collect();
        let each = |seen: &Observed| peers.iter().map(|peer| (peer.clone(), seen.clone())).collect::<Vec<_>>();
        // A new call: little sent yet, and losing packets while the estimates climb.
        let mut adapter = Adapter::default();
        let starting = Observed { loss_out_percent: Some(9.0), sent_bps: Some(50_000.0), ..estimate(300_000.0) };
        for _ in 0..GRACE {
            adapter.decide(&each(&starting));
        }
        assert_eq!(adapter.ceiling_bps, None);
        // Three percent lost at random, every second, for minutes: no ceiling, the top rung kept (and regained after
        // a dip of the estimate).
        let mut adapter = Adapter::default();
        let radio = Observed { loss_out_percent: Some(3.0), sent_bps: Some(900_000.0), ..estimate(2_000_000.0) };
        for second in 0..300 {
            let dip = Observed { available_out_bps: Some(700_000.0), ..radio.clone() };
            adapter.decide(&each(if second == 100 { &dip } else { &radio }));
        }
        assert_eq!(adapter.ceiling_bps, None);
        assert_eq!(adapter.own_video(), OwnVideo::Full);
    }

    #[test]
    fn a_second_without_statistics_keeps_the_connections_state() {
        let mut adapter = settled();
        assert_eq!(rung(run(&mut adapter, &estimate(400_000.0), DOWN)), 2);
        // Ada's statistics could not be read this second; Bob's could.
        adapter.decide(&[("bob".into(), estimate(3_000_000.0))]);
        adapter.decide(&[]);
        assert_eq!(adapter.own_video(), OwnVideo::Reduced);
        let next = run(&mut adapter, &estimate(400_000.0), 1);
        assert_eq!(rung(next), 2, "restarted at the top, with a fresh grace");
    }

    #[test]
    fn an_outage_changes_nothing_and_video_goes_on_when_the_link_is_back() {
        let mut adapter = settled();
        // Five seconds with nothing from Ada: her last report said 20 % lost, the estimate falls for want of feedback.
        let out = Observed { loss_out_percent: Some(20.0), stale: true, ..estimate(80_000.0) };
        for _ in 0..5 {
            assert!(adapter.decide(&[(ada(), out.clone())]).is_empty());
        }
        assert_eq!(adapter.own_video(), OwnVideo::Full);
        assert_eq!(rung(run(&mut adapter, &estimate(3_000_000.0), 1)), 0, "the link is back: video as before");
    }

    #[test]
    fn a_forgotten_connection_starts_afresh() {
        let mut adapter = settled();
        assert!(!run(&mut adapter, &estimate(60_000.0), DOWN).active);
        assert!(adapter.paused(&ada()));
        // Ada's connection is replaced by a new one: the new sender starts at the top, in its grace period.
        adapter.forget(&ada());
        assert!(!adapter.paused(&ada()));
        assert_eq!(adapter.own_video(), OwnVideo::Full);
        assert_eq!(run(&mut adapter, &estimate(60_000.0), GRACE), Encoding::of(0));
    }

    #[test]
    fn peers_come_and_go_and_firefox_without_an_estimate_is_left_to_loss() {
        let mut adapter = settled();
        assert_eq!(adapter.own_video(), OwnVideo::Full);
        let bob: PeerId = "bob".into();
        adapter.forget(&ada());
        let decided = adapter.decide(&[(bob.clone(), Observed::default())]);
        assert_eq!(decided, vec![(bob.clone(), Encoding::of(0))]);
        assert!(!adapter.paused(&ada()));
        for _ in 0..10 {
            adapter.decide(&[(bob.clone(), Observed::default())]);
        }
        assert_eq!(adapter.own_video(), OwnVideo::Full, "no estimate is no reason to drop");
        let lossy = Observed { loss_out_percent: Some(20.0), ..Observed::default() };
        assert_eq!(rung(adapter.decide(&[(bob, lossy)])[0].1), 1);
        assert_eq!(Adapter::default().own_video(), OwnVideo::Full);
    }

    #[test]
    fn in_a_call_of_three_or_more_video_is_sent_at_the_size_a_tile_shows() {
        let (bob, cy): (PeerId, PeerId) = ("bob".into(), "cy".into());
        let good = estimate(3_000_000.0);
        let mut adapter = settled();
        assert_eq!(run(&mut adapter, &good, 1).scale_down_by, 1.0, "two people see each other large");
        let three = [(ada(), good.clone()), (bob.clone(), good.clone())];
        for (_, encoding) in adapter.decide(&three) {
            assert_eq!(encoding, Encoding { scale_down_by: GRID_SCALE, ..Encoding::of(0) }, "the top rung, smaller");
        }
        // A connection in an outage still has its tile.
        let outage = [(ada(), good.clone()), (bob.clone(), Observed { stale: true, ..good.clone() })];
        assert_eq!(adapter.decide(&outage)[0].1.scale_down_by, GRID_SCALE);
        // The lowest rungs are smaller still.
        let thin = estimate(100_000.0);
        let thin_three = [(ada(), thin.clone()), (bob.clone(), thin.clone()), (cy.clone(), thin)];
        let lowest = (0..10).map(|_| adapter.decide(&thin_three)).last().expect("ten seconds")[0].1;
        assert_eq!(lowest.scale_down_by, LADDER[rung(lowest)].scale_down_by);
        assert!(lowest.scale_down_by > GRID_SCALE);
        // Back to two people: full size again.
        adapter.forget(&bob);
        adapter.forget(&cy);
        adapter.forget(&ada());
        assert_eq!(adapter.decide(&[(cy, good)])[0].1.scale_down_by, 1.0);
    }
}
