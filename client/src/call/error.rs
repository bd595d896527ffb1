//! What the person is told when the camera, microphone or screen fails them, or a file has nobody to go to: typed
//! here, worded once in their `Display`. The browser side (`rtc::media`, `rtc::engine`) only picks the variant.

use std::fmt;

/// What the browser is asked to capture, as the messages name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capture {
    /// The camera.
    Camera,
    /// The microphone.
    Microphone,
    /// Both at once (the lobby asks for them together).
    CameraAndMicrophone,
    /// A screen or window to share.
    Screen,
}

impl fmt::Display for Capture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Capture::Camera => "camera",
            Capture::Microphone => "microphone",
            Capture::CameraAndMicrophone => "camera and microphone",
            Capture::Screen => "screen",
        })
    }
}

/// Why a camera, microphone or screen could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The page is neither https nor localhost, so the browser offers no devices at all.
    #[error("Camera and microphone need a secure page (https or localhost).")]
    InsecurePage,
    /// The person or the browser's settings refused access.
    #[error("Access to your {0} is blocked. Allow it in the browser's site settings, then reload.")]
    Blocked(Capture),
    /// There is no such device.
    #[error("No {0} was found.")]
    NotFound(Capture),
    /// The device is taken by another app, or broken.
    #[error("Your {0} is in use by another app, or not working.")]
    InUse(Capture),
    /// The device chosen earlier is gone.
    #[error("The chosen {0} is no longer available.")]
    Gone(Capture),
    /// Anything else the browser reported.
    #[error("Your {0} could not be started.")]
    Failed(Capture),
    /// The person closed the browser's screen picker without choosing.
    #[error("Screen sharing was cancelled.")]
    ScreenShareCancelled,
    /// The camera started but its stream has no video track.
    #[error("The camera gave no picture.")]
    NoCameraPicture,
    /// The microphone started but its stream has no audio track.
    #[error("The microphone gave no sound.")]
    NoMicrophoneSound,
    /// The shared screen's stream has no video track.
    #[error("The shared screen has no picture.")]
    NoScreenPicture,
}

impl MediaError {
    /// The error for a failed `getUserMedia` (or `getDisplayMedia`), from the name of the `DOMException` it failed
    /// with ("" when it had none).
    pub fn from_dom_exception(name: &str, what: Capture) -> Self {
        match name {
            "NotAllowedError" | "SecurityError" => MediaError::Blocked(what),
            "NotFoundError" => MediaError::NotFound(what),
            "NotReadableError" | "AbortError" => MediaError::InUse(what),
            "OverconstrainedError" => MediaError::Gone(what),
            _ => MediaError::Failed(what),
        }
    }

    /// The error for a screen share whose picker failed with the `DOMException` `name`: browsers report a picker
    /// closed without a choice as `NotAllowedError`, which here means the person changed their mind.
    pub fn from_screen_picker(name: &str) -> Self {
        match name {
            "NotAllowedError" => MediaError::ScreenShareCancelled,
            _ => MediaError::from_dom_exception(name, Capture::Screen),
        }
    }
}

/// What the lobby says when the camera and microphone did not both start: what went wrong (with both), and how the
/// person can join anyway.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MissingMedia {
    /// Only the microphone started.
    #[error("{0} Joining with your microphone only.")]
    MicrophoneOnly(MediaError),
    /// Only the camera started.
    #[error("{0} Joining with your camera only.")]
    CameraOnly(MediaError),
    /// Neither started.
    #[error("{0} You can still join to see and hear the others.")]
    Neither(MediaError),
}

/// What the call says when a device in use stopped by itself (unplugged, taken over by another app).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeviceLost {
    /// The browser's default device of that kind took over.
    #[error("Your {device} was disconnected. Now using {label}.")]
    Replaced {
        /// The kind of device that stopped.
        device: Capture,
        /// What the browser calls the one now in use.
        label: String,
    },
    /// No other device of that kind works: the call goes on without it.
    #[error("Your {device} was disconnected, and no other one was found.")]
    NoneLeft {
        /// The kind of device that stopped.
        device: Capture,
    },
}

