//! Line icons as inline SVG: no icon font or emoji font needed, and they follow the text colour.
//!
//! Each icon is fixed markup, inserted as it is: there is nothing in it for Yew to diff, and as text it weighs far
//! less in the wasm than the code that would build the same elements one by one.

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
    /// Attach a file.
    Attach,
    /// A file going out.
    Up,
    /// A file coming in.
    Down,
    /// Fill the tile with the picture.
    Fill,
}

const MIC: &str = r#"<rect x="9" y="3" width="6" height="11" rx="3"/><path d="M5 11a7 7 0 0 0 14 0M12 18v3"/>"#;
const CAMERA: &str = r#"<rect x="3" y="6" width="13" height="12" rx="2"/><path d="M16 10.5l5-3v9l-5-3z"/>"#;
const SLASH: &str = r#"<path d="M4 3l17 18"/>"#;

impl Icon {
    /// What goes inside the icon's `<svg>`.
    fn drawing(self) -> &'static [&'static str] {
        match self {
            Icon::Mic => &[MIC],
            Icon::MicOff => &[MIC, SLASH],
            Icon::Camera => &[CAMERA],
            Icon::CameraOff => &[CAMERA, SLASH],
            Icon::Screen => &[
                r#"<rect x="3" y="4" width="18" height="12" rx="2"/>"#,
                r#"<path d="M8 20h8M12 16v4M12 7v6M9.5 9.5L12 7l2.5 2.5"/>"#,
            ],
            Icon::Settings => &[
                r#"<circle cx="12" cy="12" r="3"/>"#,
                r#"<path d="M12 2.5v3M12 18.5v3M2.5 12h3M18.5 12h3M5.3 5.3l2.1 2.1M16.6 16.6l2.1 2.1M5.3 18.7l2.1-2.1M16.6 7.4l2.1-2.1"/>"#,
            ],
            Icon::Chat => &[r#"<path d="M4 5h16v11H9l-5 4z"/>"#],
            Icon::Stats => &[r#"<path d="M2 12h4l3-7 5 14 3-7h5"/>"#],
            Icon::Link => &[
                r#"<path d="M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1"/>"#,
                r#"<path d="M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1"/>"#,
            ],
            Icon::Leave => &[
                r#"<path d="M3 14.5c5-4.7 13-4.7 18 0l-2.4 2.4-3.2-1.4v-2.6a12 12 0 0 0-6.8 0v2.6l-3.2 1.4z" fill="currentColor"/>"#,
            ],
            Icon::Attach => &[
                r#"<path d="M20 11.5l-7.8 7.8a4.8 4.8 0 0 1-6.8-6.8l8-8a3.2 3.2 0 0 1 4.5 4.5l-8 8a1.6 1.6 0 0 1-2.3-2.3l7.3-7.3"/>"#,
            ],
            Icon::Up => &[r#"<path d="M12 19V5M6 11l6-6 6 6"/>"#],
            Icon::Down => &[r#"<path d="M12 5v14M6 13l6 6 6-6"/>"#],
            Icon::Fill => &[r#"<path d="M4 9V4h5m6 0h5v5m0 6v5h-5m-6 0H4v-5"/>"#],
        }
    }

    /// The icon's markup: a decorative `<svg>`, the button around it carries the accessible label.
    fn markup(self) -> String {
        let mut markup = String::from(
            r#"<svg class="icon" viewBox="0 0 24 24" width="22" height="22" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">"#,
        );
        for part in self.drawing() {
            markup.push_str(part);
        }
        markup.push_str("</svg>");
        markup
    }
}

/// An icon, for `html!`: `{ icon(Icon::Mic) }`.
pub fn icon(icon: Icon) -> Html {
    Html::from_html_unchecked(icon.markup().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icons_are_one_decorative_svg_each() {
        for icon in [Icon::Mic, Icon::CameraOff, Icon::Leave, Icon::Down] {
            let markup = icon.markup();
            assert!(markup.starts_with(r#"<svg class="icon" viewBox="0 0 24 24""#), "{markup}");
            assert!(markup.contains(r#"aria-hidden="true""#), "{markup}");
            assert!(markup.ends_with("/></svg>"), "{markup}");
            assert_eq!(markup.matches("<svg").count(), 1, "{markup}");
        }
        assert!(Icon::MicOff.markup().contains(MIC) && Icon::MicOff.markup().contains(SLASH));
    }
}
