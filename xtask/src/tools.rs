//! The toolchain the SPA build needs, and the one tool the end-to-end tests need that Debian does not package
//! (geckodriver). `cargo xtask setup` installs each tool only when it is missing or of the wrong version, so a second
//! run takes a second or two.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::runner::{self, Failure, Result};
use crate::workspace;

/// The trunk release the build is known to work with.
pub const TRUNK_VERSION: &str = "0.21.14";

/// binaryen's release, for wasm-opt. Keep equal to `[tools] wasm_opt` in `Trunk.toml`, which trunk checks.
/// Debian's binaryen is too old for the wasm rustc emits, so it comes from npm instead.
pub const BINARYEN_VERSION: &str = "132";

/// terser's release, which minifies wasm-bindgen's JavaScript glue (see `glue.rs`).
pub const TERSER_VERSION: &str = "5.51.4";

/// geckodriver's release, which the end-to-end tests drive Firefox with (Debian packages Firefox, not it).
pub const GECKODRIVER_VERSION: &str = "0.37.1";

const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// One thing setup makes sure of.
enum Tool {
    /// A part of the Rust toolchain that rustup installs: `kind` is `target` or `component`.
    Rustup { kind: &'static str, name: &'static str },
    /// The SPA bundler.
    Trunk,
    /// Generates the JS glue; its version must equal the `wasm-bindgen` library's in `Cargo.lock`.
    WasmBindgen { version: String },
    /// Shrinks the wasm; trunk finds it on PATH.
    WasmOpt,
    /// Minifies the JavaScript glue after trunk's build.
    Terser,
    /// Drives Firefox in the end-to-end tests.
    Geckodriver,
    /// The crates a build needs, downloaded into cargo's cache: trunk runs cargo `--offline`, so nothing it
    /// compiles may be missing there. `manifest` is the workspace's, or the standard library's (`rust-src`), whose
    /// own dependencies the size-tuned build compiles too (`spa.rs`).
    Crates { what: &'static str, manifest: PathBuf },
}

impl Tool {
    fn label(&self) -> String {
        match self {
            Tool::Rustup { kind, name } => format!("rust {kind} {name}"),
            Tool::Trunk => format!("trunk {TRUNK_VERSION}"),
            Tool::WasmBindgen { version } => format!("wasm-bindgen-cli {version}"),
            Tool::WasmOpt => format!("binaryen {BINARYEN_VERSION} (wasm-opt)"),
            Tool::Terser => format!("terser {TERSER_VERSION}"),
            Tool::Geckodriver => format!("geckodriver {GECKODRIVER_VERSION}"),
            Tool::Crates { what, .. } => format!("crates of {what}"),
        }
    }

    fn is_installed(&self) -> bool {
        match self {
            Tool::Rustup { kind, name } => {
                runner::probe(workspace::command("rustup").args([kind, "list", "--installed"]))
                    .is_some_and(|installed| installed.lines().any(|line| line.trim() == *name))
            }
            Tool::Trunk => reports_version(&mut command("trunk"), 1, TRUNK_VERSION),
            Tool::WasmBindgen { version } => reports_version(&mut command("wasm-bindgen"), 1, version),
            // Asked by path: only the copy setup installed is put in front of trunk's PATH.
            Tool::WasmOpt => {
                reports_version(&mut Command::new(binaryen_bin_dir().join("wasm-opt")), 2, BINARYEN_VERSION)
            }
            Tool::Terser => reports_version(&mut Command::new(terser_bin_dir().join("terser")), 1, TERSER_VERSION),
            Tool::Geckodriver => reports_version(&mut command("geckodriver"), 1, GECKODRIVER_VERSION),
            // Offline, cargo only checks its cache: it succeeds at once when every crate is there, and fails
            // without touching the network when one is missing.
            Tool::Crates { manifest, .. } => runner::probe(fetch_crates(manifest).arg("--offline")).is_some(),
        }
    }

