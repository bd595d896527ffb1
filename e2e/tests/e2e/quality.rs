//! The connection indicator on each remote tile: good on a clean call, and on a lossy one weak or poor, saying that
//! packets are lost, on hover (its title) and to a screen reader or a keyboard user (its accessible name, shown on
//! focus).

use std::time::Duration;

use huddle_e2e::shaping::{Rate, Shaper, UdpDrop};
use huddle_e2e::spa::{selector as sel, tile_of, two_in_a_call, Person, TwoInACall};
use huddle_e2e::{artifacts, diagnostics, ensure, wait_for, wait_until, Error, Relay, Result};
use serde_json::json;

/// How long the indicator may take to show a change: the monitor reports once a second, a worse grade shows at
/// once, a better one after a few good seconds, and the browser's bandwidth estimate, held back by the loss, must
/// grow again before the sender stops being limited.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a paused video may take to resume once the link is back: the adaptation steps up carefully, waiting
/// longer after each step that failed.
const RESUME_TIMEOUT: Duration = Duration::from_secs(120);

/// What a tile's indicator shows.
#[derive(Debug)]
struct Shown {
    quality: String,
    label: String,
    title: String,
    focusable: bool,
}

const READ_INDICATOR: &str = r#"
    const indicator = document.querySelector(arguments[0]);
    return indicator && {
      quality: indicator.dataset.quality ?? '', label: indicator.getAttribute('aria-label') ?? '',
      title: indicator.title, focusable: indicator.tabIndex >= 0,
    };
"#;

/// The indicator on `person`'s tile of `peer_id` (`None` while there is none).
async fn indicator(person: &Person, peer_id: &str) -> Result<Option<Shown>> {
    let selector = format!("{} {}", tile_of(peer_id), sel::TILE_QUALITY);
    let reply = person.eval_js(READ_INDICATOR, vec![json!(selector)]).await?;
    if reply.is_null() {
        return Ok(None);
    }
    let text = |key: &str| reply[key].as_str().unwrap_or_default().to_owned();
    let focusable = reply["focusable"].as_bool().unwrap_or(false);
    Ok(Some(Shown { quality: text("quality"), label: text("label"), title: text("title"), focusable }))
}

/// Waits until `person`'s tile of `peer_id` shows an indicator that `wanted` accepts; returns it.
async fn wait_indicator(person: &Person, peer_id: &str, what: &str, wanted: impl Fn(&Shown) -> bool) -> Result<Shown> {
    let what = format!("{}'s tile of {peer_id} shows {what}", person.name());
    wait_for(what, CHANGE_TIMEOUT, async || {
        match indicator(person, peer_id).await? {
            Some(shown) if wanted(&shown) => Ok(Some(shown)),
            // An error is "not yet", and the last one is what a timeout reports.
            other => Err(Error::Check(format!("the indicator is {other:?}"))),
        }
    })
    .await
}

