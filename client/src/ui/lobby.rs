//! Before joining: camera preview, mic level, device pickers, mic/camera toggles, the link to share, the name.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gloo_timers::callback::Interval;
use huddle_common::{DisplayName, RoomId};
use wasm_bindgen_futures::spawn_local;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::call::decimal::fixed;
use crate::call::refusal::sentence;
use crate::prefs;
use crate::rtc::media::{list_devices, Devices, LocalMedia, MicLevel};
use crate::ui::controls::{device_picker, device_toggle, share_link, Switch};
use crate::ui::copy_link::CopyLink;
use crate::ui::video::Video;

/// What the lobby hands to the call.
#[derive(Clone, PartialEq)]
pub struct Ready {
    /// The display name.
    pub name: String,
    /// The devices, as set up in the lobby.
    pub media: LocalMedia,
}

/// Properties of [`Lobby`].
#[derive(Properties, PartialEq)]
pub struct LobbyProps {
    /// The room about to be joined.
    pub room: RoomId,
    /// The person pressed Join.
    pub on_join: Callback<Ready>,
    /// Join was pressed and the call is starting: the lobby stays until it can be shown, its controls disabled.
    #[prop_or_default]
    pub joining: bool,
    /// Joining, and the relay could not be reached yet: it is being tried again.
    #[prop_or_default]
    pub retrying: bool,
    /// The relay refused the name, for this reason: the devices are the lobby's again, and the name field asks
    /// for another (`#name-error` under it).
    #[prop_or_default]
    pub name_refused: Option<AttrValue>,
}

