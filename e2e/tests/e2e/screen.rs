//! Screen sharing in this setup, without the SPA: which Chromium switches let `getDisplayMedia` succeed in headless
//! Chromium with no picker, after a WebDriver click, and that the shared track plays, crosses a peer connection and
//! stops. Observed with Chromium 156 (`--headless`, i.e. the new headless mode):
//!
//! - With the harness's default flags (`--use-fake-ui-for-media-stream` and `--use-fake-device-for-media-stream`),
//!   `getDisplayMedia({video: true})` resolves at once with a synthetic screen: label `screen:-3:0`, surface
//!   `monitor`, 800x600 at 30 fps. The fake UI answers every display-capture request that way, whatever the options
//!   or the auto-select switches; without the fake device it fails with `NotReadableError`.
//! - Without the fake UI (here `grant_media: false`, which adds `--deny-permission-prompts`; it does not affect
//!   display capture), the real tab capturer runs: `--auto-accept-this-tab-capture` with
//!   `getDisplayMedia({video: true, preferCurrentTab: true})` captures the page itself (label
//!   `current-web-contents-media-stream://…`), and `--auto-select-tab-capture-source-by-title=TITLE` with plain
//!   `{video: true}` captures the tab of that title, which must be in a window of its own: a background tab is not
//!   painted, so its capture freezes after one frame. The page itself is in the picker's list only with
//!   `selfBrowserSurface: 'include'` (or `preferCurrentTab`).
//! - With none of these switches the request waits forever on a picker nobody can answer. Transient activation is
//!   not enforced by this build (a script `click()` works too); the tests click through WebDriver anyway.

use std::time::Instant;

use huddle_e2e::diagnostics::note;
use huddle_e2e::{ensure, wait_for, wait_until, Browser, BrowserOptions, Relay, Result, ScratchDir, TIMEOUT};
use serde_json::{json, Value};

/// The title of the page when opened as `/?shared` (the window to capture by title).
const SHARED_TITLE: &str = "Huddle e2e: shared window";

/// The harness's default browser (fake camera, microphone and permission UI) shares a synthetic screen.
pub async fn default_flags_share_a_fake_screen() -> Result<()> {
    let (_page, relay) = serve().await?;
    let browser = Browser::launch("presenter").await?;
    browser.goto(&relay.url("/")).await?;

    let shared = share(&browser, json!({ "video": true })).await?;
    ensure!(shared["label"] == "screen:-3:0", "not the fake screen: {shared}");
    ensure!(shared["settings"]["displaySurface"] == "monitor", "not a monitor: {shared}");
    ensure!(shared["captureHandle"].is_null(), "a fake screen has no capture handle: {shared}");
    plays_and_travels(&browser).await?;
    stop_sharing(&browser).await
}

/// Without the fake UI, `--auto-accept-this-tab-capture` grants `preferCurrentTab` requests: the page captures itself.
pub async fn auto_accept_shares_this_tab() -> Result<()> {
    let (_page, relay) = serve().await?;
    let browser = Browser::launch_with(BrowserOptions {
        grant_media: false,
        extra_args: vec!["--auto-accept-this-tab-capture".into()],
        ..BrowserOptions::new("presenter")
    })
    .await?;
    browser.goto(&relay.url("/")).await?;

    let shared = share(&browser, json!({ "video": true, "preferCurrentTab": true })).await?;
    let label = shared["label"].as_str().unwrap_or_default();
    ensure!(label.starts_with("current-web-contents-media-stream://"), "not this tab: {shared}");
    ensure!(shared["settings"]["displaySurface"] == "browser", "not a tab: {shared}");
    ensure!(shared["captureHandle"]["handle"] == "sharer", "captured something else: {shared}");
    plays_and_travels(&browser).await?;
    stop_sharing(&browser).await
}

/// Without the fake UI, `--auto-select-tab-capture-source-by-title` picks another window for a plain
/// `{video: true}`; closing that window ends the track.
pub async fn title_switch_shares_another_window() -> Result<()> {
    let (_page, relay) = serve().await?;
    let browser = Browser::launch_with(BrowserOptions {
        grant_media: false,
        extra_args: vec![format!("--auto-select-tab-capture-source-by-title={SHARED_TITLE}")],
        ..BrowserOptions::new("presenter")
    })
    .await?;
    let client = browser.client();
    let webdriver = |what: &str| {
        let what = format!("presenter: {what}");
        move |error| huddle_e2e::Error::webdriver(what, error)
    };
    let presenter = client.window().await.map_err(webdriver("read the window handle"))?;
    let other = client.new_window(false).await.map_err(webdriver("open a window"))?.handle;
    client.switch_to_window(other.clone()).await.map_err(webdriver("switch to the new window"))?;
    browser.goto(&relay.url("/?shared")).await?;
    ensure!(browser.title().await? == SHARED_TITLE, "the window to share is not titled {SHARED_TITLE:?}");
    client.switch_to_window(presenter.clone()).await.map_err(webdriver("switch back"))?;
    browser.goto(&relay.url("/")).await?;

    let shared = share(&browser, json!({ "video": true })).await?;
    let label = shared["label"].as_str().unwrap_or_default();
    ensure!(label.starts_with("web-contents-media-stream://"), "not a tab: {shared}");
    ensure!(shared["captureHandle"]["handle"] == "shared", "captured something else: {shared}");
    plays_and_travels(&browser).await?;

    client.switch_to_window(other).await.map_err(webdriver("switch to the shared window"))?;
    client.close_window().await.map_err(webdriver("close the shared window"))?;
    client.switch_to_window(presenter).await.map_err(webdriver("switch back"))?;
    wait_until("the track ends when the shared window closes", TIMEOUT, async || {
        let track = browser.eval_js(TRACK_STATE, Vec::new()).await?;
        Ok(track["readyState"] == "ended" && track["events"].as_array().is_some_and(|e| e.contains(&json!("ended"))))
    })
    .await?;
    wait_until("#screen stops playing", TIMEOUT, async || Ok(!browser.remote_video_playing("#screen").await?)).await
}

