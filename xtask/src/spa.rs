//! Building the SPA with trunk, and reporting what it weighs.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::Stdio;

use crate::runner::{self, Failure, Result};
use crate::{tools, workspace};

const STEP: &str = "build the SPA";

/// Installs the toolchain if needed, builds `dist/` and prints the size of its code.
pub fn build() -> Result {
    tools::setup()?;
    runner::run(STEP, tools::command("trunk").args(["build", "--release", "--offline"]))?;
    report_sizes(&workspace::dist())
}

/// Prints each `.wasm` and `.js` in `dist` with its size raw and gzipped (what a browser downloads), and fails
/// if trunk left out the page or its code.
fn report_sizes(dist: &Path) -> Result {
    let fail = |reason: String| Failure::new(STEP, reason);
    if !dist.join("index.html").is_file() {
        return Err(fail(format!("no index.html in {}", dist.display())));
    }
    let mut code: Vec<_> = fs::read_dir(dist)
        .map_err(|error| fail(format!("cannot list {}: {error}", dist.display())))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| matches!(path.extension().and_then(|e| e.to_str()), Some("wasm" | "js")))
        .collect();
    code.sort();
    for extension in ["wasm", "js"] {
        if !code.iter().any(|path| path.extension().is_some_and(|e| e == extension)) {
            return Err(fail(format!("no .{extension} in {}", dist.display())));
        }
    }

    println!("{:<44} {:>10} {:>10}", "dist/", "raw", "gzip -9");
    for path in &code {
        let raw = fs::metadata(path).map_err(|error| fail(format!("cannot read {}: {error}", path.display())))?.len();
        let gzip = gzipped_len(path).map_err(|error| fail(format!("cannot gzip {}: {error}", path.display())))?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        println!("{name:<44} {:>10} {:>10}", kib(raw), kib(gzip));
    }
    Ok(())
}

/// The size of `path` after `gzip -9`; gzip is on every machine we build on, so no compression crate is needed.
fn gzipped_len(path: &Path) -> std::io::Result<u64> {
    let mut gzip = workspace::command("gzip").args(["-9", "-c"]).arg(path).stdout(Stdio::piped()).spawn()?;
    let mut compressed = Vec::new();
    gzip.stdout.take().expect("stdout is piped").read_to_end(&mut compressed)?;
    let status = gzip.wait()?;
    if status.success() {
        Ok(compressed.len() as u64)
    } else {
        Err(std::io::Error::other(format!("gzip exited with {status}")))
    }
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_shown_in_kib() {
        assert_eq!(kib(0), "0.0 KiB");
        assert_eq!(kib(1536), "1.5 KiB");
    }

    #[test]
    fn gzip_measures_compressed_size() {
        let path = std::env::temp_dir().join(format!("xtask-gzip-{}.txt", std::process::id()));
        fs::write(&path, "huddle ".repeat(10_000)).unwrap();
        let compressed = gzipped_len(&path).unwrap();
        fs::remove_file(&path).unwrap();
        assert!(compressed > 0 && compressed < 2_000, "{compressed}");
    }
}
