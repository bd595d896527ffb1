//! Switching camera and microphone mid-call, and losing the camera in use.

use huddle_e2e::spa::{selector as sel, tile_of, two_in_a_call_with_bob_on, Person, TwoInACall};
use huddle_e2e::{ensure, wait_until, Browser, BrowserOptions, Relay, Result, TIMEOUT};
use serde_json::{json, Value};

/// What Bob's peer connection to `peer` sends, per kind: the label of each sender's track (null when none).
const SENDER_LABELS: &str = r#"
    const pc = window.__huddle_pcs.get(arguments[0]);
    const labels = {};
    for (const sender of pc.getSenders()) {
      if (sender.track) labels[sender.track.kind] = sender.track.label;
    }
    return labels;
"#;

/// Selects the `<option>` at an index of a select as a person would; returns its id and label (null if none).
const PICK_OPTION: &str = r#"
    const select = document.querySelector(arguments[0]);
    const option = select.options[arguments[1]];
    if (!option) return null;
    select.value = option.value;
    select.dispatchEvent(new Event('change', { bubbles: true }));
    return { id: option.value, label: option.textContent };
"#;

/// Bob has two cameras (and several microphones). Mid-call, in the settings, he picks the second camera (he sees
/// himself through it), then the first again (Ada sees him through it), then another microphone (Ada still hears
/// him): each time what his connection sends switches to that device, and the choices are remembered for next time.
/// Then the camera in use disappears (its track ends on its own): Bob is told, falls back to the default camera, and
/// Ada sees and hears him. No step renegotiates.
pub async fn devices_switch_mid_call_and_a_lost_camera_falls_back() -> Result<()> {
    let relay = Relay::start().await?;
    let two_cameras = BrowserOptions {
        extra_args: vec!["--use-fake-device-for-media-stream=device-count=2".into()],
        ..BrowserOptions::new("Bob")
    };
    let TwoInACall { ada, bob, ada_id, bob_id, .. } =
        two_in_a_call_with_bob_on(&relay, Browser::launch_with(two_cameras).await?).await?;
    let offers_before = signaling_changes(&ada, &bob_id).await?;

    bob.click(sel::TOGGLE_SETTINGS).await?;
    bob.wait_for(sel::CALL_CAMERA_SELECT).await?;
    let first_camera = bob
        .eval_js(
            "return document.querySelector(arguments[0]).options[0].textContent;",
            vec![json!(sel::CALL_CAMERA_SELECT)],
        )
        .await?;
    let camera = bob.eval_js(PICK_OPTION, vec![json!(sel::CALL_CAMERA_SELECT), json!(1)]).await?;
    ensure!(!camera.is_null(), "Bob's settings list only one camera");
    let camera_label = camera["label"].as_str().unwrap_or_default().to_owned();
    wait_until("Bob sends the second camera", TIMEOUT, async || {
        let labels = bob.eval_js(SENDER_LABELS, vec![json!(ada_id)]).await?;
        Ok(labels["video"].as_str() == Some(camera_label.as_str()))
    })
    .await?;
    // Bob sees himself through it. (Chromium's second fake camera gives frames its encoder does not send, so Ada's
    // side is checked after switching back.)
    bob.wait_video_playing(&format!("{} video", sel::LOCAL_TILE)).await?;
    bob.eval_js(PICK_OPTION, vec![json!(sel::CALL_CAMERA_SELECT), json!(0)]).await?;
    wait_until("Bob sends the first camera again", TIMEOUT, async || {
        let labels = bob.eval_js(SENDER_LABELS, vec![json!(ada_id)]).await?;
        Ok(labels["video"] == first_camera)
    })
    .await?;
    ada.wait_video_playing(&format!("{} video", tile_of(&bob_id))).await?;

    let mic = bob.eval_js(PICK_OPTION, vec![json!(sel::CALL_MIC_SELECT), json!(1)]).await?;
    ensure!(!mic.is_null(), "Bob's settings list only one microphone");
    let mic_label = mic["label"].as_str().unwrap_or_default().to_owned();
    wait_until("Bob sends the other microphone", TIMEOUT, async || {
        let labels = bob.eval_js(SENDER_LABELS, vec![json!(ada_id)]).await?;
        Ok(labels["audio"].as_str() == Some(mic_label.as_str()))
    })
    .await?;
    ada.wait_media_flowing(&bob_id).await?;
    let camera = bob
        .eval_js(
            "const o = document.querySelector(arguments[0]).options[0]; return { id: o.value };",
            vec![json!(sel::CALL_CAMERA_SELECT)],
        )
        .await?;
    let stored = bob
        .eval_js("return [localStorage.getItem('huddle.camera'), localStorage.getItem('huddle.mic')];", Vec::new())
        .await?;
    ensure!(
        stored == json!([json!(camera["id"]).to_string(), json!(mic["id"]).to_string()]),
        "not remembered: {stored}"
    );
    bob.click("#close-settings").await?;

    // The camera is unplugged: its track ends by itself.
    bob.eval_js(
        "const pc = window.__huddle_pcs.get(arguments[0]); \
         pc.getSenders().find((s) => s.track && s.track.kind === 'video').track.dispatchEvent(new Event('ended'));",
        vec![json!(ada_id)],
    )
    .await?;
    wait_until("Bob is told his camera was disconnected", TIMEOUT, async || {
        Ok(bob.exists(sel::NOTICE).await? && bob.text(sel::NOTICE).await?.contains("camera was disconnected"))
    })
    .await?;
    ada.wait_video_playing(&format!("{} video", tile_of(&bob_id))).await?;
    ada.wait_sees_and_hears(&bob_id).await?;
    ensure!(signaling_changes(&ada, &bob_id).await? == offers_before, "switching devices renegotiated the connection");
    Ok(())
}

/// How many times Ada's connection to `peer` changed signaling state (each negotiation changes it at least twice).
async fn signaling_changes(person: &Person, peer: &str) -> Result<Value> {
    person
        .eval_js(
            "const pc = window.__huddle_pcs.get(arguments[0]); \
             if (pc.__changes === undefined) { pc.__changes = 0; pc.addEventListener('signalingstatechange', () => pc.__changes++); } \
             return pc.__changes;",
            vec![json!(peer)],
        )
        .await
}
