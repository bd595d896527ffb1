//! The test runner of the e2e binary (`harness = false`): re-executes itself in an isolated network, runs the
//! selected tests one after another, and reports like libtest, ending with its `test result:` line.
//!
//! Tests run one at a time: each drives real browsers, and the machines have two cores. Each runs on its own thread
//! with its own tokio runtime, so a panic or a timeout fails that test alone and unwinds its processes.

use std::future::Future;
use std::io::Write;
use std::panic;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use crate::{artifacts, cli, diagnostics, driver, isolation, Browsers, Error, Result};

/// The most one test may take, whatever it waits on.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(120);

/// What a test function returns once boxed.
pub type TestFuture = Pin<Box<dyn Future<Output = Result<()>>>>;

/// One registered test (see [`e2e_main!`](crate::e2e_main)).
pub struct Test {
    /// `module::function`.
    pub name: &'static str,
    /// Starts the test.
    pub run: Run,
    /// Why it is skipped by default (it runs with `--ignored` or `--include-ignored`).
    pub ignore: Option<&'static str>,
}

/// How a registered test starts.
pub enum Run {
    /// In Chromium, as the test decides.
    Plain(fn() -> TestFuture),
    /// Once for each of the browser combinations listed, each run named after its combination
    /// (`call::two_people[chromium+firefox]`).
    In(fn(Browsers) -> TestFuture, &'static [Browsers]),
}

/// Declares the e2e binary's `main` with its tests, in the order they run. `#[ignore = "why"]` skips one by default;
/// a test that takes the people's [`Browsers`] names, in brackets, the browser combinations it runs in (a
/// `&'static [Browsers]`): one list, so which tests run in which browsers is said here alone.
///
/// ```text
/// huddle_e2e::e2e_main! {
///     smoke::serves_the_spa,
///     call::two_people [Browsers::PAIRS],
///     #[ignore = "needs the call UI"] call::three_people,
/// }
/// ```
#[macro_export]
macro_rules! e2e_main {
    (@reason) => { None };
    (@reason $reason:literal) => { Some($reason) };
    (@run $test:path) => {
        $crate::harness::Run::Plain(|| -> $crate::harness::TestFuture { ::std::boxed::Box::pin($test()) })
    };
    (@run $test:path [$browsers:expr]) => {
        $crate::harness::Run::In(|browsers| -> $crate::harness::TestFuture { ::std::boxed::Box::pin($test(browsers)) }, $browsers)
    };
    ($($(#[ignore = $reason:literal])? $test:path $([$browsers:expr])?),* $(,)?) => {
        fn main() -> ::std::process::ExitCode {
            $crate::harness::main(&[$(
                $crate::harness::Test {
                    name: stringify!($test),
                    run: $crate::e2e_main!(@run $test $([$browsers])?),
                    ignore: $crate::e2e_main!(@reason $($reason)?),
                }
            ),*])
        }
    };
}

/// One test run: a registered test, in one browser combination if it has several.
struct Case<'a> {
    name: String,
    test: &'a Test,
    start: Box<dyn Fn() -> TestFuture + Send + Sync>,
}

/// The runs of the registered tests, in order: one for a plain test, one per combination for the others.
fn cases(tests: &[Test]) -> Vec<Case<'_>> {
    let mut cases = Vec::new();
    for test in tests {
        // `stringify!` may space a path's separators out.
        let name = test.name.replace(' ', "");
        match test.run {
            Run::Plain(start) => cases.push(Case { name, test, start: Box::new(start) }),
            Run::In(start, combinations) => cases.extend(combinations.iter().map(|&browsers| Case {
                name: format!("{name}[{}]", browsers.label()),
                test,
                start: Box::new(move || start(browsers)),
            })),
        }
    }
    cases
}

/// Which tests to run, from the same command line libtest accepts (unknown libtest flags are accepted and ignored).
#[derive(Debug, Default, PartialEq)]
struct Options {
    filters: Vec<String>,
    skip: Vec<String>,
    exact: bool,
    ignored: Ignored,
    list: bool,
    terse: bool,
    nocapture: bool,
    help: bool,
}

#[derive(Debug, Default, PartialEq)]
enum Ignored {
    #[default]
    Skip,
    Only,
    Include,
}

impl Options {
    fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
        let mut options = Options::default();
        let mut args = cli::Args::new(args);
        while let Some(arg) = args.next() {
            match arg.flag.as_str() {
                "--skip" => options.skip.push(args.value(&arg)?),
                "--exact" => options.exact = true,
                "--ignored" => options.ignored = Ignored::Only,
                "--include-ignored" => options.ignored = Ignored::Include,
                "--list" => options.list = true,
                "--format" => options.terse = args.value(&arg)? == "terse",
                "--nocapture" | "--no-capture" => options.nocapture = true,
                "-h" | "--help" => options.help = true,
                // Accepted for compatibility with `cargo test` habits; tests always run one at a time here.
                "--test-threads" | "--color" | "--logfile" | "--shuffle-seed" | "-Z" => drop(args.value(&arg)?),
                "-q"
                | "--quiet"
                | "--show-output"
                | "--report-time"
                | "--ensure-time"
                | "--shuffle"
                | "--test"
                | "--bench"
                | "--force-run-in-process" => {}
                _ if arg.flag.starts_with('-') => return Err(format!("unknown option `{}` (see --help)", arg.raw)),
                _ => options.filters.push(arg.raw),
            }
        }
        Ok(options)
    }

