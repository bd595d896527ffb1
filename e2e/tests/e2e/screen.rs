//! Screen sharing in this setup, without the SPA: which Chromium switches let `getDisplayMedia` succeed in headless
//! Chromium with no picker, after a WebDriver click, and that the shared track plays, crosses a peer connection and
//! stops. Observed with Chromium 156 (`--headless`, i.e. the new headless mode):
//!
//! - With the harness's default flags (`--use-fake-ui-for-media-stream` and `--use-fake-device-for-media-stream`),
//!   `getDisplayMedia({video: true})` resolves at once with a synthetic screen: label `screen:-3:0`, surface
//!   `monitor`, 800x600 at first, then 800x450. The fake UI answers every display-capture request that way, whatever
//!   the options or the auto-select switches; without the fake device it fails with `NotReadableError`.
//! - Without the fake UI (here `grant_media: false`, which adds `--deny-permission-prompts`; it does not affect
//!   display capture), the real tab capturer runs: `--auto-accept-this-tab-capture` with
//!   `getDisplayMedia({video: true, preferCurrentTab: true})` captures the page itself (label
//!   `current-web-contents-media-stream://…`), and `--auto-select-tab-capture-source-by-title=TITLE` with plain
//!   `{video: true}` captures the tab of that title, which must be in a window of its own: a background tab is not
//!   painted, so its capture freezes after one frame. The page itself is in the picker's list only with
//!   `selfBrowserSurface: 'include'` (or `preferCurrentTab`).
//! - With none of these switches the request waits forever on a picker nobody can answer. Transient activation is
//!   not enforced by this build (a script `click()` works too); the tests click through WebDriver anyway.
//!
//! Without the fake UI the page has no camera or microphone permission, so Chromium gathers no host ICE candidate
//! and, with only loopback, a peer connection stays "new" (neither `--auto-accept-camera-and-microphone-capture`
//! nor turning off mDNS candidates changes that; granting the permissions through WebDriver's Set Permission does).
//! So only the fake screen is sent over a peer connection here.

use std::time::Instant;

use huddle_e2e::diagnostics::note;
use huddle_e2e::{ensure, wait_for, wait_until, Browser, BrowserOptions, Error, Relay, Result, ScratchDir, TIMEOUT};
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
    plays(&browser).await?;
    travels(&browser).await?;
    stop_sharing(&browser, &["#screen", "#remote"]).await
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
    plays(&browser).await?;
    note_no_ice(&browser).await?;
    stop_sharing(&browser, &["#screen"]).await
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
        move |error| Error::webdriver(what, error)
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
    plays(&browser).await?;
    note_no_ice(&browser).await?;

    client.switch_to_window(other).await.map_err(webdriver("switch to the shared window"))?;
    client.close_window().await.map_err(webdriver("close the shared window"))?;
    client.switch_to_window(presenter).await.map_err(webdriver("switch back"))?;
    wait_until("the track ends when the shared window closes", TIMEOUT, async || {
        let track = browser.eval_js(TRACK_STATE, Vec::new()).await?;
        Ok(track["readyState"] == "ended" && track["events"].as_array().is_some_and(|e| e.contains(&json!("ended"))))
    })
    .await?;
    frozen(&browser, &["#screen"]).await
}

/// Without the fake UI, the page has neither camera nor microphone permission, so Chromium offers no host ICE
/// candidate and in a loopback-only network the peer connection never leaves "new"; noted, not checked.
async fn note_no_ice(browser: &Browser) -> Result<()> {
    let state = browser.connection_state("presenter").await?;
    note(format!("the loopback peer connection is {state:?} (no host candidates without camera/mic permission)"));
    Ok(())
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

/// The shared track plays in `#screen`: new frames keep coming, at the size the track reports.
async fn plays(browser: &Browser) -> Result<()> {
    let started = Instant::now();
    browser.wait_video_playing("#screen").await?;
    let took = started.elapsed();
    let frames = frames_presented(browser, "#screen").await?;
    let track = browser.eval_js(TRACK_STATE, Vec::new()).await?;
    note(format!(
        "#screen plays {took:?} after the call resolved: {frames} frames in {FRAME_WINDOW_MS} ms; track: {track}"
    ));
    ensure!(frames >= 5, "#screen presented only {frames} frames in {FRAME_WINDOW_MS} ms");
    ensure!(track["readyState"] == "live", "the track is not live: {track}");
    let (width, height) = (&track["settings"]["width"], &track["settings"]["height"]);
    ensure!(width.as_u64() > Some(0) && height.as_u64() > Some(0), "no size in the settings: {track}");
    Ok(())
}

/// The shared track arrives and plays in `#remote` over the page's loopback peer connection.
async fn travels(browser: &Browser) -> Result<()> {
    let started = Instant::now();
    browser.wait_connected("presenter").await?;
    browser.wait_video_playing("#remote").await?;
    let took = started.elapsed();
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
    let frames = frames_presented(browser, "#remote").await?;
    ensure!(frames >= 5, "#remote presented only {frames} frames in {FRAME_WINDOW_MS} ms");
    note(format!("the screen plays across the peer connection {took:?} later"));
    Ok(())
}

/// `#stop` stops the track (`track.stop()` ends it without an `ended` event); no video presents a frame any more.
async fn stop_sharing(browser: &Browser, videos: &[&str]) -> Result<()> {
    browser.click("#stop").await?;
    let track = browser.eval_js(TRACK_STATE, Vec::new()).await?;
    ensure!(track["readyState"] == "ended", "track.stop() left the track {track}");
    ensure!(!track["events"].as_array().is_some_and(|e| e.contains(&json!("ended"))), "stop() fired ended: {track}");
    frozen(browser, videos).await
}

/// Waits until none of `videos` presents a new frame.
async fn frozen(browser: &Browser, videos: &[&str]) -> Result<()> {
    for video in videos {
        wait_until(format!("{video} presents no more frames"), TIMEOUT, async || {
            Ok(frames_presented(browser, video).await? == 0)
        })
        .await?;
    }
    Ok(())
}

/// How long [`frames_presented`] counts.
const FRAME_WINDOW_MS: u64 = 1000;

/// How many frames the `<video>` matching `selector` presents in [`FRAME_WINDOW_MS`], by `requestVideoFrameCallback`.
/// (Not `currentTime`: for a `MediaStream` it keeps advancing when no frame comes, even after the track stopped.)
async fn frames_presented(browser: &Browser, selector: &str) -> Result<u64> {
    const FRAMES: &str = r#"
        const [selector, windowMs, done] = arguments;
        const video = document.querySelector(selector);
        let frames = 0;
        const count = () => { frames += 1; video.requestVideoFrameCallback(count); };
        video.requestVideoFrameCallback(count);
        setTimeout(() => done(frames), windowMs);
    "#;
    let frames = browser.eval_js_async(FRAMES, vec![json!(selector), json!(FRAME_WINDOW_MS)]).await?;
    frames.as_u64().ok_or_else(|| Error::Script { what: format!("frames presented by {selector}"), value: frames })
}
