//! Huddle's end-to-end test harness: the real relay, real headless Chromium or Firefox (one per simulated person,
//! fake camera and microphone), and real WebRTC, all inside a network namespace that has nothing but loopback.
//!
//! The tests live in `tests/e2e/`, one binary with its own runner ([`harness`]); this library is what they use:
//! [`Relay`] runs `huddle-server`, [`TurnServer`] runs coturn, [`Browser`] drives Chromium through chromedriver or
//! Firefox through geckodriver ([`Browsers`]: who uses which), [`wait_until`] waits on a condition with a bounded
//! timeout, [`spa`] knows the SPA's UI contract (its selectors and flows), and [`hostile`] is a peer that is not the
//! SPA but code of its own. The call setup benchmark (`benches/call_setup.rs`) drives browsers with the same parts,
//! plus [`call_setup`]; the network benchmark (`benches/network.rs`) too, plus [`network`] (on [`netlab`]); the
//! lobby load benchmark (`benches/lobby_load.rs`) too, plus [`lobby_load`], [`shaping`] (a thin link on loopback) and
//! [`cdp`]. [`netlab`] gives each person a network namespace and a link of their own, shaped and impaired per
//! direction, for calls on thin and lossy networks.
//!
//! Before running them: `cargo xtask build` (the SPA into `dist/` and the relay into `target/release/`), Debian's
//! `chromium`, `chromium-driver`, `firefox-esr` and `coturn`, and geckodriver (`cargo xtask setup`).

#![forbid(unsafe_code)]

pub mod artifacts;
mod browser;
pub mod call_setup;
pub mod cdp;
mod cli;
mod default_route;
pub mod diagnostics;
mod driver;
mod error;
pub mod harness;
pub mod hostile;
mod isolation;
pub mod lobby_load;
pub mod machine;
mod media;
pub mod netlab;
pub mod network;
pub mod page_memory;
mod redis;
mod relay;
mod scratch;
pub mod shaping;
pub mod spa;
pub mod tools;
mod turn;
mod wait;

pub use browser::{Browser, BrowserKind, BrowserOptions, Browsers, NetworkResponse, ResourceTiming, Viewport};
pub use error::{Error, Result};
pub use media::{IceView, InboundBytes, LiveTracks};
pub use redis::RedisServer;
pub use relay::Relay;
pub use scratch::ScratchDir;
pub use turn::{
    adapt as adapt_turn_config, TurnServer, TurnSetup, DOCUMENTED_CONFIG as TURN_CONFIG, REALM as TURN_REALM,
};
pub use wait::{wait_for, wait_until, TIMEOUT};

/// Runs this binary inside a network namespace that has only loopback, as every browser-driving binary must: the
/// first call re-executes the binary there with the same arguments and does not return; inside, it checks the
/// isolation. An error says why that cannot be done (and nothing may run then).
pub fn enter_isolated_network() -> std::result::Result<(), String> {
    isolation::enter()
}

/// For a test (libtest harness) that needs a network namespace of its own, set up by the shell commands `setup`:
/// `Ok(true)` inside it, where the caller runs the test's body; `Ok(false)` outside, once the body passed inside.
/// See `isolation::own_network_for_test`.
pub fn own_network_for_test(name: &str, setup: &str) -> std::result::Result<bool, String> {
    isolation::own_network_for_test(name, setup)
}

/// Stops chromedriver, if it was started (a binary driving browsers calls this before it exits).
pub fn shut_down_browsers() {
    driver::shut_down();
}

/// How a benchmark binary starts: its options, parsed by `parse` from the command line (without the program name).
/// `Err` is the exit code to return at once: after the usage (`usage`, printed when `help` says the options ask for
/// it), or after a bad argument (said on stderr; code 2).
pub fn bench_options<O>(
    parse: impl FnOnce(std::iter::Skip<std::env::Args>) -> std::result::Result<O, String>,
    help: impl FnOnce(&O) -> bool,
    usage: &str,
) -> std::result::Result<O, std::process::ExitCode> {
    use std::process::ExitCode;
    let options = parse(std::env::args().skip(1)).map_err(|error| {
        eprintln!("error: {error}");
        ExitCode::from(2)
    })?;
    if help(&options) {
        print!("{usage}");
        return Err(ExitCode::SUCCESS);
    }
    Ok(options)
}

/// What a benchmark binary does around its measuring: enters the isolated network (see
/// [`enter_isolated_network`]), shows live diagnostics when `verbose`, runs `measure` to completion, stops the
/// browsers. A failure is printed with the diagnostics gathered, and becomes the exit code the binary returns.
pub fn run_isolated<T>(
    verbose: bool,
    measure: impl std::future::Future<Output = Result<T>>,
) -> std::result::Result<T, std::process::ExitCode> {
    use std::process::ExitCode;
    if let Err(why) = enter_isolated_network() {
        eprintln!("error: {why}");
        return Err(ExitCode::from(101));
    }
    diagnostics::set_live(verbose);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start a tokio runtime: {error}");
            return Err(ExitCode::from(101));
        }
    };
    let outcome = runtime.block_on(measure);
    shut_down_browsers();
    outcome.map_err(|error| {
        eprintln!("error: {error}");
        for block in diagnostics::take() {
            eprintln!("{block}");
        }
        ExitCode::from(1)
    })
}

/// The network interfaces this process sees: only `lo` inside the tests' isolated network.
pub fn network_interfaces() -> std::io::Result<Vec<String>> {
    isolation::interfaces()
}

/// Checks that this process's network has loopback and nothing else (what any test that drops or holds packets
/// must make sure of first); the error says what it has instead.
pub fn verify_isolated() -> std::result::Result<(), String> {
    isolation::verify()
}
