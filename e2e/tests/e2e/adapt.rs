//! Adapting to the network: the encodings the SPA decides reach the browser's senders, and on a thin link the
//! camera steps down while the sound keeps coming.

use std::time::Duration;

use huddle_e2e::shaping::{Rate, Shaper};
use huddle_e2e::spa::{
    new_room_id, screen_of, selector as sel, tile_of, two_in_a_call_with_bob_on, Person, TwoInACall,
};
use huddle_e2e::{diagnostics, ensure, wait_for, wait_until, Browser, Relay, Result, TIMEOUT};
use serde_json::Value;

/// How long the adaptation may take to notice a thin link and step down: the browser's estimate has to fall first.
const STEP_DOWN_TIMEOUT: Duration = Duration::from_secs(60);

/// The first encoding of the microphone's and the camera's senders on the connection to `arguments[0]` (the first
/// audio and the first video transceiver: every connection has them in that order), and the audio received on it.
const SENDERS: &str = r#"
    const [peerId, done] = arguments;
    const pc = window.__huddle_pcs && window.__huddle_pcs.get(peerId);
    if (!pc) return done(null);
    const transceivers = pc.getTransceivers().filter((t) => t.mid !== null);
    const first = (kind) => {
      const t = transceivers.find((t) => t.receiver.track.kind === kind);
      return t ? (t.sender.getParameters().encodings || [])[0] || null : null;
    };
    const senders = { audio: first('audio'), camera: first('video') };
    pc.getStats().then((report) => {
      let audioPackets = 0;
      report.forEach((stat) => {
        if (stat.type === 'inbound-rtp' && stat.kind === 'audio') audioPackets += stat.packetsReceived || 0;
      });
      done({ ...senders, audioPackets });
    }, (error) => done({ error: String(error) }));
"#;

/// What `person` sends `peer_id` and how much audio it received from them.
async fn senders(person: &Person, peer_id: &str) -> Result<Value> {
    person.eval_js_async(SENDERS, vec![Value::from(peer_id)]).await
}

fn number(value: &Value, key: &str) -> Option<f64> {
    value.get(key).and_then(Value::as_f64)
}

/// The camera sender's encoding has the top rung (a maxBitrate, full size) and the microphone's has a high
/// priority, on both sides; then, with UDP on loopback shaped to 400 kbit/s for both directions together, Ada's
/// camera to Bob steps down (a lower maxBitrate and size, or paused) while Bob keeps receiving Ada's audio; at
/// 90 kbit/s it pauses, Bob is told (`video_paused` in Ada's media state) and the audio still flows; with the link
/// back, it resumes and Bob is told that too.
pub async fn a_thin_link_steps_the_camera_down_and_audio_keeps_flowing() -> Result<()> {
    let relay = Relay::start().await?;
    let bob = Browser::launch("Bob").await?;
    bob.record_peer_messages().await?;
    let TwoInACall { ada, bob, ada_id, bob_id, .. } = two_in_a_call_with_bob_on(&relay, bob).await?;

    let mut top = None;
    for (person, peer) in [(&ada, &bob_id), (&bob, &ada_id)] {
        let what = format!("{}'s senders carry the adaptation's parameters", person.name());
        let applied = wait_for(what, TIMEOUT, async || {
            let now = senders(person, peer).await?;
            let camera = &now["camera"];
            let audio = &now["audio"];
            let done = number(camera, "maxBitrate").is_some()
                && number(camera, "scaleResolutionDownBy") == Some(1.0)
                && number(camera, "maxFramerate").is_some()
                && camera["active"] == Value::Bool(true)
                && audio["priority"] == "high"
                && audio["networkPriority"] == "high";
            Ok(done.then_some(now))
        })
        .await?;
        diagnostics::note(format!("{}'s senders on a clean link: {applied}", person.name()));
        top.get_or_insert(number(&applied["camera"], "maxBitrate").unwrap_or_default());
    }
    let top = top.unwrap_or_default();

    let shaper = Shaper::install_udp(Rate::kbit(400))?;
    diagnostics::note(shaper.describe());
    // Each direction gets about half the link: the lowest rungs, whose pictures are smaller, or a pause.
    let what = "Ada's camera to Bob steps down to a smaller picture on the thin link";
    let reduced = wait_for(what, STEP_DOWN_TIMEOUT, async || {
        let now = senders(&ada, &bob_id).await?;
        let camera = &now["camera"];
        let down = camera["active"] == Value::Bool(false)
            || (number(camera, "maxBitrate").is_some_and(|bps| bps < top)
                && number(camera, "scaleResolutionDownBy").is_some_and(|scale| scale > 1.0));
        Ok(down.then_some(now))
    })
    .await?;
    diagnostics::note(format!("Ada's senders to Bob on the thin link: {reduced}"));

    audio_keeps_flowing(&bob, &ada_id, "the thin link").await?;

    // Thinner still: too little for any video beside the sound. Ada's camera to Bob pauses; the sound goes on.
    drop(shaper);
    let shaper = Shaper::install_udp(Rate::kbit(90))?;
    let what = "Ada's camera to Bob pauses on a link too thin for video";
    let paused = wait_for(what, STEP_DOWN_TIMEOUT, async || {
        let now = senders(&ada, &bob_id).await?;
        Ok((now["camera"]["active"] == Value::Bool(false)).then_some(now))
    })
    .await?;
    diagnostics::note(format!("Ada's senders to Bob on the thinnest link: {paused}"));
    // Bob is told, so that his tile can say so.
    wait_until("Ada tells Bob her video to him is paused", TIMEOUT, async || {
        Ok(last_media_state(&bob).await?.is_some_and(|state| state["video_paused"] == Value::Bool(true)))
    })
    .await?;
    audio_keeps_flowing(&bob, &ada_id, "the thinnest link").await?;

    // The link comes back: so does the video, on a low rung first.
    drop(shaper);
    let what = "Ada's camera to Bob resumes once the link is back";
    wait_until(what, STEP_DOWN_TIMEOUT, async || {
        Ok(senders(&ada, &bob_id).await?["camera"]["active"] == Value::Bool(true))
    })
    .await?;
    wait_until("Ada tells Bob her video to him is back", TIMEOUT, async || {
        Ok(last_media_state(&bob).await?.is_some_and(|state| state.get("video_paused").is_none()))
    })
    .await
}

