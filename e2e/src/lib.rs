//! Huddle's end-to-end test harness: the real relay, real headless Chromium (one per simulated person, fake camera
//! and microphone), and real WebRTC, all inside a network namespace that has nothing but loopback.
//!
//! The tests live in `tests/e2e/`, one binary with its own runner ([`harness`]); this library is what they use:
//! [`Relay`] runs `huddle-server`, [`TurnServer`] runs coturn, [`Browser`] drives Chromium through chromedriver,
//! [`wait_until`] waits on a condition with a bounded timeout, and [`spa`] knows the SPA's UI contract (its
//! selectors and flows). The call setup benchmark (`benches/call_setup.rs`) drives browsers with the same parts, plus
//! [`call_setup`]; the lobby load benchmark (`benches/lobby_load.rs`) too, plus [`lobby_load`], [`shaping`] (a thin
//! link on loopback) and [`cdp`].
//!
//! Before running them: `cargo xtask build` (the SPA into `dist/` and the relay into `target/release/`), and Debian's
//! `chromium`, `chromium-driver` and `coturn`.

pub mod artifacts;
mod browser;
pub mod call_setup;
pub mod cdp;
mod cli;
pub mod diagnostics;
mod driver;
mod error;
pub mod harness;
mod isolation;
pub mod lobby_load;
pub mod machine;
mod media;
mod redis;
mod relay;
mod scratch;
pub mod shaping;
pub mod spa;
mod turn;
mod wait;

pub use browser::{Browser, BrowserOptions, NetworkResponse, ResourceTiming, Viewport};
pub use error::{Error, Result};
pub use media::{IceView, InboundBytes, LiveTracks};
pub use redis::RedisServer;
pub use relay::Relay;
pub use scratch::ScratchDir;
pub use turn::TurnServer;
pub use wait::{wait_for, wait_until, TIMEOUT};

/// Runs this binary inside a network namespace that has only loopback, as every browser-driving binary must: the
/// first call re-executes the binary there with the same arguments and does not return; inside, it checks the
/// isolation. An error says why that cannot be done (and nothing may run then).
pub fn enter_isolated_network() -> std::result::Result<(), String> {
    isolation::enter()
}

/// Stops chromedriver, if it was started (a binary driving browsers calls this before it exits).
pub fn shut_down_browsers() {
    driver::shut_down();
}

/// The network interfaces this process sees: only `lo` inside the tests' isolated network.
pub fn network_interfaces() -> std::io::Result<Vec<String>> {
    isolation::interfaces()
}
