//! What the SPA weighs as a browser downloads it on a first visit: `index.html` and every file it loads (the
//! JavaScript glue, the wasm, the stylesheet, the icon), each in the encoding the relay serves it in (the `.br` and
//! `.gz` copies `precompress` wrote), and the budget that first load must stay within.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use crate::precompress::{self, Encoding};
use crate::runner::{Failure, Result};
use crate::{spa, workspace};

const STEP: &str = "size";

/// What a first visit may download, brotli-compressed as served, in bytes: `cargo xtask size` and CI fail past it.
pub const BUDGET_BROTLI_BYTES: u64 = 150_000;

/// `cargo xtask size`: builds the SPA, prints what it weighs and fails if it is over the budget.
pub fn size() -> Result {
    spa::build()?;
    check()
}

/// Prints the weight of `dist/` and fails if its first load is over the budget (`cargo xtask test` runs this after
/// its build).
pub fn check() -> Result {
    match report()? {
        Verdict::Within { .. } => Ok(()),
        over @ Verdict::Over { .. } => Err(Failure::new(STEP, over.to_string())),
    }
}

/// Prints the weight of each file of the first load, their total, and how that compares to the budget.
pub fn report() -> Result<Verdict> {
    let dist = workspace::dist();
    let mut rows = Vec::new();
    for path in first_load(&dist)? {
        let weight = Weight::of(&path).map_err(|reason| Failure::new(STEP, reason))?;
        rows.push((path.file_name().unwrap_or_default().to_string_lossy().into_owned(), weight));
    }
    let total = rows.iter().fold(Weight::default(), |sum, (_, weight)| sum + *weight);
    print!("{}", table(&rows, total));
    let verdict = budget_verdict(total, BUDGET_BROTLI_BYTES);
    println!("size: {verdict}");
    Ok(verdict)
}

/// What a browser downloads on a first visit: `index.html`, then every file of `dist` that it names (trunk writes
/// each as `/name`), sorted. Fails if trunk left out the page or either kind of code.
fn first_load(dist: &Path) -> Result<Vec<PathBuf>> {
    let fail = |reason: String| Failure::new(STEP, reason);
    let index = dist.join("index.html");
    let html = fs::read_to_string(&index).map_err(|error| {
        fail(format!("cannot read {} (build it with `cargo xtask build`): {error}", index.display()))
    })?;
    let mut files: Vec<PathBuf> = fs::read_dir(dist)
        .map_err(|error| fail(format!("cannot list {}: {error}", dist.display())))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_file() && !precompress::is_compressed_copy(path))
        .filter(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            name == "index.html" || html.contains(&format!("/{name}"))
        })
        .collect();
    files.sort();
    for extension in ["wasm", "js"] {
        if !files.iter().any(|path| path.extension().is_some_and(|e| e == extension)) {
            return Err(fail(format!("{} loads no .{extension}", index.display())));
        }
    }
    Ok(files)
}

/// A file's size in bytes as stored, and as sent to a browser that accepts gzip, or brotli: its compressed copy,
/// or the file itself where there is none.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Weight {
    raw: u64,
    gzip: u64,
    brotli: u64,
}

impl Weight {
    fn of(path: &Path) -> std::result::Result<Self, String> {
        let len = |path: &Path| fs::metadata(path).map(|metadata| metadata.len());
        let raw = len(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        let served = |encoding: Encoding| len(&encoding.copy_of(path)).unwrap_or(raw);
        Ok(Self { raw, gzip: served(Encoding::Gzip), brotli: served(Encoding::Brotli) })
    }
}

impl std::ops::Add for Weight {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self { raw: self.raw + other.raw, gzip: self.gzip + other.gzip, brotli: self.brotli + other.brotli }
    }
}

/// The size table: one row per file, then the total.
fn table(rows: &[(String, Weight)], total: Weight) -> String {
    let mut out = format!("{:<44} {:>11} {:>11} {:>11}\n", "first load, dist/ (bytes)", "raw", "gzip -9", "brotli");
    for (name, weight) in rows.iter().map(|(name, weight)| (name.as_str(), weight)).chain([("total", &total)]) {
        let Weight { raw, gzip, brotli } = *weight;
        let _ = writeln!(out, "{name:<44} {:>11} {:>11} {:>11}", grouped(raw), grouped(gzip), grouped(brotli));
    }
    out
}

/// Whether the first load fits its budget (brotli, what every current browser accepts), with its gzip weight beside.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    Within { total: Weight, budget: u64 },
    Over { total: Weight, budget: u64 },
}

