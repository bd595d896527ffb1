//! Keyboard shortcuts in a call: which key does what, and the list the help overlay shows.

/// What a control of the call screen or a shortcut does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Mute or unmute the microphone.
    Mic,
    /// Turn the camera on or off.
    Camera,
    /// Start or stop sharing the screen.
    Screen,
    /// Open or close the chat.
    Chat,
    /// Open or close the call statistics (a button only).
    Stats,
    /// Open or close the settings (a button only).
    Settings,
    /// Leave the call.
    Leave,
    /// Show or hide the list of shortcuts.
    Help,
    /// Close whatever overlay is open.
    Close,
}

/// A key press, as far as shortcuts care.
#[derive(Clone, Copy, Debug, Default)]
pub struct Press<'a> {
    /// `KeyboardEvent.key`.
    pub key: &'a str,
    /// Shift held.
    pub shift: bool,
    /// Ctrl, Alt or Meta held: those belong to the browser and the system.
    pub other_modifier: bool,
    /// Focus is in a text field, where keys are typing.
    pub typing: bool,
    /// The key is held down and this press is the keyboard's auto-repeat (`KeyboardEvent.repeat`).
    pub repeat: bool,
}

/// The shortcuts, as the help overlay lists them: keys, then what they do.
pub const SHORTCUTS: &[(&str, &str)] = &[
    ("M", "Mute or unmute your microphone"),
    ("V", "Turn your camera on or off"),
    ("S", "Share your screen, or stop"),
    ("C", "Open or close the chat"),
    ("Shift + L", "Leave the call"),
    ("?", "Show or hide these shortcuts"),
    ("Esc", "Close the chat, the statistics or this list"),
];

/// The command for a key press, if any.
pub fn command_for(press: Press<'_>) -> Option<Command> {
    // A held key runs its command once: each toggle tells every peer (a held M would otherwise flip the microphone,
    // and message the others, as fast as the keyboard repeats).
    if press.other_modifier || press.repeat {
        return None;
    }
    if press.key == "Escape" {
        return Some(Command::Close);
    }
    if press.typing {
        return None;
    }
    match (press.key, press.shift) {
        ("m" | "M", false) => Some(Command::Mic),
        ("v" | "V", false) => Some(Command::Camera),
        ("s" | "S", false) => Some(Command::Screen),
        ("c" | "C", false) => Some(Command::Chat),
        // A capital L: Shift (or Caps Lock) makes leaving deliberate.
        ("L", _) => Some(Command::Leave),
        ("?", _) => Some(Command::Help),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(key: &str) -> Press<'_> {
        Press { key, ..Press::default() }
    }

    #[test]
    fn letters_toggle_devices_and_panels() {
        assert_eq!(command_for(key("m")), Some(Command::Mic));
        assert_eq!(command_for(key("v")), Some(Command::Camera));
        assert_eq!(command_for(key("s")), Some(Command::Screen));
        assert_eq!(command_for(key("c")), Some(Command::Chat));
        assert_eq!(command_for(Press { key: "?", shift: true, ..Press::default() }), Some(Command::Help));
        assert_eq!(command_for(key("x")), None);
    }

    #[test]
    fn leaving_takes_shift_so_a_stray_key_cannot_end_the_call() {
        assert_eq!(command_for(key("l")), None);
        assert_eq!(command_for(Press { key: "L", shift: true, ..Press::default() }), Some(Command::Leave));
        assert_eq!(command_for(Press { key: "l", shift: false, ..Press::default() }), None);
    }

    #[test]
    fn typing_and_browser_shortcuts_are_left_alone() {
        assert_eq!(command_for(Press { key: "m", typing: true, ..Press::default() }), None);
        assert_eq!(command_for(Press { key: "c", other_modifier: true, ..Press::default() }), None);
        // Escape still closes the chat from inside its text field.
        assert_eq!(command_for(Press { key: "Escape", typing: true, ..Press::default() }), Some(Command::Close));
    }

    #[test]
    fn the_help_lists_every_command_key() {
        let listed: Vec<&str> = SHORTCUTS.iter().map(|(keys, _)| *keys).collect();
        for keys in ["M", "V", "S", "C", "Shift + L", "?", "Esc"] {
            assert!(listed.contains(&keys), "{keys} missing from the help");
        }
    }

    #[test]
    fn a_held_key_runs_its_command_once() {
        for held in ["m", "v", "s", "c", "L", "?", "Escape"] {
            let first = Press { key: held, shift: held == "L", ..Press::default() };
            assert!(command_for(first).is_some(), "{held}");
            assert_eq!(command_for(Press { repeat: true, ..first }), None, "{held} repeated");
        }
    }
}
