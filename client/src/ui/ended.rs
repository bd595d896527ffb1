//! What a person sees when the call is over or was refused, with a way back.

use huddle_common::ErrorCode;
use yew::prelude::*;

use crate::call::state::Ending;

/// Properties of [`Ended`].
#[derive(Properties, PartialEq)]
pub struct EndedProps {
    /// Why.
    pub ending: Ending,
    /// Back to the lobby.
    pub on_rejoin: Callback<()>,
    /// Back home.
    pub on_home: Callback<()>,
}

/// The refusal or goodbye screen.
#[function_component(Ended)]
pub fn ended(props: &EndedProps) -> Html {
    let rejoin = props.on_rejoin.reform(|_: MouseEvent| ());
    let home = props.on_home.reform(|_: MouseEvent| ());
    match &props.ending {
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
            html! { <ErrorScreen code={code.as_str()} {title} {advice} on_back={rejoin} on_home={home} /> }
        }
        Ending::Replaced => html! {
            <ErrorScreen code="replaced" title="You joined from another tab"
                advice="This tab left the call so your other one could take over." on_back={rejoin} on_home={home} />
        },
        Ending::RelayUnavailable => html! {
            <ErrorScreen code="unreachable" title="Can't reach the call server"
                advice="Check your connection and try again in a moment." on_back={rejoin} on_home={home} />
        },
    }
}

fn refusal_text(code: ErrorCode, message: &str) -> (String, String) {
    let (title, advice) = match code {
        ErrorCode::NameTaken => ("That name is taken", "Someone in this call already uses that name. Pick another."),
        ErrorCode::RoomFull => ("This call is full", "Try again when someone leaves."),
        ErrorCode::InvalidRoom => ("That link doesn't lead to a call", "Check the link you were sent."),
        ErrorCode::InvalidName => ("That name can't be used", message),
        ErrorCode::UnsupportedVersion => ("Huddle was updated", "Reload the page to get the new version."),
        _ => ("Couldn't join the call", message),
    };
    (title.to_owned(), advice.to_owned())
}

/// Properties of [`ErrorScreen`].
#[derive(Properties, PartialEq)]
pub struct ErrorScreenProps {
    /// The protocol error code (also in `data-code`, for tests and support).
    pub code: AttrValue,
    /// Headline.
    pub title: AttrValue,
    /// What to do now.
    pub advice: AttrValue,
    /// Back a step.
    pub on_back: Callback<MouseEvent>,
    /// Back home.
    pub on_home: Callback<MouseEvent>,
}

/// A refusal with its reason and a way back.
#[function_component(ErrorScreen)]
pub fn error_screen(props: &ErrorScreenProps) -> Html {
    html! {
        <main id="error" class="message-screen" data-code={props.code.clone()} role="alert">
            <h1>{ &props.title }</h1>
            <p>{ &props.advice }</p>
            <div class="actions">
                <button id="back" class="primary" onclick={props.on_back.clone()}>{ "Try again" }</button>
                <button id="home" onclick={props.on_home.clone()}>{ "Back to start" }</button>
            </div>
        </main>
    }
}
