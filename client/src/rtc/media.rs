//! The local camera and microphone: acquiring them with fallbacks, switching devices, and the mic level meter.
//!
//! Beware: `MediaStream` and `MediaStreamTrack` have inherent `clone()` methods that call the JavaScript `clone()`
//! (a new stream, a new track holding the device). To copy the handle, write `Clone::clone(&x)`.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AnalyserNode, AudioContext, MediaDeviceKind, MediaStream, MediaStreamConstraints, MediaStreamTrack};

/// Which device of a kind to use; `None` is the browser's default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceChoice {
    /// The camera's device id.
    pub camera: Option<String>,
    /// The microphone's device id.
    pub mic: Option<String>,
}

/// A camera or microphone, for the pickers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// The browser's device id.
    pub id: String,
    /// What the browser calls it (empty before permission is granted).
    pub label: String,
}

/// The cameras and microphones the browser reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Devices {
    /// Video inputs.
    pub cameras: Vec<Device>,
    /// Audio inputs.
    pub mics: Vec<Device>,
}

/// The person's camera and microphone, shared by the lobby preview and the call.
#[derive(Clone)]
pub struct LocalMedia(Rc<Inner>);

impl PartialEq for LocalMedia {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

struct Inner {
    /// Holds whatever tracks are live; what the local tile shows.
    stream: MediaStream,
    audio: RefCell<Option<MediaStreamTrack>>,
    video: RefCell<Option<MediaStreamTrack>>,
    choice: RefCell<DeviceChoice>,
}

fn media_devices() -> Result<web_sys::MediaDevices, String> {
    web_sys::window()
        .and_then(|window| window.navigator().media_devices().ok())
        .ok_or_else(|| "Camera and microphone need a secure page (https or localhost).".to_owned())
}

/// A sentence a person understands, for a failed getUserMedia.
fn explain(error: &JsValue, what: &str) -> String {
    let name = Reflect::get(error, &"name".into()).ok().and_then(|n| n.as_string()).unwrap_or_default();
    match name.as_str() {
        "NotAllowedError" | "SecurityError" => {
            format!("Access to your {what} is blocked. Allow it in the browser's site settings, then reload.")
        }
        "NotFoundError" => format!("No {what} was found."),
        "NotReadableError" | "AbortError" => format!("Your {what} is in use by another app, or not working."),
        "OverconstrainedError" => format!("The chosen {what} is no longer available."),
        _ => format!("Your {what} could not be started."),
    }
}

fn constraint(device: &Option<String>) -> JsValue {
    match device {
        None => JsValue::TRUE,
        Some(id) => {
            let exact = Object::new();
            let _ = Reflect::set(&exact, &"exact".into(), &id.into());
            let wanted = Object::new();
            let _ = Reflect::set(&wanted, &"deviceId".into(), &exact);
            wanted.into()
        }
    }
}

async fn get_user_media(
    audio: Option<&Option<String>>,
    video: Option<&Option<String>>,
) -> Result<MediaStream, JsValue> {
    let devices = media_devices().map_err(|message| JsValue::from(js_sys::Error::new(&message)))?;
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio(&audio.map_or(JsValue::FALSE, constraint));
    constraints.set_video(&video.map_or(JsValue::FALSE, constraint));
    let promise = devices.get_user_media_with_constraints(&constraints)?;
    Ok(JsFuture::from(promise).await?.unchecked_into())
}

fn first_track(stream: &MediaStream, kind: &str) -> Option<MediaStreamTrack> {
    let tracks = if kind == "audio" { stream.get_audio_tracks() } else { stream.get_video_tracks() };
    tracks.iter().next().map(JsCast::unchecked_into)
}

impl LocalMedia {
    /// Starts the camera and microphone, falling back to whichever works. Never fails: a person may join with
    /// audio only, video only, or to receive only. The second value explains what is missing, if anything.
    pub async fn acquire(choice: DeviceChoice) -> (LocalMedia, Option<String>) {
        let (audio, video) = (Some(&choice.mic), Some(&choice.camera));
        let (stream, problem) = match get_user_media(audio, video).await {
            Ok(stream) => (Some(stream), None),
            Err(both) => match get_user_media(audio, None).await {
                Ok(stream) => {
                    (Some(stream), Some(format!("{} Joining with your microphone only.", explain(&both, "camera"))))
                }
                Err(_) => match get_user_media(None, video).await {
                    Ok(stream) => {
                        (Some(stream), Some(format!("{} Joining with your camera only.", explain(&both, "microphone"))))
                    }
                    Err(_) => (
                        None,
                        Some(format!(
                            "{} You can still join to see and hear the others.",
                            explain(&both, "camera and microphone")
                        )),
                    ),
                },
            },
        };
        let stream = stream.unwrap_or_else(|| MediaStream::new().expect("MediaStream constructor"));
        let media = LocalMedia(Rc::new(Inner {
            audio: RefCell::new(first_track(&stream, "audio")),
            video: RefCell::new(first_track(&stream, "video")),
            stream,
            choice: RefCell::new(choice),
        }));
        (media, problem)
    }

    /// The stream to show in the local preview or tile.
    pub fn stream(&self) -> MediaStream {
        Clone::clone(&self.0.stream)
    }

    /// The live microphone track, if any.
    pub fn audio_track(&self) -> Option<MediaStreamTrack> {
        self.0.audio.borrow().clone()
    }

    /// The live camera track, if any.
    pub fn video_track(&self) -> Option<MediaStreamTrack> {
        self.0.video.borrow().clone()
    }

    /// The devices in use.
    pub fn choice(&self) -> DeviceChoice {
        self.0.choice.borrow().clone()
    }

