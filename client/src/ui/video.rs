//! A `<video>` showing a `MediaStream`, or a peer's, which plays before it is shown.

use web_sys::{HtmlVideoElement, MediaStream};
use yew::prelude::*;

use crate::rtc::media::play;
use crate::ui::icon::{icon, Icon};

/// Properties of [`Video`].
#[derive(Properties, PartialEq)]
pub struct VideoProps {
    /// What to show. A stream is live: tracks added to it later play without re-attaching it.
    #[prop_or_default]
    pub stream: Option<MediaStream>,
    /// Instead, an element already playing (a peer's, made with the connection: `rtc::peer`), shown as it is: what it
    /// plays, whether it is muted, its id and its classes are its maker's, so `stream`, `muted`, `mirrored`, `class`
    /// and `id` do not apply to it.
    #[prop_or_default]
    pub element: Option<HtmlVideoElement>,
    /// Silence it (one's own video must never play one's own voice back).
    #[prop_or_default]
    pub muted: bool,
    /// Mirror it, as people expect of their own camera.
    #[prop_or_default]
    pub mirrored: bool,
    /// Extra class names.
    #[prop_or_default]
    pub class: Classes,
    /// Element id.
    #[prop_or_default]
    pub id: Option<AttrValue>,
    /// The speaker to play its sound on (a device id); `None`: the default.
    #[prop_or_default]
    pub speaker: Option<AttrValue>,
    /// In a call tile: the whole picture shows by default, and the person may have it fill the tile instead (a
    /// `.tile-fit` button beside the video, or a double click on it).
    #[prop_or_default]
    pub fill_toggle: bool,
}

/// A playing video element, and the button that makes it fill its tile when asked for.
#[function_component(Video)]
pub fn video(props: &VideoProps) -> Html {
    let node = use_node_ref();
    {
        let node = node.clone();
        let muted = props.muted;
        use_effect_with(props.stream.clone(), move |stream| {
            if let Some(video) = node.cast::<HtmlVideoElement>() {
                // `muted` must be the property: the attribute only sets the default.
                video.set_muted(muted);
                play(&video, stream.as_ref());
            }
        });
    }
    {
        let node = node.clone();
        // A peer's element is new with each connection to them: it needs the speaker too.
        use_effect_with((props.speaker.clone(), props.element.clone()), move |(speaker, element)| {
            let video = element.clone().or_else(|| node.cast::<HtmlVideoElement>());
            if let (Some(video), Some(speaker)) = (video, speaker) {
                crate::rtc::media::set_speaker(&video, speaker);
            }
        });
    }
    let fill = use_state(|| false);
    let toggle = {
        let fill = fill.clone();
        Callback::from(move |_: MouseEvent| fill.set(!*fill))
    };
    let class = classes!(props.class.clone(), props.mirrored.then_some("mirrored"));
    // The wrapper (no box of its own) carries what Yew cannot put on an element it did not make.
    html! { <>
        <div class={classes!("video", fill.then_some("fill"))} ondblclick={props.fill_toggle.then(|| toggle.clone())}>
            if let Some(element) = &props.element {
                { Html::VRef(element.clone().into()) }
            } else {
                <video ref={node} id={props.id.clone()} {class} autoplay=true playsinline=true />
            }
        </div>
        if props.fill_toggle {
            <button type="button" class="tile-fit" aria-pressed={fill.to_string()} aria-label="Fill the tile"
                title="Fill the tile (or double-click)" onclick={toggle}>
                { icon(Icon::Fill) }
            </button>
        }
    </> }
}
