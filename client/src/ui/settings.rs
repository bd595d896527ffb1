//! Settings during a call: camera, microphone and speaker, switched without interrupting the call, and how many bytes
//! of files may be received in a call.

use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use crate::call::transfer::{format_bytes, RECEIVE_LIMITS};
use crate::rtc::engine::Engine;
use crate::rtc::media::{can_choose_speaker, list_devices, watch_devices, Device, Devices};
use crate::ui::controls::device_picker;

/// Properties of [`Settings`].
#[derive(Properties, PartialEq)]
pub struct SettingsProps {
    /// The call whose devices to switch.
    pub engine: Engine,
    /// The speaker in use (a device id), if one was chosen.
    pub speaker: Option<AttrValue>,
    /// A speaker was chosen.
    pub on_speaker: Callback<String>,
    /// Something to tell the person (a device that failed to start).
    pub on_notice: Callback<String>,
    /// Close the dialog.
    pub on_close: Callback<MouseEvent>,
}

/// The settings dialog.
#[function_component(Settings)]
pub fn settings(props: &SettingsProps) -> Html {
    let devices = use_state(Devices::default);
    // Which devices are in use, re-read after each switch.
    let revision = use_state(|| 0u32);
    {
        let devices = devices.clone();
        use_effect_with((), move |_| {
            let refresh = move || {
                let devices = devices.clone();
                spawn_local(async move { devices.set(list_devices().await) });
            };
            refresh();
            let watch = watch_devices(refresh);
            move || drop(watch)
        });
    }
    let switch = |camera: bool| {
        let (engine, on_notice, revision) = (props.engine.clone(), props.on_notice.clone(), revision.clone());
        Callback::from(move |event: Event| {
            let id = event.target_unchecked_into::<HtmlSelectElement>().value();
            let (engine, on_notice, revision) = (engine.clone(), on_notice.clone(), revision.clone());
            spawn_local(async move {
                let result = if camera { engine.switch_camera(id).await } else { engine.switch_mic(id).await };
                if let Err(why) = result {
                    on_notice.emit(why);
                }
                revision.set(*revision + 1);
            });
        })
    };
    let pick_speaker = {
        let on_speaker = props.on_speaker.clone();
        Callback::from(move |event: Event| on_speaker.emit(event.target_unchecked_into::<HtmlSelectElement>().value()))
    };
    let pick_receive_limit = {
        let engine = props.engine.clone();
        Callback::from(move |event: Event| {
            let value = event.target_unchecked_into::<HtmlSelectElement>().value();
            // Only the choices offered are taken.
            let limit = crate::call::transfer::receive_limit(Some(&value));
            crate::prefs::set_receive_limit(limit);
            engine.set_receive_limit(limit);
        })
    };
    // The same picker as the devices': each choice is an id (the bytes) and a label.
    let receive_limits: Vec<Device> =
        RECEIVE_LIMITS.iter().map(|limit| Device { id: limit.to_string(), label: format_bytes(*limit) }).collect();
    let receive_limit = crate::prefs::receive_limit().to_string();
    let received = format!("{} received in this call", format_bytes(props.engine.received_bytes()));
    let choice = props.engine.local_media().choice();
    html! {
        <div class="overlay">
            <div id="settings" class="dialog" role="dialog" aria-modal="true" aria-labelledby="settings-title">
                <h2 id="settings-title">{ "Settings" }</h2>
                { device_picker("call-camera-select", "Camera", &devices.cameras, choice.camera.as_deref(), switch(true)) }
                { device_picker("call-mic-select", "Microphone", &devices.mics, choice.mic.as_deref(), switch(false)) }
                if can_choose_speaker() {
                    { device_picker("speaker-select", "Speaker", &devices.speakers, props.speaker.as_deref(), pick_speaker) }
                }
                { device_picker("receive-limit-select", "Files you receive in a call, at most", &receive_limits,
                    Some(&receive_limit), pick_receive_limit) }
                <p class="field-note">{ received }</p>
                <button id="close-settings" class="primary" onclick={props.on_close.clone()}>{ "Done" }</button>
            </div>
        </div>
    }
}
