//! Waiting on conditions: poll often, give up after a bounded time, never sleep a fixed time and hope.

use std::fmt::Display;
use std::time::Duration;

use tokio::time::Instant;

use crate::{Error, Result};

/// How long a test waits for one condition by default; a call connects in about half a second here.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// How often a condition is checked again.
const POLL: Duration = Duration::from_millis(50);

/// Waits until `check` returns `Ok(true)`, checking every 50 ms for at most `timeout`.
///
/// An `Err` from `check` counts as "not yet" (the element may not exist yet); the last one is reported on timeout.
pub async fn wait_until(
    what: impl Display,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> Result<bool>,
) -> Result<()> {
    wait_for(what, timeout, async || Ok(check().await?.then_some(()))).await
}

/// Waits until `check` returns `Ok(Some(value))` and returns the value, like [`wait_until`].
pub async fn wait_for<T>(
    what: impl Display,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    let mut last = None;
    loop {
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(error) => last = Some(error.to_string()),
        }
        if Instant::now() >= deadline {
            crate::diagnostics::capture_failure_screens();
            return Err(Error::Timeout { what: what.to_string(), after: timeout, last });
        }
        tokio::time::sleep(POLL.min(deadline - Instant::now())).await;
    }
}
