//! Compressing `dist/` ahead of time: a `.br` (brotli, quality 11) and a `.gz` (`gzip -9`) beside each file, which
//! the relay sends to browsers that accept them (and nginx's `brotli_static`/`gzip_static` do likewise). Done once
//! at build time, the highest settings cost a person nothing: the relay never compresses on the fly.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::runner::{Failure, Result};
use crate::workspace;

const STEP: &str = "precompress dist/";

/// One way of compressing a file, as browsers name it in `Accept-Encoding`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Encoding {
    /// `br`: brotli at quality 11, its highest.
    Brotli,
    /// `gzip`: at level 9, without the file's name and time (`-n`), so the same build gives the same bytes.
    Gzip,
}

impl Encoding {
    /// Both, in the order a browser that takes both gets them.
    pub const ALL: [Encoding; 2] = [Encoding::Brotli, Encoding::Gzip];

    /// The suffix of the compressed copy: `app.wasm` → `app.wasm.br`.
    pub fn suffix(self) -> &'static str {
        match self {
            Encoding::Brotli => ".br",
            Encoding::Gzip => ".gz",
        }
    }

    /// Where the compressed copy of `path` goes.
    pub fn copy_of(self, path: &Path) -> PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(self.suffix());
        PathBuf::from(name)
    }

    /// `path`'s bytes compressed this way, by the system's `brotli` or `gzip` (xtask has no dependencies).
    pub fn compress(self, path: &Path) -> std::result::Result<Vec<u8>, String> {
        let (program, args): (&str, &[&str]) = match self {
            Encoding::Brotli => ("brotli", &["-q", "11", "-c"]),
            Encoding::Gzip => ("gzip", &["-9", "-n", "-c"]),
        };
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
        child
            .stdout
            .take()
            .expect("stdout is piped")
            .read_to_end(&mut compressed)
            .map_err(|e| failed(e.to_string()))?;
        let status = child.wait().map_err(|error| failed(error.to_string()))?;
        if status.success() {
            Ok(compressed)
        } else {
            Err(failed(format!("{program} exited with {status}")))
        }
    }
}

/// Whether `path` is a compressed copy rather than a file of the app.
pub fn is_compressed_copy(path: &Path) -> bool {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    Encoding::ALL.iter().any(|encoding| name.ends_with(encoding.suffix()))
}

/// Writes the compressed copies of every file of `dist` (none of its subdirectories: trunk writes none). A copy
/// that would not be smaller than its file is not written (a tiny icon, say): the file itself is sent instead.
/// Copies left from an earlier build are replaced or removed, so none can be stale.
pub fn precompress(dist: &Path) -> Result {
    let fail = |reason: String| Failure::new(STEP, reason);
    let mut files: Vec<PathBuf> = fs::read_dir(dist)
        .map_err(|error| fail(format!("cannot list {}: {error}", dist.display())))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    let mut written = 0;
    for path in files.iter().filter(|path| !is_compressed_copy(path)) {
        let raw = fs::metadata(path).map_err(|error| fail(format!("cannot read {}: {error}", path.display())))?.len();
        for encoding in Encoding::ALL {
            let copy = encoding.copy_of(path);
            let compressed = encoding.compress(path).map_err(fail)?;
            if (compressed.len() as u64) < raw {
                fs::write(&copy, compressed)
                    .map_err(|error| fail(format!("cannot write {}: {error}", copy.display())))?;
                written += 1;
            } else if copy.exists() {
                fs::remove_file(&copy).map_err(|error| fail(format!("cannot remove {}: {error}", copy.display())))?;
            }
        }
    }
    println!("precompressed {}: {written} .br and .gz copies", dist.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-precompress-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn every_file_gets_a_smaller_copy_of_each_kind() {
        let dist = scratch("copies");
        fs::write(dist.join("app.js"), "huddle ".repeat(10_000)).unwrap();
        fs::write(dist.join("index.html"), "<p>call</p>".repeat(100)).unwrap();
        precompress(&dist).unwrap();
        for file in ["app.js", "index.html"] {
            for encoding in Encoding::ALL {
                let copy = encoding.copy_of(&dist.join(file));
                let len = fs::metadata(&copy).unwrap().len();
                assert!(len > 0 && len < 2_000, "{} weighs {len}", copy.display());
            }
        }
        // The copies are of the file, not copies of copies.
        assert!(!dist.join("app.js.br.gz").exists() && !dist.join("app.js.gz.br").exists());
        // gzip's bytes carry its magic number and no file name (-n): builds are reproducible.
        let gz = fs::read(dist.join("app.js.gz")).unwrap();
        assert_eq!(gz[..2], [0x1f, 0x8b]);
        assert_eq!(gz[3] & 0x08, 0, "FNAME flag set");
        fs::remove_dir_all(&dist).unwrap();
    }

    #[test]
    fn a_copy_that_would_not_be_smaller_is_not_written_and_a_stale_one_goes() {
        let dist = scratch("tiny");
        fs::write(dist.join("icon.svg"), "<svg/>").unwrap();
        fs::write(dist.join("icon.svg.gz"), "left from an earlier build").unwrap();
        precompress(&dist).unwrap();
        assert!(!dist.join("icon.svg.gz").exists());
        assert!(!dist.join("icon.svg.br").exists());
        fs::remove_dir_all(&dist).unwrap();
    }

    #[test]
    fn copies_are_recognised_by_their_suffix() {
        assert!(is_compressed_copy(Path::new("dist/app_bg.wasm.br")));
        assert!(is_compressed_copy(Path::new("dist/index.html.gz")));
        assert!(!is_compressed_copy(Path::new("dist/app_bg.wasm")));
        assert_eq!(Encoding::Gzip.copy_of(Path::new("d/a.js")), Path::new("d/a.js.gz"));
    }
}
