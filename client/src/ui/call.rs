//! The call screen: the grid of tiles, the controls and the chat panel.

use huddle_common::{PeerId, RoomId};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::KeyboardEvent;
use yew::prelude::*;

use crate::call::shortcuts::{command_for, Command, Press, SHORTCUTS};
use crate::call::state::{Action, CallState, LinkState, Phase, RemotePeer};
use crate::rtc::engine::Engine;
use crate::ui::avatar::avatar;
use crate::ui::chat::Chat;
use crate::ui::controls::{device_toggle, share_link, Switch};
use crate::ui::copy_link::CopyLink;
use crate::ui::ended::ended;
use crate::ui::icon::{icon, Icon};
use crate::ui::quality::{indicator, own_video_notice};
use crate::ui::settings::Settings;
use crate::ui::stats::StatsPanel;
use crate::ui::transfer::{transfer_panel, use_file_sending};
use crate::ui::video::Video;

/// Properties of [`Call`].
#[derive(Properties)]
pub struct CallProps {
    /// The call, joined from the lobby.
    pub engine: Engine,
    /// What the call screen shows; the engine reports into it.
    pub state: UseReducerHandle<CallState>,
    /// The room.
    pub room: RoomId,
    /// Back to the lobby (rejoin, or try another name).
    pub on_rejoin: Callback<()>,
    /// Back home.
    pub on_home: Callback<()>,
}

// Never equal: the session renders only when its state or its engine changed (the state's reducer returns the same
// state for an action that changes nothing), and either is news to the call screen. Comparing the handles would
// compare the two states field by field, costing time on each render and code for every field; comparing them by
// address would not work, as both handles read the state as it is now.
impl PartialEq for CallProps {
    fn eq(&self, _: &Self) -> bool {
        false
    }
}

