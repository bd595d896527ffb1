//! The root component: follows the address bar, loads the runtime config, and shows the screen for the route.

use huddle_common::RoomId;
use wasm_bindgen::prelude::*;
use yew::prelude::*;

use crate::route::Route;
use crate::ui::call::Call;
use crate::ui::ended::error_screen;
use crate::ui::home::Home;
use crate::ui::lobby::{Lobby, Ready};

fn current_route() -> Route {
    let path = web_sys::window().and_then(|window| window.location().pathname().ok()).unwrap_or_default();
    Route::from_path(&path)
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

/// Lobby, then call, then (after leaving) back to the lobby on request.
#[function_component(RoomPage)]
fn room_page(props: &RoomPageProps) -> Html {
    let ready = use_state(|| None::<Ready>);
    let on_join = {
        let ready = ready.clone();
        Callback::from(move |joined: Ready| ready.set(Some(joined)))
    };
    match &*ready {
        None => html! { <Lobby room={props.room.clone()} {on_join} /> },
        Some(joined) => {
            let on_rejoin = {
                let ready = ready.clone();
                Callback::from(move |()| ready.set(None))
            };
            let on_home = props.navigate.reform(|()| Route::Home);
            html! {
                <Call relay_url={props.relay_url.clone()} room={props.room.clone()} ready={joined.clone()}
                    {on_rejoin} {on_home} />
            }
        }
    }
}
