//! The lobby: what a person sees before joining.

use huddle_e2e::spa::{new_room_id, room_path, selector as sel, Person};
use huddle_e2e::{
    artifacts, diagnostics, ensure, wait_until, Browser, BrowserOptions, Error, Relay, Result, Viewport, TIMEOUT,
};
use serde_json::json;

/// Starting a call from home leads to a lobby that previews the camera, lists devices, toggles the mic, shows a
/// link to the room; saves a screenshot (`artifacts::screenshot_path`).
pub async fn lobby_previews_camera_and_shares_the_link() -> Result<()> {
    let relay = Relay::start().await?;
    let ada = Person::new("Ada").await?;
    let room_url = ada.start_call(&relay).await?;
    ensure!(room_url.contains("/r/"), "Start a call led to {room_url}, not a room");

    ada.wait_video_playing(sel::PREVIEW).await?;
    ada.wait_for(sel::MIC_LEVEL).await?;
    for select in [sel::CAMERA_SELECT, sel::MIC_SELECT] {
        let what = format!("{select} lists a device");
        wait_until(what, TIMEOUT, async || Ok(ada.count(&format!("{select} option")).await? >= 1)).await?;
    }
    ensure!(ada.is_on(sel::TOGGLE_MIC).await? && ada.is_on(sel::TOGGLE_CAMERA).await?, "devices start off");
    ada.set_toggle(sel::TOGGLE_MIC, false).await?;
    ada.set_toggle(sel::TOGGLE_MIC, true).await?;

    let link = ada.text(sel::SHARE_LINK).await?;
    ensure!(link.trim() == room_url, "the share link {link:?} is not the room's URL {room_url}");
    ada.wait_for(sel::COPY_LINK).await?;
    ensure!(ada.value(sel::NAME).await? == "Ada", "the lobby forgot the name typed at home");

    ada.screenshot(artifacts::screenshot_path("lobby.png")).await
}

/// With camera and microphone blocked, the lobby explains why there is no preview.
pub async fn denied_media_is_explained() -> Result<()> {
    let relay = Relay::start().await?;
    let options = BrowserOptions { grant_media: false, ..BrowserOptions::new("Ada") };
    let ada = Person::with_browser("Ada", Browser::launch_with(options).await?);
    ada.open_lobby(&relay.url(&room_path(&new_room_id()))).await?;
    ada.wait_for(sel::MEDIA_ERROR).await?;
    let explanation = ada.text(sel::MEDIA_ERROR).await?;
    ensure!(!explanation.trim().is_empty(), "#media-error is empty");
    Ok(())
}

/// Join waits for a name: with the field emptied, Join is disabled, and typing a name enables it; the empty field
/// says what to type (a placeholder).
pub async fn join_waits_for_a_name() -> Result<()> {
    let relay = Relay::start().await?;
    let ada = Person::new("Ada").await?;
    ada.open_lobby(&relay.url(&room_path(&new_room_id()))).await?;
    // With the camera ready, the name is the only thing Join can be waiting for.
    ada.wait_video_playing(sel::PREVIEW).await?;
    let placeholder = ada.attr(sel::NAME, "placeholder").await?.unwrap_or_default();
    ensure!(!placeholder.trim().is_empty(), "the name field has no placeholder");

    ada.click(sel::NAME).await?;
    ada.press_keys(&format!("{SELECT_ALL}{BACKSPACE}")).await?;
    ensure!(ada.value(sel::NAME).await?.is_empty(), "the name field is not empty: {:?}", ada.value(sel::NAME).await?);
    wait_until("Join is disabled while the name is empty", TIMEOUT, async || Ok(!ada.is_enabled(sel::JOIN).await?))
        .await?;
    ada.press_keys("Ada").await?;
    wait_until("Join is enabled once a name is typed", TIMEOUT, async || ada.is_enabled(sel::JOIN).await).await?;
    ada.press_keys(&format!("{SELECT_ALL}{BACKSPACE}")).await?;
    wait_until("Join is disabled again once the name is erased", TIMEOUT, async || {
        Ok(!ada.is_enabled(sel::JOIN).await?)
    })
    .await
}