/// A file dropped before anyone else is connected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Nobody to send {file} to yet")]
pub struct NobodyToSendTo {
    /// The file's (sanitized) name.
    pub file: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_refusals_are_explained_per_device() {
        let cases = [
            (
                "NotAllowedError",
                Capture::Camera,
                "Access to your camera is blocked. Allow it in the browser's site settings, then reload.",
            ),
            (
                "SecurityError",
                Capture::Microphone,
                "Access to your microphone is blocked. Allow it in the browser's site settings, then reload.",
            ),
            ("NotFoundError", Capture::CameraAndMicrophone, "No camera and microphone was found."),
            ("NotReadableError", Capture::Camera, "Your camera is in use by another app, or not working."),
            ("AbortError", Capture::Microphone, "Your microphone is in use by another app, or not working."),
            ("OverconstrainedError", Capture::Camera, "The chosen camera is no longer available."),
            ("TypeError", Capture::Screen, "Your screen could not be started."),
            ("", Capture::Microphone, "Your microphone could not be started."),
        ];
        for (name, device, wording) in cases {
            assert_eq!(MediaError::from_dom_exception(name, device).to_string(), wording, "{name} {device:?}");
        }
    }

    #[test]
    fn a_closed_screen_picker_is_a_cancellation() {
        assert_eq!(MediaError::from_screen_picker("NotAllowedError"), MediaError::ScreenShareCancelled);
        assert_eq!(MediaError::ScreenShareCancelled.to_string(), "Screen sharing was cancelled.");
        assert_eq!(MediaError::from_screen_picker("NotFoundError").to_string(), "No screen was found.");
        // Only the picker's own failure means a change of mind; asking for the picker can be blocked outright.
        assert_eq!(
            MediaError::from_dom_exception("NotAllowedError", Capture::Screen),
            MediaError::Blocked(Capture::Screen)
        );
    }

    #[test]
    fn device_problems_say_what_is_missing() {
        assert_eq!(
            MediaError::InsecurePage.to_string(),
            "Camera and microphone need a secure page (https or localhost)."
        );
        assert_eq!(MediaError::NoCameraPicture.to_string(), "The camera gave no picture.");
        assert_eq!(MediaError::NoMicrophoneSound.to_string(), "The microphone gave no sound.");
        assert_eq!(MediaError::NoScreenPicture.to_string(), "The shared screen has no picture.");
    }

    #[test]
    fn the_lobby_says_how_the_person_can_still_join() {
        assert_eq!(
            MissingMedia::MicrophoneOnly(MediaError::Blocked(Capture::Camera)).to_string(),
            "Access to your camera is blocked. Allow it in the browser's site settings, then reload. \
             Joining with your microphone only."
        );
        assert_eq!(
            MissingMedia::CameraOnly(MediaError::NotFound(Capture::Microphone)).to_string(),
            "No microphone was found. Joining with your camera only."
        );
        assert_eq!(
            MissingMedia::Neither(MediaError::Failed(Capture::CameraAndMicrophone)).to_string(),
            "Your camera and microphone could not be started. You can still join to see and hear the others."
        );
    }

    #[test]
    fn lost_devices_and_lonely_files_are_notices() {
        let replaced = DeviceLost::Replaced { device: Capture::Camera, label: "FaceTime HD".to_owned() };
        assert_eq!(replaced.to_string(), "Your camera was disconnected. Now using FaceTime HD.");
        assert_eq!(
            DeviceLost::NoneLeft { device: Capture::Microphone }.to_string(),
            "Your microphone was disconnected, and no other one was found."
        );
        assert_eq!(NobodyToSendTo { file: "notes.txt".to_owned() }.to_string(), "Nobody to send notes.txt to yet");
    }
}
