//! Time to a usable lobby on a thin link: from navigating to a room link to the lobby's Join button enabled, with
//! what the relay sends shaped to a thin link's rate (600 kbit/s and 2 Mbit/s by default) by the kernel's `tbf`, for
//! a first visit, a repeat visit and a reload, in the e2e harness's headless Chromium inside a loopback-only
//! network. Prints every load and writes the report with `--out FILE`. What exactly is timed, and how, is in
//! `huddle_e2e::lobby_load`; the shaping in `huddle_e2e::shaping`.
//!
//! Run it with `cargo xtask bench lobby-load` (which builds the SPA and the relay first and writes
//! `bench/lobby-load.md`). It is a benchmark, not a test: it asserts nothing about speed, and `cargo test` neither
//! builds nor runs it.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use fantoccini::wd::TimeoutConfiguration;
use huddle_e2e::lobby_load::{
    install_probe, report, thousands, wait_usable, Context, Load, Measured, Options, Visit, USAGE,
};
use huddle_e2e::machine::{self, Machine};
use huddle_e2e::shaping::{timed_get, unshaped_download, Rate, Shaper};
use huddle_e2e::{artifacts, diagnostics, spa, Browser, BrowserOptions, Error, Relay, Result};

/// How long a page script may wait for the lobby: a first visit on the thinnest link takes seconds.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a navigation may take to reach its load event.
const PAGE_LOAD_TIMEOUT: Duration = Duration::from_secs(120);
/// The size of the download that checks other loopback traffic is not shaped.
const UNSHAPED_CHECK_BYTES: usize = 300_000;

fn main() -> ExitCode {
    let options = match huddle_e2e::bench_options(Options::parse, |options| options.help, USAGE) {
        Ok(options) => options,
        Err(code) => return code,
    };
    match huddle_e2e::run_isolated(options.verbose, run(&options)) {
        Ok(measured) if measured.iter().all(|relay| relay.series.iter().any(|s| !s.loads.is_empty())) => {
            ExitCode::SUCCESS
        }
        Ok(_) => {
            eprintln!("error: a relay has no completed load, so there is nothing to report for it");
            ExitCode::from(1)
        }
        Err(code) => code,
    }
}

/// A relay under measurement and its figures so far.
struct Target {
    relay: Relay,
    measured: Measured,
}

