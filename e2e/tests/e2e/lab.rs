//! The network lab itself (`huddle_e2e::netlab`): people in namespaces of their own, joined through the router,
//! get what the lab says it gives them.

use huddle_e2e::netlab::Lab;
use huddle_e2e::spa::{new_room_id, room_path, selector as sel, Person};
use huddle_e2e::{ensure, BrowserOptions, Result};

/// Each person's browser runs in their own namespace, loads the SPA from the relay over their link with camera
/// and microphone (the relay's origin is treated as secure), and two people call each other through the router.
pub async fn people_in_their_namespaces_load_the_spa_and_call() -> Result<()> {
    let lab = Lab::start(2).await?;
    let room = room_path(&new_room_id());
    let ada = Person::with_browser("Ada", lab.browser(0, BrowserOptions::new("Ada")).await?);
    let bob = Person::with_browser("Bob", lab.browser(1, BrowserOptions::new("Bob")).await?);
    ensure!(!lab.browser_pids(0).is_empty(), "no browser process found for person 0");

    for (person, who) in [(0, &ada), (1, &bob)] {
        who.open_lobby(&lab.relay_url(person, &room)).await?;
        let secure = who.eval_js("return window.isSecureContext;", Vec::new()).await?;
        ensure!(secure == true, "{}'s page is not a secure context", who.name());
        who.wait_video_playing(sel::PREVIEW).await?;
        // The page came over the person's link, from the router's address on it.
        let seen = who.eval_js("return location.host;", Vec::new()).await?;
        let expected = format!("{}:{}", lab.router_addr(person), lab.relay().addr().port());
        ensure!(seen == expected.as_str(), "{} loaded the page from {seen}, not {expected}", who.name());
    }
    ada.join().await?;
    bob.join().await?;
    let bob_id = ada.wait_tile_named("Bob").await?;
    let ada_id = bob.wait_tile_named("Ada").await?;
    ada.wait_sees_and_hears(&bob_id).await?;
    bob.wait_sees_and_hears(&ada_id).await?;

    // Taken down: the next test finds loopback alone.
    drop((ada, bob));
    drop(lab);
    let interfaces = huddle_e2e::network_interfaces().map_err(|e| huddle_e2e::Error::io("list interfaces", e))?;
    ensure!(interfaces == ["lo"], "the lab left interfaces behind: {interfaces:?}");
    Ok(())
}
