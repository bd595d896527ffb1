//! The chat side panel. Lines travel over the peers' data channels, never through the relay.
//!
//! It renders what the history keeps (bounded, `call::chat`), each line keyed by its number, and only when the
//! history changed.

use std::rc::Rc;

use huddle_common::{PeerId, PeerMessage};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::call::chat::ChatHistory;
use crate::call::state::Author;
use crate::ui::avatar::avatar;

/// Properties of [`Chat`].
#[derive(Properties)]
pub struct ChatProps {
    /// The conversation's latest lines.
    pub lines: Rc<ChatHistory>,
    /// Send a line.
    pub on_send: Callback<String>,
    /// Close the panel.
    pub on_close: Callback<MouseEvent>,
    /// Our peer id and name, for the chip before our own lines.
    pub me: (Option<PeerId>, AttrValue),
}

// By the history's identity (and who we are): the call state shares one history until a line is added, so the
// pointer says whether there is anything new to render. The callbacks are made anew on each render of the call
// screen, but each does the same (send through the engine, dispatch to the call's reducer): comparing them would
// render every line again on every action of the call.
impl PartialEq for ChatProps {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.lines, &other.lines) && self.me == other.me
    }
}

/// The chat panel.
#[function_component(Chat)]
pub fn chat(props: &ChatProps) -> Html {
    let draft = use_state(String::new);
    let list = use_node_ref();
    let input = use_node_ref();
    // Keep the newest line in view.
    {
        let list = list.clone();
        use_effect_with(props.lines.written(), move |_| {
            if let Some(list) = list.cast::<web_sys::Element>() {
                list.set_scroll_top(list.scroll_height());
            }
        });
    }
    {
        let input = input.clone();
        use_effect_with((), move |_| {
            if let Some(input) = input.cast::<HtmlInputElement>() {
                let _ = input.focus();
            }
        });
    }
    let on_input = {
        let draft = draft.clone();
        Callback::from(move |event: InputEvent| draft.set(event.target_unchecked_into::<HtmlInputElement>().value()))
    };
    let on_submit = {
        let (draft, on_send) = (draft.clone(), props.on_send.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let text = draft.trim().to_owned();
            if !text.is_empty() {
                on_send.emit(text);
                draft.set(String::new());
            }
        })
    };
    html! {
        <aside id="chat" class="chat" aria-label="Chat">
            <header>
                <h2>{ "Chat" }</h2>
                <button type="button" class="icon" aria-label="Close chat" onclick={props.on_close.clone()}>{ "✕" }</button>
            </header>
            <ol class="chat-lines" ref={list} aria-live="polite">
                if props.lines.is_empty() {
                    <li class="chat-empty">{ "Messages go straight to the others, peer to peer." }</li>
                }
                if props.lines.trimmed() > 0 {
                    <li class="chat-trimmed">{ "Older messages are not kept." }</li>
                }
                { for props.lines.lines().map(|(number, line)| {
                    let (author, mine, chip) = match &line.author {
                        Author::Me => ("You".to_owned(), true, avatar(props.me.0.as_ref(), &props.me.1, false)),
                        Author::Peer { id, name } => (name.to_string(), false, avatar(Some(id), name.as_str(), false)),
                    };
                    html! {
                        <li key={number} class={classes!("chat-message", mine.then_some("mine"))}>
                            { chip }
                            <span class="chat-author">{ author }</span>
                            <span class="chat-text">{ &line.text }</span>
                        </li>
                    }
                }) }
            </ol>
            <form class="chat-form" onsubmit={on_submit}>
                <input id="chat-input" ref={input} type="text" placeholder="Message everyone" aria-label="Message"
                    maxlength={PeerMessage::MAX_CHAT_CHARS.to_string()} value={(*draft).clone()} oninput={on_input} />
                <button id="chat-send" type="submit" aria-label="Send">{ "Send" }</button>
            </form>
        </aside>
    }
}
