//! Temporary directories (browser profiles, test pages, logs), removed when dropped.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// A fresh directory under the system temp dir, removed with its contents on drop.
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// Creates `huddle-e2e-<label>-<random>`. The name is random because every run's test binary is PID 1 in its
    /// own namespace, so a PID would not tell two runs apart.
    pub fn new(label: &str) -> Result<ScratchDir> {
        let path = std::env::temp_dir().join(format!("huddle-e2e-{label}-{:016x}", random_u64()));
        std::fs::create_dir_all(&path).map_err(|e| Error::io(format!("create {}", path.display()), e))?;
        Ok(ScratchDir(path))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes a file into the directory.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> Result<PathBuf> {
        let path = self.0.join(name);
        std::fs::write(&path, contents).map_err(|e| Error::io(format!("write {}", path.display()), e))?;
        Ok(path)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// 64 random bits from the standard library's per-process hash keys (no RNG crate needed for names).
pub fn random_u64() -> u64 {
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// A label as it can appear in a file name: lowercase letters and digits, anything else a dash.
pub(crate) fn slug(label: &str) -> String {
    label.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

/// Copies the directory `from`, with everything in it, to `to` (created if missing).
pub(crate) fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| Error::io(format!("create {}", to.display()), e))?;
    let entries = std::fs::read_dir(from).map_err(|e| Error::io(format!("read {}", from.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("read {}", from.display()), e))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if source.is_dir() {
            copy_dir(&source, &target)?;
        } else {
            std::fs::copy(&source, &target).map_err(|e| Error::io(format!("copy {}", source.display()), e))?;
        }
    }
    Ok(())
}
