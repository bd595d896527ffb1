//! Microphone and camera controls, and what the other side sees of them.

use huddle_e2e::spa::Person;
use huddle_e2e::spa::{
    screen_of, screen_tile_of, selector as sel, tile_of, two_in_a_call, two_in_a_call_in, TwoInACall,
};
use huddle_e2e::{artifacts, ensure, wait_until, Browsers, Relay, Result, TIMEOUT};
use serde_json::{json, Value};

/// Ada mutes and turns her camera off: Bob's tile of her shows both; turning them back on clears both and her
/// video plays again.
pub async fn mute_and_camera_off_show_on_the_other_side(browsers: Browsers) -> Result<()> {
    let relay = Relay::start().await?;
    let TwoInACall { ada, bob, ada_id, .. } = two_in_a_call_in(&relay, browsers).await?;

    ada.set_toggle(sel::TOGGLE_MIC, false).await?;
    bob.wait_tile(&ada_id, "shows muted", |tile| tile.muted).await?;
    ada.set_toggle(sel::TOGGLE_CAMERA, false).await?;
    bob.wait_tile(&ada_id, "shows camera off", |tile| tile.camera_off).await?;

    ada.set_toggle(sel::TOGGLE_MIC, true).await?;
    ada.set_toggle(sel::TOGGLE_CAMERA, true).await?;
    bob.wait_tile(&ada_id, "shows mic and camera on", |tile| !tile.muted && !tile.camera_off).await?;
    bob.wait_video_playing(&format!("{} video", tile_of(&ada_id))).await?;
    bob.wait_media_flowing(&ada_id).await.map(drop)
}

/// Both toggle their camera at the same moment, off then on. Camera toggles swap the sender's track without
/// renegotiating, so they cannot collide: both indicators follow, and video resumes both ways.
pub async fn simultaneous_camera_toggles_keep_media_flowing() -> Result<()> {
    let relay = Relay::start().await?;
    let TwoInACall { ada, bob, ada_id, bob_id, .. } = two_in_a_call(&relay).await?;
    for on in [false, true] {
        // One click each, at the same moment, each waiting for its own button to follow.
        let (a, b) = tokio::join!(ada.set_toggle(sel::TOGGLE_CAMERA, on), bob.set_toggle(sel::TOGGLE_CAMERA, on));
        a?;
        b?;
        ada.wait_tile(&bob_id, "shows the camera state", |tile| tile.camera_off != on).await?;
        bob.wait_tile(&ada_id, "shows the camera state", |tile| tile.camera_off != on).await?;
    }
    ada.wait_sees_and_hears(&bob_id).await?;
    bob.wait_sees_and_hears(&ada_id).await?;
    ensure!(ada.peer_ids().await?.len() == 1, "Ada has more than one connection");
    ensure!(bob.peer_ids().await?.len() == 1, "Bob has more than one connection");
    Ok(())
}

/// Both start sharing their screen at the same moment, then both stop, twice. Each connection carries a screen
/// transceiver from the start, so sharing swaps tracks and cannot collide: each sees the other's screen playing
/// (then gone), and camera video and sound keep flowing over the one connection each.
pub async fn simultaneous_screen_shares_both_show() -> Result<()> {
    let relay = Relay::start().await?;
    let TwoInACall { ada, bob, ada_id, bob_id, .. } = two_in_a_call(&relay).await?;
    for round in 0..2 {
        let (a, b) = tokio::join!(ada.click(sel::TOGGLE_SCREEN), bob.click(sel::TOGGLE_SCREEN));
        a?;
        b?;
        ada.wait_video_playing(&screen_of(&bob_id)).await?;
        bob.wait_video_playing(&screen_of(&ada_id)).await?;
        ada.wait_video_playing(sel::LOCAL_SCREEN_VIDEO).await?;
        if round == 0 {
            ada.screenshot(artifacts::screenshot_path("screen-share.png")).await?;
        }

        let (a, b) = tokio::join!(ada.click(sel::TOGGLE_SCREEN), bob.click(sel::TOGGLE_SCREEN));
        a?;
        b?;
        ada.wait_gone(&screen_tile_of(&bob_id)).await?;
        bob.wait_gone(&screen_tile_of(&ada_id)).await?;
    }
    ada.wait_sees_and_hears(&bob_id).await?;
    bob.wait_sees_and_hears(&ada_id).await?;
    ensure!(ada.peer_ids().await?.len() == 1, "Ada has more than one connection");
    ensure!(bob.peer_ids().await?.len() == 1, "Bob has more than one connection");
    Ok(())
}

/// Ada shares her screen and stops it from the browser's own "Stop sharing" control (which ends the captured track):
/// Bob sees the shared screen play, then its tile goes, and Ada's share button is off again.
pub async fn stopping_a_share_from_the_browser_ends_it_for_everyone() -> Result<()> {
    let relay = Relay::start().await?;
    let TwoInACall { ada, bob, ada_id, .. } = two_in_a_call(&relay).await?;
    ada.set_toggle(sel::TOGGLE_SCREEN, true).await?;
    bob.wait_video_playing(&screen_of(&ada_id)).await?;

    // What the browser's control does: the capture ends, and the track says so.
    ada.eval_js(
        "for (const pc of window.__huddle_pcs.values()) { \
           for (const sender of pc.getSenders()) { \
             if (sender.track && sender.track.label.startsWith('screen')) sender.track.dispatchEvent(new Event('ended')); \
           } \
         }",
        Vec::new(),
    )
    .await?;
    bob.wait_gone(&screen_tile_of(&ada_id)).await?;
    ada.wait_gone(sel::LOCAL_SCREEN_VIDEO).await?;
    ensure!(!ada.is_on(sel::TOGGLE_SCREEN).await?, "Ada's share button still says sharing");
    bob.wait_sees_and_hears(&ada_id).await
}

