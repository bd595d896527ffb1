//! The local camera and microphone: acquiring them with fallbacks, switching devices, and the mic level meter.
//!
//! Beware: `MediaStream` and `MediaStreamTrack` have inherent `clone()` methods that call the JavaScript `clone()`
//! (a new stream, a new track holding the device). To copy the handle, write `Clone::clone(&x)`.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AnalyserNode, AudioContext, HtmlVideoElement, MediaDeviceKind, MediaStream, MediaStreamConstraints,
    MediaStreamTrack,
};

use crate::call::devices::DeviceChoice;
use crate::call::error::{Capture, MediaError, MissingMedia};

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
    /// Audio outputs (listed by browsers that can route sound to one, e.g. Chromium).
    pub speakers: Vec<Device>,
}

/// Called with "audio" or "video" when that device stops by itself.
type LostHandler = Rc<dyn Fn(&'static str)>;

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
    /// Told when a device stops by itself (unplugged, taken by another app).
    on_lost: Rc<RefCell<Option<LostHandler>>>,
}

fn media_devices() -> Result<web_sys::MediaDevices, MediaError> {
    web_sys::window().and_then(|window| window.navigator().media_devices().ok()).ok_or(MediaError::InsecurePage)
}

/// The name of the `DOMException` a request for a device failed with ("" if it has none).
fn exception_name(error: &JsValue) -> String {
    Reflect::get(error, &"name".into()).ok().and_then(|n| n.as_string()).unwrap_or_default()
}

