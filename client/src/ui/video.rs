//! A `<video>` showing a `MediaStream`.

use web_sys::{HtmlVideoElement, MediaStream};
use yew::prelude::*;

/// Properties of [`Video`].
#[derive(Properties, PartialEq)]
pub struct VideoProps {
    /// What to show.
    pub stream: Option<MediaStream>,
    /// Bump to re-attach the same stream after its tracks changed.
    #[prop_or_default]
    pub revision: u32,
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
}

/// A playing video element.
#[function_component(Video)]
pub fn video(props: &VideoProps) -> Html {
    let node = use_node_ref();
    {
        let node = node.clone();
        let muted = props.muted;
        use_effect_with((props.stream.clone(), props.revision), move |(stream, _)| {
            if let Some(video) = node.cast::<HtmlVideoElement>() {
                // `muted` must be the property: the attribute only sets the default.
                video.set_muted(muted);
                video.set_src_object(stream.as_ref());
                let _ = video.play();
            }
        });
    }
    let class = classes!(props.class.clone(), props.mirrored.then_some("mirrored"));
    html! { <video ref={node} id={props.id.clone()} {class} autoplay=true playsinline=true /> }
}
