//! What the network does to the call, shown: a remote tile's connection indicator and the notice when our own
//! connection holds our video back (`crate::call::quality` decides both).

use yew::prelude::*;

use crate::call::quality::{Grade, OwnVideo};

/// A tile's signal bars (three for good, two for weak, one for poor: drawn by the stylesheet), focusable; the
/// reason is its tooltip, its accessible name, and shows above it while it has the keyboard focus.
pub fn indicator(grade: Grade) -> Html {
    let label = AttrValue::from(grade.label());
    html! {
        <span class="tile-quality" data-quality={grade.quality.as_str()} tabindex="0" role="img"
            aria-label={label.clone()} title={label} />
    }
}

/// The lasting notice while our video is held back, in the stage's flow above the tiles (it covers no one's face).
pub fn own_video_notice(video: OwnVideo) -> Html {
    match video.notice() {
        Some(text) => html! {
            <div id="own-connection" class="banner" role="status">{ text }</div>
        },
        None => Html::default(),
    }
}