/// What to tell the person about a failed getUserMedia.
fn explain(error: &JsValue, asked: Capture) -> MediaError {
    MediaError::from_dom_exception(&exception_name(error), asked)
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
    let devices = media_devices().map_err(|error| JsValue::from(js_sys::Error::new(&error.to_string())))?;
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
                Ok(stream) => (Some(stream), Some(MissingMedia::MicrophoneOnly(explain(&both, Capture::Camera)))),
                Err(_) => match get_user_media(None, video).await {
                    Ok(stream) => (Some(stream), Some(MissingMedia::CameraOnly(explain(&both, Capture::Microphone)))),
                    Err(_) => (None, Some(MissingMedia::Neither(explain(&both, Capture::CameraAndMicrophone)))),
                },
            },
        };
        let stream = stream.unwrap_or_else(|| MediaStream::new().expect("MediaStream constructor"));
        let media = LocalMedia(Rc::new(Inner {
            audio: RefCell::new(first_track(&stream, "audio")),
            video: RefCell::new(first_track(&stream, "video")),
            stream,
            choice: RefCell::new(choice),
            on_lost: Rc::new(RefCell::new(None)),
        }));
        for track in [media.audio_track(), media.video_track()].into_iter().flatten() {
            media.watch(&track);
        }
        // The lobby shows the sentence as it is.
        (media, problem.map(|problem| problem.to_string()))
    }

    /// Calls `lost` with "audio" or "video" when the device in use stops by itself (unplugged, or taken over).
    /// Stopping a track ourselves fires nothing.
    pub fn on_device_lost(&self, lost: impl Fn(&'static str) + 'static) {
        *self.0.on_lost.borrow_mut() = Some(Rc::new(lost));
    }

    fn watch(&self, track: &MediaStreamTrack) {
        let kind: &'static str = if track.kind() == "audio" { "audio" } else { "video" };
        let on_lost = Rc::clone(&self.0.on_lost);
        let ended = Closure::<dyn FnMut()>::new(move || {
            let lost = on_lost.borrow().clone();
            if let Some(lost) = lost {
                lost(kind);
            }
        });
        track.set_onended(Some(ended.as_ref().unchecked_ref()));
        // Lives as long as the track; a handful per call.
        ended.forget();
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

    /// Starts the chosen camera, replacing any running one. Returns the new track, or what to tell the person (a
    /// [`MediaError`], worded for the lobby and the call's notices, which show it as it is).
    pub async fn start_camera(&self) -> Result<MediaStreamTrack, String> {
        let camera = self.0.choice.borrow().camera.clone();
        let stream =
            get_user_media(None, Some(&camera)).await.map_err(|error| explain(&error, Capture::Camera).to_string())?;
        let track = first_track(&stream, "video").ok_or_else(|| MediaError::NoCameraPicture.to_string())?;
        self.watch(&track);
        self.stop_camera();
        self.0.stream.add_track(&track);
        *self.0.video.borrow_mut() = Some(Clone::clone(&track));
        Ok(track)
    }

    /// Switches the camera to another device (`None`: the browser's default), and starts it. The choice is kept for
    /// later starts.
    pub async fn use_camera(&self, id: Option<String>) -> Result<MediaStreamTrack, String> {
        self.choose_camera(id);
        self.start_camera().await
    }

    /// Picks the camera for the next start, without starting it (while the camera is off).
    pub fn choose_camera(&self, id: Option<String>) {
        self.0.choice.borrow_mut().camera = id;
    }

    /// Switches the microphone to another device (`None`: the browser's default), keeping its muted state.
    /// Returns the new track, or what to tell the person (a [`MediaError`], worded).
    pub async fn use_mic(&self, id: Option<String>) -> Result<MediaStreamTrack, String> {
        let enabled = self.audio_track().is_none_or(|track| track.enabled());
        self.0.choice.borrow_mut().mic = id.clone();
        let stream =
            get_user_media(Some(&id), None).await.map_err(|error| explain(&error, Capture::Microphone).to_string())?;
        let track = first_track(&stream, "audio").ok_or_else(|| MediaError::NoMicrophoneSound.to_string())?;
        self.watch(&track);
        track.set_enabled(enabled);
        if let Some(old) = self.0.audio.borrow_mut().replace(Clone::clone(&track)) {
            old.stop();
            self.0.stream.remove_track(&old);
        }
        self.0.stream.add_track(&track);
        Ok(track)
    }

    /// What the browser calls the device behind a track of this kind ("" if none).
    pub fn label(&self, kind: &str) -> String {
        let track = if kind == "audio" { self.audio_track() } else { self.video_track() };
        track.map(|track| track.label()).unwrap_or_default()
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
pub async fn pick_screen() -> Result<Screen, MediaError> {
    let devices = media_devices()?;
    let promise = devices.get_display_media().map_err(|error| explain(&error, Capture::Screen))?;
    let stream: MediaStream = match JsFuture::from(promise).await {
        Ok(stream) => stream.unchecked_into(),
        Err(error) => return Err(MediaError::from_screen_picker(&exception_name(&error))),
    };
    let track = first_track(&stream, "video").ok_or(MediaError::NoScreenPicture)?;
    // Text and fine lines: the encoder keeps them sharp and gives up frame rate instead.
    crate::rtc::bindings::set(&track, "contentHint", &"detail".into());
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
            MediaDeviceKind::Audiooutput => devices.speakers.push(device),
            _ => {}
        }
    }
    devices
}

/// Whether this browser can route a media element's sound to a chosen speaker (`setSinkId`).
pub fn can_choose_speaker() -> bool {
    let Some(window) = web_sys::window() else { return false };
    Reflect::get(&window, &"HTMLMediaElement".into())
        .and_then(|class| Reflect::get(&class, &"prototype".into()))
        .and_then(|prototype| Reflect::has(&prototype.unchecked_into(), &"setSinkId".into()))
        .unwrap_or(false)
}

/// A `<video>` that plays whatever it is given, inline (not full screen on phones), not yet in the page.
pub fn video_element() -> HtmlVideoElement {
    let document = web_sys::window().and_then(|window| window.document()).expect("a document");
    let video: HtmlVideoElement = document.create_element("video").expect("a <video>").unchecked_into();
    let _ = video.set_attribute("autoplay", "");
    let _ = video.set_attribute("playsinline", "");
    video
}

/// Has `video` play `stream`. Assigning `srcObject`, even the same stream, restarts loading: only a different one is
/// assigned.
pub fn play(video: &HtmlVideoElement, stream: Option<&MediaStream>) {
    if video.src_object().as_ref() != stream {
        video.set_src_object(stream);
    }
    if let Ok(playing) = video.play() {
        // A play() cut short by the next assignment rejects; that is expected, not an error to report.
        wasm_bindgen_futures::spawn_local(async move {
            let _ = JsFuture::from(playing).await;
        });
    }
}

/// Routes `element`'s sound to the speaker `id` (where supported; failures are ignored: sound stays on the default).
pub fn set_speaker(element: &web_sys::HtmlMediaElement, id: &str) {
    let Ok(set_sink_id) = Reflect::get(element, &"setSinkId".into()) else { return };
    if let Some(set_sink_id) = set_sink_id.dyn_ref::<js_sys::Function>() {
        let _ = set_sink_id.call1(element, &id.into());
    }
}

/// Calls `changed` whenever a device is plugged in or out, until the returned guard is dropped.
pub fn watch_devices(changed: impl Fn() + 'static) -> Option<DeviceWatch> {
    let devices = media_devices().ok()?;
    let listener = Closure::<dyn Fn()>::new(changed);
    devices.add_event_listener_with_callback("devicechange", listener.as_ref().unchecked_ref()).ok()?;
    Some(DeviceWatch { devices, listener })
}

/// Keeps a `devicechange` listener registered.
pub struct DeviceWatch {
    devices: web_sys::MediaDevices,
    listener: Closure<dyn Fn()>,
}

impl Drop for DeviceWatch {
    fn drop(&mut self) {
        let _ =
            self.devices.remove_event_listener_with_callback("devicechange", self.listener.as_ref().unchecked_ref());
    }
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
