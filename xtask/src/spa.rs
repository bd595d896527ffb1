//! Building the SPA with trunk (what it weighs is `size`'s business).

use std::process::Command;

use crate::runner::{self, Result};
use crate::{glue, precompress, tools, workspace};

const STEP: &str = "build the SPA";

/// Installs the toolchain if needed and builds the release SPA into `dist/`, with the standard library tuned for size
/// (`with_std_for_size`), then shrinks wasm-bindgen's glue (`glue.rs`) and writes the compressed copies the relay
/// serves (`precompress.rs`).
pub fn build() -> Result {
    tools::setup()?;
    let mut trunk = tools::command("trunk");
    trunk.args(["build", "--release", "--offline"]);
    runner::run(STEP, with_std_for_size(&mut trunk))?;
    let dist = workspace::dist();
    glue::shrink(&dist)?;
    precompress::precompress(&dist)
}

/// Makes the cargo that `command` (trunk) runs compile the standard library with the SPA instead of linking the
/// prebuilt one, so that it is built for size and without panic messages (what that saves: docs/SIZE.md):
///
/// - `build-std`, with std's `optimize_for_size` feature: std is optimised for size like the SPA;
/// - `panic = "immediate-abort"` for the `wasm-release` profile: a panic traps at once. Gone with it are
///   the panic messages, their source locations and the formatting code only they used, in the SPA's code, Yew's
///   and std's alike. What a user sees does not change: with `panic = "abort"` a panic already stopped the app,
///   and only printed its message to the developer console (Yew's panic hook) first.
///
/// Both are unstable cargo features. `RUSTC_BOOTSTRAP=1` unlocks them on the stable toolchain the rest of the
/// workspace uses (the Linux kernel builds its Rust the same way). They are set here, for this build only: a
/// plain `trunk build --release` stays an ordinary stable build, heavier and with panic messages, and every other
/// build and check (clippy on wasm32, the host tests) never sees them. If a new toolchain renames them, this build
/// fails with cargo's error naming the setting.
fn with_std_for_size(command: &mut Command) -> &mut Command {
    command
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_UNSTABLE_BUILD_STD", "std,panic_abort")
        .env("CARGO_UNSTABLE_BUILD_STD_FEATURES", "optimize_for_size")
        .env("CARGO_UNSTABLE_PANIC_IMMEDIATE_ABORT", "true")
        .env("CARGO_PROFILE_WASM_RELEASE_PANIC", "immediate-abort")
}
