//! The lobby: what a person sees before joining.

use huddle_e2e::spa::{new_room_id, room_path, selector as sel, Person};
use huddle_e2e::{artifacts, ensure, wait_until, Browser, BrowserOptions, Relay, Result, TIMEOUT};

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