const TRACK_STATE: &str = r#"
    const track = window.__screen_track;
    return { readyState: track.readyState, muted: track.muted, events: window.__screen.events,
             settings: track.getSettings() };
"#;

/// A relay serving `screen.html` as its index page (and as `/?shared`).
async fn serve() -> Result<(ScratchDir, Relay)> {
    let page = ScratchDir::new("screen-page")?;
    page.write("index.html", include_str!("screen.html"))?;
    let relay = Relay::serving(page.path(), &[]).await?;
    Ok((page, relay))
}

/// Clicks `#share` with these `getDisplayMedia` options and returns `window.__screen` once the call succeeded: a
/// single live, unmuted video track, asked for with the transient activation of a real click.
async fn share(browser: &Browser, options: Value) -> Result<Value> {
    browser.eval_js("window.__screen_options = arguments[0];", vec![options.clone()]).await?;
    let clicked = Instant::now();
    browser.click("#share").await?;
    let shared = wait_for(format!("getDisplayMedia({options}) settles"), TIMEOUT, async || {
        let screen = browser.eval_js("return window.__screen;", Vec::new()).await?;
        Ok(matches!(screen["state"].as_str(), Some("ok" | "error")).then_some(screen))
    })
    .await?;
    note(format!(
        "getDisplayMedia({options}) after {:?} (in the page: {} ms): {shared}",
        clicked.elapsed(),
        shared["ms"]
    ));
    ensure!(shared["state"] == "ok", "getDisplayMedia({options}) failed: {shared}");
    ensure!(shared["activation"] == true, "the click gave no transient activation: {shared}");
    ensure!(shared["tracks"] == json!(["video live"]), "expected one live video track: {shared}");
    ensure!(shared["muted"] == false, "the track starts muted: {shared}");
    Ok(shared)
}

/// The shared track plays in `#screen`, and arrives and plays in `#remote` over a loopback peer connection.
async fn plays_and_travels(browser: &Browser) -> Result<()> {
    let started = Instant::now();
    browser.wait_video_playing("#screen").await?;
    let track = browser.eval_js(TRACK_STATE, Vec::new()).await?;
    note(format!("#screen plays {:?} after the call resolved; track: {track}", started.elapsed()));
    ensure!(track["readyState"] == "live", "the track is not live: {track}");
    let (width, height) = (&track["settings"]["width"], &track["settings"]["height"]);
    ensure!(width.as_u64() > Some(0) && height.as_u64() > Some(0), "no size in the settings: {track}");

    browser.wait_connected("presenter").await?;
    browser.wait_video_playing("#remote").await?;
    let before = browser.inbound_rtp_bytes("presenter").await?.unwrap_or_default();
    let received = wait_for(format!("more video than {before:?} arrives"), TIMEOUT, async || {
        let now = browser.inbound_rtp_bytes("presenter").await?.unwrap_or_default();
        Ok((now.video > before.video).then_some(now))
    })
    .await?;
    let tracks = browser.live_remote_tracks("presenter").await?;
    ensure!(
        tracks.is_some_and(|live| live.audio == 0 && live.video == 1),
        "live remote tracks: {tracks:?} (received {received:?})"
    );
    note(format!("the screen crossed the peer connection {:?} after the call resolved", started.elapsed()));
    Ok(())
}

/// `#stop` stops the track (`track.stop()` ends it without an `ended` event); neither video plays any more.
async fn stop_sharing(browser: &Browser) -> Result<()> {
    browser.click("#stop").await?;
    let track = browser.eval_js(TRACK_STATE, Vec::new()).await?;
    ensure!(track["readyState"] == "ended", "track.stop() left the track {track}");
    wait_until("#screen stops playing", TIMEOUT, async || Ok(!browser.remote_video_playing("#screen").await?)).await?;
    wait_until("#remote stops playing", TIMEOUT, async || Ok(!browser.remote_video_playing("#remote").await?)).await
}