    fn matches(&self, name: &str) -> bool {
        let hit = |filter: &String| if self.exact { name == filter } else { name.contains(filter.as_str()) };
        (self.filters.is_empty() || self.filters.iter().any(hit)) && !self.skip.iter().any(hit)
    }
}

const USAGE: &str = "\
Usage: cargo test -p huddle-e2e [-- [FILTER...] [OPTIONS]]

Runs Huddle's end-to-end tests in headless Chromium, and those the list names browsers for in headless Firefox
too (`test[chromium+firefox]`: Ada in Chromium, Bob in Firefox), inside a network namespace that has only loopback
(and, while a Firefox is open, a default route that leads nowhere else).

  FILTER              run only tests whose name contains FILTER
  --exact             FILTER must match the whole name
  --skip FILTER       leave out tests whose name contains FILTER (repeatable)
  --ignored           run only the ignored tests
  --include-ignored   run ignored tests too
  --list              list the tests
  --nocapture         print relay logs and browser consoles as they come, not only for failures
";

/// The binary's entry point: parse the arguments, isolate, run, report.
pub fn main(tests: &[Test]) -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(101);
        }
    };
    if options.help {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let cases = cases(tests);
    let selected: Vec<&Case> = cases.iter().filter(|case| options.matches(&case.name)).collect();
    let filtered_out = cases.len() - selected.len();
    let runs = |test: &Test| match options.ignored {
        Ignored::Skip => test.ignore.is_none(),
        Ignored::Only => test.ignore.is_some(),
        Ignored::Include => true,
    };

    if options.list {
        for case in &selected {
            println!("{}: test", case.name);
        }
        if !options.terse {
            println!("\n{} tests, 0 benchmarks", selected.len());
        }
        return ExitCode::SUCCESS;
    }

    // Isolate only when something will run: a filter that selects nothing (as `cargo test --workspace NAME` passes
    // to every test binary) must stay cheap and must not need unshare.
    let anything_runs = selected.iter().any(|case| runs(case.test));
    if anything_runs {
        if let Err(why) = isolation::enter() {
            eprintln!("error: {why}");
            return ExitCode::from(101);
        }
    }

    diagnostics::set_live(options.nocapture);
    install_panic_hook();
    let started = Instant::now();
    println!("\nrunning {} test{}", selected.len(), if selected.len() == 1 { "" } else { "s" });
    let (mut passed, mut ignored) = (0, 0);
    let mut failures = Vec::new();
    for case in &selected {
        let (test, name) = (case.test, case.name.as_str());
        if !runs(test) {
            ignored += 1;
            match test.ignore {
                Some(reason) => println!("test {name} ... ignored, {reason}"),
                None => println!("test {name} ... ignored"),
            }
            continue;
        }
        print!("test {name} ... ");
        let _ = std::io::stdout().flush();
        let screens = artifacts::failure_dir(name);
        let _ = std::fs::remove_dir_all(&screens);
        diagnostics::set_artifact_dir(Some(screens.clone()));
        let test_started = Instant::now();
        let outcome = run_one(name, &case.start);
        let took = test_started.elapsed().as_secs_f64();
        diagnostics::set_artifact_dir(None);
        let transcript = diagnostics::take();
        if outcome.is_ok() {
            let _ = std::fs::remove_dir_all(&screens);
        }
        match outcome {
            Ok(()) => {
                passed += 1;
                println!("ok <{took:.3}s>");
            }
            Err(failure) => {
                println!("FAILED <{took:.3}s>");
                failures.push((name, failure, transcript));
            }
        }
    }
    driver::shut_down();

    if !failures.is_empty() {
        println!("\nfailures:\n");
        for (name, failure, transcript) in &failures {
            println!("---- {name} ----\n{failure}");
            for block in transcript {
                println!("{block}");
            }
            println!();
        }
        println!("failures:");
        for (name, _, _) in &failures {
            println!("    {name}");
        }
    }
    let status = if failures.is_empty() { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {status}. {passed} passed; {} failed; {ignored} ignored; 0 measured; {filtered_out} filtered \
         out; finished in {:.2}s\n",
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(101)
    }
}