async fn run(options: &Options) -> Result<Vec<Measured>> {
    let (dist, dist_name) = match &options.dist {
        Some(dir) => (dir.clone(), format!("`{}`", dir.display())),
        None => (artifacts::dist_dir()?, "`dist/`".to_owned()),
    };
    let (wasm_path, wasm_description) = wasm_file(&dist)?;
    let dist_description = format!("{dist_name} ({wasm_description})");
    let mut binaries = Vec::new();
    if let Some(before) = &options.before {
        binaries.push((options.before_label.clone(), before.clone()));
    }
    let current = match &options.relay {
        Some(path) => path.clone(),
        None => artifacts::server_binary()?,
    };
    binaries.push((options.label.clone(), current));

    let browser = machine::chromium_version();
    let mut targets = Vec::new();
    for (label, binary) in binaries {
        if !binary.is_file() {
            return Err(Error::Check(format!("relay `{label}`: no file at {}", binary.display())));
        }
        let relay = Relay::binary_serving(&binary, &dist, &[]).await?;
        println!("relay {label:<10} {} on {}", binary.display(), relay.addr());
        let context = Context {
            machine: Machine::before_run(),
            relay: binary,
            dist: dist_description.clone(),
            runs: options.runs,
        };
        targets.push(Target { relay, measured: Measured { label, context, ..Measured::default() } });
    }
    let rates: Vec<String> = options.rates.iter().map(Rate::to_string).collect();
    println!(
        "Lobby load: {} run(s) per relay at {}, serving {dist_description}\n{browser}, {} CPUs, load average {:?}\n",
        options.runs,
        rates.join(" and "),
        machine::cpus(),
        machine::load_average(),
    );

    let ports: Vec<u16> = targets.iter().map(|target| target.relay.addr().port()).collect();
    for (index, &rate) in options.rates.iter().enumerate() {
        let shaper = Shaper::install(&ports, rate)?;
        if options.verbose {
            println!("{}", shaper.describe());
        }
        for target in &mut targets {
            let check = check_shaping(&shaper, &target.relay, &wasm_path)?;
            println!("shaping check, {}: {check}", target.measured.label);
            target.measured.checks.push(check);
        }
        if index == 0 {
            let check = check_unshaped(rate)?;
            println!("shaping check: {check}");
            for target in &mut targets {
                target.measured.checks.push(check.clone());
            }
        }
        println!();
        for run in 1..=options.runs {
            for target in &mut targets {
                print!("{rate:>11}  run {run:>2}/{}  {:<10}", options.runs, target.measured.label);
                let _ = std::io::stdout().flush();
                one_run(target, rate, run, options.verbose).await;
                diagnostics::take();
            }
        }
        println!();
    }

    let mut measured = Vec::new();
    for target in targets {
        let mut relay = target.measured;
        relay.context.machine.after_run();
        measured.push(relay);
    }
    for relay in &measured {
        println!("{}", relay.markdown());
    }
    if let Some(out) = &options.out {
        let path = artifacts::workspace_root().join(out);
        let existing = std::fs::read_to_string(&path).ok();
        std::fs::write(&path, report(existing.as_deref(), &measured))
            .map_err(|e| Error::io(format!("write {}", path.display()), e))?;
        println!("Report written to {}", path.display());
    }
    Ok(measured)
}

/// One browser, fresh profile: a first visit, a repeat visit, a reload; each load goes into the target's figures,
/// and a failure ends the run (the visits after it need the one before).
async fn one_run(target: &mut Target, rate: Rate, run: usize, verbose: bool) {
    let label = format!("{} run {run}", target.measured.label);
    let browser = match launch(&label).await {
        Ok(browser) => browser,
        Err(error) => {
            println!("FAILED to start the browser: {error}");
            target.measured.series_mut(rate, Visit::First).failures.push(error.to_string());
            return;
        }
    };
    for visit in Visit::ALL {
        match load(&browser, &target.relay, visit).await {
            Ok(load) => {
                print!("  {}", describe(&load));
                if verbose {
                    let files: Vec<String> = load.resources.iter().map(|r| format!("\n    {}", r.describe())).collect();
                    println!("{}", files.concat());
                }
                target.measured.series_mut(rate, visit).loads.push(load);
            }
            Err(error) => {
                print!("  {}: FAILED: {error}", visit.label());
                for block in diagnostics::take() {
                    eprintln!("{block}");
                }
                target.measured.series_mut(rate, visit).failures.push(error.to_string());
                break;
            }
        }
    }
    println!();
}

/// A browser for one run, with the probe installed and time enough for a thin link.
async fn launch(label: &str) -> Result<Browser> {
    let browser = Browser::launch_with(BrowserOptions::new(label)).await?;
    let timeouts = TimeoutConfiguration::new(Some(SCRIPT_TIMEOUT), Some(PAGE_LOAD_TIMEOUT), Some(Duration::ZERO));
    browser
        .client()
        .update_timeouts(timeouts)
        .await
        .map_err(|e| Error::webdriver(format!("{label}: set timeouts"), e))?;
    install_probe(&browser).await?;
    Ok(browser)
}

/// Makes one visit and waits until the lobby is usable.
async fn load(browser: &Browser, relay: &Relay, visit: Visit) -> Result<Load> {
    let room = relay.url(&spa::room_path(&spa::new_room_id()));
    match visit {
        Visit::First => browser.goto(&room).await?,
        Visit::Repeat => {
            browser.goto("about:blank").await?;
            browser.goto(&room).await?;
        }
        Visit::Reload => {
            browser.client().refresh().await.map_err(|e| Error::webdriver(format!("{}: reload", browser.label()), e))?
        }
    }
    wait_usable(browser, visit).await
}

