//! The first screen: a name, then start a call or open one.

use huddle_common::RoomId;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::prefs;
use crate::route::{room_from_input, Route};

/// Properties of [`Home`].
#[derive(Properties, PartialEq)]
pub struct HomeProps {
    /// Go somewhere.
    pub navigate: Callback<Route>,
}

fn random_room() -> RoomId {
    let mut bytes = [0u8; 16];
    let crypto = web_sys::window().and_then(|window| window.crypto().ok()).expect("Web Crypto is available");
    crypto.get_random_values_with_u8_array(&mut bytes).expect("random values");
    RoomId::from_random(bytes)
}

/// Start a call, or open one from a link or code.
#[function_component(Home)]
pub fn home(props: &HomeProps) -> Html {
    let name = use_state(prefs::name);
    let link = use_state(String::new);
    let link_error = use_state(|| None::<&'static str>);

    let on_name = {
        let name = name.clone();
        Callback::from(move |event: InputEvent| {
            let value = event.target_unchecked_into::<HtmlInputElement>().value();
            prefs::set_name(&value);
            name.set(value);
        })
    };
    let on_link = {
        let (link, link_error) = (link.clone(), link_error.clone());
        Callback::from(move |event: InputEvent| {
            link.set(event.target_unchecked_into::<HtmlInputElement>().value());
            link_error.set(None);
        })
    };
    let start = {
        let navigate = props.navigate.clone();
        Callback::from(move |_: MouseEvent| navigate.emit(Route::Room(random_room())))
    };
    let open = {
        let (navigate, link, link_error) = (props.navigate.clone(), link.clone(), link_error.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            match room_from_input(&link) {
                Some(room) => navigate.emit(Route::Room(room)),
                None => link_error.set(Some("That is not a Huddle link or room code.")),
            }
        })
    };

    html! {
        <main class="home">
            <h1 class="brand">{ "Huddle" }</h1>
            <p class="tagline">{ "Video calls, peer to peer. Nothing to install, nothing stored." }</p>
            <label class="field">
                <span>{ "Your name" }</span>
                <input id="name" type="text" maxlength="32" autocomplete="nickname" placeholder="How others will see you"
                    value={(*name).clone()} oninput={on_name} />
            </label>
            <button id="start" class="primary big" onclick={start}>{ "Start a call" }</button>
            <div class="divider"><span>{ "or" }</span></div>
            <form class="open-room" onsubmit={open}>
                <label class="field">
                    <span>{ "Join with a link or code" }</span>
                    <input id="room-link" type="text" placeholder="https://…/r/… or the room code"
                        value={(*link).clone()} oninput={on_link} aria-invalid={link_error.is_some().to_string()} />
                </label>
                <button id="open-room" type="submit">{ "Join" }</button>
            </form>
            if let Some(error) = *link_error {
                <p class="form-error" role="alert">{ error }</p>
            }
        </main>
    }
}