/// Glare: both sides restart ICE at the same moment (what the SPA does when a connection fails), so both send an
/// offer at once. Perfect negotiation converges: each connection ends up on a new ICE generation (new ufrag on both
/// descriptions), connected, one connection each, and each sees (frames presented) and hears the other.
pub async fn simultaneous_ice_restarts_converge(browsers: Browsers) -> Result<()> {
    let relay = Relay::start().await?;
    let TwoInACall { ada, bob, ada_id, bob_id, .. } = two_in_a_call_in(&relay, browsers).await?;
    let before = (ice_ufrags(&ada, &bob_id).await?, ice_ufrags(&bob, &ada_id).await?);
    let restart = "window.__huddle_pcs.get(arguments[0]).restartIce();";
    let (a, b) = tokio::join!(ada.eval_js(restart, vec![json!(bob_id)]), bob.eval_js(restart, vec![json!(ada_id)]));
    a?;
    b?;
    wait_until("both connections are on a new ICE generation", TIMEOUT, async || {
        let now = (ice_ufrags(&ada, &bob_id).await?, ice_ufrags(&bob, &ada_id).await?);
        let fresh = |then: &Value, now: &Value| {
            now["stable"] == true && now["local"] != then["local"] && now["remote"] != then["remote"]
        };
        Ok(fresh(&before.0, &now.0) && fresh(&before.1, &now.1))
    })
    .await?;
    ada.wait_connected(&bob_id).await?;
    bob.wait_connected(&ada_id).await?;
    ada.wait_sees_and_hears(&bob_id).await?;
    bob.wait_sees_and_hears(&ada_id).await?;
    ensure!(ada.peer_ids().await?.len() == 1, "Ada has more than one connection");
    ensure!(bob.peer_ids().await?.len() == 1, "Bob has more than one connection");
    Ok(())
}

/// The ICE username fragments of both descriptions of the connection to `peer`, and whether it is stable.
async fn ice_ufrags(person: &Person, peer: &str) -> Result<Value> {
    person
        .eval_js(
            "const pc = window.__huddle_pcs.get(arguments[0]); \
             const ufrag = (d) => d && (d.sdp.match(/a=ice-ufrag:(\\S+)/) || [])[1]; \
             return { local: ufrag(pc.localDescription), remote: ufrag(pc.remoteDescription), \
                      stable: pc.signalingState === 'stable' };",
            vec![json!(peer)],
        )
        .await
}

/// Every camera track the page gets from now on, kept in `window.__cameraTracks` (the app's own handles are
/// internal), so a test can tell whether a camera was left running.
const RECORD_CAMERA_TRACKS: &str = r#"
    window.__cameraTracks = [];
    const devices = navigator.mediaDevices;
    const original = devices.getUserMedia.bind(devices);
    devices.getUserMedia = async (constraints) => {
        const stream = await original(constraints);
        window.__cameraTracks.push(...stream.getVideoTracks());
        return stream;
    };
"#;

/// Ada clicks the camera button three times in a row, faster than a camera starts: the call settles on what the
/// last click asked for (off from on, on from off). The button and Bob's tile show it, her picture reaches Bob when
/// on, and no camera is left running behind the app's back.
pub async fn rapid_camera_clicks_settle_on_the_last_one() -> Result<()> {
    let relay = Relay::start().await?;
    let TwoInACall { ada, bob, ada_id, .. } = two_in_a_call(&relay).await?;
    ada.eval_js(RECORD_CAMERA_TRACKS, Vec::new()).await?;
    let live_cameras = async || -> Result<u64> {
        let count =
            ada.eval_js("return window.__cameraTracks.filter((t) => t.readyState === 'live').length", Vec::new());
        Ok(count.await?.as_u64().unwrap_or(u64::MAX))
    };
    let click_three_times = "const button = document.querySelector(arguments[0]); \
                             for (let i = 0; i < 3; i++) button.click();";

    for expected_on in [false, true] {
        ada.eval_js(click_three_times, vec![json!(sel::TOGGLE_CAMERA)]).await?;
        wait_until("Ada's camera button shows the last click", TIMEOUT, async || {
            Ok(ada.is_on(sel::TOGGLE_CAMERA).await? == expected_on)
        })
        .await?;
        bob.wait_tile(&ada_id, "shows Ada's camera as the last click left it", |tile| tile.camera_off != expected_on)
            .await?;
        let wanted = u64::from(expected_on);
        wait_until(format!("{wanted} camera track(s) of Ada's left running"), TIMEOUT, async || {
            Ok(live_cameras().await? == wanted)
        })
        .await?;
    }
    bob.wait_video_playing(&format!("{} video", tile_of(&ada_id))).await?;
    bob.wait_media_flowing(&ada_id).await.map(drop)
}
