//! The call screen: the grid of tiles, the controls and the chat panel.

use huddle_common::RoomId;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::call::state::{Action, CallState, LinkState, Phase, RemotePeer};
use crate::rtc::engine::Engine;
use crate::ui::chat::Chat;
use crate::ui::copy_link::CopyLink;
use crate::ui::ended::Ended;
use crate::ui::icon::{Icon, Svg};
use crate::ui::lobby::{share_link, Ready, ToggleButton};
use crate::ui::video::Video;

/// Properties of [`Call`].
#[derive(Properties, PartialEq)]
pub struct CallProps {
    /// The relay's WebSocket URL.
    pub relay_url: AttrValue,
    /// The room.
    pub room: RoomId,
    /// Name and devices from the lobby.
    pub ready: Ready,
    /// Back to the lobby (rejoin, or try another name).
    pub on_rejoin: Callback<()>,
    /// Back home.
    pub on_home: Callback<()>,
}

/// A call in progress.
#[function_component(Call)]
pub fn call(props: &CallProps) -> Html {
    let state = use_reducer(|| {
        let media = props.ready.media.clone();
        CallState::new(media.mic_enabled(), media.video_track().is_some())
    });
    let engine = use_state(|| None::<Engine>);
    {
        let (engine, dispatcher) = (engine.clone(), state.dispatcher());
        let (relay_url, room, ready) = (props.relay_url.to_string(), props.room.clone(), props.ready.clone());
        use_effect_with((), move |_| {
            let dispatch = Callback::from(move |action| dispatcher.dispatch(action));
            let started = Engine::start(relay_url, room, ready.name, ready.media, dispatch);
            engine.set(Some(started.clone()));
            move || started.leave()
        });
    }
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

    if let Phase::Ended(ending) = &state.phase {
        return html! {
            <Ended ending={ending.clone()} on_rejoin={props.on_rejoin.clone()} on_home={props.on_home.clone()} />
        };
    }
    let Some(engine) = (*engine).clone() else { return html! {} };

    let toggle_mic = {
        let (engine, state) = (engine.clone(), state.clone());
        Callback::from(move |_: MouseEvent| {
            let on = !state.mic_on;
            engine.set_mic(on);
            state.dispatch(Action::SetMic(on));
        })
    };
    let toggle_camera = {
        let (engine, state) = (engine.clone(), state.clone());
        Callback::from(move |_: MouseEvent| {
            let on = !state.camera_on;
            let (engine, state) = (engine.clone(), state.clone());
            spawn_local(async move {
                match engine.set_camera(on).await {
                    Ok(()) => state.dispatch(Action::SetCamera(on)),
                    Err(why) => state.dispatch(Action::Notice(why)),
                }
            });
        })
    };
    let toggle_screen = {
        let (engine, state) = (engine.clone(), state.clone());
        Callback::from(move |_: MouseEvent| {
            if state.sharing {
                engine.stop_screen_share();
                return;
            }
            let (engine, state) = (engine.clone(), state.clone());
            spawn_local(async move {
                if let Err(why) = engine.start_screen_share().await {
                    state.dispatch(Action::Notice(why));
                }
            });
        })
    };
    let toggle_chat = {
        let state = state.clone();
        Callback::from(move |_: MouseEvent| state.dispatch(Action::ToggleChat))
    };
    let leave = {
        let (engine, state) = (engine.clone(), state.clone());
        Callback::from(move |_: MouseEvent| {
            engine.leave();
            state.dispatch(Action::End(crate::call::state::Ending::Left));
        })
    };
    let send_chat = {
        let engine = engine.clone();
        Callback::from(move |text: String| engine.send_chat(text))
    };

    let media = engine.local_media();
    let remote_screens: Vec<(String, Option<web_sys::MediaStream>)> = state
        .peers
        .iter()
        .filter(|peer| peer.screen_on)
        .filter_map(|peer| engine.remote_screen(&peer.id).map(|s| (peer.id.to_string(), Some(s))))
        .collect();
    let local_screen = engine.local_screen();
    let tiles = state.peers.len() + 1 + remote_screens.len() + usize::from(local_screen.is_some());
    let names: std::collections::HashMap<String, String> =
        state.peers.iter().map(|peer| (peer.id.to_string(), peer.name.to_string())).collect();
    let has_mic = media.audio_track().is_some();
    html! {
        <main class={classes!("call", state.chat_open.then_some("with-chat"))}>
            <section class="stage" aria-label="Participants">
                if state.phase == Phase::Reconnecting {
                    <div class="banner" role="status">{ "Connection to the server lost. Reconnecting… (your call continues)" }</div>
                }
                if state.phase == Phase::Joining {
                    <div class="banner" role="status">{ "Joining…" }</div>
                }
                <div class="grid" data-count={tiles.to_string()}>
                    <div class="tile local" aria-label="You">
                        <Video stream={Some(media.stream())} muted=true mirrored=true />
                        if !state.camera_on { <Avatar name={"You".to_owned()} /> }
                        <div class="tile-label">
                            <span class="tile-name">{ "You" }</span>
                            if !state.mic_on { <span class="tile-muted" title="Microphone off" role="img" aria-label="Microphone off"><Svg icon={Icon::MicOff} /></span> }
                            if !state.camera_on { <span class="tile-camera-off" title="Camera off" role="img" aria-label="Camera off"><Svg icon={Icon::CameraOff} /></span> }
                        </div>
                    </div>
                    { for state.peers.iter().map(|peer| html! {
                        <RemoteTile key={peer.id.to_string()} peer={peer.clone()} stream={engine.remote_stream(&peer.id)} />
                    }) }
                    if let Some(stream) = local_screen {
                        <div class="tile screen local-screen" aria-label="Your screen">
                            <Video stream={Some(stream)} muted=true />
                            <div class="tile-label"><span class="tile-name">{ "Your screen" }</span></div>
                        </div>
                    }
                    { for remote_screens.into_iter().map(|(id, stream)| {
                        let label = format!("{}'s screen", names.get(&id).map(String::as_str).unwrap_or("Someone"));
                        html! {
                            <div key={format!("screen-{id}")} class="tile screen" data-screen-of={id} aria-label={label.clone()}>
                                <Video {stream} muted=true />
                                <div class="tile-label"><span class="tile-name">{ label }</span></div>
                            </div>
                        }
                    }) }
                </div>
                if state.peers.is_empty() && state.phase == Phase::InCall {
                    <p class="alone">{ "You're the only one here. Share the link to invite someone." }</p>
                }
                if let Some(notice) = &state.notice {
                    <div class="notice" role="status">{ notice }</div>
                }
            </section>
            if state.chat_open {
                <Chat lines={state.chat.clone()} on_send={send_chat} on_close={toggle_chat.clone()} />
            }
            <nav class="controls" aria-label="Call controls">
                <ToggleButton id="toggle-mic" on={state.mic_on && has_mic} disabled={!has_mic} label_on="Mute microphone"
                    label_off="Unmute microphone" icon_on={Icon::Mic} icon_off={Icon::MicOff} onclick={toggle_mic} />
                <ToggleButton id="toggle-camera" on={state.camera_on} label_on="Turn camera off"
                    label_off="Turn camera on" icon_on={Icon::Camera} icon_off={Icon::CameraOff} onclick={toggle_camera} />
                <button id="toggle-screen" type="button" class={classes!("round", state.sharing.then_some("active"))}
                    aria-pressed={state.sharing.to_string()}
                    aria-label={if state.sharing { "Stop sharing your screen" } else { "Share your screen" }}
                    title={if state.sharing { "Stop sharing your screen" } else { "Share your screen" }}
                    onclick={toggle_screen}>
                    <Svg icon={Icon::Screen} />
                </button>
                <button id="toggle-chat" type="button" class={classes!("round", state.chat_open.then_some("active"))}
                    aria-pressed={state.chat_open.to_string()} aria-label="Chat" title="Chat" onclick={toggle_chat}>
                    <Svg icon={Icon::Chat} />
                    if state.unread > 0 {
                        <span id="chat-unread" class="badge" aria-label={format!("{} unread", state.unread)}>
                            { state.unread }
                        </span>
                    }
                </button>
                <CopyLink link={share_link(&props.room)} round=true />
                <button id="leave" type="button" class="round danger" aria-label="Leave call" title="Leave call" onclick={leave}>
                    <Svg icon={Icon::Leave} />
                </button>
            </nav>
        </main>
    }
}