/// The last `media_state` message `bob` received.
async fn last_media_state(bob: &Person) -> Result<Option<Value>> {
    Ok(bob.peer_messages().await?.into_iter().rev().find(|message| message["type"] == "media_state"))
}

/// Bob's count of the audio packets Ada sends grows, again and again.
async fn audio_keeps_flowing(bob: &Person, ada_id: &str, on: &str) -> Result<()> {
    let mut last = number(&senders(bob, ada_id).await?, "audioPackets").unwrap_or_default();
    for round in 1..=3 {
        let what = format!("Bob receives more of Ada's audio on {on} ({round} of 3)");
        last = wait_for(what, TIMEOUT, async || {
            let now = number(&senders(bob, ada_id).await?, "audioPackets").unwrap_or_default();
            // Twenty packets: 400 ms of speech, or the comfort noise of several seconds of silence.
            Ok((now >= last + 20.0).then_some(now))
        })
        .await?;
    }
    Ok(())
}

/// The lines of the video arriving from `arguments[0]` (the last decoded frame's height) and the height of its
/// tile's picture on screen, in CSS pixels.
const RECEIVED_SIZE: &str = r#"
    const [peerId, tile, done] = arguments;
    const pc = window.__huddle_pcs && window.__huddle_pcs.get(peerId);
    const video = document.querySelector(`${tile} video`);
    if (!pc || !video) return done(null);
    pc.getStats().then((report) => {
      let lines = null;
      report.forEach((stat) => {
        if (stat.type === 'inbound-rtp' && stat.kind === 'video' && stat.frameHeight) lines = stat.frameHeight;
      });
      done({ lines, shown: video.getBoundingClientRect().height });
    }, (error) => done({ error: String(error) }));
"#;

/// What arrives at `person` from `peer_id`: the lines of the picture, and the height of the tile's picture on screen.
async fn received_size(person: &Person, peer_id: &str) -> Result<(f64, f64)> {
    let now = person.eval_js_async(RECEIVED_SIZE, vec![Value::from(peer_id), Value::from(tile_of(peer_id))]).await?;
    Ok((number(&now, "lines").unwrap_or_default(), number(&now, "shown").unwrap_or_default()))
}

