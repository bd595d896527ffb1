//! What the app remembers between visits (local storage): the display name, the chosen devices and the bytes of
//! files received per call.
//!
//! Each value is stored as a JSON string (`"Ada"`), the format of the earlier versions, so what they remembered
//! still reads.

use wasm_bindgen::JsValue;

use crate::call::devices::DeviceChoice;

const NAME: &str = "huddle.name";
const CAMERA: &str = "huddle.camera";
const MIC: &str = "huddle.mic";
const SPEAKER: &str = "huddle.speaker";
const RECEIVE_LIMIT: &str = "huddle.receive_limit";

/// The name used last time.
pub fn name() -> String {
    get(NAME).unwrap_or_default()
}

/// Remembers the name.
pub fn set_name(name: &str) {
    set(NAME, Some(name.trim()));
}

/// The devices chosen last time.
pub fn devices() -> DeviceChoice {
    DeviceChoice { camera: get(CAMERA), mic: get(MIC) }
}

/// Remembers the devices.
pub fn set_devices(choice: &DeviceChoice) {
    set(CAMERA, choice.camera.as_deref());
    set(MIC, choice.mic.as_deref());
}

/// The speaker chosen last time.
pub fn speaker() -> Option<String> {
    get(SPEAKER)
}

/// Remembers the speaker.
pub fn set_speaker(id: &str) {
    set(SPEAKER, Some(id));
}

/// The bytes of files received per call, as last chosen (one of the settings' choices), or the default.
pub fn receive_limit() -> u64 {
    crate::call::transfer::receive_limit(get(RECEIVE_LIMIT).as_deref())
}

/// Remembers the bytes of files received per call.
pub fn set_receive_limit(limit: u64) {
    set(RECEIVE_LIMIT, Some(&limit.to_string()));
}

/// Local storage; `None` where the browser refuses it (some private modes), and then nothing is remembered.
fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

fn get(key: &str) -> Option<String> {
    let stored = storage()?.get_item(key).ok()??;
    js_sys::JSON::parse(&stored).ok()?.as_string()
}

/// Stores `value` under `key`, or forgets `key` for `None`.
fn set(key: &str, value: Option<&str>) {
    let Some(storage) = storage() else { return };
    // Failures (a full storage) only mean it is not remembered.
    match value {
        Some(value) => {
            if let Ok(json) = js_sys::JSON::stringify(&JsValue::from_str(value)) {
                let _ = storage.set_item(key, &String::from(json));
            }
        }
        None => {
            let _ = storage.remove_item(key);
        }
    }
}
