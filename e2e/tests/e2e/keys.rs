//! Keyboard shortcuts, seen from the other side of the call.

use huddle_e2e::spa::{selector as sel, tile_of, two_in_a_call, TwoInACall};
use huddle_e2e::{ensure, Relay, Result};

const ESCAPE: &str = "\u{E00C}";

/// Ada drives her call from the keyboard: M mutes (Bob sees it), V turns the camera off (Bob sees it), ? lists the
/// shortcuts and Escape closes the list, C opens the chat where typing "m" is just text, Escape closes the chat, and
/// Shift+L leaves (Bob sees her tile go).
pub async fn shortcuts_work_and_are_listed() -> Result<()> {
    let relay = Relay::start().await?;
    let TwoInACall { ada, bob, ada_id, .. } = two_in_a_call(&relay).await?;

    ada.press_keys("m").await?;
    bob.wait_tile(&ada_id, "shows Ada muted", |tile| tile.muted).await?;
    ensure!(!ada.is_on(sel::TOGGLE_MIC).await?, "Ada's mic button still says on");
    ada.press_keys("v").await?;
    bob.wait_tile(&ada_id, "shows Ada's camera off", |tile| tile.camera_off).await?;

    ada.press_keys("?").await?;
    ada.wait_for(sel::SHORTCUTS).await?;
    let list = ada.text(sel::SHORTCUTS).await?;
    for expected in ["M", "V", "S", "C", "Shift + L", "Esc"] {
        ensure!(list.contains(expected), "the shortcut list lacks {expected:?}: {list}");
    }
    ada.press_keys(ESCAPE).await?;
    ada.wait_gone(sel::SHORTCUTS).await?;

    ada.press_keys("c").await?;
    ada.wait_for(sel::CHAT_INPUT).await?;
    ada.type_into(sel::CHAT_INPUT, "m").await?;
    ensure!(ada.value(sel::CHAT_INPUT).await? == "m", "typing in the chat was taken as a shortcut");
    ensure!(!ada.is_on(sel::TOGGLE_MIC).await?, "typing m in the chat toggled the mic");
    ada.press_keys(ESCAPE).await?;
    ada.wait_gone(sel::CHAT).await?;

    ada.press_keys("L").await?;
    ada.wait_for(sel::LEFT).await?;
    bob.wait_gone(&tile_of(&ada_id)).await
}