    /// Mutes or unmutes the microphone (the track keeps running, so unmuting is instant).
    pub fn set_mic_enabled(&self, on: bool) {
        if let Some(track) = self.audio_track() {
            track.set_enabled(on);
        }
    }

    /// Whether a microphone track exists and is unmuted.
    pub fn mic_enabled(&self) -> bool {
        self.audio_track().is_some_and(|track| track.enabled())
    }

    /// Stops the camera (its light goes off) and drops its track.
    pub fn stop_camera(&self) {
        if let Some(track) = self.0.video.borrow_mut().take() {
            track.stop();
            self.0.stream.remove_track(&track);
        }
    }

    /// Starts the chosen camera, replacing any running one. Returns the new track.
    pub async fn start_camera(&self) -> Result<MediaStreamTrack, String> {
        let camera = self.0.choice.borrow().camera.clone();
        let stream = get_user_media(None, Some(&camera)).await.map_err(|error| explain(&error, "camera"))?;
        let track = first_track(&stream, "video").ok_or("The camera gave no picture.")?;
        self.stop_camera();
        self.0.stream.add_track(&track);
        *self.0.video.borrow_mut() = Some(Clone::clone(&track));
        Ok(track)
    }

    /// Switches the camera to another device (the choice is kept for later starts).
    pub async fn use_camera(&self, id: String) -> Result<MediaStreamTrack, String> {
        self.0.choice.borrow_mut().camera = Some(id);
        self.start_camera().await
    }

    /// Switches the microphone to another device, keeping its muted state. Returns the new track.
    pub async fn use_mic(&self, id: String) -> Result<MediaStreamTrack, String> {
        let enabled = self.audio_track().is_none_or(|track| track.enabled());
        self.0.choice.borrow_mut().mic = Some(id.clone());
        let stream = get_user_media(Some(&Some(id)), None).await.map_err(|error| explain(&error, "microphone"))?;
        let track = first_track(&stream, "audio").ok_or("The microphone gave no sound.")?;
        track.set_enabled(enabled);
        if let Some(old) = self.0.audio.borrow_mut().replace(Clone::clone(&track)) {
            old.stop();
            self.0.stream.remove_track(&old);
        }
        self.0.stream.add_track(&track);
        Ok(track)
    }

    /// Stops every device (on leaving).
    pub fn stop(&self) {
        if let Some(track) = self.0.audio.borrow_mut().take() {
            track.stop();
        }
        self.stop_camera();
    }
}

/// A screen or window the person picked to share, as a stream with one video track.
#[derive(Clone)]
pub struct Screen {
    /// Its stream (its id travels in the SDP, which is how the others tell it from the camera).
    pub stream: MediaStream,
    /// Its video track.
    pub track: MediaStreamTrack,
}

/// Asks the person which screen or window to share (the browser shows its own picker).
pub async fn pick_screen() -> Result<Screen, String> {
    let devices = media_devices()?;
    let promise = devices.get_display_media().map_err(|error| explain(&error, "screen"))?;
    let stream: MediaStream = match JsFuture::from(promise).await {
        Ok(stream) => stream.unchecked_into(),
        Err(error) => {
            let name = Reflect::get(&error, &"name".into()).ok().and_then(|n| n.as_string()).unwrap_or_default();
            return Err(if name == "NotAllowedError" {
                "Screen sharing was cancelled.".to_owned()
            } else {
                explain(&error, "screen")
            });
        }
    };
    let track = first_track(&stream, "video").ok_or("The shared screen has no picture.")?;
    Ok(Screen { stream, track })
}

/// Lists cameras and microphones.
pub async fn list_devices() -> Devices {
    let mut devices = Devices::default();
    let Ok(media) = media_devices() else { return devices };
    let Ok(promise) = media.enumerate_devices() else { return devices };
    let Ok(list) = JsFuture::from(promise).await else { return devices };
    for info in js_sys::Array::from(&list).iter() {
        let info: web_sys::MediaDeviceInfo = info.unchecked_into();
        let device = Device { id: info.device_id(), label: info.label() };
        match info.kind() {
            MediaDeviceKind::Videoinput => devices.cameras.push(device),
            MediaDeviceKind::Audioinput => devices.mics.push(device),
            _ => {}
        }
    }
    devices
}

/// Measures how loud the microphone is, for the lobby's level meter.
pub struct MicLevel {
    context: AudioContext,
    analyser: AnalyserNode,
    samples: RefCell<Vec<u8>>,
}

impl MicLevel {
    /// Listens to `stream`'s audio; `None` when it has none or Web Audio is unavailable.
    pub fn new(stream: &MediaStream) -> Option<MicLevel> {
        if stream.get_audio_tracks().length() == 0 {
            return None;
        }
        let context = AudioContext::new().ok()?;
        let source = context.create_media_stream_source(stream).ok()?;
        let analyser = context.create_analyser().ok()?;
        analyser.set_fft_size(512);
        source.connect_with_audio_node(&analyser).ok()?;
        let samples = RefCell::new(vec![0; analyser.fft_size() as usize]);
        Some(MicLevel { context, analyser, samples })
    }

    /// The current level in 0..=1 (RMS of the waveform, scaled so speech reaches the upper half).
    pub fn level(&self) -> f64 {
        // Autoplay rules suspend audio contexts opened without a click; resuming is harmless when running.
        let _ = self.context.resume();
        let mut samples = self.samples.borrow_mut();
        self.analyser.get_byte_time_domain_data(&mut samples);
        let sum: f64 = samples.iter().map(|&s| (f64::from(s) - 128.0) / 128.0).map(|v| v * v).sum();
        let rms = (sum / samples.len().max(1) as f64).sqrt();
        (rms * 4.0).min(1.0)
    }
}

impl Drop for MicLevel {
    fn drop(&mut self) {
        let _ = self.context.close();
    }
}
