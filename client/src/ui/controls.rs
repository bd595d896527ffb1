//! The controls the lobby and the call screen share: the microphone and camera switches, the device pickers, and
//! the room's link for the copy button.

use huddle_common::RoomId;
use yew::prelude::*;

use crate::rtc::media::Device;
use crate::ui::icon::{icon, Icon};

/// The room's link, as shared.
pub fn share_link(room: &RoomId) -> String {
    let origin = web_sys::window().and_then(|window| window.location().origin().ok()).unwrap_or_default();
    format!("{origin}/r/{room}")
}

/// What a [`device_toggle`] switches.
#[derive(Clone, Copy)]
pub enum Switch {
    /// The microphone (`#toggle-mic`).
    Mic,
    /// The camera (`#toggle-camera`).
    Camera,
}

/// A mic or camera switch: `aria-pressed` is true while the device is on.
pub fn device_toggle(switch: Switch, on: bool, disabled: bool, onclick: Callback<MouseEvent>) -> Html {
    let (id, label_on, label_off, icon_on, icon_off) = match switch {
        Switch::Mic => ("toggle-mic", "Mute microphone", "Unmute microphone", Icon::Mic, Icon::MicOff),
        Switch::Camera => ("toggle-camera", "Turn camera off", "Turn camera on", Icon::Camera, Icon::CameraOff),
    };
    let label = if on { label_on } else { label_off };
    html! {
        <button {id} type="button" class={classes!("round", (!on).then_some("off"))} aria-pressed={on.to_string()}
            aria-label={label} title={label} {disabled} {onclick}>
            { icon(if on { icon_on } else { icon_off }) }
        </button>
    }
}

/// A camera or microphone picker; devices without a label are numbered.
pub fn device_picker(
    id: &'static str,
    label: &'static str,
    devices: &[Device],
    selected: Option<&str>,
    onchange: Callback<Event>,
) -> Html {
    html! {
        <label class="field">
            <span>{ label }</span>
            <select {id} {onchange} disabled={devices.is_empty()}>
                if devices.is_empty() {
                    <option>{ "None found" }</option>
                }
                { for devices.iter().enumerate().map(|(index, device)| {
                    let name = if device.label.is_empty() { format!("{label} {}", index + 1) } else { device.label.clone() };
                    let selected = selected == Some(device.id.as_str());
                    html! { <option value={device.id.clone()} {selected}>{ name }</option> }
                }) }
            </select>
        </label>
    }
}
