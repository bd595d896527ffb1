//! Where the things under test and the tools driving them are: the built SPA, the relay binary, Chromium and
//! chromedriver. Nothing is built here: `cargo xtask build` builds the SPA and the relay before the tests run.

use std::env;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::{Error, Result};

/// Overrides the relay binary (default: the newest of `target/{release,debug}/huddle-server`).
pub const SERVER_BIN_ENV: &str = "HUDDLE_E2E_SERVER";
/// Overrides the Chromium binary (default: `chromium` on `PATH`).
pub const CHROMIUM_ENV: &str = "HUDDLE_E2E_CHROMIUM";
/// Overrides the chromedriver binary (default: `chromedriver` on `PATH`).
pub const CHROMEDRIVER_ENV: &str = "HUDDLE_E2E_CHROMEDRIVER";
/// Overrides the Firefox binary (default: `firefox-esr`, else `firefox`, on `PATH`).
pub const FIREFOX_ENV: &str = "HUDDLE_E2E_FIREFOX";
/// Overrides geckodriver (default: `geckodriver` on `PATH`, else in cargo's `bin`, where `cargo xtask setup` puts it).
pub const GECKODRIVER_ENV: &str = "HUDDLE_E2E_GECKODRIVER";
/// Overrides coturn's TURN server binary (default: `turnserver` on `PATH`).
pub const TURNSERVER_ENV: &str = "HUDDLE_E2E_TURNSERVER";

const BROWSER_HINT: &str =
    "install Debian's `chromium` and `chromium-driver` (apt-get install chromium chromium-driver)";
const FIREFOX_HINT: &str = "install Debian's `firefox-esr` (apt-get install firefox-esr)";
const GECKODRIVER_HINT: &str = "run `cargo xtask setup`, which installs geckodriver with cargo";
const TURN_HINT: &str = "install Debian's `coturn` (apt-get install coturn)";

/// The workspace root (the directory holding `dist/`, `target/`, `docs/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("e2e/ sits in the workspace").to_path_buf()
}

/// Where a screenshot named `name` (e.g. `call.png`) goes: `docs/screenshots/` when `HUDDLE_SCREENSHOTS=docs` (to
/// refresh the pictures the README shows), else `target/screenshots/`, so a test run leaves the tree clean.
pub fn screenshot_path(name: &str) -> PathBuf {
    let dir = match std::env::var("HUDDLE_SCREENSHOTS").as_deref() {
        Ok("docs") => workspace_root().join("docs/screenshots"),
        _ => workspace_root().join("target/screenshots"),
    };
    dir.join(name)
}

/// The release build of the SPA, `<workspace>/dist`, checked to contain `index.html`.
pub fn dist_dir() -> Result<PathBuf> {
    let dist = workspace_root().join("dist");
    if dist.join("index.html").is_file() {
        Ok(dist)
    } else {
        Err(Error::Missing {
            what: "the built SPA (dist/index.html)",
            path: dist.join("index.html"),
            hint: "run `cargo xtask build` first",
        })
    }
}

/// The relay binary: [`SERVER_BIN_ENV`] if set, else the most recently built of `target/release/huddle-server` and
/// `target/debug/huddle-server` in this test's target directory.
pub fn server_binary() -> Result<PathBuf> {
    if let Some(path) = env::var_os(SERVER_BIN_ENV) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(Error::Missing { what: "the relay binary", path, hint: "check HUDDLE_E2E_SERVER" })
        };
    }
    let target = target_dir();
    let name = format!("huddle-server{}", env::consts::EXE_SUFFIX);
    let candidates = [target.join("release").join(&name), target.join("debug").join(&name)];
    candidates
        .iter()
        .filter_map(|path| Some((path.metadata().ok()?.modified().unwrap_or(SystemTime::UNIX_EPOCH), path)))
        .max_by_key(|(modified, _)| *modified)
        .map(|(_, path)| path.clone())
        .ok_or_else(|| Error::Missing {
            what: "the relay binary",
            path: candidates[0].clone(),
            hint: "run `cargo xtask build` (or `cargo build --release -p huddle-server`) first",
        })
}

/// The cargo target directory this test binary was built into: `<target>/<profile>/deps/<test binary>`.
pub fn target_dir() -> PathBuf {
    let from_exe = env::current_exe().ok().and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()));
    from_exe.unwrap_or_else(|| workspace_root().join("target"))
}

/// Where a failed test leaves each browser's last screen: `<target>/e2e-failures/<test>/`.
pub fn failure_dir(test: &str) -> PathBuf {
    target_dir().join("e2e-failures").join(test.replace("::", "-"))
}

/// The Chromium binary.
pub fn chromium() -> Result<PathBuf> {
    tool(CHROMIUM_ENV, &["chromium", "chromium-browser"], "Chromium", BROWSER_HINT)
}

/// The chromedriver binary (its major version must match Chromium's; Debian ships them together).
pub fn chromedriver() -> Result<PathBuf> {
    tool(CHROMEDRIVER_ENV, &["chromedriver"], "chromedriver", BROWSER_HINT)
}

/// The Firefox binary.
pub fn firefox() -> Result<PathBuf> {
    tool(FIREFOX_ENV, &["firefox-esr", "firefox"], "Firefox", FIREFOX_HINT)
}

/// geckodriver, which drives Firefox (any recent release drives any recent Firefox).
pub fn geckodriver() -> Result<PathBuf> {
    tool(GECKODRIVER_ENV, &["geckodriver"], "geckodriver", GECKODRIVER_HINT).or_else(|missing| {
        // `cargo install` puts it in cargo's own `bin`, which a bare environment may not have on PATH.
        let home = env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| Some(PathBuf::from(env::var_os("HOME")?).join(".cargo")));
        home.map(|home| home.join("bin/geckodriver")).filter(|path| path.is_file()).ok_or(missing)
    })
}

/// coturn's `turnserver` (Debian installs it in /usr/bin; its service stays disabled unless enabled).
pub fn turnserver() -> Result<PathBuf> {
    tool(TURNSERVER_ENV, &["turnserver"], "coturn's turnserver", TURN_HINT)
}

fn tool(env_var: &str, names: &[&str], what: &'static str, hint: &'static str) -> Result<PathBuf> {
    if let Some(path) = env::var_os(env_var) {
        return Ok(PathBuf::from(path));
    }
    let path = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| Error::Missing { what, path: PathBuf::from(format!("$PATH/{}", names[0])), hint })
}
