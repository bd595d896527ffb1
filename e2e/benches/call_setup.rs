//! Call setup time: from a click on Join to the first remote video frame, for Huddle's SPA and for a minimal
//! JavaScript page against the same relay, in the e2e harness's headless Chromium inside a loopback-only network.
//! Prints every call and the summary; `--out FILE` also writes the report in Markdown. What exactly is timed, and
//! how, is in `huddle_e2e::call_setup`.
//!
//! Run it with `cargo xtask bench call-setup` (which builds the SPA and the relay first and writes
//! `bench/call-setup.md`). It is a benchmark, not a test: `cargo test` neither builds nor runs it.

use std::io::Write as _;
use std::process::ExitCode;

use huddle_common::RoomId;
use huddle_e2e::call_setup::{
    install_probe, marks_now, open_lobby, page_path, reset_probe, site, splice_section, wait_mark, Call, Client,
    Context, Options, RejoinReport, Report, Who, FIRST_FRAME, JOIN, PREVIEW, REJOIN_HEADING, USAGE,
};
use huddle_e2e::machine::Machine;
use huddle_e2e::spa;
use huddle_e2e::{artifacts, diagnostics, Browser, Error, Relay, Result};

fn main() -> ExitCode {
    let options = match huddle_e2e::bench_options(Options::parse, |options| options.help, USAGE) {
        Ok(options) => options,
        Err(code) => return code,
    };
    if options.rejoins > 0 {
        return match huddle_e2e::run_isolated(options.verbose, run_rejoins(&options)) {
            Ok(report) if report.rejoins.iter().any(|call| call.client == Client::Huddle) => ExitCode::SUCCESS,
            Ok(_) => {
                eprintln!("error: no Huddle rejoin completed");
                ExitCode::from(1)
            }
            Err(code) => code,
        };
    }
    match huddle_e2e::run_isolated(options.verbose, run(&options)) {
        Ok(report) if report.ratio().is_some() => ExitCode::SUCCESS,
        Ok(_) => {
            eprintln!("error: a client has no completed call, so there is nothing to compare");
            ExitCode::from(1)
        }
        Err(code) => code,
    }
}

async fn run(options: &Options) -> Result<Report> {
    let mut context = Context { machine: Machine::before_run(), calls: options.calls, warmup: options.warmup };
    let site = site()?;
    let relay = Relay::serving(site.path(), &[]).await?;
    println!(
        "Call setup: {} calls per client after {} warm-up call(s), Huddle and the JS baseline alternating, relay on {}",
        options.calls,
        options.warmup,
        relay.addr()
    );
    println!(
        "{}, {} CPUs, load average {:?}\n",
        context.machine.browser, context.machine.cpus, context.machine.load_before
    );

    let mut report = Report::default();
    let rounds = options.warmup + options.calls;
    for round in 0..rounds {
        let warmup = round < options.warmup;
        let clients: &[Client] = if options.shape { &Client::ALL } else { &Client::ALL[..2] };
        for &client in clients {
            let what = if warmup {
                "warm-up".to_owned()
            } else {
                format!("{:>2}/{}", round - options.warmup + 1, options.calls)
            };
            print!("call {what:>7}  {:<18}", client.label());
            let _ = std::io::stdout().flush();
            match one_call(&relay, client).await {
                Ok(call) => {
                    let show =
                        |value: Option<f64>| value.map(|v| format!("{v:>5.0}")).unwrap_or_else(|| "    –".into());
                    println!(
                        "Join → first frame {} ms   (joined {}, ICE connected {}, Ada's first frame {})",
                        show(call.setup_ms()),
                        show(call.step_ms(Who::Bob, "joined")),
                        show(call.step_ms(Who::Bob, "ice_connected")),
                        show(call.step_ms(Who::Ada, FIRST_FRAME)),
                    );
                    if !warmup {
                        report.calls.push(call);
                    }
                    diagnostics::take();
                }
                Err(error) => {
                    println!("FAILED: {error}");
                    for block in diagnostics::take() {
                        eprintln!("{block}");
                    }
                    if !warmup {
                        report.failures.push((client, error.to_string()));
                    }
                }
            }
        }
    }
    drop(relay);
    diagnostics::take();
    context.machine.after_run();
    report.context = context;

    println!("\n{}", report.summary_markdown());
    println!("{}", report.steps_markdown());
    if let Some(out) = &options.out {
        let path = artifacts::workspace_root().join(out);
        // The rejoin mode's section, if the report has one, stays.
        let existing = std::fs::read_to_string(&path).unwrap_or_default();
        let mut markdown = report.markdown();
        if let Some(start) = existing.find(&format!("\n{REJOIN_HEADING}\n")) {
            let rest = &existing[start + 1..];
            let end = rest[REJOIN_HEADING.len()..].find("\n## ").map(|end| end + REJOIN_HEADING.len() + 1);
            markdown = splice_section(&markdown, REJOIN_HEADING, &rest[..end.unwrap_or(rest.len())]);
        }
        std::fs::write(&path, markdown).map_err(|e| Error::io(format!("write {}", path.display()), e))?;
        println!("Report written to {}", path.display());
    }
    Ok(report)
}

