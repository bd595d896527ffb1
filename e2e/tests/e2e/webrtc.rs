//! Real WebRTC in this setup, without the SPA: validates the Chromium flags and the harness's media observations.

use huddle_e2e::{ensure, wait_until, Browser, Relay, Result, ScratchDir, TIMEOUT};

/// A page (served by the relay) calls itself: fake camera and microphone, two peer connections over loopback ICE.
pub async fn fake_media_flows_over_loopback() -> Result<()> {
    let page = ScratchDir::new("loopback-page")?;
    page.write("index.html", include_str!("loopback.html"))?;
    let relay = Relay::serving(page.path(), &[]).await?;
    let browser = Browser::launch("loopback").await?;
    browser.goto(&relay.url("/")).await?;

    browser.wait_connected("alice").await?;
    browser.wait_video_playing("#remote").await?;
    let received = browser.wait_media_flowing("alice").await?;
    let tracks = browser.live_remote_tracks("alice").await?;
    ensure!(
        tracks.is_some_and(|live| live.audio == 1 && live.video == 1),
        "live remote tracks from alice: {tracks:?} (received {received:?})"
    );
    ensure!(browser.peer_ids().await? == ["alice", "bob"], "unexpected __huddle_pcs keys");
    wait_until("the data channel delivers a message", TIMEOUT, async || {
        let messages = browser.eval_js("return window.__loopback_messages;", Vec::new()).await?;
        Ok(messages == serde_json::json!(["hello over the data channel"]))
    })
    .await
}
