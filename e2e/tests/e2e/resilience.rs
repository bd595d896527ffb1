//! The relay going away mid-call: media is peer to peer, so the call goes on; the SPA reconnects and resumes.

use huddle_e2e::spa::{screen_of, selector as sel, two_in_a_call, Person, TwoInACall};
use huddle_e2e::{wait_until, Relay, Result, TIMEOUT};

/// Kill the relay mid-call: media keeps flowing; restart it on the same port (same resume secret): both SPAs
/// reconnect, and signaling works again (a camera toggle shows, a screen share renegotiates the existing connection,
/// and a newcomer connects with both).
pub async fn call_survives_a_relay_restart() -> Result<()> {
    let mut relay = Relay::start_with(&["--resume-secret", "e2e-resume-secret"]).await?;
    let TwoInACall { room, ada, bob, ada_id, bob_id } = two_in_a_call(&relay).await?;

    relay.kill();
    ada.wait_media_flowing(&bob_id).await?;
    bob.wait_media_flowing(&ada_id).await?;

    relay.restart().await?;
    wait_until("both SPAs are connected to the restarted relay", TIMEOUT, async || {
        let (_, health) = ada.fetch("/healthz").await?;
        Ok(health["connections"] == 2 && health["rooms"] == 1)
    })
    .await?;
    ada.wait_sees_and_hears(&bob_id).await?;
    bob.wait_sees_and_hears(&ada_id).await?;

    ada.set_toggle(sel::TOGGLE_CAMERA, false).await?;
    bob.wait_tile(&ada_id, "shows camera off", |tile| tile.camera_off).await?;
    ada.set_toggle(sel::TOGGLE_CAMERA, true).await?;
    bob.wait_tile(&ada_id, "shows camera on", |tile| !tile.camera_off).await?;
    // A renegotiation of the existing connection, through the restarted relay: Ada shares her screen.
    ada.set_toggle(sel::TOGGLE_SCREEN, true).await?;
    bob.wait_video_playing(&screen_of(&ada_id)).await?;

    let cy = Person::new("Cy").await?;
    cy.join_room(&relay, &room).await?;
    for tile in cy.wait_remote_tiles(2).await? {
        cy.wait_sees_and_hears(&tile.peer_id).await?;
    }
    let cy_id = ada.wait_tile_named("Cy").await?;
    ada.wait_sees_and_hears(&cy_id).await
}
