//! Browser methods web-sys does not bind (or binds only behind unstable flags), and how an event handler is set.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use web_sys::{
    MediaStreamTrack, RtcIceCandidate, RtcIceCandidateInit, RtcPeerConnection, RtcRtpSender, RtcRtpTransceiver,
};

#[wasm_bindgen]
extern "C" {
    /// `RTCPeerConnection`, seen through the methods bound here.
    #[wasm_bindgen(js_name = RTCPeerConnection)]
    type PeerConnectionMethods;

    #[wasm_bindgen(method, js_name = setLocalDescription)]
    fn set_local_description(this: &PeerConnectionMethods) -> Promise;

    #[wasm_bindgen(method, catch, js_name = addTrack)]
    fn add_track(this: &PeerConnectionMethods, track: &MediaStreamTrack) -> Result<RtcRtpSender, JsValue>;

    #[wasm_bindgen(method, js_name = restartIce)]
    fn restart_ice(this: &PeerConnectionMethods);

    // web-sys has no `onicecandidateerror` setter.
    #[wasm_bindgen(method, setter = onicecandidateerror)]
    fn set_onicecandidateerror(this: &PeerConnectionMethods, handler: Option<&Function>);

    /// `RTCRtpSender`, seen through the methods bound here (web-sys binds an older `getParameters` dictionary without
    /// `maxFramerate` or `networkPriority`, and no `setParameters`).
    #[wasm_bindgen(js_name = RTCRtpSender)]
    type SenderMethods;

    #[wasm_bindgen(method, js_name = getParameters)]
    fn get_parameters(this: &SenderMethods) -> JsValue;

    #[wasm_bindgen(method, catch, js_name = setParameters)]
    fn set_parameters(this: &SenderMethods, parameters: &JsValue) -> Result<Promise, JsValue>;

    /// `RTCRtpTransceiver`, seen through the methods bound here (web-sys's `setCodecPreferences` cannot fail).
    #[wasm_bindgen(js_name = RTCRtpTransceiver)]
    type TransceiverMethods;

    #[wasm_bindgen(method, catch, js_name = setCodecPreferences)]
    fn set_codec_preferences(this: &TransceiverMethods, codecs: &Array) -> Result<(), JsValue>;

    /// `RTCRtpReceiver.getCapabilities(kind)`: what this browser can receive, or null.
    #[wasm_bindgen(js_namespace = RTCRtpReceiver, js_name = getCapabilities)]
    fn receiver_capabilities(kind: &str) -> JsValue;

    /// `navigator.clipboard.writeText(text)`.
    #[wasm_bindgen(js_namespace = ["navigator", "clipboard"], js_name = writeText, catch)]
    pub fn clipboard_write_text(text: &str) -> Result<Promise, JsValue>;
}

/// `pc.setLocalDescription()` without arguments: creates the right offer or answer for the current state (the form
/// perfect negotiation relies on).
pub fn set_local_description_implicit(pc: &RtcPeerConnection) -> Promise {
    pc.unchecked_ref::<PeerConnectionMethods>().set_local_description()
}

/// `pc.addTrack(track)` without streams: the sender of the transceiver it fills or creates. Unlike
/// `sender.replaceTrack`, it takes effect at once instead of queueing on the connection's operations chain.
pub fn add_track(pc: &RtcPeerConnection, track: &MediaStreamTrack) -> Result<RtcRtpSender, JsValue> {
    pc.unchecked_ref::<PeerConnectionMethods>().add_track(track)
}

/// This browser's video codecs that `keep` keeps (given each one's MIME type and `a=fmtp` parameters), as
/// [`prefer_codecs`] takes them.
pub fn video_codecs(keep: fn(&str, &str) -> bool) -> Array {
    let field =
        |codec: &JsValue, name: &str| Reflect::get(codec, &name.into()).ok().and_then(|value| value.as_string());
    let codecs = Reflect::get(&receiver_capabilities("video"), &"codecs".into()).unwrap_or_default();
    Array::from(&codecs)
        .iter()
        .filter(|codec| {
            keep(&field(codec, "mimeType").unwrap_or_default(), &field(codec, "sdpFmtpLine").unwrap_or_default())
        })
        .collect()
}

/// Limits what `transceiver` offers and accepts to `codecs`. Left as it is when the browser refuses.
pub fn prefer_codecs(transceiver: &RtcRtpTransceiver, codecs: &Array) {
    // Refused (no codec left to send media with): the browser keeps its own list, which works as before.
    let _ = transceiver.unchecked_ref::<TransceiverMethods>().set_codec_preferences(codecs);
}

/// `pc.restartIce()`: asks for an ICE restart on the next negotiation.
pub fn restart_ice(pc: &RtcPeerConnection) {
    pc.unchecked_ref::<PeerConnectionMethods>().restart_ice();
}

/// Changes `sender`'s parameters and its first encoding's, as `change` does to them (the parameters object and
/// the encoding object), in one `getParameters`/`setParameters` transaction (both in this task, as the transaction
/// requires). `false` when the sender has no encoding yet (before its first negotiation): nothing to change, try
/// later. When the browser refuses the change (logged), `refused` is set.
pub fn change_parameters(sender: &RtcRtpSender, change: &dyn Fn(&JsValue, &JsValue), refused: &Rc<Cell<bool>>) -> bool {
    let sender = sender.unchecked_ref::<SenderMethods>();
    let parameters = sender.get_parameters();
    let encoding = Reflect::get(&parameters, &"encodings".into())
        .ok()
        .filter(JsValue::is_object)
        .and_then(|encodings| Reflect::get_u32(&encodings, 0).ok())
        .filter(JsValue::is_object);
    let Some(encoding) = encoding else { return false };
    change(&parameters, &encoding);
    let done = match sender.set_parameters(&parameters) {
        Ok(promise) => promise,
        Err(error) => Promise::reject(&error),
    };
    let refused = Rc::clone(refused);
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(error) = wasm_bindgen_futures::JsFuture::from(done).await {
            web_sys::console::warn_2(&"cannot set a sender's parameters:".into(), &error);
            refused.set(true);
        }
    });
    true
}

/// Sets `object[name] = value`.
pub fn set(object: &JsValue, name: &str, value: &JsValue) {
    let _ = Reflect::set(object, &JsValue::from_str(name), value);
}

/// `candidate.usernameFragment`.
pub fn username_fragment(candidate: &RtcIceCandidate) -> Option<String> {
    Reflect::get(candidate, &"usernameFragment".into()).ok().and_then(|value| value.as_string())
}

/// Sets `init.usernameFragment`.
pub fn set_username_fragment(init: &RtcIceCandidateInit, fragment: &str) {
    let _ = Reflect::set(init, &"usernameFragment".into(), &fragment.into());
}

/// `pc.onicecandidateerror = handler`.
pub fn set_onicecandidateerror(pc: &RtcPeerConnection, handler: Option<&Function>) {
    pc.unchecked_ref::<PeerConnectionMethods>().set_onicecandidateerror(handler);
}

/// Wraps `handler` for the browser and hands it to `set` (a setter such as `RtcPeerConnection::set_ontrack`) on
/// `target`, the event cast to the type `handler` takes. The handler works only as long as the returned closure
/// lives: keep it as long as `target`, or `forget` it.
pub fn event_handler<T, E: JsCast>(
    target: &T,
    set: fn(&T, Option<&Function>),
    mut handler: impl FnMut(E) + 'static,
) -> Closure<dyn FnMut(JsValue)> {
    let closure = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| handler(event.unchecked_into()));
    set(target, Some(closure.as_ref().unchecked_ref()));
    closure
}
