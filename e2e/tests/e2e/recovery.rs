//! Recovery: rejoining a call, and a connection whose network path goes away for a while.

use huddle_e2e::spa::{selector as sel, two_in_a_call, TwoInACall};
use huddle_e2e::{ensure, Relay, Result};

/// Marks Ada's own `<video>` (once) and says whether the one shown now is the one marked.
const SAME_LOCAL_VIDEO: &str = "
    const video = document.querySelector('.tile.local video');
    if (!video) return false;
    if (!window.__localVideo) window.__localVideo = video;
    return window.__localVideo === video;";

/// Bob leaves and joins again, several times: each time his video and sound reach Ada and hers reach him, on a new
/// connection, and Ada's own video stays the same element (a new one, given the camera, stalled the camera's frames
/// to everyone for seconds: the slow rejoins of issue 16).
pub async fn every_rejoin_brings_video_both_ways() -> Result<()> {
    let relay = Relay::start().await?;
    let TwoInACall { ada, bob, ada_id, bob_id, .. } = two_in_a_call(&relay).await?;
    ensure!(ada.eval_js(SAME_LOCAL_VIDEO, Vec::new()).await? == true, "Ada shows no video of her own");
    let mut previous = bob_id;
    for round in 1..=4 {
        bob.leave().await?;
        ada.wait_remote_tiles(0).await?;
        bob.click(sel::REJOIN).await?;
        bob.join().await?;
        let bob_id = ada.wait_tile_named("Bob").await?;
        ensure!(bob_id != previous, "rejoin {round}: Bob came back as {bob_id}, his old id");
        ada.wait_sees_and_hears(&bob_id).await?;
        bob.wait_sees_and_hears(&ada_id).await?;
        ensure!(
            ada.peer_ids().await? == [bob_id.clone()],
            "rejoin {round}: Ada's connections {:?}",
            ada.peer_ids().await?
        );
        ensure!(
            ada.eval_js(SAME_LOCAL_VIDEO, Vec::new()).await? == true,
            "rejoin {round}: Ada's own video was re-created"
        );
        previous = bob_id;
    }
    Ok(())
}