/// The room's lobby.
#[function_component(Lobby)]
pub fn lobby(props: &LobbyProps) -> Html {
    let media = use_state(|| None::<LocalMedia>);
    let problem = use_state(|| None::<String>);
    let devices = use_state(Devices::default);
    let mic_on = use_state(|| true);
    let camera_on = use_state(|| true);
    let name = use_state(prefs::name);
    let name_error = use_state(|| None::<String>);
    let handed_over = use_mut_ref(|| false);
    let name_field = use_node_ref();

    // Acquire the devices once; release them on leaving the lobby unless the call took them.
    {
        let (media, problem, devices, camera_on) = (media.clone(), problem.clone(), devices.clone(), camera_on.clone());
        let handed_over = handed_over.clone();
        use_effect_with((), move |_| {
            let alive = Rc::new(Cell::new(true));
            let still = Rc::clone(&alive);
            let acquired = Rc::new(RefCell::new(None::<LocalMedia>));
            let slot = Rc::clone(&acquired);
            spawn_local(async move {
                let (local, trouble) = LocalMedia::acquire(prefs::devices()).await;
                if !still.get() {
                    local.stop();
                    return;
                }
                camera_on.set(local.video_track().is_some());
                *slot.borrow_mut() = Some(local.clone());
                media.set(Some(local));
                problem.set(trouble);
                devices.set(list_devices().await);
            });
            move || {
                alive.set(false);
                if !*handed_over.borrow() {
                    if let Some(local) = acquired.borrow_mut().take() {
                        local.stop();
                    }
                }
            }
        });
    }

    // A refused name: the call gave the devices back; the reason goes under the name field, the name is selected
    // for typing another.
    {
        let (name_error, handed_over, name_field) = (name_error.clone(), handed_over.clone(), name_field.clone());
        use_effect_with(props.name_refused.clone(), move |refused| {
            if let Some(reason) = refused {
                *handed_over.borrow_mut() = false;
                name_error.set(Some(reason.to_string()));
                if let Some(field) = name_field.cast::<HtmlInputElement>() {
                    let _ = field.focus();
                    field.select();
                }
            }
        });
    }

    // The mic level meter, drawn straight into the <meter> ten times a second (no re-render).
    let meter = use_node_ref();
    {
        let meter = meter.clone();
        // Not while joining: the call's set-up needs the page (and the processor) more than the meter does.
        use_effect_with(((*media).clone(), props.joining), move |(media, joining)| {
            let level = media.as_ref().filter(|_| !joining).and_then(|media| MicLevel::new(&media.stream()));
            let interval = level.map(|level| {
                let meter = meter.clone();
                Interval::new(100, move || {
                    if let Some(meter) = meter.cast::<web_sys::Element>() {
                        let _ = meter.set_attribute("value", &fixed(level.level(), 2));
                    }
                })
            });
            move || {
                drop(interval);
                if let Some(meter) = meter.cast::<web_sys::Element>() {
                    let _ = meter.set_attribute("value", "0");
                }
            }
        });
    }

    let toggle_mic = {
        let (media, mic_on) = (media.clone(), mic_on.clone());
        Callback::from(move |_: MouseEvent| {
            let on = !*mic_on;
            if let Some(media) = media.as_ref() {
                media.set_mic_enabled(on);
            }
            mic_on.set(on);
        })
    };
    let toggle_camera = {
        let (media, camera_on, problem) = (media.clone(), camera_on.clone(), problem.clone());
        Callback::from(move |_: MouseEvent| {
            let Some(media) = (*media).clone() else { return };
            if *camera_on {
                media.stop_camera();
                camera_on.set(false);
            } else {
                let (camera_on, problem) = (camera_on.clone(), problem.clone());
                spawn_local(async move {
                    match media.start_camera().await {
                        Ok(_) => camera_on.set(true),
                        Err(why) => problem.set(Some(why)),
                    }
                });
            }
        })
    };
    let pick_camera = {
        let (media, problem, camera_on) = (media.clone(), problem.clone(), camera_on.clone());
        Callback::from(move |event: Event| {
            let id = event.target_unchecked_into::<HtmlSelectElement>().value();
            let Some(media) = (*media).clone() else { return };
            let (problem, camera_on) = (problem.clone(), camera_on.clone());
            spawn_local(async move {
                match media.use_camera(Some(id)).await {
                    Ok(_) => camera_on.set(true),
                    Err(why) => problem.set(Some(why)),
                }
                prefs::set_devices(&media.choice());
            });
        })
    };
    let pick_mic = {
        let (media, problem) = (media.clone(), problem.clone());
        Callback::from(move |event: Event| {
            let id = event.target_unchecked_into::<HtmlSelectElement>().value();
            let Some(media) = (*media).clone() else { return };
            let problem = problem.clone();
            spawn_local(async move {
                if let Err(why) = media.use_mic(Some(id)).await {
                    problem.set(Some(why));
                }
                prefs::set_devices(&media.choice());
            });
        })
    };
    let on_name = {
        let (name, name_error) = (name.clone(), name_error.clone());
        Callback::from(move |event: InputEvent| {
            name.set(event.target_unchecked_into::<HtmlInputElement>().value());
            name_error.set(None);
        })
    };
    let join = {
        let (media, name, name_error, on_join) =
            (media.clone(), name.clone(), name_error.clone(), props.on_join.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            if *handed_over.borrow() {
                return;
            }
            let Some(media) = (*media).clone() else { return };
            match DisplayName::parse(&name) {
                Ok(valid) => {
                    prefs::set_name(valid.as_str());
                    name_error.set(None);
                    *handed_over.borrow_mut() = true;
                    on_join.emit(Ready { name: valid.as_str().to_owned(), media });
                }
                Err(why) => name_error.set(Some(sentence(&why.to_string()))),
            }
        })
    };

    let choice = media.as_ref().map(LocalMedia::choice).unwrap_or_default();
    let has_mic = media.as_ref().is_some_and(|m| m.audio_track().is_some());
    let ready = media.is_some();
    let share = share_link(&props.room);
    let no_name = name.trim().is_empty();

    html! {
        <main class="lobby">
            <section class="preview-pane">
                <div class="preview">
                    <Video id="preview" stream={media.as_ref().map(LocalMedia::stream)}
                        muted=true mirrored=true />
                    if !*camera_on {
                        <div class="preview-off">{ if ready { "Camera is off" } else { "Starting camera…" } }</div>
                    }
                </div>
                <div class="preview-controls">
                    { device_toggle(Switch::Mic, *mic_on && has_mic, !has_mic || props.joining, toggle_mic) }
                    { device_toggle(Switch::Camera, *camera_on, !ready || props.joining, toggle_camera) }
                    <label class="meter-label">
                        <span class="visually-hidden">{ "Microphone level" }</span>
                        <meter id="mic-level" ref={meter} min="0" max="1" value="0" aria-label="Microphone level" />
                    </label>
                </div>
                if let Some(problem) = &*problem {
                    <p id="media-error" class="media-error" role="alert">{ problem }</p>
                }
            </section>
            <section class="join-pane">
                <h1>{ "Ready to join?" }</h1>
                <form onsubmit={join} class="join-form">
                    <label class="field">
                        <span>{ "Your name" }</span>
                        <input id="name" ref={name_field} type="text" maxlength="32" autocomplete="nickname"
                            placeholder="How others will see you" value={(*name).clone()} oninput={on_name}
                            required=true aria-invalid={name_error.is_some().to_string()}
                            aria-describedby={name_error.is_some().then_some("name-error")} />
                    </label>
                    if let Some(error) = &*name_error {
                        <p id="name-error" class="form-error" role="alert">{ error }</p>
                    }
                    { device_picker("camera-select", "Camera", &devices.cameras, choice.camera.as_deref(), pick_camera) }
                    { device_picker("mic-select", "Microphone", &devices.mics, choice.mic.as_deref(), pick_mic) }
                    <button id="join" type="submit" class="primary big" disabled={!ready || props.joining || no_name}>
                        { if props.joining { "Joining…" } else if ready { "Join" } else { "Getting your camera…" } }
                    </button>
                    if props.joining && props.retrying {
                        <p id="join-retry" class="media-error" role="status">
                            { "Can't reach the call server yet. Trying again…" }
                        </p>
                    }
                </form>
                <div class="share">
                    <span>{ "Invite others with this link" }</span>
                    // One line that never breaks inside the code: the start gives way (an ellipsis) before the
                    // code's end does. The text is the whole link, for selecting and copying.
                    <code id="share-link">
                        <span class="share-start">{ &share[..share.len() - SHARE_TAIL] }</span>
                        <span class="share-end">{ &share[share.len() - SHARE_TAIL..] }</span>
                    </code>
                    <CopyLink link={share} />
                </div>
            </section>
        </main>
    }
}

/// How many of the link's last characters (the room code's end, ASCII) always show.
const SHARE_TAIL: usize = 10;
