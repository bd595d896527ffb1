//! `cargo xtask run`: the whole app on one machine — the relay serving the freshly built SPA.

use std::env;
use std::process::Command;

use crate::runner::{self, Result};
use crate::{spa, workspace};

const DEFAULT_PORT: &str = "8080";

/// Builds the SPA and the relay, then runs the relay with `dist/` as its static directory until it stops.
pub fn run(server_args: &[String]) -> Result {
    spa::build()?;
    runner::run("build the relay", workspace::cargo().args(["build", "--release", "-p", "huddle-server"]))?;

    let mut relay = workspace::cargo();
    relay
        .args(["run", "--quiet", "--release", "-p", "huddle-server", "--"])
        .args(["--static-dir", "dist"])
        .args(server_args);
    let port = env::var("PORT").ok();
    println!("Huddle is running at {}", local_url(server_args, port.as_deref()));
    hand_over("run the relay", relay)
}

/// Where a browser on this machine finds the relay, from the same flags and `PORT` the relay reads.
fn local_url(server_args: &[String], port_env: Option<&str>) -> String {
    let host = flag(server_args, "--host").unwrap_or("127.0.0.1");
    let port = flag(server_args, "--port").or(port_env).unwrap_or(DEFAULT_PORT);
    // Listening on every interface includes loopback, which is what a local browser should use.
    let host = match host {
        "0.0.0.0" => "127.0.0.1",
        "::" | "[::]" => "[::1]",
        other => other,
    };
    format!("http://{host}:{port}")
}

/// The value of `--name VALUE` or `--name=VALUE`; the last one wins, as with most parsers.
fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let mut value = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == name {
            value = args.next().map(String::as_str);
        } else if let Some(inline) = arg.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')) {
            value = Some(inline);
        }
    }
    value
}

/// Runs the relay in place of xtask where possible, so Ctrl-C and exit codes reach it directly.
#[cfg(unix)]
fn hand_over(step: &str, mut command: Command) -> Result {
    use std::os::unix::process::CommandExt;
    let error = command.exec();
    Err(runner::Failure::new(step, format!("could not start `{}`: {error}", runner::describe(&command))))
}

#[cfg(not(unix))]
fn hand_over(step: &str, mut command: Command) -> Result {
    runner::run(step, &mut command)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn the_url_follows_the_relay_defaults() {
        assert_eq!(local_url(&[], None), "http://127.0.0.1:8080");
        assert_eq!(local_url(&[], Some("9000")), "http://127.0.0.1:9000");
    }

    #[test]
    fn flags_override_the_environment() {
        assert_eq!(local_url(&args(&["--port", "9001"]), Some("9000")), "http://127.0.0.1:9001");
        assert_eq!(local_url(&args(&["--host=0.0.0.0", "--port=7000"]), None), "http://127.0.0.1:7000");
        assert_eq!(local_url(&args(&["--host", "192.0.2.1"]), None), "http://192.0.2.1:8080");
    }
}