/// Three people in a call: the grid shows each of them in two rows of tiles, so each camera is sent at no more than
/// the 360 lines such a tile shows (Chromium's fake camera has 480); once Cy leaves, Ada's tile at Bob's is large
/// again, and so is the picture Ada sends him.
pub async fn in_a_call_of_three_each_camera_is_sent_at_the_size_of_its_tile() -> Result<()> {
    let relay = Relay::start().await?;
    let room = new_room_id();
    let people = [Person::new("Ada").await?, Person::new("Bob").await?, Person::new("Cy").await?];
    for person in &people {
        person.join_room(&relay, &room).await?;
    }
    let [ada, bob, cy] = &people;
    let ada_id = bob.wait_tile_named("Ada").await?;
    let bob_id = ada.wait_tile_named("Bob").await?;
    let cy_id = ada.wait_tile_named("Cy").await?;
    for peer in [&bob_id, &cy_id] {
        let what = format!("Ada's camera to {peer} is sent at the size of a tile of the grid");
        let applied = wait_for(what, TIMEOUT, async || {
            let camera = senders(ada, peer).await?["camera"].clone();
            Ok(number(&camera, "scaleResolutionDownBy").is_some_and(|scale| scale >= 4.0 / 3.0).then_some(camera))
        })
        .await?;
        diagnostics::note(format!("Ada's camera to {peer} in a call of three: {applied}"));
    }
    let (lines, shown) = wait_for("Bob receives Ada's camera at a tile's size", TIMEOUT, async || {
        let (lines, shown) = received_size(bob, &ada_id).await?;
        Ok((lines > 0.0 && lines <= 360.0).then_some((lines, shown)))
    })
    .await?;
    diagnostics::note(format!("Bob receives Ada's camera in {lines} lines, shown {shown} px tall"));
    ensure!(shown > 0.0 && shown <= 360.0, "Bob's tile of Ada shows her picture {shown} px tall, more than is sent");

    cy.leave().await?;
    bob.wait_remote_tiles(1).await?;
    let what = "Ada's camera to Bob is sent at the camera's size once they are two";
    wait_until(what, TIMEOUT, async || {
        Ok(number(&senders(ada, &bob_id).await?["camera"], "scaleResolutionDownBy") == Some(1.0))
    })
    .await?;
    let (lines, shown) =
        wait_for("Bob receives more of Ada's lines once they are two", STEP_DOWN_TIMEOUT, async || {
            let (lines, shown) = received_size(bob, &ada_id).await?;
            Ok((lines > 360.0).then_some((lines, shown)))
        })
        .await?;
    diagnostics::note(format!("Bob receives Ada's camera in {lines} lines, shown {shown} px tall"));
    ensure!(shown > 360.0, "Bob's tile of Ada, alone with him, shows her picture {shown} px tall");
    Ok(())
}

/// Ada shares her screen: its track asks for detail and its sender keeps the resolution over the frame rate, and
/// the description Ada applied from Bob asks her Opus encoder for in-band FEC and DTX (a description the browser
/// took: the call connected on it).
pub async fn a_shared_screen_keeps_its_resolution_and_opus_has_fec_and_dtx() -> Result<()> {
    const SCREEN: &str = r#"
        const pc = window.__huddle_pcs && window.__huddle_pcs.get(arguments[0]);
        if (!pc) return null;
        const video = pc.getTransceivers().filter((t) => t.mid !== null && t.receiver.track.kind === 'video');
        const screen = video[1] && video[1].sender;
        const lines = (pc.remoteDescription ? pc.remoteDescription.sdp : '').split('\r\n');
        const types = lines.map((line) => (line.match(/^a=rtpmap:(\d+) opus\//i) || [])[1]).filter(Boolean);
        const opus = lines.filter((line) => types.some((pt) => line.startsWith(`a=fmtp:${pt} `)));
        return {
          hint: screen && screen.track ? screen.track.contentHint : null,
          preference: screen ? screen.getParameters().degradationPreference || null : null,
          opus,
        };
    "#;
    let relay = Relay::start().await?;
    let TwoInACall { ada, bob, ada_id, bob_id, .. } =
        two_in_a_call_with_bob_on(&relay, Browser::launch("Bob").await?).await?;
    ada.click(sel::TOGGLE_SCREEN).await?;
    bob.wait_video_playing(&screen_of(&ada_id)).await?;
    let what = "Ada's screen sender keeps the resolution of a detailed picture";
    let seen = wait_for(what, TIMEOUT, async || {
        let now = ada.eval_js(SCREEN, vec![Value::from(bob_id.as_str())]).await?;
        let done = now["hint"] == "detail" && now["preference"] == "maintain-resolution";
        Ok(done.then_some(now))
    })
    .await?;
    diagnostics::note(format!("Ada's screen sender: {seen}"));
    let opus = seen["opus"].as_array().cloned().unwrap_or_default();
    ensure!(
        !opus.is_empty()
            && opus.iter().all(|line| {
                let line = line.as_str().unwrap_or_default();
                line.contains("useinbandfec=1") && line.contains("usedtx=1")
            }),
        "Opus parameters of Bob's description as Ada applied it: {opus:?}"
    );
    Ok(())
}
