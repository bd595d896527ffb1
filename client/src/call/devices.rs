//! Which camera and microphone the person picked: plain data, remembered between visits by `prefs` and used by
//! `rtc::media` to start the devices.

/// Which device of a kind to use; `None` is the browser's default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceChoice {
    /// The camera's device id.
    pub camera: Option<String>,
    /// The microphone's device id.
    pub mic: Option<String>,
}
