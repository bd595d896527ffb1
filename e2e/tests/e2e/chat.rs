//! Chat over the peers' data channels.

use huddle_e2e::spa::{selector as sel, two_in_a_call_in, TwoInACall};
use huddle_e2e::{ensure, Browsers, Relay, Result};
use serde_json::json;

/// Ada writes, Bob (chat closed) gets an unread badge and the message under her name, after the same chip as on her
/// tile; Bob answers, Ada reads it.
pub async fn chat_goes_both_ways(browsers: Browsers) -> Result<()> {
    let relay = Relay::start().await?;
    let TwoInACall { ada, bob, .. } = two_in_a_call_in(&relay, browsers).await?;

    ada.send_chat("Hi Bob, can you hear me?").await?;
    ada.wait_chat_text("Hi Bob, can you hear me?").await?;
    if !bob.chat_open().await? {
        bob.wait_for(sel::CHAT_UNREAD).await?;
        let unread = bob.text(sel::CHAT_UNREAD).await?;
        ensure!(unread.trim() == "1", "Bob's unread badge says {unread:?}");
        bob.click(sel::TOGGLE_CHAT).await?;
        bob.wait_for(sel::CHAT).await?;
    }
    bob.wait_chat("Ada", "Hi Bob, can you hear me?").await?;
    bob.wait_gone(sel::CHAT_UNREAD).await?;
    let chips = bob.eval_js(LINE_AND_TILE_CHIPS, vec![json!("Hi Bob, can you hear me?")]).await?;
    ensure!(chips["tileName"] == "Ada", "the line's chip names no tile of Ada's: {chips}");
    ensure!(chips["line"] == chips["tile"], "the line's chip is not the one on Ada's tile: {chips}");
    ensure!(chips["line"][0] == "A", "Ada's initials: {chips}");

    bob.send_chat("Loud and clear.").await?;
    ada.wait_chat("Bob", "Loud and clear.").await?;
    bob.wait_chat_text("Loud and clear.").await
}

/// For the chat line whose text is `arguments[0]`: the name on the tile its chip's peer id names, and each chip's
/// initials (rendered, so capitalized) and colour, on the line and on that tile.
const LINE_AND_TILE_CHIPS: &str = r#"
    const line = Array.from(document.querySelectorAll('.chat-message'))
      .find((message) => message.querySelector('.chat-text')?.textContent.trim() === arguments[0]);
    const chip = line?.querySelector('.avatar[data-peer-id]');
    const tile = chip ? document.querySelector(`.tile[data-peer-id="${chip.dataset.peerId}"]`) : null;
    const look = (element) => element ? [element.innerText.trim(), getComputedStyle(element).backgroundColor] : null;
    return {
      tileName: tile?.querySelector('.tile-name')?.textContent.trim() ?? null,
      line: look(chip),
      tile: look(tile?.querySelector('.tile-label .avatar')),
    };
"#;
