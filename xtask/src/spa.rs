//! Building the SPA with trunk (what it weighs is `size`'s business).

use crate::runner::{self, Result};
use crate::{glue, tools, workspace};

const STEP: &str = "build the SPA";

/// Installs the toolchain if needed and builds the release SPA into `dist/`, then shrinks wasm-bindgen's glue
/// (`glue.rs`).
pub fn build() -> Result {
    tools::setup()?;
    runner::run(STEP, tools::command("trunk").args(["build", "--release", "--offline"]))?;
    glue::shrink(&workspace::dist())
}
