//! Live call statistics: the panel reads the connection's `getStats()` once a second and shows, per peer, how media
//! travels, the bitrates, the received video, and sparklines of the last minute.

use std::time::Duration;

use huddle_e2e::spa::{selector as sel, stats_of, two_in_a_call_in, two_in_a_call_with_bob_on, Person, TwoInACall};
use huddle_e2e::{artifacts, diagnostics, ensure, wait_for, Browser, Browsers, Error, Relay, Result, TIMEOUT};
use serde_json::Value;

const ESCAPE: &str = "\u{E00C}";

/// What one peer's section of the panel shows.
#[derive(Debug, PartialEq)]
struct Reading {
    path: String,
    bitrate_in: String,
    bitrate_out: String,
    rtt: String,
    loss: String,
    fps: String,
    resolution: String,
    codec: String,
    /// How many points each sparkline has.
    sparklines: Vec<usize>,
}

const READ_SECTION: &str = r#"
    const section = document.querySelector(arguments[0]);
    if (!section) return null;
    const text = (selector) => (section.querySelector(selector)?.textContent ?? '').trim();
    return {
      path: text('.stats-path'), bitrateIn: text('.stats-bitrate-in'), bitrateOut: text('.stats-bitrate-out'),
      rtt: text('.stats-rtt'), loss: text('.stats-loss'), fps: text('.stats-fps'),
      resolution: text('.stats-resolution'), codec: text('.stats-codec'),
      sparklines: Array.from(section.querySelectorAll('svg.sparkline polyline'))
        .map((line) => (line.getAttribute('points') ?? '').trim().split(/\s+/).filter(Boolean).length),
    };
"#;

/// The section about `peer_id`, as `person` sees it (`None` while it is not shown).
async fn reading(person: &Person, peer_id: &str) -> Result<Option<Reading>> {
    let reply = person.eval_js(READ_SECTION, vec![Value::from(stats_of(peer_id))]).await?;
    if reply.is_null() {
        return Ok(None);
    }
    let text = |key: &str| reply[key].as_str().map(str::to_owned);
    let sparklines =
        reply["sparklines"].as_array().map(|lines| lines.iter().filter_map(Value::as_u64).map(|n| n as usize));
    let parsed = (|| {
        Some(Reading {
            path: text("path")?,
            bitrate_in: text("bitrateIn")?,
            bitrate_out: text("bitrateOut")?,
            rtt: text("rtt")?,
            loss: text("loss")?,
            fps: text("fps")?,
            resolution: text("resolution")?,
            codec: text("codec")?,
            sparklines: sparklines?.collect(),
        })
    })();
    parsed.map(Some).ok_or_else(|| Error::Script { what: format!("{}: the stats panel", person.name()), value: reply })
}

/// A timing the panel records on itself, in milliseconds.
async fn figure(person: &Person, attribute: &str) -> Result<Option<f64>> {
    Ok(person.attr(sel::STATS, attribute).await?.and_then(|ms| ms.parse().ok()))
}

/// The leading number of a value such as "812 kbit/s" or "30 fps" (`None` for "—").
fn number(text: &str) -> Option<f64> {
    text.split_whitespace().next()?.parse().ok()
}

/// "640x480" as (640, 480).
fn resolution(text: &str) -> Option<(u32, u32)> {
    let (width, height) = text.split_once('x')?;
    Some((width.trim().parse().ok()?, height.trim().parse().ok()?))
}