/// Ada and Bob in a clean call: each one's tile of the other says "Connection good", focusable. With a fifth of the
/// UDP packets dropped, Ada's tile of Bob turns weak or poor, its name and title saying how many packets are lost;
/// Tab from the tile's fit button reaches it and shows the reason (saves `quality-loss.png`). With the loss gone, it
/// is good again.
pub async fn the_tile_says_how_good_the_connection_is_and_why() -> Result<()> {
    let relay = Relay::start().await?;
    let TwoInACall { ada, bob, ada_id, bob_id, .. } = two_in_a_call(&relay).await?;

    for (person, peer_id) in [(&ada, &bob_id), (&bob, &ada_id)] {
        let good = wait_indicator(person, peer_id, "a good connection", |shown| shown.quality == "good").await?;
        ensure!(good.label == "Connection good" && good.title == good.label, "a good connection reads {good:?}");
        ensure!(good.focusable, "the indicator cannot take the focus: {good:?}");
        let told = person.exists(sel::OWN_CONNECTION).await?;
        ensure!(!told, "{} is told their connection is weak on a clean call", person.name());
    }

    {
        let _loss = UdpDrop::share(0.2)?;
        let what = "a weak or poor connection losing packets";
        let lossy = wait_indicator(&ada, &bob_id, what, |shown| {
            ["weak", "poor"].contains(&shown.quality.as_str()) && shown.label.contains("% of packets lost")
        })
        .await?;
        diagnostics::note(format!("with 20 % of UDP dropped, Ada's tile of Bob: {lossy:?}"));
        let expected = format!("Connection {}: ", lossy.quality);
        ensure!(lossy.label.starts_with(&expected) && lossy.title == lossy.label, "the indicator reads {lossy:?}");

        // A keyboard user reaches it from the control before it and sees the reason.
        let fit = format!("{} {}", tile_of(&bob_id), sel::TILE_FIT);
        ada.eval_js("document.querySelector(arguments[0]).focus();", vec![json!(fit)]).await?;
        ada.press_keys("\u{E004}").await?;
        let focused = ada.eval_js(FOCUSED_INDICATOR, Vec::new()).await?;
        // The computed `content` of `attr()` is the attribute's text, quoted.
        let label = focused["label"].as_str().unwrap_or_default();
        ensure!(label.starts_with("Connection "), "Tab from the fit button focuses {focused}");
        let tip = focused["tip"].as_str().unwrap_or_default();
        ensure!(tip == format!("\"{label}\""), "the focused indicator does not show its reason: {focused}");
        let notice =
            if ada.exists(sel::OWN_CONNECTION).await? { Some(ada.text(sel::OWN_CONNECTION).await?) } else { None };
        diagnostics::note(format!("Ada's own-connection notice with the loss: {notice:?}"));
        ada.screenshot(artifacts::screenshot_path("quality-loss.png")).await?;
    }

    wait_indicator(&ada, &bob_id, "a good connection again", |shown| shown.quality == "good").await?;
    Ok(())
}

/// The focused element's accessible name, if it is a quality indicator, and what its tip shows.
const FOCUSED_INDICATOR: &str = r#"
    const focused = document.activeElement;
    if (!focused || !focused.matches('.tile-quality')) return { focused: focused?.outerHTML ?? null };
    return { label: focused.getAttribute('aria-label'), tip: getComputedStyle(focused, '::after').content };
"#;

/// With the media squeezed into 90 kbit/s, more than audio needs but far from what video does, each side's
/// adaptation pauses its camera: Ada is told "Your connection is weak: video paused…" above the tiles, and Bob's tile
/// of her shows her chip and says her video is paused (saves `quality-paused.png`, from Bob). With the link back,
/// the video resumes: neither says paused any more.
pub async fn a_paused_video_says_so_on_both_sides() -> Result<()> {
    let relay = Relay::start().await?;
    let TwoInACall { ada, bob, ada_id, .. } = two_in_a_call(&relay).await?;
    bob.wait_sees_and_hears(&ada_id).await?;
    let paused = format!("{} {}", tile_of(&ada_id), sel::TILE_PAUSED);
    {
        let _thin = Shaper::install_udp(Rate::kbit(90))?;
        let what = "Bob's tile of Ada says her video is paused";
        wait_until(what, CHANGE_TIMEOUT, async || bob.exists(&paused).await).await?;
        let status = bob.text(&paused).await?;
        ensure!(status == "Video paused: the connection is too weak", "Bob's tile of Ada says {status:?}");
        let what = "Ada is told her video is paused";
        let notice = wait_for(what, CHANGE_TIMEOUT, async || {
            Ok(Some(ada.text(sel::OWN_CONNECTION).await.unwrap_or_default()).filter(|text| text.contains("paused")))
        })
        .await?;
        ensure!(notice.starts_with("Your connection is weak: video paused"), "Ada's notice reads {notice:?}");
        bob.screenshot(artifacts::screenshot_path("quality-paused.png")).await?;
    }
    // Resumed is what is asserted, not back at full quality: the climb to the top rung may take longer, and the
    // notice may say "video reduced" meanwhile.
    let what = "Bob's tile of Ada no longer says paused, and Ada's notice no longer says paused";
    wait_until(what, RESUME_TIMEOUT, async || {
        // No notice at all reads as "".
        let notice = ada.text(sel::OWN_CONNECTION).await.unwrap_or_default();
        Ok(!bob.exists(&paused).await? && !notice.contains("paused"))
    })
    .await?;
    bob.wait_video_playing(&format!("{} video", tile_of(&ada_id))).await
}
