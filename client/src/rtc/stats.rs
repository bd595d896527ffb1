//! Reads `RTCPeerConnection.getStats()` into a [`Snapshot`]: the report is a Map-like object of stats objects;
//! only the fields `call::stats::fields_for` names are copied out, the rest is plain Rust.

use js_sys::{Map, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::RtcPeerConnection;

use crate::call::stats::{fields_for, Snapshot, StatValue, StatsEntry};

/// Milliseconds on the page's clock (the clock stats timestamps use), for timing and as a fallback timestamp.
pub fn now_ms() -> f64 {
    web_sys::window().and_then(|window| window.performance()).map_or_else(js_sys::Date::now, |p| p.now())
}

/// Asks the browser for a stats report of `pc` (gathered off the page's main thread).
pub async fn report(pc: &RtcPeerConnection) -> Result<JsValue, JsValue> {
    JsFuture::from(pc.get_stats()).await
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
            entry.fields.insert((*name).to_owned(), field);
        }
        entries.push(entry);
    });
    entries
}
