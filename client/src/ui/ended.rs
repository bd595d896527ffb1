//! What a person sees when the call is over or was refused, with a way back.

use huddle_common::ErrorCode;
use yew::prelude::*;

use crate::call::refusal::NAME_TAKEN;
use crate::call::state::Ending;

/// The refusal or goodbye screen, with ways back to the lobby (`on_rejoin`) and home (`on_home`).
pub fn ended(ending: &Ending, on_rejoin: &Callback<()>, on_home: &Callback<()>) -> Html {
    let rejoin = on_rejoin.reform(|_: MouseEvent| ());
    let home = on_home.reform(|_: MouseEvent| ());
    match ending {
        Ending::Left => html! {
            <main id="left" class="message-screen">
                <h1>{ "You left the call" }</h1>
                <div class="actions">
                    <button id="rejoin" class="primary" onclick={rejoin}>{ "Rejoin" }</button>
                    <button id="home" onclick={home}>{ "Back to start" }</button>
                </div>
            </main>
        },
        Ending::Refused { code, message } => {
            let (title, advice) = refusal_text(*code, message);
            error_screen(code.as_str(), &title, &advice, rejoin, home)
        }
        Ending::Replaced => error_screen(
            "replaced",
            "You joined from another tab",
            "This tab left the call so your other one could take over.",
            rejoin,
            home,
        ),
        Ending::RelayUnavailable => error_screen(
            "unreachable",
            "Can't reach the call server",
            "Check your connection and try again in a moment.",
            rejoin,
            home,
        ),
    }
}

fn refusal_text(code: ErrorCode, message: &str) -> (String, String) {
    let (title, advice) = match code {
        ErrorCode::NameTaken => ("That name is taken", NAME_TAKEN),
        ErrorCode::RoomFull => ("This call is full", "Try again when someone leaves."),
        ErrorCode::InvalidRoom => ("That link doesn't lead to a call", "Check the link you were sent."),
        ErrorCode::InvalidName => ("That name can't be used", message),
        ErrorCode::UnsupportedVersion => ("Huddle was updated", "Reload the page to get the new version."),
        _ => ("Couldn't join the call", message),
    };
    (title.to_owned(), advice.to_owned())
}

/// A refusal with its reason and a way back: `code` is the protocol error code (also in `data-code`, for tests and
/// support), `title` the headline, `advice` what to do now; `on_back` goes back a step, `on_home` home.
pub fn error_screen(
    code: &str,
    title: &str,
    advice: &str,
    on_back: Callback<MouseEvent>,
    on_home: Callback<MouseEvent>,
) -> Html {
    html! {
        <main id="error" class="message-screen" data-code={code.to_owned()} role="alert">
            <h1>{ title }</h1>
            <p>{ advice }</p>
            <div class="actions">
                <button id="back" class="primary" onclick={on_back}>{ "Try again" }</button>
                <button id="home" onclick={on_home}>{ "Back to start" }</button>
            </div>
        </main>
    }
}