/// A load in a few words: `first visit 5,432 ms (screen 5,380, 378,112 B)`.
fn describe(load: &Load) -> String {
    let ms = |value: Option<f64>| value.map(|v| thousands(v.round() as u64)).unwrap_or_else(|| "–".to_owned());
    format!(
        "{} {} ms (screen {}, {} B)",
        load.visit.label(),
        ms(load.usable_ms()),
        ms(load.first_screen_ms()),
        thousands(load.transferred(None))
    )
}

/// Downloads the wasm from the relay through the shaper, and says how fast it came; fails if it came faster than
/// the shaper allows (then the shaping does not apply and the figures would mean nothing).
fn check_shaping(shaper: &Shaper, relay: &Relay, wasm_path: &str) -> Result<String> {
    let rate = shaper.rate();
    let through_before = shaper.shaped_bytes()?;
    let download = timed_get(relay.addr(), wasm_path)?;
    let through = shaper.shaped_bytes()? - through_before;
    let goodput = download.kbit_per_s();
    let line = format!(
        "at {rate}, the wasm ({} bytes) downloads in {:.2} s: {goodput:.0} kbit/s of goodput ({} bytes through the \
         token bucket, headers included; the body alone needs {:.2} s at {rate})",
        thousands(download.bytes),
        download.elapsed.as_secs_f64(),
        thousands(through),
        download.ideal(rate).as_secs_f64(),
    );
    if goodput > f64::from(rate.as_kbit()) * 1.1 || through < download.bytes {
        return Err(Error::Check(format!("the relay's traffic is not shaped: {line}")));
    }
    Ok(line)
}

/// Downloads from another loopback port, which no filter matches; fails if that is slow too (then everything on
/// loopback is shaped, chromedriver's traffic included).
fn check_unshaped(rate: Rate) -> Result<String> {
    let download = unshaped_download(UNSHAPED_CHECK_BYTES)?;
    let line = format!(
        "from another loopback port, {} bytes take {:.3} s ({} kbit/s): not shaped",
        thousands(download.bytes),
        download.elapsed.as_secs_f64(),
        thousands(download.kbit_per_s().round() as u64),
    );
    if download.kbit_per_s() < f64::from(rate.as_kbit()) * 10.0 {
        return Err(Error::Check(format!("traffic that is not the relay's is shaped too: {line}")));
    }
    Ok(line)
}

/// The SPA's wasm in `dist/`: its URL path, and a description for the report (name, size, age).
fn wasm_file(dist: &Path) -> Result<(String, String)> {
    let entries = std::fs::read_dir(dist).map_err(|e| Error::io(format!("read {}", dist.display()), e))?;
    let wasm: Option<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .find(|path| path.extension().is_some_and(|extension| extension == "wasm"));
    let wasm = wasm.ok_or_else(|| Error::Check(format!("no .wasm in {}: run `cargo xtask build`", dist.display())))?;
    let name = wasm.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let meta = wasm.metadata().map_err(|e| Error::io(format!("read {}", wasm.display()), e))?;
    let age = meta.modified().ok().and_then(|modified| SystemTime::now().duration_since(modified).ok());
    let age = match age.map(|age| age.as_secs()) {
        Some(secs) if secs < 3600 => format!(", built {} min before", secs / 60),
        Some(secs) if secs < 2 * 86_400 => format!(", built {} h before", secs / 3600),
        Some(secs) => format!(", built {} days before", secs / 86_400),
        None => String::new(),
    };
    Ok((format!("/{name}"), format!("`{name}`, {} bytes{age}", thousands(meta.len()))))
}
