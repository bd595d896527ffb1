//! The relay going away mid-call: media is peer to peer, so the call goes on; the SPA reconnects and resumes. And the
//! page's own code stopping: the person is told and can reload.

use huddle_e2e::spa::{screen_of, selector as sel, two_in_a_call, Person, TwoInACall};
use huddle_e2e::{ensure, wait_until, Relay, Result, TIMEOUT};

/// Kill the relay mid-call: media keeps flowing; restart it on the same port (same resume secret): both SPAs
/// reconnect, and signaling works again (a camera toggle shows, a screen share renegotiates the existing connection,
/// and a newcomer connects with both).
pub async fn call_survives_a_relay_restart() -> Result<()> {
    let mut relay = Relay::start_with(&["--resume-secret", "e2e resume secret, 32 bytes or more"]).await?;
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

/// Join with the relay gone (it went away while the lobby was open): the lobby says it cannot reach the call server
/// and is trying again, and after the last try the error screen says the call server cannot be reached.
pub async fn joining_without_the_relay_says_so() -> Result<()> {
    let mut relay = Relay::start().await?;
    let ada = Person::new("Ada").await?;
    ada.start_call(&relay).await?;
    ada.wait_video_playing(sel::PREVIEW).await?;
    relay.kill();

    ada.click_join().await?;
    ada.wait_for(sel::JOIN_RETRY).await?;
    let retry = ada.text(sel::JOIN_RETRY).await?;
    ensure!(retry.contains("Trying again"), "the lobby says {retry:?}");
    ensure!(ada.text(sel::JOIN).await?.contains("Joining"), "the Join button no longer says it is joining");

    ada.wait_for(sel::ERROR).await?;
    let code = ada.attr(sel::ERROR, "data-code").await?;
    ensure!(code.as_deref() == Some("unreachable"), "the error screen's code is {code:?}, not unreachable");
    let text = ada.text(sel::ERROR).await?;
    ensure!(text.contains("Can't reach the call server"), "the error screen says {text:?}");
    Ok(())
}

/// A WebAssembly trap that nothing catches (what a panic in the SPA's release build is) puts up a notice saying the
/// page stopped, whose Reload button brings the same page back, working. The trap is a real one, from a one-function
/// module that runs `unreachable` in a task of its own, as the SPA's code runs in event and timer callbacks.
pub async fn a_stopped_page_says_so_and_reloads() -> Result<()> {
    let relay = Relay::start().await?;
    let ada = Person::new("Ada").await?;
    let room_url = ada.start_call(&relay).await?;
    ada.wait_video_playing(sel::PREVIEW).await?;
    ensure!(!ada.exists(sel::STOPPED).await?, "the notice is up before anything stopped");

    let trap = "
        const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0,
            7, 5, 1, 1, 102, 0, 0, 10, 5, 1, 3, 0, 0, 11]);
        const trapping = new WebAssembly.Instance(new WebAssembly.Module(bytes));
        setTimeout(() => trapping.exports.f());";
    ada.eval_js(trap, Vec::new()).await?;
    ada.wait_for(sel::STOPPED).await?;
    let notice = ada.text(sel::STOPPED).await?;
    ensure!(notice.contains("Huddle stopped working"), "the notice reads {notice:?}");

    ada.click(sel::STOPPED_RELOAD).await?;
    wait_until("the reloaded page has no notice", TIMEOUT, async || Ok(!ada.exists(sel::STOPPED).await?)).await?;
    ada.wait_video_playing(sel::PREVIEW).await?;
    let url = ada.current_url().await?;
    ensure!(url == room_url, "the reload led to {url}, not back to the room {room_url}");
    Ok(())
}
