//! Where things are: the workspace root, the tool directories, and commands set up to run in them.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root (the parent of `xtask/`).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives one level below the workspace root")
}

/// The SPA's build output, as named in `Trunk.toml`.
pub fn dist() -> PathBuf {
    root().join("dist")
}

fn home() -> PathBuf {
    env::var_os("HOME").map(PathBuf::from).unwrap_or_default()
}

/// Huddle's own cache of tools that do not install through cargo (`~/.cache/huddle`).
pub fn cache_dir() -> PathBuf {
    env::var_os("XDG_CACHE_HOME").map(PathBuf::from).unwrap_or_else(|| home().join(".cache")).join("huddle")
}

/// Where `cargo install` puts binaries.
pub fn cargo_bin_dir() -> PathBuf {
    env::var_os("CARGO_HOME").map(PathBuf::from).unwrap_or_else(|| home().join(".cargo")).join("bin")
}

/// `PATH` with the given directories in front, so the tools setup installed win over anything else.
pub fn path_with(dirs: &[PathBuf]) -> OsString {
    let inherited = env::var_os("PATH").unwrap_or_default();
    let all = dirs.iter().cloned().chain(env::split_paths(&inherited));
    env::join_paths(all).expect("tool directories contain no path separator")
}

/// A command run in the workspace root.
pub fn command(program: &str) -> Command {
    let mut command = Command::new(program);
    command.current_dir(root());
    command
}

/// The cargo that runs xtask (cargo sets `CARGO`), so nested builds use the same toolchain.
pub fn cargo() -> Command {
    let mut command = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root());
    command
}