/// A call in progress.
#[function_component(Call)]
pub fn call(props: &CallProps) -> Html {
    let state = props.state.clone();
    let engine = props.engine.clone();
    let file_sending = use_file_sending(Some(engine.clone()));
    // Notices fade after a few seconds.
    {
        let dispatcher = state.dispatcher();
        use_effect_with(state.notice.clone(), move |notice| {
            let timeout = notice
                .as_ref()
                .map(|_| gloo_timers::callback::Timeout::new(4_000, move || dispatcher.dispatch(Action::ClearNotice)));
            move || drop(timeout)
        });
    }

    // Shortcuts: one window listener for the call's lifetime, calling whatever the latest render set up.
    let commands = use_mut_ref(|| None::<Callback<Command>>);
    let speaker = use_state(|| crate::prefs::speaker().map(AttrValue::from));
    {
        let commands = commands.clone();
        use_effect_with((), move |_| {
            let window = web_sys::window().expect("a window");
            let listener = Closure::<dyn Fn(KeyboardEvent)>::new(move |event: KeyboardEvent| {
                let typing = event.target().and_then(|target| target.dyn_into::<web_sys::Element>().ok()).is_some_and(
                    |element| {
                        matches!(element.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                            || element.has_attribute("contenteditable")
                    },
                );
                let key = event.key();
                let press = Press {
                    key: &key,
                    shift: event.shift_key(),
                    other_modifier: event.ctrl_key() || event.alt_key() || event.meta_key(),
                    typing,
                    repeat: event.repeat(),
                };
                if let (Some(command), Some(run)) = (command_for(press), commands.borrow().as_ref()) {
                    event.prevent_default();
                    run.emit(command);
                }
            });
            let _ = window.add_event_listener_with_callback("keydown", listener.as_ref().unchecked_ref());
            move || {
                let _ = window.remove_event_listener_with_callback("keydown", listener.as_ref().unchecked_ref());
            }
        });
    }

    if let Phase::Ended(ending) = &state.phase {
        return ended(ending, &props.on_rejoin, &props.on_home);
    }

    let media = engine.local_media();
    let has_mic = media.audio_track().is_some();
    // What the controls and the shortcuts do, in one place.
    let run = {
        let (engine, state) = (engine.clone(), state.clone());
        Callback::from(move |command| match command {
            Command::Mic if has_mic => {
                let on = !state.mic_on;
                engine.set_mic(on);
                state.dispatch(Action::SetMic(on));
            }
            Command::Mic => {}
            Command::Camera => {
                // The button follows the click at once; a click while the camera is still starting turns it off
                // again.
                let on = !engine.camera_on();
                state.dispatch(Action::SetCamera(on));
                let applied = engine.set_camera(on);
                let (engine, state) = (engine.clone(), state.clone());
                spawn_local(async move {
                    if let Err(why) = applied.await {
                        state.dispatch(Action::SetCamera(engine.camera_on()));
                        state.dispatch(Action::Notice(why));
                    }
                });
            }
            Command::Screen if state.sharing => engine.stop_screen_share(),
            Command::Screen => {
                let (engine, state) = (engine.clone(), state.clone());
                spawn_local(async move {
                    if let Err(why) = engine.start_screen_share().await {
                        state.dispatch(Action::Notice(why.to_string()));
                    }
                });
            }
            Command::Chat => state.dispatch(Action::ToggleChat),
            Command::Stats => state.dispatch(Action::ToggleStats),
            Command::Settings => state.dispatch(Action::ToggleSettings),
            Command::Leave => {
                engine.leave();
                state.dispatch(Action::End(crate::call::state::Ending::Left));
            }
            Command::Help => state.dispatch(Action::ToggleHelp),
            Command::Close => state.dispatch(Action::CloseTopmost),
        })
    };
    *commands.borrow_mut() = Some(run.clone());
    let on = |command: Command| run.reform(move |_: MouseEvent| command);
    let on_speaker = {
        let speaker = speaker.clone();
        Callback::from(move |id: String| {
            crate::prefs::set_speaker(&id);
            speaker.set(Some(id.into()));
        })
    };
    let on_notice = {
        let state = state.clone();
        Callback::from(move |text: String| state.dispatch(Action::Notice(text)))
    };
    let dismiss_ice_problem = {
        let state = state.clone();
        Callback::from(move |_: MouseEvent| state.dispatch(Action::DismissIceProblem))
    };
    let send_chat = {
        let engine = engine.clone();
        Callback::from(move |text: String| engine.send_chat(text))
    };

    let remote_screens: Vec<(String, Option<web_sys::MediaStream>)> = state
        .peers
        .iter()
        .filter(|peer| peer.screen_on)
        .filter_map(|peer| engine.remote_screen(&peer.id).map(|s| (peer.id.to_string(), Some(s))))
        .collect();
    let local_screen = engine.local_screen();
    let tiles = state.peers.len() + 1 + remote_screens.len() + usize::from(local_screen.is_some());
    let my_name = engine.name();
    let screen_label = if state.sharing { "Stop sharing your screen" } else { "Share your screen" };
    let transfer_request = {
        let engine = engine.clone();
        Callback::from(move |(key, request)| engine.transfer_request(key, request))
    };
    html! {
        <main class={classes!("call", state.chat_open.then_some("with-chat"), state.stats_open.then_some("with-stats"))}>
            <section class={classes!("stage", file_sending.dragging.then_some("dropping"))} aria-label="Participants"
                ondragover={file_sending.ondragover.clone()} ondragleave={file_sending.ondragleave.clone()}
                ondrop={file_sending.ondrop.clone()}>
                if matches!(state.phase, Phase::Reconnecting) {
                    <div class="banner" role="status">{ "Connection to the server lost. Reconnecting… (your call continues)" }</div>
                }
                if let Some(problem) = state.ice_problem {
                    <div id="ice-problem" class="banner problem" role="alert" data-problem={problem.code()}>
                        <span class="banner-text">{ problem.message() }</span>
                        <button type="button" class="icon" aria-label="Dismiss" title="Dismiss"
                            onclick={dismiss_ice_problem}>{ "✕" }</button>
                    </div>
                }
                { own_video_notice(state.own_video) }
                <div class="grid" data-count={tiles.to_string()}>
                    <div class="tile local" aria-label="You">
                        <Video stream={Some(media.stream())} muted=true mirrored=true fill_toggle=true />
                        if !state.camera_on { { placeholder(state.me.as_ref(), &my_name) } }
                        { tile_label(state.me.as_ref(), &my_name, "You", state.mic_on, state.camera_on, Html::default()) }
                    </div>
                    // Each list in a fragment of its own: the grid then always has the same children, which keeps the
                    // local tile's <video> in place as people come and go. (Yew matches an unkeyed list's children
                    // from the end: a tile more or less after the local one re-created it, and a new <video> given
                    // the camera stalled the camera's frames to everyone for a second or two.)
                    <>{ for state.peers.iter().map(|peer| {
                        remote_tile(peer, engine.remote_view(&peer.id), (*speaker).clone(), &file_sending.open)
                    }) }</>
                    if let Some(stream) = local_screen {
                        <div class="tile screen local-screen" aria-label="Your screen">
                            <Video stream={Some(stream)} muted=true />
                            <div class="tile-label"><span class="tile-name">{ "Your screen" }</span></div>
                        </div>
                    }
                    <>{ for remote_screens.into_iter().map(|(id, stream)| {
                        let name = state.peers.iter().find(|peer| peer.id.as_str() == id).map(|peer| peer.name.as_str());
                        let label = format!("{}'s screen", name.unwrap_or("Someone"));
                        html! {
                            <div key={format!("screen-{id}")} class="tile screen" data-screen-of={id} aria-label={label.clone()}>
                                <Video {stream} muted=true />
                                <div class="tile-label"><span class="tile-name">{ label }</span></div>
                            </div>
                        }
                    }) }</>
                </div>
                if state.peers.is_empty() && matches!(state.phase, Phase::InCall) {
                    <p class="alone">{ "You're the only one here. Share the link to invite someone." }</p>
                }
                if file_sending.dragging {
                    <div class="drop-hint" aria-hidden="true">
                        { icon(Icon::Attach) }
                        <span>{ "Drop to send to everyone, or onto someone's tile to send to them" }</span>
                    </div>
                }
                { transfer_panel(&state.transfers, &transfer_request) }
                if let Some(notice) = &state.notice {
                    <div class="notice" role="status">{ notice }</div>
                }
            </section>
            if state.stats_open {
                <StatsPanel engine={engine.clone()} on_close={run.reform(|()| Command::Stats)}
                    peers={state.peers.iter().map(|peer| (peer.id.clone(), AttrValue::from(peer.name.to_string()))).collect::<Vec<_>>()} />
            }
            if state.chat_open {
                <Chat lines={state.chat.clone()} on_send={send_chat} on_close={on(Command::Chat)}
                    me={(state.me.clone(), AttrValue::from(my_name.clone()))} />
            }
            if state.settings_open {
                <Settings engine={engine.clone()} speaker={(*speaker).clone()} {on_speaker} {on_notice}
                    on_close={on(Command::Settings)} />
            }
            if state.help_open {
                <ShortcutHelp on_close={on(Command::Help)} />
            }
            <nav class="controls" aria-label="Call controls">
                { device_toggle(Switch::Mic, state.mic_on && has_mic, !has_mic, on(Command::Mic)) }
                { device_toggle(Switch::Camera, state.camera_on, false, on(Command::Camera)) }
                { control("toggle-screen", screen_label, screen_label, state.sharing, on(Command::Screen), icon(Icon::Screen)) }
                { control("toggle-chat", "Chat", "Chat", state.chat_open, on(Command::Chat), html! { <>
                    { icon(Icon::Chat) }
                    if state.unread > 0 {
                        <span id="chat-unread" class="badge" aria-label={format!("{} unread", state.unread)}>
                            { state.unread }
                        </span>
                    }
                </> }) }
                { control("toggle-stats", "Call statistics", "Call statistics", state.stats_open, on(Command::Stats),
                    icon(Icon::Stats)) }
                <button id="send-file" type="button" class="round" aria-label="Send a file to everyone"
                    title="Send a file to everyone" disabled={state.peers.is_empty()}
                    onclick={file_sending.open.reform(|_| None)}>
                    { icon(Icon::Attach) }
                </button>
                <CopyLink link={share_link(&props.room)} round=true />
                { control("toggle-settings", "Settings", "Settings", state.settings_open, on(Command::Settings),
                    icon(Icon::Settings)) }
                { control("toggle-help", "Keyboard shortcuts", "Keyboard shortcuts (?)", state.help_open, on(Command::Help),
                    html! { <span aria-hidden="true" class="key-hint">{ "?" }</span> }) }
                <button id="leave" type="button" class="round danger" aria-label="Leave call" title="Leave call" onclick={on(Command::Leave)}>
                    { icon(Icon::Leave) }
                </button>
            </nav>
            { file_sending.input.clone() }
        </main>
    }
}

/// A round button of the controls bar that opens or starts something: `aria-pressed` and the highlight follow
/// `pressed`.
fn control(
    id: &'static str,
    label: &'static str,
    title: &'static str,
    pressed: bool,
    onclick: Callback<MouseEvent>,
    content: Html,
) -> Html {
    html! {
        <button {id} type="button" class={classes!("round", pressed.then_some("active"))}
            aria-pressed={if pressed { "true" } else { "false" }} aria-label={label} {title} {onclick}>
            { content }
        </button>
    }
}

/// Another person's tile (keyed by them): video (or their chip, large, also while their network pauses their
/// video), chip and name, mic/camera indicators, connection state and quality, and a button to send them a file.
fn remote_tile(
    peer: &RemotePeer,
    element: Option<web_sys::HtmlVideoElement>,
    speaker: Option<AttrValue>,
    on_send_file: &Callback<Option<huddle_common::PeerId>>,
) -> Html {
    let name = peer.name.to_string();
    let send_file = {
        let id = peer.id.clone();
        on_send_file.reform(move |_| Some(id.clone()))
    };
    // While the link is down its status says so; a grade from before would be stale.
    let quality = peer.quality.filter(|_| peer.link == LinkState::Connected).map(indicator).unwrap_or_default();
    html! {
        <div key={peer.id.to_string()} class="tile" data-peer-id={peer.id.to_string()} data-state={peer.link.as_str()}
            aria-label={name.clone()}>
            <Video {element} {speaker} fill_toggle=true />
            if !peer.camera_on || peer.video_paused { { placeholder(Some(&peer.id), &name) } }
            if let Some(label) = peer.link.label() {
                <div class={classes!("tile-status", (peer.link == LinkState::Failed).then_some("bad"))}>{ label }</div>
            } else if peer.video_paused {
                <div class="tile-status tile-paused">{ "Video paused: the connection is too weak" }</div>
            }
            { tile_label(Some(&peer.id), &name, &name, peer.mic_on, peer.camera_on, quality) }
            <button type="button" class="tile-send-file" aria-label={format!("Send a file to {name}")}
                title={format!("Send a file to {name}")} onclick={send_file}>
                { icon(Icon::Attach) }
            </button>
        </div>
    }
}

/// A tile's name (`label`: "You" on our own) after the person's chip, then `extra` (a remote tile's connection
/// indicator), with icons when the microphone or the camera is off.
fn tile_label(peer: Option<&PeerId>, name: &str, label: &str, mic_on: bool, camera_on: bool, extra: Html) -> Html {
    html! {
        <div class="tile-label">
            { avatar(peer, name, false) }
            <span class="tile-name">{ label }</span>
            { extra }
            if !mic_on {
                <span class="tile-muted" title="Microphone off" role="img" aria-label="Microphone off">
                    { icon(Icon::MicOff) }
                </span>
            }
            if !camera_on {
                <span class="tile-camera-off" title="Camera off" role="img" aria-label="Camera off">
                    { icon(Icon::CameraOff) }
                </span>
            }
        </div>
    }
}

/// The person's chip, large, instead of a camera picture.
fn placeholder(peer: Option<&PeerId>, name: &str) -> Html {
    html! { <div class="tile-placeholder" aria-hidden="true">{ avatar(peer, name, true) }</div> }
}

/// Properties of [`ShortcutHelp`].
#[derive(Properties, PartialEq)]
struct ShortcutHelpProps {
    on_close: Callback<MouseEvent>,
}

/// The list of keyboard shortcuts, over the call.
#[function_component(ShortcutHelp)]
fn shortcut_help(props: &ShortcutHelpProps) -> Html {
    let close = use_node_ref();
    {
        let close = close.clone();
        use_effect_with((), move |_| {
            if let Some(button) = close.cast::<web_sys::HtmlElement>() {
                let _ = button.focus();
            }
        });
    }
    html! {
        <div class="overlay">
            <div id="shortcuts" class="dialog" role="dialog" aria-modal="true" aria-labelledby="shortcuts-title">
                <h2 id="shortcuts-title">{ "Keyboard shortcuts" }</h2>
                <dl class="shortcut-list">
                    { for SHORTCUTS.iter().map(|(keys, what)| html! {
                        <div class="shortcut"><dt><kbd>{ *keys }</kbd></dt><dd>{ *what }</dd></div>
                    }) }
                </dl>
                <button id="close-shortcuts" ref={close} class="primary" onclick={props.on_close.clone()}>{ "Close" }</button>
            </div>
        </div>
    }
}
