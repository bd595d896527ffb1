//! Line icons as inline SVG: no icon font or emoji font needed, and they follow the text colour.

use yew::prelude::*;

/// Which icon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icon {
    /// Microphone on.
    Mic,
    /// Microphone off.
    MicOff,
    /// Camera on.
    Camera,
    /// Camera off.
    CameraOff,
    /// Share screen.
    Screen,
    /// Chat.
    Chat,
    /// Call statistics.
    Stats,
    /// Device settings.
    Settings,
    /// Copy link.
    Link,
    /// Hang up.
    Leave,
}

impl Icon {
    fn paths(self) -> Html {
        let mic = html! { <>
            <rect x="9" y="3" width="6" height="11" rx="3" />
            <path d="M5 11a7 7 0 0 0 14 0M12 18v3" />
        </> };
        let camera = html! { <>
            <rect x="3" y="6" width="13" height="12" rx="2" />
            <path d="M16 10.5l5-3v9l-5-3z" />
        </> };
        let slash = html! { <path d="M4 3l17 18" /> };
        match self {
            Icon::Mic => mic,
            Icon::MicOff => html! { <>{ mic }{ slash }</> },
            Icon::Camera => camera,
            Icon::CameraOff => html! { <>{ camera }{ slash }</> },
            Icon::Screen => html! { <>
                <rect x="3" y="4" width="18" height="12" rx="2" />
                <path d="M8 20h8M12 16v4M12 7v6M9.5 9.5L12 7l2.5 2.5" />
            </> },
            Icon::Settings => html! { <>
                <circle cx="12" cy="12" r="3" />
                <path d="M12 2.5v3M12 18.5v3M2.5 12h3M18.5 12h3M5.3 5.3l2.1 2.1M16.6 16.6l2.1 2.1M5.3 18.7l2.1-2.1M16.6 7.4l2.1-2.1" />
            </> },
            Icon::Chat => html! { <path d="M4 5h16v11H9l-5 4z" /> },
            Icon::Stats => html! { <path d="M2 12h4l3-7 5 14 3-7h5" /> },
            Icon::Link => html! { <>
                <path d="M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1" />
                <path d="M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1" />
            </> },
            Icon::Leave => html! {
                <path d="M3 14.5c5-4.7 13-4.7 18 0l-2.4 2.4-3.2-1.4v-2.6a12 12 0 0 0-6.8 0v2.6l-3.2 1.4z"
                    fill="currentColor" />
            },
        }
    }
}

/// Properties of [`Svg`].
#[derive(Properties, PartialEq)]
pub struct SvgProps {
    /// Which icon.
    pub icon: Icon,
}

/// An icon, decorative: the button around it carries the accessible label.
#[function_component(Svg)]
pub fn svg(props: &SvgProps) -> Html {
    html! {
        <svg class="icon" viewBox="0 0 24 24" width="22" height="22" fill="none" stroke="currentColor"
            stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">
            { props.icon.paths() }
        </svg>
    }
}