    fn install(&self) -> Result {
        let step = format!("install {}", self.label());
        match self {
            Tool::Rustup { kind, name } => runner::run(&step, workspace::command("rustup").args([kind, "add", name])),
            Tool::Trunk => runner::run(
                &step,
                workspace::cargo().args(["install", "trunk", "--version", TRUNK_VERSION, "--locked"]),
            ),
            // Deliberately without `--locked`: that is the install verified to work on our machines.
            Tool::WasmBindgen { version } => {
                runner::run(&step, workspace::cargo().args(["install", "wasm-bindgen-cli", "--version", version]))
            }
            Tool::WasmOpt => npm_install(&step, &binaryen_dir(), &format!("binaryen@{BINARYEN_VERSION}")),
            Tool::Terser => npm_install(&step, &terser_dir(), &format!("terser@{TERSER_VERSION}")),
            // As `../shared/E2E.md` verified it: from crates.io, without `--locked`.
            Tool::Geckodriver => runner::run(
                &step,
                workspace::cargo().args(["install", "geckodriver", "--version", GECKODRIVER_VERSION]),
            ),
            Tool::Crates { manifest, .. } => runner::run(&step, &mut fetch_crates(manifest)),
        }
    }
}

/// `cargo fetch` of every crate `manifest`'s lock file names, for every target, leaving the lock file as it is.
fn fetch_crates(manifest: &Path) -> Command {
    let mut fetch = workspace::cargo();
    fetch.args(["fetch", "--locked", "--quiet", "--manifest-path"]).arg(manifest);
    // The standard library's manifest uses unstable cargo features, as the build that compiles it does.
    fetch.env("RUSTC_BOOTSTRAP", "1");
    fetch
}

/// The standard library's own workspace, which `rust-src` installs into the active toolchain.
fn std_manifest() -> Result<PathBuf> {
    let sysroot = runner::probe(workspace::command("rustc").args(["--print", "sysroot"])).ok_or_else(|| {
        Failure::new("setup", "`rustc --print sysroot` failed: is the Rust toolchain installed (rustup)?")
    })?;
    Ok(Path::new(sysroot.trim()).join("lib/rustlib/src/rust/library/Cargo.toml"))
}

/// Installs `package` (`name@version`) from npm into its own directory `dir` of Huddle's cache.
pub fn npm_install(step: &str, dir: &Path, package: &str) -> Result {
    fs::create_dir_all(dir).map_err(|error| Failure::new(step, format!("cannot create {}: {error}", dir.display())))?;
    runner::run(
        step,
        workspace::command("npm")
            .arg("install")
            .arg("--prefix")
            .arg(dir)
            .args(["--no-audit", "--no-fund", "--loglevel=error"])
            .arg(package),
    )
}

/// Whether `command --version` runs and its word at `index` (of the first line) is `version`.
fn reports_version(command: &mut Command, index: usize, version: &str) -> bool {
    runner::probe(command.arg("--version")).is_some_and(|output| version_word(&output, index) == Some(version))
}

/// The `index`th whitespace-separated word of the first line: `trunk 0.21.14` → 1, `wasm-opt version 132` → 2.
fn version_word(output: &str, index: usize) -> Option<&str> {
    output.lines().next()?.split_whitespace().nth(index)
}

fn binaryen_dir() -> PathBuf {
    workspace::cache_dir().join("binaryen")
}

fn binaryen_bin_dir() -> PathBuf {
    binaryen_dir().join("node_modules").join(".bin")
}

fn terser_dir() -> PathBuf {
    workspace::cache_dir().join("terser")
}

fn terser_bin_dir() -> PathBuf {
    terser_dir().join("node_modules").join(".bin")
}

/// A command for a tool setup installed: its directories go in front of `PATH`, for the tool and its children
/// (trunk looks up wasm-bindgen and wasm-opt on `PATH`; the glue step, terser).
pub fn command(program: &str) -> Command {
    let mut command = workspace::command(program);
    command.env("PATH", workspace::path_with(&[binaryen_bin_dir(), terser_bin_dir(), workspace::cargo_bin_dir()]));
    command
}

/// The version of `package` recorded in a `Cargo.lock`.
fn locked_version(lock: &str, package: &str) -> Option<String> {
    let name_line = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    lines.find(|line| line.trim() == name_line)?;
    let version = lines.next()?.trim().strip_prefix("version = \"")?;
    Some(version.strip_suffix('"')?.to_owned())
}

fn wasm_bindgen_version() -> Result<String> {
    let path = workspace::root().join("Cargo.lock");
    let lock = fs::read_to_string(&path)
        .map_err(|error| Failure::new("setup", format!("cannot read {}: {error}", path.display())))?;
    locked_version(&lock, "wasm-bindgen")
        .ok_or_else(|| Failure::new("setup", "Cargo.lock has no wasm-bindgen; it should, through huddle-client"))
}

/// Installs whatever of the SPA's toolchain is missing, printing one line per tool.
pub fn setup() -> Result {
    let tools = [
        // The target the SPA compiles to, and the standard library's source: the release SPA compiles its own std,
        // tuned for size (`spa.rs`).
        Tool::Rustup { kind: "target", name: WASM_TARGET },
        Tool::Rustup { kind: "component", name: "rust-src" },
        Tool::Crates { what: "the workspace", manifest: workspace::root().join("Cargo.toml") },
        Tool::Crates { what: "std (rust-src)", manifest: std_manifest()? },
        Tool::Trunk,
        Tool::WasmBindgen { version: wasm_bindgen_version()? },
        Tool::WasmOpt,
        Tool::Terser,
    ];
    install(tools)
}

/// Installs what the end-to-end tests need besides Debian's packages (geckodriver), if it is missing.
pub fn setup_tests() -> Result {
    install([Tool::Geckodriver])
}

/// Installs each of `tools` that is missing, printing one line per tool.
fn install(tools: impl IntoIterator<Item = Tool>) -> Result {
    for tool in tools {
        let label = tool.label();
        if tool.is_installed() {
            println!("{label:<32} present");
            continue;
        }
        println!("{label:<32} installing…");
        let start = Instant::now();
        tool.install()?;
        if !tool.is_installed() {
            return Err(Failure::new(
                format!("install {label}"),
                "the install finished, but the tool still does not report the expected version",
            ));
        }
        println!("{label:<32} installed in {}", runner::human_duration(start.elapsed()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_words_are_read_from_the_first_line() {
        assert_eq!(version_word("trunk 0.21.14\n", 1), Some("0.21.14"));
        assert_eq!(version_word("wasm-bindgen 0.2.130", 1), Some("0.2.130"));
        assert_eq!(version_word("wasm-opt version 132 (version_132)\nmore", 2), Some("132"));
        assert_eq!(version_word("", 1), None);
    }

    #[test]
    fn locked_versions_come_from_the_package_entry() {
        let lock = "\
[[package]]
name = \"wasm-bindgen-macro\"
version = \"0.2.130\"

[[package]]
name = \"wasm-bindgen\"
version = \"0.2.130\"
source = \"registry+https://github.com/rust-lang/crates.io-index\"
";
        assert_eq!(locked_version(lock, "wasm-bindgen").as_deref(), Some("0.2.130"));
        assert_eq!(locked_version(lock, "yew"), None);
    }

    #[test]
    fn the_workspace_lock_pins_the_wasm_bindgen_the_client_asks_for() {
        let manifest = fs::read_to_string(workspace::root().join("client/Cargo.toml")).unwrap();
        let version = wasm_bindgen_version().unwrap();
        assert!(
            manifest.contains(&format!("wasm-bindgen = \"={version}\"")),
            "client/Cargo.toml should pin wasm-bindgen = \"={version}\""
        );
    }

    #[test]
    fn trunk_checks_the_same_binaryen_that_setup_installs() {
        let trunk_toml = fs::read_to_string(workspace::root().join("Trunk.toml")).unwrap();
        assert!(trunk_toml.contains(&format!("wasm_opt = \"version_{BINARYEN_VERSION}\"")));
    }
}
