//! What the app remembers between visits (local storage): the display name and the chosen devices.

use gloo_storage::{LocalStorage, Storage};

use crate::rtc::media::DeviceChoice;

const NAME: &str = "huddle.name";
const CAMERA: &str = "huddle.camera";
const MIC: &str = "huddle.mic";
const SPEAKER: &str = "huddle.speaker";

/// The name used last time.
pub fn name() -> String {
    LocalStorage::get(NAME).unwrap_or_default()
}

/// Remembers the name.
pub fn set_name(name: &str) {
    let _ = LocalStorage::set(NAME, name.trim());
}

/// The devices chosen last time.
pub fn devices() -> DeviceChoice {
    DeviceChoice { camera: LocalStorage::get(CAMERA).ok(), mic: LocalStorage::get(MIC).ok() }
}

/// Remembers the devices.
pub fn set_devices(choice: &DeviceChoice) {
    for (key, value) in [(CAMERA, &choice.camera), (MIC, &choice.mic)] {
        match value {
            Some(id) => {
                let _ = LocalStorage::set(key, id);
            }
            None => LocalStorage::delete(key),
        }
    }
}

/// The speaker chosen last time.
pub fn speaker() -> Option<String> {
    LocalStorage::get(SPEAKER).ok()
}

/// Remembers the speaker.
pub fn set_speaker(id: &str) {
    let _ = LocalStorage::set(SPEAKER, id);
}
