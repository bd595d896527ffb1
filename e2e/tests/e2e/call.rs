//! Calls: people see and hear each other, and leaving is seen by the others.

use huddle_e2e::spa::{
    new_room_id, selector as sel, tile_of, two_in_a_call_in, two_in_a_call_with_bob_on, Person, TwoInACall,
};
use huddle_e2e::{artifacts, ensure, Browser, Browsers, Relay, Result};

/// Ada starts a call, Bob opens her link: each sees the other's video playing, the connection is connected (on the
/// tile and in `__huddle_pcs`), audio and video bytes keep arriving; saves a screenshot (`artifacts::screenshot_path`:
/// `call.png` in Chromium, `call-<browsers>.png` in the others).
pub async fn two_people_see_and_hear_each_other(browsers: Browsers) -> Result<()> {
    let relay = Relay::start().await?;
    let ada = Person::in_browser("Ada", browsers.of(0)).await?;
    let bob = Person::in_browser("Bob", browsers.of(1)).await?;

    ada.start_call(&relay).await?;
    let link = ada.text(sel::SHARE_LINK).await?;
    ada.join().await?;
    bob.open_lobby(link.trim()).await?;
    bob.join().await?;

    let bob_id = ada.wait_tile_named("Bob").await?;
    let ada_id = bob.wait_tile_named("Ada").await?;
    ada.wait_sees_and_hears(&bob_id).await?;
    bob.wait_sees_and_hears(&ada_id).await?;
    ensure!(ada.peer_ids().await? == [bob_id.clone()], "Ada's peer connections: {:?}", ada.peer_ids().await?);
    ensure!(bob.peer_ids().await? == [ada_id.clone()], "Bob's peer connections: {:?}", bob.peer_ids().await?);
    ada.wait_video_playing(&format!("{} video", sel::LOCAL_TILE)).await?;

    let picture =
        if browsers == Browsers::CHROMIUM { "call.png".to_owned() } else { format!("call-{}.png", browsers.label()) };
    ada.screenshot(artifacts::screenshot_path(&picture)).await
}

/// Three people in one room: each sees two remote videos playing, with media flowing from both.
pub async fn three_people_each_see_two_videos(browsers: Browsers) -> Result<()> {
    let relay = Relay::start().await?;
    let room = new_room_id();
    let people = [
        Person::in_browser("Ada", browsers.of(0)).await?,
        Person::in_browser("Bob", browsers.of(1)).await?,
        Person::in_browser("Cy", browsers.of(2)).await?,
    ];
    for person in &people {
        person.join_room(&relay, &room).await?;
    }
    for person in &people {
        let tiles = person.wait_remote_tiles(2).await?;
        for tile in &tiles {
            person.wait_sees_and_hears(&tile.peer_id).await?;
        }
        let mut names: Vec<&str> = tiles.iter().map(|tile| tile.name.as_str()).collect();
        names.sort();
        let mut expected: Vec<&str> = people.iter().map(Person::name).filter(|name| *name != person.name()).collect();
        expected.sort();
        ensure!(names == expected, "{} sees {names:?}, expected {expected:?}", person.name());
    }
    Ok(())
}

/// Bob leaves: his tile goes away at Ada's, he sees the "left" screen, and rejoining brings him back.
pub async fn leaving_removes_the_tile(browsers: Browsers) -> Result<()> {
    let relay = Relay::start().await?;
    let TwoInACall { ada, bob, bob_id, .. } = two_in_a_call_in(&relay, browsers).await?;

    bob.leave().await?;
    ada.wait_gone(&tile_of(&bob_id)).await?;
    ada.wait_remote_tiles(0).await?;

    bob.click(sel::REJOIN).await?;
    if bob.exists(sel::JOIN).await? {
        bob.join().await?;
    }
    let bob_again = ada.wait_tile_named("Bob").await?;
    ada.wait_sees_and_hears(&bob_again).await
}

/// On a phone-sized window the call fits the screen: Bob's two tiles and every control shown are inside the viewport,
/// and Ada's video plays there; saves a screenshot (`call-phone.png`).
pub async fn a_call_fits_a_phone_screen() -> Result<()> {
    let relay = Relay::start().await?;
    let TwoInACall { ada: _ada, bob, .. } =
        two_in_a_call_with_bob_on(&relay, Browser::launch_phone("Bob").await?).await?;
    let outside: Vec<String> = serde_json::from_value(
        bob.eval_js(
            "const out = []; \
             for (const el of document.querySelectorAll('.tile, .controls button')) { \
               if (getComputedStyle(el).display === 'none') continue; \
               const r = el.getBoundingClientRect(); \
               if (r.width === 0 || r.left < 0 || r.top < 0 || r.right > innerWidth + 0.5 || r.bottom > innerHeight + 0.5) \
                 out.push(`${el.className || el.id} at ${r.left},${r.top} ${r.width}x${r.height} in ${innerWidth}x${innerHeight}`); \
             } \
             return out;",
            Vec::new(),
        )
        .await?,
    )
    .map_err(|e| huddle_e2e::Error::Check(format!("unexpected reply: {e}")))?;
    ensure!(outside.is_empty(), "outside the phone's screen: {outside:?}");
    bob.screenshot(artifacts::screenshot_path("call-phone.png")).await
}
