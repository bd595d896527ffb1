//! What a person sees and hears in calls on impaired links, Huddle's SPA beside the JavaScript baseline: for each
//! profile and call size, calls alternate between the two pages. Prints every call and the tables; `--out FILE`
//! also writes the report in Markdown. What is measured, and how, is in `huddle_e2e::network`.
//!
//! Run it with `cargo xtask bench network` (which builds the SPA and the relay first and writes `bench/NETWORK.md`).
//! It is a benchmark, not a test: `cargo test` neither builds nor runs it (its smoke test is `network` in the e2e
//! suite).

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use huddle_e2e::machine::Machine;
use huddle_e2e::network::call::{one_call, Network};
use huddle_e2e::network::lab::BenchLab;
use huddle_e2e::network::metrics::CallRecord;
use huddle_e2e::network::report::{Context, Failure, Metric, Report, CLIENTS};
use huddle_e2e::network::{Options, USAGE};
use huddle_e2e::{artifacts, diagnostics, Error, Result};

fn main() -> ExitCode {
    let options = match huddle_e2e::bench_options(Options::parse, |options| options.help, USAGE) {
        Ok(options) => options,
        Err(code) => return code,
    };
    match huddle_e2e::run_isolated(options.verbose, run(&options)) {
        Ok(report) if CLIENTS.iter().all(|c| report.calls.iter().any(|call| call.client == *c)) => ExitCode::SUCCESS,
        Ok(_) => {
            eprintln!("error: a client has no completed call, so there is nothing to compare");
            ExitCode::from(1)
        }
        Err(code) => code,
    }
}

async fn run(options: &Options) -> Result<Report> {
    let largest = options.people.iter().copied().max().unwrap_or(2);
    let started = Instant::now();
    let network = BenchLab::start(largest).await?;
    let mut report = Report {
        context: Context {
            machine: Machine::before_run(),
            runs: options.runs,
            seconds: options.seconds,
            network: network.describe(),
        },
        ..Report::default()
    };
    let profiles: Vec<&str> = options.profiles.iter().map(|p| p.name()).collect();
    println!(
        "Network: {} run(s) of {} × {:?} people × Huddle and the JS baseline, {} s measured\n{}, {} CPUs, load \
         average {:?}\nNetwork: {}\n",
        options.runs,
        profiles.join(", "),
        options.people,
        options.seconds,
        report.context.machine.browser,
        report.context.machine.cpus,
        report.context.machine.load_before,
        report.context.network,
    );
    for &profile in &options.profiles {
        for &people in &options.people {
            for run in 1..=options.runs {
                for client in CLIENTS {
                    print!(
                        "{:<13} {people} people  run {run}/{}  {:<12} ",
                        profile.name(),
                        options.runs,
                        client.label()
                    );
                    let _ = std::io::stdout().flush();
                    let started = Instant::now();
                    match one_call(&network, client, profile, people, options.seconds).await {
                        Ok(call) => {
                            println!("{}  ({:.0} s)", one_line(&call), started.elapsed().as_secs_f64());
                            report.calls.push(call);
                            if options.verbose {
                                for block in diagnostics::take() {
                                    println!("{block}");
                                }
                            }
                            diagnostics::take();
                        }
                        Err(error) => {
                            println!("FAILED: {error}");
                            for block in diagnostics::take() {
                                eprintln!("{block}");
                            }
                            report.failures.push(Failure { client, profile, people, error: error.to_string() });
                        }
                    }
                }
            }
        }
    }
    drop(network);
    diagnostics::take();
    println!("\nThe run took {:.0} min.", started.elapsed().as_secs_f64() / 60.0);
    report.context.machine.after_run();

    let markdown = report.markdown();
    println!("\n{markdown}");
    if let Some(out) = &options.out {
        let path = artifacts::workspace_root().join(out);
        std::fs::write(&path, &markdown).map_err(|e| Error::io(format!("write {}", path.display()), e))?;
        println!("Report written to {}", path.display());
    }
    Ok(report)
}

/// A call's headline figures, for the terminal: medians over its affected receivers, in its last phase.
fn one_line(call: &CallRecord) -> String {
    let one = Report { calls: vec![call.clone()], ..Report::default() };
    let phase = call.phases.last().map(|p| p.name.as_str()).unwrap_or_default();
    let show = |metric: Metric| {
        one.cell(call.client, call.profile, call.people, phase, metric)
            .and_then(|cell| cell.median)
            .map(|v| metric.show(v))
            .unwrap_or_else(|| "–".to_owned())
    };
    let mut line = format!(
        "setup {} ms, {} fps, {} px, frozen {} %, audio concealed {} %, RTT {} ms, CPU {} %",
        show(Metric::Setup),
        show(Metric::Fps),
        show(Metric::Height),
        show(Metric::Frozen),
        show(Metric::Concealed),
        show(Metric::Rtt),
        show(Metric::Cpu),
    );
    if !call.back_ms.is_empty() {
        line.push_str(&format!(", back after {} ms", show(Metric::Back)));
    }
    line
}
