//! Refusals: each says why. A taken name brings the lobby back to pick another; the others show the error screen
//! with the protocol's error code.

use huddle_common::ErrorCode;
use huddle_e2e::spa::{new_room_id, room_path, selector as sel, Person};
use huddle_e2e::{artifacts, ensure, wait_for, Error, Relay, Result, TIMEOUT};
use serde_json::json;

/// A second "ada" (names compare case-insensitively) cannot join while Ada is in the room: her lobby comes back
/// (not an error screen) with the name field focused and its text selected and the reason right under it, so typing
/// replaces the name; with "Bea" the next Join gets her in, and each sees the other's tile. Saves
/// `lobby-name-taken.png`.
pub async fn taken_name_is_refused() -> Result<()> {
    let relay = Relay::start().await?;
    let room = new_room_id();
    let ada = Person::new("Ada").await?;
    ada.join_room(&relay, &room).await?;
    let other = Person::new("ada").await?;
    other.open_lobby(&relay.url(&room_path(&room))).await?;
    other.click_join().await?;

    let field = wait_for("the lobby comes back saying the name is taken", TIMEOUT, async || {
        if other.exists(sel::ERROR).await? {
            let code = other.attr(sel::ERROR, "data-code").await?;
            return Err(Error::Check(format!("the error screen {code:?} is shown instead of the lobby")));
        }
        let field = other.eval_js(NAME_FIELD, vec![json!(sel::NAME), json!(sel::NAME_ERROR)]).await?;
        // An error is "not yet"; the last one is what a timeout reports.
        if field["focused"] == true && field["selected"] == true && field["reasonBelow"] == true {
            Ok(Some(field))
        } else {
            Err(Error::Check(format!("the name field: {field}")))
        }
    })
    .await?;
    ensure!(field["value"] == "ada", "the name field holds {}", field["value"]);
    let reason = field["reason"].as_str().unwrap_or_default();
    ensure!(!reason.is_empty(), "no reason under the name: {field}");
    // The microphone's meter, stopped while joining, hears the (beeping) fake microphone again.
    wait_for("the lobby's microphone meter moves again", TIMEOUT, async || {
        let level = other.attr(sel::MIC_LEVEL, "value").await?.unwrap_or_default();
        Ok(level.parse::<f64>().is_ok_and(|level| level > 0.0).then_some(()))
    })
    .await?;
    other.wait_interactable(sel::JOIN).await?;
    other.screenshot(artifacts::screenshot_path("lobby-name-taken.png")).await?;

    // The selection is replaced by what she types.
    other.press_keys("Bea").await?;
    let typed = other.value(sel::NAME).await?;
    ensure!(typed == "Bea", "typing over the selected name gave {typed:?}");
    other.click(sel::JOIN).await?;
    other.wait_for(sel::LOCAL_TILE).await?;
    ada.wait_tile_named("Bea").await?;
    other.wait_tile_named("Ada").await?;
    Ok(())
}

/// What the lobby's name field (`arguments[0]`) and the reason under it (`arguments[1]`) show.
const NAME_FIELD: &str = r#"
    const [fieldSelector, reasonSelector] = arguments;
    const field = document.querySelector(fieldSelector);
    const reason = document.querySelector(reasonSelector);
    if (!field) return { missing: fieldSelector };
    const [fieldBox, reasonBox] = [field.getBoundingClientRect(), reason?.getBoundingClientRect()];
    return {
      value: field.value,
      focused: document.activeElement === field,
      selected: field.selectionStart === 0 && field.selectionEnd === field.value.length && field.value.length > 0,
      reason: reason ? reason.textContent.trim() : null,
      // Shown, below the field, and overlapping it horizontally.
      reasonBelow: !!reasonBox && reasonBox.height > 0 && reasonBox.top >= fieldBox.bottom - 0.5
        && reasonBox.left < fieldBox.right && reasonBox.right > fieldBox.left,
    };
"#;

/// With `--room-capacity 2`, a third person is refused.
pub async fn full_room_is_refused() -> Result<()> {
    let relay = Relay::start_with(&["--room-capacity", "2"]).await?;
    let room = new_room_id();
    let ada = Person::new("Ada").await?;
    let bob = Person::new("Bob").await?;
    ada.join_room(&relay, &room).await?;
    bob.join_room(&relay, &room).await?;
    let cy = Person::new("Cy").await?;
    cy.open_lobby(&relay.url(&room_path(&room))).await?;
    cy.click_join().await?;
    cy.wait_error(ErrorCode::RoomFull).await
}

/// A link to something that is not a room id.
pub async fn bad_link_is_refused() -> Result<()> {
    let relay = Relay::start().await?;
    let ada = Person::new("Ada").await?;
    ada.goto(&relay.url("/r/not-a-room")).await?;
    ada.wait_error(ErrorCode::InvalidRoom).await
}

/// A link to a path that is not the app's at all says it leads nowhere, and keeps the address it was opened with.
pub async fn a_link_to_nowhere_says_so() -> Result<()> {
    let relay = Relay::start().await?;
    let ada = Person::new("Ada").await?;
    ada.goto(&relay.url("/nowhere")).await?;
    ada.wait_error(ErrorCode::InvalidRoom).await?;
    let title = ada.text(&format!("{} h1", sel::ERROR)).await?;
    ensure!(title.trim() == "That link doesn't lead to a call", "the error screen says {title:?}");
    let path = ada.eval_js("return location.pathname;", Vec::new()).await?;
    ensure!(path == "/nowhere", "the address bar reads {path}");
    Ok(())
}
