//! What the SPA weighs: each `.wasm` and `.js` in `dist/`, raw, `gzip -9` and brotli (what browsers download), and
//! the budget the whole app must stay under.

use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::runner::{Failure, Result};
use crate::{spa, workspace};

const STEP: &str = "size";

/// What the app's code (wasm and JavaScript together) may weigh gzipped, in bytes: `cargo xtask size` and CI fail
/// when it reaches this.
pub const BUDGET_GZIP_BYTES: u64 = 150_000;

/// `cargo xtask size`: builds the SPA, prints what it weighs and fails if it reaches the budget.
pub fn size() -> Result {
    spa::build()?;
    check()
}

/// Prints the weight of `dist/` and fails if its code reaches the budget (`cargo xtask test` runs this after its
/// build).
pub fn check() -> Result {
    match report()? {
        Verdict::Under { .. } => Ok(()),
        over @ Verdict::Over { .. } => Err(Failure::new(STEP, over.to_string())),
    }
}

/// Prints the weight of each `.wasm` and `.js` in `dist/`, of all of them, and how that compares to the budget.
pub fn report() -> Result<Verdict> {
    let dist = workspace::dist();
    let files = code_files(&dist)?;
    let mut rows = Vec::new();
    for path in &files {
        let weight = Weight::of(path).map_err(|reason| Failure::new(STEP, reason))?;
        rows.push((path.file_name().unwrap_or_default().to_string_lossy().into_owned(), weight));
    }
    let total = rows.iter().fold(Weight::default(), |sum, (_, weight)| sum + *weight);
    print!("{}", table(&rows, total));
    let verdict = budget_verdict(total.gzip, BUDGET_GZIP_BYTES);
    println!("size: {verdict}");
    Ok(verdict)
}

/// The `.wasm` and `.js` files of `dist`, sorted; fails if trunk left out the page or either kind of code.
fn code_files(dist: &Path) -> Result<Vec<PathBuf>> {
    let fail = |reason: String| Failure::new(STEP, reason);
    if !dist.join("index.html").is_file() {
        return Err(fail(format!("no index.html in {} (build it with `cargo xtask build`)", dist.display())));
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
    Ok(code)
}

/// A file's size in bytes: as stored, and compressed the way a server would send it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Weight {
    raw: u64,
    gzip: u64,
    brotli: u64,
}

impl Weight {
    fn of(path: &Path) -> std::result::Result<Self, String> {
        let raw = fs::metadata(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?.len();
        let gzip = compressed_len("gzip", &["-9", "-c"], path)?;
        // Quality 11, the highest: what a server precompressing its static files would use.
        let brotli = compressed_len("brotli", &["-q", "11", "-c"], path)?;
        Ok(Self { raw, gzip, brotli })
    }
}

impl std::ops::Add for Weight {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self { raw: self.raw + other.raw, gzip: self.gzip + other.gzip, brotli: self.brotli + other.brotli }
    }
}

/// The size of `path` compressed by `program` (gzip or brotli, from the system: xtask has no dependencies).
fn compressed_len(program: &str, args: &[&str], path: &Path) -> std::result::Result<u64, String> {
    let failed = |why: String| format!("cannot {program} {}: {why}", path.display());
    let spawned = workspace::command(program).args(args).arg(path).stdout(Stdio::piped()).spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(failed(format!("`{program}` is not installed (`.ci/run` installs it)")));
        }
        Err(error) => return Err(failed(error.to_string())),
    };
    let mut compressed = Vec::new();
    child.stdout.take().expect("stdout is piped").read_to_end(&mut compressed).map_err(|e| failed(e.to_string()))?;
    let status = child.wait().map_err(|error| failed(error.to_string()))?;
    if status.success() {
        Ok(compressed.len() as u64)
    } else {
        Err(failed(format!("{program} exited with {status}")))
    }
}