/// Properties of [`RemoteTile`].
#[derive(Properties, PartialEq)]
struct RemoteTileProps {
    peer: RemotePeer,
    stream: Option<web_sys::MediaStream>,
}

/// Another person's tile: video (or their initial), name, mic/camera indicators, connection state.
#[function_component(RemoteTile)]
fn remote_tile(props: &RemoteTileProps) -> Html {
    let peer = &props.peer;
    let name = peer.name.to_string();
    html! {
        <div class="tile" data-peer-id={peer.id.to_string()} data-state={peer.link.as_str()} aria-label={name.clone()}>
            <Video stream={props.stream.clone()} />
            if !peer.camera_on { <Avatar name={name.clone()} /> }
            if let Some(label) = peer.link.label() {
                <div class={classes!("tile-status", (peer.link == LinkState::Failed).then_some("bad"))}>{ label }</div>
            }
            <div class="tile-label">
                <span class="tile-name">{ name }</span>
                if !peer.mic_on { <span class="tile-muted" title="Microphone off" role="img" aria-label="Microphone off"><Svg icon={Icon::MicOff} /></span> }
                if !peer.camera_on { <span class="tile-camera-off" title="Camera off" role="img" aria-label="Camera off"><Svg icon={Icon::CameraOff} /></span> }
            </div>
        </div>
    }
}

/// Properties of [`Avatar`].
#[derive(Properties, PartialEq)]
struct AvatarProps {
    name: String,
}

/// A round initial shown instead of a camera picture.
#[function_component(Avatar)]
fn avatar(props: &AvatarProps) -> Html {
    let initial: String = props.name.chars().next().map(|c| c.to_uppercase().collect()).unwrap_or_default();
    html! { <div class="avatar" aria-hidden="true"><span>{ initial }</span></div> }
}
