//! How good a connection is, as a person would put it: what one second of a peer connection's statistics says
//! ([`LinkReport`], filled in by the call's network monitor) and what the tile shows for it ([`Grade`]).

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
    /// Of the packets we sent them, the share they reported lost (`remote-inbound-rtp`'s `fractionLost`), in percent.
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