/// The size table: one row per file, then the total.
fn table(rows: &[(String, Weight)], total: Weight) -> String {
    let mut out = format!("{:<44} {:>11} {:>11} {:>11}\n", "dist/ (bytes)", "raw", "gzip -9", "brotli");
    for (name, weight) in rows.iter().map(|(name, weight)| (name.as_str(), weight)).chain([("total", &total)]) {
        let Weight { raw, gzip, brotli } = *weight;
        let _ = writeln!(out, "{name:<44} {:>11} {:>11} {:>11}", grouped(raw), grouped(gzip), grouped(brotli));
    }
    out
}

/// Whether the app's gzipped code fits its budget.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    Under { gzip: u64, budget: u64 },
    Over { gzip: u64, budget: u64 },
}

/// The budget is a ceiling the code must stay under: reaching it is already too much.
fn budget_verdict(gzip: u64, budget: u64) -> Verdict {
    if gzip < budget {
        Verdict::Under { gzip, budget }
    } else {
        Verdict::Over { gzip, budget }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Verdict::Under { gzip, budget } => write!(
                f,
                "wasm + JS weigh {} bytes gzipped, under the budget of {} bytes ({} to spare)",
                grouped(gzip),
                grouped(budget),
                grouped(budget - gzip)
            ),
            Verdict::Over { gzip, budget } => write!(
                f,
                "wasm + JS weigh {} bytes gzipped, over the budget of {} bytes by {} (it must stay under)",
                grouped(gzip),
                grouped(budget),
                grouped(gzip - budget)
            ),
        }
    }
}

/// `1234567` → `1,234,567`.
fn grouped(bytes: u64) -> String {
    let digits = bytes.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    // A comma goes before each digit with a multiple of three digits after it.
    let phase = digits.len() % 3;
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && i % 3 == phase {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_under_the_budget_passes() {
        assert_eq!(budget_verdict(149_999, 150_000), Verdict::Under { gzip: 149_999, budget: 150_000 });
        assert_eq!(
            budget_verdict(120_000, 150_000).to_string(),
            "wasm + JS weigh 120,000 bytes gzipped, under the budget of 150,000 bytes (30,000 to spare)"
        );
    }

    #[test]
    fn code_at_or_over_the_budget_fails_naming_both_figures() {
        assert_eq!(budget_verdict(150_000, 150_000), Verdict::Over { gzip: 150_000, budget: 150_000 });
        assert_eq!(
            budget_verdict(258_082, 150_000).to_string(),
            "wasm + JS weigh 258,082 bytes gzipped, over the budget of 150,000 bytes by 108,082 (it must stay under)"
        );
    }

    #[test]
    fn the_help_states_the_budget() {
        assert!(crate::HELP.contains(&format!("budget {} bytes", grouped(BUDGET_GZIP_BYTES))));
    }

    #[test]
    fn byte_counts_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(150_000), "150,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn the_table_sums_the_files() {
        let js = Weight { raw: 75_405, gzip: 12_106, brotli: 10_511 };
        let wasm = Weight { raw: 621_523, gzip: 245_976, brotli: 195_901 };
        let rows = [("app.js".to_owned(), js), ("app_bg.wasm".to_owned(), wasm)];
        let total = js + wasm;
        assert_eq!(total, Weight { raw: 696_928, gzip: 258_082, brotli: 206_412 });
        let table = table(&rows, total);
        let last = table.lines().last().unwrap();
        assert_eq!(last.split_whitespace().collect::<Vec<_>>(), ["total", "696,928", "258,082", "206,412"]);
        assert_eq!(table.lines().count(), 4);
    }

    #[test]
    fn compressors_shrink_repetitive_text() {
        let path = std::env::temp_dir().join(format!("xtask-size-{}.txt", std::process::id()));
        fs::write(&path, "huddle ".repeat(10_000)).unwrap();
        let weight = Weight::of(&path);
        fs::remove_file(&path).unwrap();
        let weight = weight.unwrap();
        assert_eq!(weight.raw, 70_000);
        assert!(weight.gzip > 0 && weight.gzip < 2_000, "{weight:?}");
        assert!(weight.brotli > 0 && weight.brotli < 2_000, "{weight:?}");
    }
}
