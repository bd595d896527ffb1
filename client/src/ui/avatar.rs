//! A person's identity chip (`crate::call::identity`), as tiles and chat lines show it.

use huddle_common::PeerId;
use yew::prelude::*;

use crate::call::identity;

/// The chip of `peer` called `name` (`large` instead of a camera picture). Without a peer id (not joined yet) it
/// has the neutral colour. Hidden from screen readers, which read the name beside it.
pub fn avatar(peer: Option<&PeerId>, name: &str, large: bool) -> Html {
    html! {
        <span class={classes!("avatar", large.then_some("large"))} data-peer-id={peer.map(PeerId::to_string)}
            data-colour={peer.map(|peer| identity::colour(peer).to_string())} aria-hidden="true">
            { identity::initials(name) }
        </span>
    }
}