/// The budget is the most a first load may weigh: reaching it exactly still passes.
fn budget_verdict(total: Weight, budget: u64) -> Verdict {
    if total.brotli <= budget {
        Verdict::Within { total, budget }
    } else {
        Verdict::Over { total, budget }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (total, budget) = match self {
            Verdict::Within { total, budget } | Verdict::Over { total, budget } => (total, *budget),
        };
        write!(f, "a first visit downloads {} bytes brotli ({} gzip), ", grouped(total.brotli), grouped(total.gzip))?;
        match self {
            Verdict::Within { .. } => write!(
                f,
                "within the budget of {} bytes brotli ({} to spare)",
                grouped(budget),
                grouped(budget - total.brotli)
            ),
            Verdict::Over { .. } => write!(
                f,
                "over the budget of {} bytes brotli by {} (it must stay within)",
                grouped(budget),
                grouped(total.brotli - budget)
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

    fn weight(raw: u64, gzip: u64, brotli: u64) -> Weight {
        Weight { raw, gzip, brotli }
    }

    #[test]
    fn a_first_load_within_the_budget_passes() {
        let total = weight(400_000, 140_000, 120_000);
        assert_eq!(budget_verdict(total, 150_000), Verdict::Within { total, budget: 150_000 });
        assert_eq!(
            budget_verdict(total, 150_000).to_string(),
            "a first visit downloads 120,000 bytes brotli (140,000 gzip), within the budget of 150,000 bytes brotli \
             (30,000 to spare)"
        );
        let exactly = weight(400_000, 170_000, 150_000);
        assert!(matches!(budget_verdict(exactly, 150_000), Verdict::Within { .. }));
    }

    #[test]
    fn a_first_load_over_the_budget_fails_naming_both_figures() {
        let total = weight(800_000, 258_082, 206_412);
        assert_eq!(budget_verdict(total, 150_000), Verdict::Over { total, budget: 150_000 });
        assert_eq!(
            budget_verdict(total, 150_000).to_string(),
            "a first visit downloads 206,412 bytes brotli (258,082 gzip), over the budget of 150,000 bytes brotli by \
             56,412 (it must stay within)"
        );
    }

    #[test]
    fn the_help_states_the_budget() {
        assert!(crate::HELP.contains(&format!("{} bytes", grouped(BUDGET_BROTLI_BYTES))));
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
        let js = weight(75_405, 12_106, 10_511);
        let wasm = weight(621_523, 245_976, 195_901);
        let rows = [("app.js".to_owned(), js), ("app_bg.wasm".to_owned(), wasm)];
        let total = js + wasm;
        assert_eq!(total, weight(696_928, 258_082, 206_412));
        let table = table(&rows, total);
        let last = table.lines().last().unwrap();
        assert_eq!(last.split_whitespace().collect::<Vec<_>>(), ["total", "696,928", "258,082", "206,412"]);
        assert_eq!(table.lines().count(), 4);
    }

    #[test]
    fn the_first_load_is_the_page_and_what_it_names_as_served() {
        let dist = std::env::temp_dir().join(format!("xtask-size-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dist);
        fs::create_dir_all(&dist).unwrap();
        let html = r#"<link rel="icon" href="/icon-1a.svg"><script type="module">import init from '/app-2b.js';
            init('/app-2b_bg.wasm')</script>"#;
        fs::write(dist.join("index.html"), html).unwrap();
        fs::write(dist.join("app-2b.js"), "export default function init() {}\n".repeat(500)).unwrap();
        fs::write(dist.join("app-2b_bg.wasm"), [0u8; 5_000]).unwrap();
        fs::write(dist.join("icon-1a.svg"), "<svg/>").unwrap();
        // Not loaded by the page: not part of a first visit.
        fs::write(dist.join("_headers"), "/*\n  X-Content-Type-Options: nosniff\n").unwrap();
        precompress::precompress(&dist).unwrap();

        let names: Vec<_> = first_load(&dist)
            .unwrap()
            .iter()
            .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["app-2b.js", "app-2b_bg.wasm", "icon-1a.svg", "index.html"]);
        let wasm = Weight::of(&dist.join("app-2b_bg.wasm")).unwrap();
        assert_eq!(wasm.raw, 5_000);
        assert_eq!(wasm.gzip, fs::metadata(dist.join("app-2b_bg.wasm.gz")).unwrap().len());
        assert_eq!(wasm.brotli, fs::metadata(dist.join("app-2b_bg.wasm.br")).unwrap().len());
        assert!(wasm.brotli < 100, "{wasm:?}");
        // Too small to gain from compression: served, and counted, as it is.
        assert_eq!(Weight::of(&dist.join("icon-1a.svg")).unwrap(), weight(6, 6, 6));
        fs::remove_dir_all(&dist).unwrap();
    }

    #[test]
    fn a_page_that_loads_no_wasm_is_refused() {
        let dist = std::env::temp_dir().join(format!("xtask-size-nowasm-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dist);
        fs::create_dir_all(&dist).unwrap();
        fs::write(dist.join("index.html"), "<script src=\"/app.js\"></script>").unwrap();
        fs::write(dist.join("app.js"), "1").unwrap();
        let failure = first_load(&dist).unwrap_err().to_string();
        assert!(failure.contains("loads no .wasm"), "{failure}");
        fs::remove_dir_all(&dist).unwrap();
    }
}
