//! A page's memory as the tests watch it: its JavaScript heap (array buffers included) and its WebAssembly memory,
//! read once garbage is collected (the browsers expose `gc()` to the tests), with the peaks sampled in between.

use serde::Deserialize;
use serde_json::json;

use crate::spa::Person;
use crate::{Error, Result};

/// Collects garbage until memory settles: freed array buffers are only uncounted by the collection after the one that
/// finds them dead, and that needs a turn of the event loop in between.
const SETTLE: &str = r#"
    const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
    const settle = async () => {
      for (let i = 0; i < 3; i++) {
        gc();
        await tick();
      }
      return { heap: performance.memory.usedJSHeapSize, wasm: window.__huddle_wasm_memory.buffer.byteLength };
    };
"#;

const START: &str = r#"
    const [every_ms, done] = arguments;
    settle().then((start) => {
      window.__memory = { start, peak: { ...start } };
      window.__sampler = setInterval(() => {
        window.__memory.peak.heap = Math.max(window.__memory.peak.heap, performance.memory.usedJSHeapSize);
        window.__memory.peak.wasm = Math.max(window.__memory.peak.wasm, window.__huddle_wasm_memory.buffer.byteLength);
      }, every_ms);
      done(start);
    });
"#;

const STOP: &str = r#"
    const done = arguments[arguments.length - 1];
    clearInterval(window.__sampler);
    settle().then((end) => done({ ...window.__memory, end }));
"#;

/// Bytes of a page's memory.
#[derive(Clone, Copy, Debug, Deserialize)]
pub struct Memory {
    /// The JavaScript heap in use.
    pub heap: f64,
    /// The WebAssembly memory (which never shrinks).
    pub wasm: f64,
}

/// A page's memory before, at its highest during, and after what was watched.
#[derive(Clone, Copy, Debug, Deserialize)]
pub struct MemoryRecord {
    /// Settled, when sampling started.
    pub start: Memory,
    /// The highest samples.
    pub peak: Memory,
    /// Settled, when sampling stopped.
    pub end: Memory,
}

/// Settles `person`'s page, then samples its memory every `every_ms` until [`stop_sampling`]; returns where it
/// started.
pub async fn start_sampling(person: &Person, every_ms: u32) -> Result<Memory> {
    let reply = person.eval_js_async(&format!("{SETTLE}{START}"), vec![json!(every_ms)]).await?;
    serde_json::from_value(reply).map_err(|e| Error::Check(format!("{}'s memory: {e}", person.name())))
}

/// Stops sampling `person`'s page and settles it: the whole record.
pub async fn stop_sampling(person: &Person) -> Result<MemoryRecord> {
    let reply = person.eval_js_async(&format!("{SETTLE}{STOP}"), Vec::new()).await?;
    serde_json::from_value(reply).map_err(|e| Error::Check(format!("{}'s memory: {e}", person.name())))
}
