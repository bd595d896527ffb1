//! Reads `RTCPeerConnection.getStats()` into a [`Snapshot`]: the report is a Map-like object of stats objects;
//! only the fields `call::stats::fields_for` names are copied out, the rest is plain Rust.

use std::cell::RefCell;

use js_sys::{Array, Map, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::RtcPeerConnection;

use crate::call::stats::{fields_for, Snapshot, StatValue, StatsEntry};

/// Milliseconds on the page's clock (the clock stats timestamps use), for timing and as a fallback timestamp.
pub fn now_ms() -> f64 {
    web_sys::window().and_then(|window| window.performance()).map_or_else(js_sys::Date::now, |p| p.now())
}

/// Asks the browser for a stats report of each connection, all at once (gathered off the page's main thread); each
/// is a report for [`snapshot`] or why there is none.
pub async fn reports(connections: &[RtcPeerConnection]) -> Vec<Result<JsValue, JsValue>> {
    let asked: Array = connections.iter().map(|pc| JsValue::from(pc.get_stats())).collect();
    // `allSettled` itself never fails.
    let settled = JsFuture::from(Promise::all_settled(&asked)).await.unwrap_or_default();
    Array::from(&settled)
        .iter()
        .map(|outcome| {
            let read = |name: &str| Reflect::get(&outcome, &JsValue::from_str(name)).unwrap_or_default();
            if read("status") == "fulfilled" {
                Ok(read("value"))
            } else {
                Err(read("reason"))
            }
        })
        .collect()
}

/// Reads a report from [`report`]: the page's own work, kept apart so it can be timed.
pub fn snapshot(report: &JsValue) -> Snapshot {
    Snapshot::from_entries(&entries(report), now_ms())
}

/// The entries of an `RTCStatsReport`, with the fields worth reading.
fn entries(report: &JsValue) -> Vec<StatsEntry> {
    let mut entries = Vec::new();
    // `RTCStatsReport` is map-like: its `values()`, gathered by `Array.from` in one call. Its `forEach`, calling back
    // into the wasm for each entry, held the page two to four times as long (profiled in calls of four).
    for value in Array::from(&report.unchecked_ref::<Map>().values()).iter() {
        let read = |name: &'static str| Reflect::get(&value, &key(name)).unwrap_or_default();
        let Some(kind) = read("type").as_string() else { continue };
        let wanted = fields_for(&kind);
        if wanted.is_empty() {
            continue;
        }
        let Some(id) = read("id").as_string() else { continue };
        let mut entry = StatsEntry::new(&id, &kind);
        for name in wanted {
            let field = read(name);
            let field = if let Some(number) = field.as_f64() {
                StatValue::Number(number)
            } else if let Some(text) = field.as_string() {
                StatValue::Text(text)
            } else if let Some(flag) = field.as_bool() {
                StatValue::Flag(flag)
            } else {
                continue;
            };
            entry.fields.push((*name, field));
        }
        entries.push(entry);
    }
    entries
}

thread_local! {
    /// The names read, as JavaScript strings: made once rather than for every field of every entry of every look.
    static KEYS: RefCell<Vec<(&'static str, JsValue)>> = const { RefCell::new(Vec::new()) };
}

/// `name` as a JavaScript string.
fn key(name: &'static str) -> JsValue {
    KEYS.with_borrow_mut(|keys| {
        // By address: the names are `fields_for`'s constants (one spelled twice there is merely cached twice).
        if let Some((_, key)) = keys.iter().find(|(known, _)| std::ptr::eq(*known, name)) {
            return key.clone();
        }
        let key = JsValue::from_str(name);
        keys.push((name, key.clone()));
        key
    })
}
