//! What happened during the running test (relay logs, browser consoles, panics), shown only when it fails.
//!
//! Tests run one at a time, so one process-wide transcript is enough. With `--nocapture` notes are printed as they
//! come instead.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

static TRANSCRIPT: Mutex<Vec<String>> = Mutex::new(Vec::new());
static LIVE: AtomicBool = AtomicBool::new(false);
static ARTIFACTS: Mutex<Option<PathBuf>> = Mutex::new(None);
static CAPTURED: AtomicBool = AtomicBool::new(false);

/// Records a line of context for the current test.
pub fn note(line: impl Into<String>) {
    let line = line.into();
    if LIVE.load(Ordering::Relaxed) {
        eprintln!("{line}");
    } else {
        TRANSCRIPT.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(line);
    }
}

/// Records a block of lines under a heading (e.g. a relay's log when it is dropped).
pub fn note_block(heading: &str, lines: impl IntoIterator<Item = String>) {
    let mut block = format!("--- {heading} ---");
    let mut any = false;
    for line in lines {
        any = true;
        block.push('\n');
        block.push_str(&line);
    }
    if any {
        note(block);
    }
}

/// Print notes immediately (`--nocapture`) rather than keeping them for a failure report.
pub fn set_live(live: bool) {
    LIVE.store(live, Ordering::Relaxed);
}

/// Takes everything noted since the last call.
pub fn take() -> Vec<String> {
    std::mem::take(&mut *TRANSCRIPT.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
}

/// Saves a screenshot of every open browser, once per test: called where a test fails (a wait times out, an
/// `ensure!` fails, a panic), while every page still shows what went wrong.
pub fn capture_failure_screens() {
    let dir = ARTIFACTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    if let Some(dir) = dir {
        if !CAPTURED.swap(true, Ordering::Relaxed) {
            for line in crate::driver::capture_screens(&dir) {
                note(line);
            }
        }
    }
}

/// Where the running test's failure screenshots go (the harness deletes the directory when the test passes).
pub(crate) fn set_artifact_dir(dir: Option<PathBuf>) {
    CAPTURED.store(false, Ordering::Relaxed);
    *ARTIFACTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = dir;
}