/// The rejoin mode: per client, `options.rejoins` times Bob leaves and joins again, in calls of up to
/// [`REJOIN_BLOCK`] rejoins, the clients taking turns.
async fn run_rejoins(options: &Options) -> Result<RejoinReport> {
    let mut context = Context { machine: Machine::before_run(), calls: options.rejoins, warmup: 0 };
    let site = site()?;
    let relay = Relay::serving(site.path(), &[]).await?;
    println!(
        "Rejoins: {} per client, in calls of up to {REJOIN_BLOCK}, Huddle and the JS baseline in turn, relay on {}",
        options.rejoins,
        relay.addr()
    );
    println!(
        "{}, {} CPUs, load average {:?}\n",
        context.machine.browser, context.machine.cpus, context.machine.load_before
    );
    let mut report = RejoinReport::default();
    let clients: &[Client] = if options.shape { &Client::ALL } else { &Client::ALL[..2] };
    // In blocks, the clients in turn, each block in a call of fresh browsers: the machine's load drifts, and a block
    // still has a person rejoin several times in one call.
    let mut done = 0;
    while done < options.rejoins {
        let block = REJOIN_BLOCK.min(options.rejoins - done);
        for &client in clients {
            let room = spa::new_room_id();
            let ada = Browser::launch("Ada").await?;
            let bob = Browser::launch("Bob").await?;
            ready(&ada, &relay, client, &room).await?;
            ada.click(JOIN).await?;
            wait_mark(&ada, "joined").await?;
            ready(&bob, &relay, client, &room).await?;
            bob.click(JOIN).await?;
            wait_mark(&bob, FIRST_FRAME).await?;
            wait_mark(&ada, FIRST_FRAME).await?;
            diagnostics::take();
            for number in done + 1..=done + block {
                print!("rejoin {number:>3}/{}  {:<18}", options.rejoins, client.label());
                let _ = std::io::stdout().flush();
                match rejoin(&ada, &bob, client).await {
                    Ok(call) => {
                        let show =
                            |value: Option<f64>| value.map(|v| format!("{v:>5.0}")).unwrap_or_else(|| "    –".into());
                        println!(
                            "Join → first frame at Bob {} ms, at Ada {} ms   (ICE connected {})",
                            show(call.setup_ms()),
                            show(call.step_ms(Who::Ada, FIRST_FRAME)),
                            show(call.step_ms(Who::Bob, "ice_connected")),
                        );
                        report.rejoins.push(call);
                        diagnostics::take();
                    }
                    Err(error) => {
                        println!("FAILED: {error}");
                        for block in diagnostics::take() {
                            eprintln!("{block}");
                        }
                        report.failures.push((client, error.to_string()));
                        break;
                    }
                }
            }
        }
        done += block;
    }
    drop(relay);
    diagnostics::take();
    context.machine.after_run();
    report.context = context;
    println!("\n{}", report.summary_markdown());
    if let Some(out) = &options.out {
        let path = artifacts::workspace_root().join(out);
        let existing = std::fs::read_to_string(&path).unwrap_or_default();
        let markdown = splice_section(&existing, REJOIN_HEADING, &report.markdown());
        std::fs::write(&path, markdown).map_err(|e| Error::io(format!("write {}", path.display()), e))?;
        println!("Report written to {}", path.display());
    }
    Ok(report)
}

/// Bob leaves the call, goes back to the lobby, and once his preview plays again joins: both pages' marks of the new
/// connection.
async fn rejoin(ada: &Browser, bob: &Browser, client: Client) -> Result<Call> {
    bob.click(LEAVE).await?;
    if client == Client::Huddle {
        bob.wait_interactable(spa::selector::REJOIN).await?;
        bob.click(spa::selector::REJOIN).await?;
    }
    if client == Client::Huddle {
        bob.wait_interactable(spa::selector::NAME).await?;
        if bob.value(spa::selector::NAME).await?.trim() != bob.label() {
            bob.type_into(spa::selector::NAME, bob.label()).await?;
        }
    }
    bob.wait_interactable(JOIN).await?;
    bob.wait_video_playing(PREVIEW).await?;
    reset_probe(ada).await?;
    reset_probe(bob).await?;
    bob.click(JOIN).await?;
    let marks = async { Ok::<_, Error>((wait_mark(bob, FIRST_FRAME).await?, wait_mark(ada, FIRST_FRAME).await?)) };
    match marks.await {
        Ok((bob, ada)) => Ok(Call { client, ada, bob }),
        Err(error) => {
            let (ada, bob) = (marks_now(ada).await?, marks_now(bob).await?);
            Err(Error::Check(format!("{error}\n  Ada's marks: {:?}\n  Bob's marks: {:?}", ada.at, bob.at)))
        }
    }
}

/// Rejoins in a row in one call, before the other client's turn.
const REJOIN_BLOCK: usize = 5;

/// The Leave button, in the call screen of the SPA and in the baseline alike.
const LEAVE: &str = "#leave";

/// One call in a fresh room between two fresh browsers: Ada joins and waits, Bob joins; both pages' marks.
async fn one_call(relay: &Relay, client: Client) -> Result<Call> {
    let room = spa::new_room_id();
    let ada = Browser::launch("Ada").await?;
    let bob = Browser::launch("Bob").await?;
    ready(&ada, relay, client, &room).await?;
    ada.click(JOIN).await?;
    wait_mark(&ada, "joined").await?;
    ready(&bob, relay, client, &room).await?;
    bob.click(JOIN).await?;
    let marks = async { Ok::<_, Error>((wait_mark(&bob, FIRST_FRAME).await?, wait_mark(&ada, FIRST_FRAME).await?)) };
    match marks.await {
        Ok((bob, ada)) => Ok(Call { client, ada, bob }),
        Err(error) => {
            let (ada, bob) = (marks_now(&ada).await?, marks_now(&bob).await?);
            Err(Error::Check(format!("{error}\n  Ada's marks: {:?}\n  Bob's marks: {:?}", ada.at, bob.at)))
        }
    }
}

/// Opens the room's page before joining (see [`open_lobby`]), then installs the probe.
async fn ready(browser: &Browser, relay: &Relay, client: Client, room: &RoomId) -> Result<()> {
    open_lobby(browser, client, &relay.url(&page_path(client, room, browser.label()))).await?;
    install_probe(browser).await
}
