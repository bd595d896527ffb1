//! The root component: follows the address bar, loads the runtime config, and shows the screen for the route.

use huddle_common::RoomId;
use wasm_bindgen::prelude::*;
use yew::prelude::*;

use crate::call::state::{Action, CallState, Phase};
use crate::route::Route;
use crate::rtc::engine::Engine;
use crate::ui::call::Call;
use crate::ui::ended::error_screen;
use crate::ui::home::Home;
use crate::ui::lobby::{Lobby, Ready};

/// The route in the address bar; a room link written loosely (pasted with a full stop, upper case…) is replaced
/// there by the room's own link, so that what is shared or reloaded from here is clean.
fn current_route() -> Route {
    let Some(window) = web_sys::window() else { return Route::Home };
    let path = window.location().pathname().unwrap_or_default();
    let route = Route::from_path(&path);
    if let (Some(canonical), Ok(history)) = (route.canonical_path(&path), window.history()) {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&canonical));
    }
    route
}

/// The whole app.
#[function_component(App)]
pub fn app() -> Html {
    let route = use_state(current_route);
    let relay_url = use_state(|| None::<AttrValue>);
    {
        let relay_url = relay_url.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move { relay_url.set(Some(crate::config::load().await.into())) });
        });
    }
    // Back and forward buttons.
    {
        let route = route.clone();
        use_effect_with((), move |_| {
            let window = web_sys::window().expect("a window");
            let listener = Closure::<dyn Fn()>::new(move || route.set(current_route()));
            let _ = window.add_event_listener_with_callback("popstate", listener.as_ref().unchecked_ref());
            move || {
                let _ = window.remove_event_listener_with_callback("popstate", listener.as_ref().unchecked_ref());
            }
        });
    }
    let navigate = {
        let route = route.clone();
        Callback::from(move |next: Route| {
            if let Some(history) = web_sys::window().and_then(|window| window.history().ok()) {
                let _ = history.push_state_with_url(&JsValue::NULL, "", Some(&next.path()));
            }
            route.set(next);
        })
    };

    match &*route {
        Route::Home => html! { <Home {navigate} /> },
        Route::BadRoom(_) => {
            let home = navigate.reform(|_: MouseEvent| Route::Home);
            error_screen(
                "invalid_room",
                "That link doesn't lead to a call",
                "Room links look like …/r/ followed by 26 letters and digits. Check the link you were sent.",
                home.clone(),
                home,
            )
        }
        Route::Room(room) => match &*relay_url {
            Some(relay_url) => html! {
                <RoomPage key={room.to_string()} room={room.clone()} relay_url={relay_url.clone()} {navigate} />
            },
            None => html! {},
        },
    }
}

/// Properties of [`RoomPage`].
#[derive(Properties, PartialEq)]
struct RoomPageProps {
    room: RoomId,
    relay_url: AttrValue,
    navigate: Callback<Route>,
}

/// Lobby, then call, then (after leaving) a fresh lobby on request.
#[function_component(RoomPage)]
fn room_page(props: &RoomPageProps) -> Html {
    let attempt = use_state(|| 0_u32);
    let on_rejoin = {
        let attempt = attempt.clone();
        Callback::from(move |()| attempt.set(*attempt + 1))
    };
    let on_home = props.navigate.reform(|()| Route::Home);
    html! {
        <Session key={attempt.to_string()} room={props.room.clone()} relay_url={props.relay_url.clone()}
            {on_rejoin} {on_home} />
    }
}

/// Properties of [`Session`].
#[derive(Properties, PartialEq)]
struct SessionProps {
    room: RoomId,
    relay_url: AttrValue,
    on_rejoin: Callback<()>,
    on_home: Callback<()>,
}

/// One visit to the room: the lobby until the call is joined, then the call.
///
/// Join connects to the relay at once, in the click's own task, and the lobby stays (its button saying so) until the
/// call has something to show: the room joined and the connections to everyone there up (see `ConnectGate`; a second
/// at most), or the call refused. Rendering the call screen any earlier would hold up the relay connection, the
/// negotiation and the ICE checks behind it.
#[function_component(Session)]
fn session(props: &SessionProps) -> Html {
    let state = use_reducer(|| CallState::new(true, true));
    let engine = use_state(|| None::<Engine>);
    // Leaving the room (or the page) leaves the call.
    use_effect_with((*engine).clone(), |engine| {
        let engine = engine.clone();
        move || {
            if let Some(engine) = engine {
                engine.leave();
            }
        }
    });
    let on_join = {
        let (engine, state) = (engine.clone(), state.clone());
        let (relay_url, room) = (props.relay_url.to_string(), props.room.clone());
        Callback::from(move |ready: Ready| {
            let (mic_on, camera_on) = (ready.media.mic_enabled(), ready.media.video_track().is_some());
            // A fresh state for each Join: the first, or another after the relay refused the name.
            state.dispatch(Action::Start { mic_on, camera_on });
            let dispatcher = state.dispatcher();
            let dispatch = Callback::from(move |action| dispatcher.dispatch(action));
            engine.set(Some(Engine::start(relay_url.clone(), room.clone(), ready.name, ready.media, dispatch)));
        })
    };
    // The same Lobby stays (its devices with it) through joining, a refused name and the next Join.
    let name_refused = match &state.phase {
        Phase::NameRefused(reason) => Some(AttrValue::from(reason.clone())),
        _ => None,
    };
    match &*engine {
        Some(engine) if !matches!(state.phase, Phase::Joining | Phase::NameRefused(_)) => html! {
            <Call engine={engine.clone()} state={state.clone()} room={props.room.clone()}
                on_rejoin={props.on_rejoin.clone()} on_home={props.on_home.clone()} />
        },
        joining => html! {
            <Lobby room={props.room.clone()} {on_join} joining={joining.is_some() && name_refused.is_none()}
                retrying={state.relay_retrying} {name_refused} />
        },
    }
}