/// A room link pasted with what came after it in a sentence (a full stop, an escaped space) opens that room's
/// lobby, and the address bar is rewritten to the room's own link, which the lobby shares.
pub async fn a_link_with_trailing_characters_opens_the_room() -> Result<()> {
    let relay = Relay::start().await?;
    let ada = Person::new("Ada").await?;
    let room = new_room_id();
    let canonical = room_path(&room);
    for trailing in [".", "%20"] {
        ada.open_lobby(&relay.url(&format!("{canonical}{trailing}"))).await?;
        let what = format!("the address bar reads {canonical} after opening {canonical}{trailing}");
        wait_until(what, TIMEOUT, async || {
            let path = ada.eval_js("return location.pathname;", Vec::new()).await?;
            // An error is "not yet"; the last one is what a timeout reports.
            if path == canonical.as_str() {
                Ok(true)
            } else {
                Err(Error::Check(format!("it reads {path}")))
            }
        })
        .await?;
        let link = ada
            .eval_js("return document.querySelector(arguments[0]).textContent.trim();", vec![json!(sel::SHARE_LINK)])
            .await?;
        ensure!(link == relay.url(&canonical).as_str(), "after {trailing:?} the lobby shares {link}");
    }
    Ok(())
}

/// The link to share is one line, whatever the width (on a phone it is shortened in the middle), and its text is
/// the whole link, also as copied from the page; saves `lobby-phone.png`.
pub async fn the_share_link_is_one_line_at_any_width() -> Result<()> {
    let relay = Relay::start().await?;
    let path = room_path(&new_room_id());
    for viewport in [Viewport::Desktop, Viewport::Phone] {
        let options = BrowserOptions { viewport, ..BrowserOptions::new("Ada") };
        let ada = Person::with_browser("Ada", Browser::launch_with(options).await?);
        ada.open_lobby(&relay.url(&path)).await?;
        let shown = ada.eval_js(SHARE_LINK_LAYOUT, vec![json!(sel::SHARE_LINK)]).await?;
        diagnostics::note(format!("{viewport:?}: the share link {shown}"));
        ensure!(shown["text"] == relay.url(&path), "{viewport:?}: the share link's text is {}", shown["text"]);
        // What selecting and copying it gives (a line break between its parts would break the link).
        ensure!(shown["copied"] == relay.url(&path), "{viewport:?}: the share link copies as {}", shown["copied"]);
        ensure!(shown["lines"] == 1, "{viewport:?}: the share link takes {} lines: {shown}", shown["lines"]);
        // One line of text is 1.2 to 1.6 font sizes tall, with room for some padding; two would be 2.4 at least.
        ensure!(shown["ems"].as_f64().is_some_and(|ems| ems < 2.4), "{viewport:?}: the share link's box is {shown}");
        ensure!(
            shown["right"].as_f64().is_some_and(|right| right <= shown["width"].as_f64().unwrap_or(0.0) + 0.5),
            "{viewport:?}: the share link goes past the screen's edge: {shown}"
        );
        if viewport == Viewport::Phone {
            ada.screenshot(artifacts::screenshot_path("lobby-phone.png")).await?;
        }
    }
    Ok(())
}

/// How the element matching `arguments[0]` lays out its text: on how many lines (the boxes of its text and of its
/// children, grouped by their tops, half a font size apart at least), how tall its box is in font sizes, where it
/// ends, its whole text, and its text as rendered (`innerText`, what a selection copies).
const SHARE_LINK_LAYOUT: &str = r#"
    const element = document.querySelector(arguments[0]);
    const range = document.createRange();
    range.selectNodeContents(element);
    const em = parseFloat(getComputedStyle(element).fontSize);
    const tops = Array.from(range.getClientRects()).filter((r) => r.width > 0).map((r) => r.top).sort((a, b) => a - b);
    const lines = tops.filter((top, i) => i === 0 || top - tops[i - 1] > em / 2).length;
    const box = element.getBoundingClientRect();
    return {
      text: element.textContent.trim(), copied: element.innerText.trim(), lines, ems: box.height / em, right: box.right,
      width: innerWidth,
    };
"#;

/// WebDriver's Control key held with "a" (select all), then released.
const SELECT_ALL: &str = "\u{E009}a\u{E000}";
/// WebDriver's Backspace key.
const BACKSPACE: &str = "\u{E003}";