/// The message of the last panic, for the failure report.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Panics become failure messages instead of being printed in the middle of the progress lines.
fn install_panic_hook() {
    panic::set_hook(Box::new(|info| {
        let message = match (info.payload().downcast_ref::<&str>(), info.payload().downcast_ref::<String>()) {
            (Some(text), _) => (*text).to_owned(),
            (_, Some(text)) => text.clone(),
            _ => "(non-string panic payload)".to_owned(),
        };
        let location = info.location().map(|l| format!(" at {l}")).unwrap_or_default();
        *LAST_PANIC.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("panicked{location}: {message}"));
        diagnostics::capture_failure_screens();
    }));
}

/// Runs one test on a thread of its own, with its own runtime and an overall time limit.
fn run_one(name: &str, run: &(dyn Fn() -> TestFuture + Send + Sync)) -> Result<(), String> {
    thread::scope(|scope| {
        let thread = thread::Builder::new().name(name.to_owned()).spawn_scoped(scope, move || -> Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::io("start a tokio runtime", e))?;
            runtime.block_on(async {
                tokio::time::timeout(TEST_TIMEOUT, run())
                    .await
                    .unwrap_or_else(|_| Err(Error::Check(format!("the test did not finish within {TEST_TIMEOUT:?}"))))
            })
        });
        let thread = thread.map_err(|e| format!("cannot start the test's thread: {e}"))?;
        match thread.join() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(LAST_PANIC.lock().unwrap_or_else(|p| p.into_inner()).take().unwrap_or_default()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Options {
        Options::parse(args.iter().map(|a| a.to_string())).unwrap()
    }

    #[test]
    fn accepts_what_cargo_test_passes() {
        let options = parse(&["call", "--test-threads", "1", "--nocapture", "--color=never", "-q", "--skip", "glare"]);
        assert_eq!(options.filters, ["call"]);
        assert_eq!(options.skip, ["glare"]);
        assert!(options.nocapture);
        assert!(Options::parse(["--frobnicate".to_owned()]).is_err());
    }

    #[test]
    fn filters_by_substring_or_exactly() {
        let options = parse(&["smoke"]);
        assert!(options.matches("smoke::serves_the_spa"));
        assert!(!options.matches("call::two_people"));
        let exact = parse(&["--exact", "smoke"]);
        assert!(!exact.matches("smoke::serves_the_spa"));
        let skipping = parse(&["--skip", "two"]);
        assert!(skipping.matches("smoke::serves_the_spa") && !skipping.matches("call::two_people"));
    }

    #[test]
    fn a_test_in_several_browsers_runs_once_each_named_after_them() {
        fn plain() -> TestFuture {
            Box::pin(async { Ok(()) })
        }
        fn in_browsers(_: Browsers) -> TestFuture {
            Box::pin(async { Ok(()) })
        }
        let tests = [
            Test { name: "smoke :: plain", run: Run::Plain(plain), ignore: None },
            Test { name: "call::two", run: Run::In(in_browsers, Browsers::PAIRS), ignore: None },
        ];
        let names: Vec<String> = cases(&tests).into_iter().map(|case| case.name).collect();
        assert_eq!(
            names,
            [
                "smoke::plain",
                "call::two[chromium]",
                "call::two[chromium+firefox]",
                "call::two[firefox+chromium]",
                "call::two[firefox]",
            ]
        );
        assert_eq!(Browsers::CHROMIUM_FIREFOX.of(2), crate::BrowserKind::Chromium, "the kinds go round");
        let pair = parse(&["two[chromium+firefox]"]);
        assert!(pair.matches("call::two[chromium+firefox]") && !pair.matches("call::two[firefox+chromium]"));
    }

    #[test]
    fn ignored_selection() {
        assert_eq!(parse(&[]).ignored, Ignored::Skip);
        assert_eq!(parse(&["--ignored"]).ignored, Ignored::Only);
        assert_eq!(parse(&["--include-ignored"]).ignored, Ignored::Include);
        assert!(parse(&["--list", "--format", "terse"]).terse);
    }
}
