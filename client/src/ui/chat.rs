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
    // Follow the newest line only while the person is at it: someone scrolled back to read is left there, however
    // fast lines arrive. Our own line is always shown.
    let at_end = use_mut_ref(|| true);
    {
        let (list, at_end) = (list.clone(), at_end.clone());
        let newest_mine = props.lines.lines().next_back().is_some_and(|(_, line)| line.author == Author::Me);
        use_effect_with(props.lines.written(), move |_| {
            if let Some(list) = list.cast::<web_sys::Element>() {
                if follows(*at_end.borrow(), newest_mine) {
                    list.set_scroll_top(list.scroll_height());
                }
            }
        });
    }
    let on_scroll = {
        let (list, at_end) = (list.clone(), at_end.clone());
        Callback::from(move |_: Event| {
            if let Some(list) = list.cast::<web_sys::Element>() {
                *at_end.borrow_mut() =
                    is_at_end(list.scroll_top().into(), list.client_height().into(), list.scroll_height().into());
            }
        })
    };
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
            <ol class="chat-lines" ref={list} aria-live="polite" onscroll={on_scroll}>
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

/// Whether a list scrolled to `scroll_top`, showing `client_height` of its `scroll_height`, shows its end (within a
/// few pixels: browsers scroll by fractions and report whole ones).
fn is_at_end(scroll_top: f64, client_height: f64, scroll_height: f64) -> bool {
    scroll_top + client_height >= scroll_height - 2.0
}

/// Whether the list scrolls to a new line: when it was at its end, or when the line is our own.
fn follows(was_at_end: bool, newest_mine: bool) -> bool {
    was_at_end || newest_mine
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_lines_are_followed_only_from_the_end_or_when_ours() {
        assert!(is_at_end(600.0, 400.0, 1_000.0));
        assert!(is_at_end(599.0, 400.0, 1_000.0), "a pixel's rounding");
        assert!(!is_at_end(300.0, 400.0, 1_000.0), "scrolled back to read");
        assert!(is_at_end(0.0, 400.0, 200.0), "nothing to scroll");
        assert!(follows(true, false));
        assert!(!follows(false, false), "a peer's line leaves the person where they read");
        assert!(follows(false, true), "our own line is shown");
    }
}
