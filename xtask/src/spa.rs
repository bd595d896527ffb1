//! Building the SPA with trunk (what it weighs is `size`'s business).

use crate::runner::{self, Result};
use crate::tools;

const STEP: &str = "build the SPA";

/// Installs the toolchain if needed and builds the release SPA into `dist/`.
pub fn build() -> Result {
    tools::setup()?;
    runner::run(STEP, tools::command("trunk").args(["build", "--release", "--offline"]))
}
