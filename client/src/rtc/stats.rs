//! Reads `RTCPeerConnection.getStats()` into a [`Snapshot`]: the report is a Map-like object of stats objects;
//! only the fields `call::stats::fields_for` names are copied out, the rest is plain Rust.

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
    // `RTCStatsReport` is map-like: `forEach((value, key) => …)` is all that is used of `Map` here.
    report.unchecked_ref::<Map>().for_each(&mut |value: JsValue, _key: JsValue| {
        let read = |name: &str| Reflect::get(&value, &JsValue::from_str(name)).ok().and_then(|v| v.as_string());
        let (Some(id), Some(kind)) = (read("id"), read("type")) else { return };
        let wanted = fields_for(&kind);
        if wanted.is_empty() {
            return;
        }
        let mut entry = StatsEntry::new(&id, &kind);
        for name in wanted {
            let Ok(field) = Reflect::get(&value, &JsValue::from_str(name)) else { continue };
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
    });
    entries
}