/// Ada opens the statistics: Bob's section says the path is direct over host candidates (loopback), names the
/// codecs, shows his video's resolution and frame rate, a bitrate that is above zero and keeps changing, and
/// sparklines that grow; Escape closes the panel and gives the focus back to its button. Saves `stats.png`.
pub async fn stats_panel_shows_the_live_connection(browsers: Browsers) -> Result<()> {
    let relay = Relay::start().await?;
    // Bob's browser must stay open: a field left to `..` would be dropped (and his browser closed) right here.
    let TwoInACall { ada, bob: _bob, bob_id, .. } = two_in_a_call_in(&relay, browsers).await?;

    ada.click(sel::TOGGLE_STATS).await?;
    ada.wait_for(sel::STATS).await?;
    ensure!(ada.is_on(sel::TOGGLE_STATS).await?, "the statistics button does not say it is pressed");

    // The first reading has no rates yet (they need two); the next one does.
    let what = "Ada's statistics of Bob show a direct path, codecs, video and traffic";
    let first = wait_for(what, TIMEOUT, async || {
        let Some(shown) = reading(&ada, &bob_id).await? else {
            return Err(Error::Check("the panel has no section for Bob".into()));
        };
        let complete = shown.path == "Direct (host)"
            && ["VP8", "VP9", "H264", "AV1", "opus"].iter().any(|codec| shown.codec.contains(codec))
            && resolution(&shown.resolution).is_some_and(|(w, h)| w > 0 && h > 0)
            && number(&shown.fps).is_some_and(|fps| fps > 0.0)
            && number(&shown.bitrate_in).is_some_and(|kbps| kbps > 0.0)
            && number(&shown.bitrate_out).is_some_and(|kbps| kbps > 0.0)
            && number(&shown.loss).is_some()
            && number(&shown.rtt).is_some();
        // An error is "not yet", and the last one is what a timeout reports.
        if complete {
            Ok(Some(shown))
        } else {
            Err(Error::Check(format!("the panel shows {shown:?}")))
        }
    })
    .await?;

    // Live: a later reading differs, and the sparklines have gathered several points.
    let what = "Ada's statistics of Bob update and draw sparklines";
    let later = wait_for(what, Duration::from_secs(15), async || {
        let Some(shown) = reading(&ada, &bob_id).await? else { return Ok(None) };
        let moved = shown.bitrate_in != first.bitrate_in && number(&shown.bitrate_in).is_some_and(|k| k > 0.0);
        let drawn = shown.sparklines.len() == 3 && shown.sparklines.iter().all(|points| *points > 2);
        Ok((moved && drawn).then_some(shown))
    })
    .await?;
    diagnostics::note(format!("stats of Bob at Ada: {first:?}, then {later:?}"));

    // How long an update takes, end to end and on the page's main thread (a loose bound: this catches a panel that
    // grew slow, not a busy machine).
    let (update_ms, work_ms) = (figure(&ada, "data-update-ms").await?, figure(&ada, "data-work-ms").await?);
    diagnostics::note(format!("a stats update took {update_ms:?} ms, {work_ms:?} ms of it on the main thread"));
    println!("    stats update: {update_ms:?} ms from getStats() to rendered, {work_ms:?} ms of page work");
    ensure!(work_ms.is_some_and(|ms| ms < 100.0), "a statistics update kept the page busy for {work_ms:?} ms");
    // A picture with some history in the graphs.
    let what = "Ada's sparklines of Bob hold ten seconds";
    wait_for(what, TIMEOUT, async || {
        Ok(reading(&ada, &bob_id).await?.filter(|shown| shown.sparklines.iter().all(|points| *points >= 10)))
    })
    .await?;
    ada.screenshot(artifacts::screenshot_path("stats.png")).await?;

    // Keyboard: Escape closes the panel and the focus returns to the button that opened it.
    ada.press_keys(ESCAPE).await?;
    ada.wait_gone(sel::STATS).await?;
    ensure!(!ada.is_on(sel::TOGGLE_STATS).await?, "the statistics button still says it is pressed");
    let focused = ada.eval_js("return document.activeElement?.id ?? '';", Vec::new()).await?;
    ensure!(focused == "toggle-stats", "after closing, the focus is on {focused}");
    Ok(())
}

/// On a phone-sized screen the panel takes the whole width above the controls, which stay visible and usable; saves
/// `stats-phone.png`.
pub async fn stats_panel_covers_a_phone_screen() -> Result<()> {
    let relay = Relay::start().await?;
    let TwoInACall { ada: _ada, bob, ada_id, .. } =
        two_in_a_call_with_bob_on(&relay, Browser::launch_phone("Bob").await?).await?;

    bob.click(sel::TOGGLE_STATS).await?;
    let what = "Bob's statistics of Ada show traffic";
    wait_for(what, TIMEOUT, async || {
        let shown = reading(&bob, &ada_id).await?;
        Ok(shown.filter(|shown| number(&shown.bitrate_in).is_some_and(|kbps| kbps > 0.0)))
    })
    .await?;
    const LAYOUT: &str = r#"
        const box = (selector) => document.querySelector(selector).getBoundingClientRect();
        const [panel, controls] = [box('#stats'), box('.controls')];
        return { left: panel.left, right: panel.right, top: panel.top, bottom: panel.bottom, controlsTop: controls.top,
                 controlsBottom: controls.bottom, width: innerWidth, height: innerHeight };
    "#;
    let layout = bob.eval_js(LAYOUT, Vec::new()).await?;
    let at = |key: &str| layout[key].as_f64().unwrap_or(f64::NAN);
    ensure!(
        at("left") <= 0.5 && at("right") >= at("width") - 0.5 && at("top") <= 0.5,
        "the panel does not cover the screen's width: {layout}"
    );
    ensure!(
        at("bottom") <= at("controlsTop") + 0.5 && at("controlsBottom") <= at("height") + 0.5,
        "the panel and the controls overlap or leave the screen: {layout}"
    );
    bob.screenshot(artifacts::screenshot_path("stats-phone.png")).await?;
    bob.click(sel::TOGGLE_STATS).await?;
    bob.wait_gone(sel::STATS).await
}
