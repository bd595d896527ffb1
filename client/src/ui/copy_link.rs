//! The "copy link" button.

use wasm_bindgen_futures::{spawn_local, JsFuture};
use yew::prelude::*;

use crate::rtc::clipboard_write_text;
use crate::ui::icon::{icon, Icon};

/// Properties of [`CopyLink`].
#[derive(Properties, PartialEq)]
pub struct CopyLinkProps {
    /// The link to copy.
    pub link: String,
    /// Render as a round icon button (in the call's control bar).
    #[prop_or_default]
    pub round: bool,
}

/// Copies the room link and says so.
#[function_component(CopyLink)]
pub fn copy_link(props: &CopyLinkProps) -> Html {
    let copied = use_state(|| None::<bool>);
    let onclick = {
        let (link, copied) = (props.link.clone(), copied.clone());
        Callback::from(move |_: MouseEvent| {
            let (link, copied) = (link.clone(), copied.clone());
            spawn_local(async move {
                let done = match clipboard_write_text(&link) {
                    Ok(promise) => JsFuture::from(promise).await.is_ok(),
                    Err(_) => false,
                };
                copied.set(Some(done));
                gloo_timers::future::TimeoutFuture::new(2_000).await;
                copied.set(None);
            });
        })
    };
    let label = match *copied {
        Some(true) => "Link copied",
        Some(false) => "Copy failed: select the link and copy it",
        None => "Copy link",
    };
    let class = classes!(props.round.then_some("round"));
    html! {
        <button id="copy-link" type="button" {class} aria-label={label} title={label} {onclick}>
            if props.round { { icon(Icon::Link) } } else { { label } }
            <span class="visually-hidden" role="status">{ if copied.is_some() { label } else { "" } }</span>
        </button>
    }
}
