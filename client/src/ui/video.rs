//! A `<video>` showing a `MediaStream`.

use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{HtmlVideoElement, MediaStream};
use yew::prelude::*;

/// Properties of [`Video`].
#[derive(Properties, PartialEq)]
pub struct VideoProps {
    /// What to show. A stream is live: tracks added to it later play without re-attaching it.
    pub stream: Option<MediaStream>,
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
}

/// A playing video element.
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
                // Assigning `srcObject`, even the same stream, restarts loading: only assign a different one.
                if video.src_object() != *stream {
                    video.set_src_object(stream.as_ref());
                }
                play(&video);
            }
        });
    }
    {
        let node = node.clone();
        use_effect_with(props.speaker.clone(), move |speaker| {
            if let (Some(video), Some(speaker)) = (node.cast::<web_sys::HtmlMediaElement>(), speaker) {
                crate::rtc::media::set_speaker(&video, speaker);
            }
        });
    }
    let class = classes!(props.class.clone(), props.mirrored.then_some("mirrored"));
    html! { <video ref={node} id={props.id.clone()} {class} autoplay=true playsinline=true /> }
}

fn play(video: &HtmlVideoElement) {
    if let Ok(playing) = video.play() {
        // A play() cut short by the next assignment rejects; that is expected, not an error to report.
        spawn_local(async move {
            let _ = JsFuture::from(playing).await;
        });
    }
}
