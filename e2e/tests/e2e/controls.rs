//! Microphone and camera controls, and what the other side sees of them.

use huddle_e2e::spa::{screen_of, screen_tile_of, selector as sel, tile_of, two_in_a_call, TwoInACall};
use huddle_e2e::{Relay, Result};

/// Ada mutes and turns her camera off: Bob's tile of her shows both; turning them back on clears both and her
/// video plays again.
pub async fn mute_and_camera_off_show_on_the_other_side() -> Result<()> {
    let relay = Relay::start().await?;
    let TwoInACall { ada, bob, ada_id, .. } = two_in_a_call(&relay).await?;

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
        let (a, b) = tokio::join!(ada.click(sel::TOGGLE_CAMERA), bob.click(sel::TOGGLE_CAMERA));
        a?;
        b?;
        ada.set_toggle(sel::TOGGLE_CAMERA, on).await?;
        bob.set_toggle(sel::TOGGLE_CAMERA, on).await?;
        ada.wait_tile(&bob_id, "shows the camera state", |tile| tile.camera_off != on).await?;
        bob.wait_tile(&ada_id, "shows the camera state", |tile| tile.camera_off != on).await?;
    }
    ada.wait_sees_and_hears(&bob_id).await?;
    bob.wait_sees_and_hears(&ada_id).await?;
    huddle_e2e::ensure!(ada.peer_ids().await?.len() == 1, "Ada has more than one connection");
    huddle_e2e::ensure!(bob.peer_ids().await?.len() == 1, "Bob has more than one connection");
    Ok(())
}

/// Glare: both start sharing their screen at the same moment, so both add a track and send an offer at once, then
/// both stop at once. Perfect negotiation converges each time: each sees the other's screen playing (then gone), and
/// camera video and sound keep flowing over the one connection each.
pub async fn simultaneous_screen_shares_converge() -> Result<()> {
    let relay = Relay::start().await?;
    let TwoInACall { ada, bob, ada_id, bob_id, .. } = two_in_a_call(&relay).await?;
    for _ in 0..2 {
        let (a, b) = tokio::join!(ada.click(sel::TOGGLE_SCREEN), bob.click(sel::TOGGLE_SCREEN));
        a?;
        b?;
        ada.wait_video_playing(&screen_of(&bob_id)).await?;
        bob.wait_video_playing(&screen_of(&ada_id)).await?;
        ada.wait_video_playing(sel::LOCAL_SCREEN_VIDEO).await?;

        let (a, b) = tokio::join!(ada.click(sel::TOGGLE_SCREEN), bob.click(sel::TOGGLE_SCREEN));
        a?;
        b?;
        ada.wait_gone(&screen_tile_of(&bob_id)).await?;
        bob.wait_gone(&screen_tile_of(&ada_id)).await?;
    }
    ada.wait_sees_and_hears(&bob_id).await?;
    bob.wait_sees_and_hears(&ada_id).await?;
    huddle_e2e::ensure!(ada.peer_ids().await?.len() == 1, "Ada has more than one connection");
    huddle_e2e::ensure!(bob.peer_ids().await?.len() == 1, "Bob has more than one connection");
    Ok(())
}
