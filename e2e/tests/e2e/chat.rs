//! Chat over the peers' data channels.

use huddle_e2e::spa::{selector as sel, two_in_a_call, TwoInACall};
use huddle_e2e::{ensure, Relay, Result};

/// Ada writes, Bob (chat closed) gets an unread badge and the message under her name; Bob answers, Ada reads it.
pub async fn chat_goes_both_ways() -> Result<()> {
    let relay = Relay::start().await?;
    let TwoInACall { ada, bob, .. } = two_in_a_call(&relay).await?;

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

    bob.send_chat("Loud and clear.").await?;
    ada.wait_chat("Bob", "Loud and clear.").await?;
    bob.wait_chat_text("Loud and clear.").await
}
