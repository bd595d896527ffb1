//! How a tile shows a camera's picture: whole by default, filling the tile when asked.

use huddle_e2e::spa::{selector as sel, tile_of, two_in_a_call, TwoInACall};
use huddle_e2e::{ensure, wait_until, Relay, Result, TIMEOUT};
use serde_json::json;

/// Bob's 4:3 camera (Chromium's fake one, 640x480) shows whole in Ada's tile of him: the video's `object-fit` is
/// `contain`. His tile's fit button makes it fill the tile (`cover`) and says so (`aria-pressed`); pressed again,
/// the whole picture is back.
pub async fn a_camera_shows_whole_until_asked_to_fill_the_tile() -> Result<()> {
    let relay = Relay::start().await?;
    let TwoInACall { ada, bob: _bob, bob_id, .. } = two_in_a_call(&relay).await?;
    let video = format!("{} video", tile_of(&bob_id));
    let button = format!("{} {}", tile_of(&bob_id), sel::TILE_FIT);

    let shown = ada.eval_js(VIDEO_FIT, vec![json!(video)]).await?;
    // The sender may scale the picture down while the bandwidth estimate ramps up, never its shape.
    let (width, height) = (shown["width"].as_u64().unwrap_or(0), shown["height"].as_u64().unwrap_or(0));
    ensure!(width > 0 && width * 3 == height * 4, "Bob's video is not 4:3: {shown}");
    ensure!(shown["fit"] == "contain", "Bob's 4:3 picture is shown with object-fit {}", shown["fit"]);
    ensure!(!ada.is_on(&button).await?, "the fit button starts pressed");

    for (fill, fit) in [(true, "cover"), (false, "contain")] {
        ada.set_toggle(&button, fill).await?;
        let what = format!("Ada's tile of Bob shows his video with object-fit {fit}");
        wait_until(what, TIMEOUT, async || Ok(ada.eval_js(VIDEO_FIT, vec![json!(video)]).await?["fit"] == fit)).await?;
    }
    Ok(())
}

/// The computed `object-fit` and the picture's size of the `<video>` matching `arguments[0]`.
const VIDEO_FIT: &str = r#"
    const video = document.querySelector(arguments[0]);
    return video
      ? { fit: getComputedStyle(video).objectFit, width: video.videoWidth, height: video.videoHeight }
      : { missing: arguments[0] };
"#;
