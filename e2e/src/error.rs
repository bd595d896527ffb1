//! What can go wrong while driving a test, as one error type the tests propagate with `?`.

use std::path::PathBuf;
use std::time::Duration;

/// A harness or test failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Something the tests need is not on this machine or not built yet.
    #[error("{what} not found at {}: {hint}", path.display())]
    Missing {
        /// What is missing, e.g. "the built SPA".
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// How to get it.
        hint: &'static str,
    },
    /// A process could not be started, or misbehaved.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The relay exited or never said where it listens.
    #[error("relay: {0}")]
    Relay(String),
    /// chromedriver refused to open a browser.
    #[error("cannot open a browser session: {0}")]
    Session(#[from] fantoccini::error::NewSessionError),
    /// A WebDriver command failed.
    #[error("{what}: {source}")]
    WebDriver {
        /// The command, e.g. "click #join".
        what: String,
        /// chromedriver's answer.
        source: fantoccini::error::CmdError,
    },
    /// A condition did not become true in time.
    #[error("timed out after {after:?} waiting until {what}{}", last.as_deref().map(|l| format!(" (last: {l})")).unwrap_or_default())]
    Timeout {
        /// The condition, as the test described it.
        what: String,
        /// How long it waited.
        after: Duration,
        /// The last error or observation while polling, if any.
        last: Option<String>,
    },
    /// A page script returned something of an unexpected shape.
    #[error("{what}: unexpected result {value}")]
    Script {
        /// Which observation.
        what: String,
        /// What the page returned.
        value: serde_json::Value,
    },
    /// An expectation of the test did not hold.
    #[error("{0}")]
    Check(String),
}

/// The result type of harness calls and tests.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with what was being done.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { what: what.into(), source }
    }

    /// Wraps a WebDriver error with the command that failed.
    pub fn webdriver(what: impl Into<String>, source: fantoccini::error::CmdError) -> Self {
        Error::WebDriver { what: what.into(), source }
    }
}

/// Fails the test with a formatted message unless the condition holds (like `assert!`, but as an [`Error`]).
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            $crate::diagnostics::capture_failure_screens();
            return Err($crate::Error::Check(format!($($fmt)+)));
        }
    };
}
