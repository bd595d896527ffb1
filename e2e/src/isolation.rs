//! Keeping every packet on this machine: the test binary re-executes itself inside fresh namespaces where the only
//! network interface is loopback, so the relay, chromedriver and Chromium can reach each other and nothing else.
//!
//! `unshare --net --pid --fork --kill-child --mount-proc` gives the tests their own network and their own process
//! tree: the test binary is PID 1 there, so when it exits (or `unshare` is killed) the kernel kills every process
//! it started, including any Chromium a crashed test left behind.

use std::env;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Set (to "1") in the re-executed test binary, so it knows not to re-execute again.
pub const MARKER_ENV: &str = "HUDDLE_E2E_ISOLATED";

/// The shell step inside the namespace: bring loopback up, then become the test binary again.
const INNER: &str = r#"PATH="$PATH:/usr/sbin:/sbin"; ip link set lo up && exec "$0" "$@""#;

/// Makes sure this process runs inside the isolated network, for any binary that drives browsers (the e2e tests,
/// the benchmarks): the first time, re-executes it there with the same arguments (and does not return); inside,
/// checks the isolation and makes Ctrl-C end the run. An error says why it cannot run.
pub fn enter() -> Result<(), String> {
    if !is_marked() {
        return Err(reexec());
    }
    verify().map_err(|why| format!("refusing to run browsers outside an isolated network: {why}"))?;
    exit_on_interrupt();
    Ok(())
}

/// Whether this process is the re-executed one (it still checks with [`verify`] before trusting that).
pub fn is_marked() -> bool {
    env::var_os(MARKER_ENV).is_some_and(|value| value == "1")
}

/// Replaces this process by itself, same arguments, inside new network and PID namespaces.
/// Returns only if that could not be done, with the reason.
pub fn reexec() -> String {
    let exe = match env::current_exe() {
        Ok(exe) => exe,
        Err(error) => return format!("cannot find the test binary to re-execute: {error}"),
    };
    let mut command = Command::new("unshare");
    command.args(["--net", "--pid", "--fork", "--kill-child", "--mount-proc"]);
    if !running_as_root() {
        // Without root, a user namespace grants the capabilities needed for the others.
        command.arg("--map-root-user");
    }
    command.args(["--", "sh", "-c", INNER]).arg(exe).args(env::args_os().skip(1)).env(MARKER_ENV, "1");
    let error = command.exec();
    format!(
        "cannot re-execute the tests under `unshare` ({error}); it comes with util-linux, and the tests need root or \
         unprivileged user namespaces"
    )
}

/// For a libtest test that needs a network of its own (addresses on loopback that no other test should see): outside,
/// runs this binary's test `name` again inside new network and PID namespaces, after the shell commands `setup`
/// (run there as root, e.g. `ip addr add 192.0.2.1/32 dev lo`), and returns `Ok(false)` once it passed there;
/// inside, checks the isolation and returns `Ok(true)`: the caller then runs the test's body. An error says why the
/// test failed or could not run.
pub fn own_network_for_test(name: &str, setup: &str) -> Result<bool, String> {
    if is_marked() {
        verify().map_err(|why| format!("refusing to run outside an isolated network: {why}"))?;
        return Ok(true);
    }
    let exe = env::current_exe().map_err(|error| format!("cannot find the test binary to re-execute: {error}"))?;
    let mut command = Command::new("unshare");
    command.args(["--net", "--pid", "--fork", "--kill-child", "--mount-proc"]);
    if !running_as_root() {
        command.arg("--map-root-user");
    }
    let inner = format!(r#"PATH="$PATH:/usr/sbin:/sbin"; ip link set lo up && {setup} && exec "$0" "$@""#);
    command.args(["--", "sh", "-c", &inner]).arg(exe).args(["--exact", name, "--nocapture", "--test-threads=1"]);
    let status = command.env(MARKER_ENV, "1").status().map_err(|error| {
        format!("cannot run the test under `unshare` ({error}); the tests need root or unprivileged user namespaces")
    })?;
    if status.success() {
        Ok(false)
    } else {
        Err(format!("`{name}` failed in its own network namespace ({status}); its output is above"))
    }
}

fn running_as_root() -> bool {
    // /proc/self is owned by the process's effective uid.
    fs::metadata("/proc/self").map(|meta| meta.uid() == 0).unwrap_or(false)
}

/// Makes SIGINT (Ctrl-C) and SIGTERM end the run. The test binary is PID 1 of its namespace, and the kernel
/// delivers no signal to such a process unless it handles it, while `unshare` itself ignores both as it waits; when
/// this process exits, the kernel kills everything else in the namespace.
pub fn exit_on_interrupt() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
        Ok(signals) => signals,
        Err(error) => {
            eprintln!("warning: Ctrl-C cannot stop the run ({error}); kill `unshare` instead");
            return;
        }
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            std::process::exit(128 + signal);
        }
    });
}

/// Checks that this process's network namespace has loopback and nothing else.
pub fn verify() -> Result<(), String> {
    let interfaces = interfaces().map_err(|error| format!("cannot list network interfaces: {error}"))?;
    if interfaces == ["lo"] {
        Ok(())
    } else {
        Err(format!("not isolated: network interfaces {interfaces:?}, expected only \"lo\""))
    }
}

/// The network interfaces this process sees (from its own namespace's `/proc/self/net/dev`; `/sys/class/net` would
/// still show the host's unless sysfs were remounted).
pub fn interfaces() -> std::io::Result<Vec<String>> {
    let dev = fs::read_to_string("/proc/self/net/dev")?;
    Ok(dev.lines().skip(2).filter_map(|line| Some(line.split_once(':')?.0.trim().to_owned())).collect())
}
