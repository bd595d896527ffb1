//! What one person in the room can do to the others (issue 15), with a hostile peer that is not the SPA but a page of
//! its own JavaScript (`huddle_e2e::hostile`). The victim, Ada, is the real SPA: under a chat flood her tab stays
//! responsive and small; nothing is received before she accepts it, and a hundred offers do not make a hundred lines;
//! an HTML file only downloads; malformed and oversized messages change nothing she sees and stop nothing.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fantoccini::wd::TimeoutConfiguration;
use huddle_e2e::diagnostics::note;
use huddle_e2e::hostile::{Frame, HostilePeer, Offer, Payload, Site};
use huddle_e2e::page_memory;
use huddle_e2e::spa::{new_room_id, selector as sel, stats_of, transfer_of, Person, Tile};
use huddle_e2e::{cdp, ensure, wait_for, wait_until, Browser, BrowserOptions, Error, Relay, Result, TIMEOUT};
use serde::Deserialize;
use serde_json::{json, Value};

/// The flood: as many chat lines as the issue measured, each as long as a chat line may be. `HUDDLE_E2E_FLOOD_LINES`
/// sends another number instead (to see how the cost grows with the flood).
const FLOOD_LINES: u64 = 20_000;
const FLOOD_CHARS: usize = 2_000;
/// The issue's bound: a click on mute shows within this.
const MUTE_SHOWN_WITHIN_MS: f64 = 100.0;
/// How long a click is given to show at all before the tab counts as frozen (the test fails either way; this only
/// decides how much of a frozen tab is measured before giving up).
const CLICK_GIVE_UP: Duration = Duration::from_secs(30);
/// How long chromedriver waits for a busy page before it gives up on a command (its page-load timeout): short, so that
/// the test can look at a frozen page again, and say so, within its own time limit.
const BUSY_PAGE_WAIT: Duration = Duration::from_secs(5);
/// Clicks on mute while the flood is under way, spread over it.
const CLICKS_DURING: u64 = 4;
/// How long the hostile page may take to push the whole flood out.
const FLOOD_TIMEOUT: Duration = Duration::from_secs(60);
/// Once garbage is collected, the victim's JS heap and wasm memory may each have grown by less than this over the
/// flood: less than the flood itself ([`FLOOD_LINES`] of [`FLOOD_CHARS`] characters), so keeping it all fails.
const MAX_FLOOD_GROWTH: f64 = 32.0 * MIB;
/// Offers the hostile peer makes at once.
const OFFERS: usize = 100;
/// The most items the victim's transfer list may show after [`OFFERS`] offers from one person.
const MAX_LISTED: usize = 20;
/// Types a received file may have as a `blob:` of Huddle's origin.
const HARMLESS_TYPES: [&str; 6] =
    ["image/", "audio/", "video/", "application/pdf", "text/plain", "application/octet-stream"];
/// Types that would run as a page of Huddle's origin.
const ACTIVE_TYPES: [&str; 3] = ["text/html", "image/svg+xml", "application/xhtml+xml"];

const MIB: f64 = 1024.0 * 1024.0;

/// The victim's browser: exact heap sizes, a way to collect garbage, and a record of every `blob:` URL's type.
async fn victim(name: &str) -> Result<Person> {
    let options = BrowserOptions {
        extra_args: vec!["--enable-precise-memory-info".into(), "--js-flags=--expose-gc".into()],
        ..BrowserOptions::new(name)
    };
    let browser = Browser::launch_with(options).await?;
    const RECORD_BLOBS: &str = r#"
        if (!window.__blob_types) {
          window.__blob_types = {};
          const create = URL.createObjectURL;
          URL.createObjectURL = function (object) {
            const url = create.call(URL, object);
            window.__blob_types[url] = object && typeof object.type === 'string' ? object.type : null;
            return url;
          };
        }
    "#;
    cdp::run_on_every_document(&browser, RECORD_BLOBS).await?;
    Ok(Person::with_browser(name, browser))
}

/// Ada in a call with Mallory, the hostile peer (and Bob, a normal person, when asked for).
struct Scene {
    ada: Person,
    mallory: HostilePeer,
    /// Ada's peer id.
    ada_id: String,
    /// Mallory's.
    mallory_id: String,
    bob: Option<(Person, String)>,
    // Stopped after the browsers close (fields drop in order), so that no page sees the relay go away.
    _relay: Relay,
    _site: Site,
}

async fn scene(with_bob: bool) -> Result<Scene> {
    let site = Site::new()?;
    let relay = site.serve(&[]).await?;
    let room = new_room_id();
    let ada = victim("Ada").await?;
    ada.join_room(&relay, &room).await?;
    let bob = if with_bob {
        let bob = Person::new("Bob").await?;
        bob.join_room(&relay, &room).await?;
        let bob_id = ada.wait_tile_named("Bob").await?;
        ada.wait_sees_and_hears(&bob_id).await?;
        Some((bob, bob_id))
    } else {
        None
    };
    let mallory = HostilePeer::open(&relay, "Mallory").await?;
    let mallory_id = mallory.join(&room).await?;
    let ada_id = wait_for("Mallory connects to Ada", TIMEOUT, async || {
        let state = mallory.state().await?;
        Ok(state.peers.iter().find(|(_, link)| link.name == "Ada").map(|(id, _)| id.clone()))
    })
    .await?;
    mallory.wait_open(&ada_id).await?;
    if let Some((_, bob_id)) = &bob {
        mallory.wait_open(bob_id).await?;
    }
    ada.wait_tile(&mallory_id, "shows connected", |tile| tile.state == "connected").await?;
    open_chat(&ada).await?;
    Ok(Scene { _relay: relay, ada, mallory, ada_id, mallory_id, bob, _site: site })
}

async fn open_chat(person: &Person) -> Result<()> {
    if !person.chat_open().await? {
        person.click(sel::TOGGLE_CHAT).await?;
        person.wait_for(sel::CHAT_INPUT).await?;
    }
    Ok(())
}

// ---- Responsiveness and memory ----

/// Records, in the victim's page, when each press on the mute toggle reached the browser (the input event's own time
/// stamp, taken when the browser got it, however long the page then took to run it), when the toggle's
/// `aria-pressed` changed, and the next animation frame after that.
const RECORD_MUTE: &str = r#"
    const toggle = document.querySelector('#toggle-mic');
    window.__mute = { presses: [], shown: [], last: toggle.getAttribute('aria-pressed') };
    document.addEventListener('pointerdown', (event) => {
      if (event.target instanceof Element && event.target.closest('#toggle-mic')) {
        window.__mute.presses.push(event.timeStamp);
      }
    }, true);
    new MutationObserver(() => {
      const now = document.querySelector('#toggle-mic')?.getAttribute('aria-pressed');
      if (now === window.__mute.last) return;
      window.__mute.last = now;
      const shown = { value: now, at: performance.now(), painted: null };
      window.__mute.shown.push(shown);
      requestAnimationFrame(() => (shown.painted = performance.now()));
    }).observe(document.body, { subtree: true, attributes: true, attributeFilter: ['aria-pressed'] });
    const box = toggle.getBoundingClientRect();
    return [box.x + box.width / 2, box.y + box.height / 2];
"#;

/// One click on mute, as the victim's page saw it.
#[derive(Debug)]
struct Click {
    when: String,
    /// From the press reaching the browser to `aria-pressed` changing in the page, in ms: how long the page took.
    to_dom: f64,
    /// From the press to the next animation frame after that.
    to_frame: f64,
    /// From the test sending the press to `aria-pressed` changing (adds the time chromedriver takes to pass it on).
    from_test: f64,
}

/// Fails unless every click showed within the issue's bound, naming those that did not.
fn all_shown_quickly(clicks: &[Click]) -> Result<()> {
    let slow: Vec<String> = clicks
        .iter()
        .filter(|click| click.to_dom > MUTE_SHOWN_WITHIN_MS)
        .map(|click| format!("{}: {:.0} ms", click.when, click.to_dom))
        .collect();
    ensure!(slow.is_empty(), "Ada's mute click took longer than {MUTE_SHOWN_WITHIN_MS} ms to show: {slow:?}");
    Ok(())
}

/// Clicks the mute toggle at `at` with real input events (DevTools, not a script: the browser queues them even while
/// the page is busy) and waits until the page shows the change; `when` says at what point of the test. The page's
/// clock (`performance.timeOrigin + now()`) and the test's are the machine's, so a page too busy to take the press at
/// all is still measured, from when the test made it.
async fn click_mute(ada: &Person, at: (f64, f64), nth: usize, when: String) -> Result<Click> {
    let clicked = SystemTime::now().duration_since(UNIX_EPOCH).map_err(|e| Error::Check(format!("clock: {e}")))?;
    let started = Instant::now();
    let mut took = Vec::new();
    for kind in ["mousePressed", "mouseReleased"] {
        let event = json!({ "type": kind, "x": at.0, "y": at.1, "button": "left", "clickCount": 1 });
        // A busy page does not acknowledge the event in time (chromedriver gives up after a while); the browser has
        // queued it all the same.
        if let Err(error) = cdp::execute(ada, "Input.dispatchMouseEvent", event).await {
            took.push(format!("{kind}: {error}"));
        }
    }
    let left = CLICK_GIVE_UP.saturating_sub(started.elapsed());
    let shown = wait_for(format!("Ada's mute click {nth} shows"), left, async || {
        let mute = ada.eval_js("return [window.__mute, performance.timeOrigin];", Vec::new()).await?;
        let (origin, press, shown) = (mute[1].as_f64(), mute[0]["presses"][nth].as_f64(), &mute[0]["shown"][nth]);
        Ok(match (origin, press, shown["at"].as_f64(), shown["painted"].as_f64()) {
            (Some(origin), Some(press), Some(at), Some(painted)) => Some((origin, press, at, painted)),
            _ => None,
        })
    })
    .await;
    match shown {
        Ok((origin, press, at, painted)) => Ok(Click {
            when,
            to_dom: at - press,
            to_frame: painted - press,
            from_test: origin + at - clicked.as_secs_f64() * 1000.0,
        }),
        Err(error) => {
            note(format!("Ada's mute click {nth}: {took:?}; last look: {error}"));
            let ignored = if took.is_empty() {
                String::new()
            } else {
                format!(", and did not take the click's input events within {BUSY_PAGE_WAIT:?}")
            };
            Err(Error::Check(format!(
                "Ada clicked mute {when} and after {:.0?} the button still did not show it: her tab is frozen \
                 (it answered no script meanwhile{ignored})",
                started.elapsed()
            )))
        }
    }
}

/// The `huddle` channel of `person`'s connection with `peer`, as its `getStats()` counts it (the network's count,
/// whatever the page did with the messages).
#[derive(Clone, Debug, Default, Deserialize)]
struct ChannelStats {
    #[serde(rename = "messagesReceived")]
    received: u64,
    #[serde(rename = "messagesSent")]
    sent: u64,
    #[serde(rename = "bytesReceived")]
    bytes_received: u64,
    /// `open`, or `closing`/`closed` once either side closed it.
    #[serde(default)]
    state: String,
}

async fn channel_stats(person: &Person, peer: &str) -> Result<ChannelStats> {
    channel_stats_if_any(person, peer)
        .await?
        .ok_or_else(|| Error::Check(format!("{}: no huddle channel with {peer} in the stats (closed)", person.name())))
}

/// The `huddle` channel's stats, None once the channel is gone from them (closed).
async fn channel_stats_if_any(person: &Person, peer: &str) -> Result<Option<ChannelStats>> {
    const STATS: &str = r#"
        const [peer, done] = arguments;
        const pc = window.__huddle_pcs && window.__huddle_pcs.get(peer);
        if (!pc) return done(null);
        pc.getStats().then((report) => {
          let found = null;
          report.forEach((entry) => {
            if (entry.type === 'data-channel' && entry.label === 'huddle') found = entry;
          });
          done(found);
        }, () => done(null));
    "#;
    let reply = person.eval_js_async(STATS, vec![json!(peer)]).await?;
    serde_json::from_value(reply.clone())
        .map_err(|_| Error::Script { what: format!("{}: huddle channel stats of {peer}", person.name()), value: reply })
}

/// Mallory floods Ada's chat ([`FLOOD_LINES`] lines of [`FLOOD_CHARS`]) while Ada has the chat open; Ada clicks mute
/// before, during and after. Each click shows within the issue's bound, measured in her page from the press's input
/// event to the button's new state; her JS heap and wasm memory end up grown by less than the flood.
pub async fn a_chat_flood_leaves_the_victim_responsive_and_small() -> Result<()> {
    let lines = match std::env::var("HUDDLE_E2E_FLOOD_LINES") {
        Ok(lines) => lines.parse().map_err(|_| Error::Check(format!("HUDDLE_E2E_FLOOD_LINES={lines:?}")))?,
        Err(_) => FLOOD_LINES,
    };
    // Borrowed, not moved out: the scene's relay must live as long as the test.
    let scene = scene(false).await?;
    let Scene { ada, mallory, ada_id, mallory_id, .. } = &scene;
    let short = TimeoutConfiguration::new(Some(BUSY_PAGE_WAIT), Some(BUSY_PAGE_WAIT), Some(Duration::ZERO));
    ada.client().update_timeouts(short).await.map_err(|e| Error::webdriver("Ada: shorten the timeouts", e))?;
    let memory_start = page_memory::start_sampling(ada, 100).await?;
    let at = ada.eval_js(RECORD_MUTE, Vec::new()).await?;
    let at = match (at[0].as_f64(), at[1].as_f64()) {
        (Some(x), Some(y)) => (x, y),
        _ => return Err(Error::Script { what: "where Ada's mute toggle is".into(), value: at }),
    };
    let stats_before = channel_stats(ada, mallory_id).await?;

    let mut clicks = Vec::new();
    let mut outcome = Ok(());
    for _ in 0..2 {
        clicks.push(click_mute(ada, at, clicks.len(), "before the flood".into()).await?);
    }
    mallory.flood_chat(ada_id, lines, FLOOD_CHARS).await?;
    let flood_started = Instant::now();
    // Clicks spread over the flood: each once another share of it has been sent.
    for step in 1..=CLICKS_DURING {
        let target = lines * step / (CLICKS_DURING + 1);
        let sent = wait_for(format!("Mallory has sent {target} lines"), FLOOD_TIMEOUT, async || {
            let flood = mallory.flood().await?;
            Ok((flood.sent >= target || flood.done).then_some(flood))
        })
        .await?;
        if sent.done {
            break;
        }
        let when = format!(
            "{:.1} s into the flood ({} of {lines} lines sent)",
            flood_started.elapsed().as_secs_f64(),
            sent.sent
        );
        match click_mute(ada, at, clicks.len(), when).await {
            Ok(click) => clicks.push(click),
            Err(error) => {
                outcome = Err(error);
                break;
            }
        }
    }
    let flood = wait_for("Mallory's flood is all sent", FLOOD_TIMEOUT, async || {
        let flood = mallory.flood().await?;
        Ok(flood.done.then_some(flood))
    })
    .await?;
    let flood_secs = flood.done_ms.zip(flood.started_ms).map(|(done, started)| (done - started) / 1000.0);
    println!("    Mallory sent {} of {lines} lines in {flood_secs:.1?} s (error: {:?})", flood.sent, flood.error);

    if outcome.is_ok() {
        // The flood is over at Ada's browser (whatever her page did with it) before the clicks after the flood: every
        // line has reached it, or Ada's page closed the channel (it stops listening to a peer that floods).
        let arrived =
            wait_for("the whole flood reaches Ada's browser, or she closes the channel", FLOOD_TIMEOUT, async || {
                let Some(stats) = channel_stats_if_any(ada, mallory_id).await? else {
                    return Ok(Some(ChannelStats { state: "closed".into(), ..stats_before }));
                };
                let over = stats.received >= stats_before.received + flood.sent || stats.state != "open";
                Ok(over.then_some(stats))
            })
            .await;
        match arrived {
            Ok(stats) => {
                // The stats answer once Ada's page is free again, which is when it has handled the flood.
                println!(
                    "    Ada's page answers again {:.1} s after the flood started; her channel with Mallory is {}, \
                     {} of the {} lines arrived in her browser",
                    flood_started.elapsed().as_secs_f64(),
                    stats.state,
                    stats.received - stats_before.received,
                    flood.sent,
                );
                note(format!("Ada's huddle channel with Mallory: {stats:?} (before: {stats_before:?})"))
            }
            Err(error) => outcome = Err(error),
        }
    }
    if outcome.is_ok() {
        for _ in 0..2 {
            match click_mute(ada, at, clicks.len(), "after the flood".into()).await {
                Ok(click) => clicks.push(click),
                Err(error) => {
                    outcome = Err(error);
                    break;
                }
            }
        }
    }
    for click in &clicks {
        println!(
            "    mute click {}: shown {:.0} ms after the press reached the browser, next frame at {:.0} ms \
             ({:.0} ms after the test pressed)",
            click.when, click.to_dom, click.to_frame, click.from_test
        );
    }
    outcome?;

    let memory = page_memory::stop_sampling(ada).await?;
    note(format!("Ada's memory over the flood (started at {memory_start:?}): {memory:?}"));
    let heap_growth = memory.end.heap - memory.start.heap;
    let wasm_growth = memory.end.wasm - memory.start.wasm;
    let lines_shown = ada.count(sel::CHAT_MESSAGE).await?;
    println!(
        "    Ada's JS heap: {:.1} MiB before, peak {:.1} MiB, {:.1} MiB after GC; wasm memory {:.1} -> {:.1} MiB; \
         {lines_shown} chat lines in her page",
        memory.start.heap / MIB,
        memory.peak.heap / MIB,
        memory.end.heap / MIB,
        memory.start.wasm / MIB,
        memory.end.wasm / MIB
    );

    ensure!(!ada.exists(sel::STOPPED).await?, "Ada's page stopped (a trap) under the flood");
    all_shown_quickly(&clicks)?;
    ensure!(
        heap_growth < MAX_FLOOD_GROWTH,
        "Ada's JS heap grew by {:.1} MiB over the flood and stays so after GC",
        heap_growth / MIB
    );
    ensure!(wasm_growth < MAX_FLOOD_GROWTH, "Ada's wasm memory grew by {:.1} MiB over the flood", wasm_growth / MIB);
    Ok(())
}

// ---- Files ----

/// A transfer as Ada's page shows it.
#[derive(Clone, Debug, Deserialize)]
struct Shown {
    id: String,
    direction: String,
    state: String,
    value: f64,
    status: String,
    accept: bool,
    decline: bool,
    download: Option<String>,
    download_name: Option<String>,
    blob_type: Option<String>,
}

const TRANSFERS: &str = r#"
    return Array.from(document.querySelectorAll('.transfer')).map((item) => {
      const link = item.querySelector('a.file-download');
      const href = link ? link.getAttribute('href') : null;
      return {
        id: item.dataset.transferId,
        direction: item.dataset.direction,
        state: item.dataset.state,
        value: Number(item.querySelector('.transfer-progress')?.value ?? 0),
        status: (item.querySelector('.transfer-status')?.textContent ?? '').trim(),
        accept: item.querySelector('.transfer-accept') !== null,
        decline: item.querySelector('.transfer-decline') !== null,
        download: href,
        download_name: link ? link.getAttribute('download') : null,
        blob_type: href && window.__blob_types ? window.__blob_types[href] ?? null : null,
      };
    });
"#;

async fn transfers(person: &Person) -> Result<Vec<Shown>> {
    let reply = person.eval_js(TRANSFERS, Vec::new()).await?;
    serde_json::from_value(reply.clone())
        .map_err(|_| Error::Script { what: format!("{}: transfers", person.name()), value: reply })
}

/// Ada's transfer list in a few words, for failure messages: how many items in each state, and some of them.
fn describe(shown: &[Shown]) -> String {
    let mut states: Vec<(String, usize)> = Vec::new();
    for item in shown {
        match states.iter_mut().find(|(state, _)| *state == item.state) {
            Some((_, count)) => *count += 1,
            None => states.push((item.state.clone(), 1)),
        }
    }
    let counts: Vec<String> = states.iter().map(|(state, count)| format!("{count} {state}")).collect();
    let some: Vec<String> = shown
        .iter()
        .take(3)
        .map(|item| format!("{} {} {:?} ({} bytes)", item.id, item.state, item.status, item.value))
        .collect();
    format!("{} items ({}), e.g. {}", shown.len(), counts.join(", "), some.join("; "))
}

/// A chat line Mallory sends after something else, and waits for Ada to show: the channel is ordered, so Ada's page
/// has handled everything before it.
async fn marker(scene: &Scene, text: &str) -> Result<()> {
    let line = json!({ "type": "chat", "text": text }).to_string();
    let sent = scene.mallory.send_frames(&scene.ada_id, &[Frame::Text(line)]).await?;
    ensure!(sent.iter().all(|s| s.sent), "Mallory could not send {text:?}: {sent:?}");
    scene.ada.wait_chat_text(text).await
}

/// Waits until Mallory has received everything Ada's page sent her on the `huddle` channel.
async fn mallory_heard_all(scene: &Scene) -> Result<()> {
    wait_until("Mallory receives all Ada sent", TIMEOUT, async || {
        let sent = channel_stats(&scene.ada, &scene.mallory_id).await?.sent;
        Ok(scene.mallory.link(&scene.ada_id).await?.received >= sent)
    })
    .await
}

/// Mallory offers Ada 100 files at once and opens file channels Ada never accepted, pushing bytes on them. Nothing
/// arrives: Ada's page accepts nothing by itself, shows no bytes received, closes the unasked channels; her list
/// holds offers awaiting her decision (Accept / Decline), and not a hundred of them. Accepting one then works.
pub async fn files_wait_for_accept_and_a_hundred_offers_stay_few() -> Result<()> {
    let scene = scene(false).await?;
    let (ada, mallory, ada_id) = (&scene.ada, &scene.mallory, scene.ada_id.as_str());
    let offers: Vec<Offer> = (0..OFFERS)
        .map(|n| Offer {
            id: format!("o{n}"),
            name: format!("holiday-{n}.jpg"),
            size: 100_000,
            mime: "image/jpeg".into(),
            payload: Some(Payload::Filler(100_000)),
        })
        .collect();
    mallory.offer_files(ada_id, &offers).await?;
    marker(&scene, "that was 100 offers").await?;
    // Channels for ids never offered, and for one offered but not accepted.
    let unasked = ["u1", "u2", "o99"];
    mallory.open_unaccepted_channels(ada_id, &unasked, 1024 * 1024).await?;
    let closed = wait_until("Ada closes the file channels nobody accepted", TIMEOUT, async || {
        let link = mallory.link(ada_id).await?;
        Ok(unasked.iter().all(|id| link.files.get(*id).is_some_and(|file| file.closed)))
    })
    .await;
    mallory_heard_all(&scene).await?;

    let link = mallory.link(ada_id).await?;
    let shown = transfers(ada).await?;
    let offered: Vec<&Shown> = shown.iter().filter(|item| item.state == "offered").collect();
    let received: Vec<&Shown> = shown
        .iter()
        .filter(|item| item.value > 0.0 || item.download.is_some() || item.state == "receiving" || item.state == "done")
        .collect();
    let bytes_in: Vec<String> = link
        .files
        .iter()
        .filter(|(_, file)| file.sent_bytes > 0)
        .map(|(id, file)| format!("{id}: {} bytes", file.sent_bytes))
        .collect();
    let unasked_seen: Vec<String> = unasked
        .iter()
        .map(|id| match link.files.get(*id) {
            Some(file) => {
                format!("{id}: opened {}, {} bytes pushed, closed {}", file.opened, file.sent_bytes, file.closed)
            }
            None => format!("{id}: not opened"),
        })
        .collect();
    println!(
        "    after {OFFERS} offers, Ada accepted {} by herself, refused {}; her list: {}; Mallory pushed {bytes_in:?}; \
         unasked channels: {unasked_seen:?}",
        link.accepts.len(),
        link.cancels.len(),
        describe(&shown)
    );
    // Everything that is wrong, in one report of what Ada's page did.
    let mut wrong = Vec::new();
    if !link.accepts.is_empty() {
        wrong.push(format!(
            "Ada's page accepted {} of Mallory's offers without Ada clicking Accept ({:?}…)",
            link.accepts.len(),
            link.accepts.iter().take(8).collect::<Vec<_>>()
        ));
    }
    if !received.is_empty() {
        let received: Vec<Shown> = received.into_iter().cloned().collect();
        wrong.push(format!("Ada's page received files she never accepted: {}", describe(&received)));
    }
    if let Err(error) = closed {
        wrong.push(format!("Ada's page left unasked file channels open: {error}; {unasked_seen:?}"));
    }
    if shown.len() > MAX_LISTED {
        wrong.push(format!("{OFFERS} offers made {} items in Ada's list (at most {MAX_LISTED} expected)", shown.len()));
    }
    let waiting = offered.iter().filter(|item| item.direction == "receive" && item.accept && item.decline).count();
    if waiting == 0 {
        wrong.push("no offer awaits Ada's decision (data-state=offered with Accept and Decline)".to_owned());
    }
    ensure!(wrong.is_empty(), "{}.\nAda's list: {}", wrong.join(";\n"), describe(&shown));

    // Accepting one brings it, whole.
    let first = offered[0].id.clone();
    ada.click(&format!("{} .transfer-accept", transfer_of(&first))).await?;
    mallory.wait_accepted(ada_id, &first).await?;
    wait_until(format!("Ada receives {first} once accepted"), TIMEOUT, async || {
        Ok(transfers(ada).await?.iter().any(|item| item.id == first && item.state == "done"))
    })
    .await
}

/// Empty or tiny messages Mallory sends in place of a file she offered, once Ada accepts it: enough that keeping
/// each would cost Ada's page tens of MiB.
const TINY_MESSAGES: u64 = 300_000;
/// Once garbage is collected, Ada's JS heap may have grown by less than this over the tiny chunks (and her wasm
/// memory too).
const MAX_TINY_GROWTH: f64 = 8.0 * MIB;

/// Mallory offers Ada two files and, once Ada accepts them, sends no file but a stream of messages of nothing (and of
/// one byte): Ada's page fails each transfer as damaged at the first such message and closes its channel, so the
/// stream stops there, and her memory does not grow with what Mallory sends.
pub async fn files_of_tiny_chunks_fail_as_damaged_and_cost_nothing() -> Result<()> {
    let scene = scene(false).await?;
    let (ada, mallory, ada_id) = (&scene.ada, &scene.mallory, scene.ada_id.as_str());
    let offers: Vec<Offer> = [("empty1", 0), ("byte1", 1)]
        .into_iter()
        .map(|(id, bytes)| Offer {
            id: id.into(),
            name: format!("{id}.bin"),
            size: 1 << 30,
            mime: "application/octet-stream".into(),
            payload: Some(Payload::TinyChunks { count: TINY_MESSAGES, bytes }),
        })
        .collect();
    mallory.offer_files(ada_id, &offers).await?;
    let start = page_memory::start_sampling(ada, 10).await?;
    for offer in &offers {
        let id = offer.id.as_str();
        wait_until(format!("Ada is offered {id}"), TIMEOUT, async || {
            Ok(transfers(ada).await?.iter().any(|item| item.id == id && item.state == "offered"))
        })
        .await?;
        ada.click(&format!("{} .transfer-accept", transfer_of(id))).await?;
        mallory.wait_accepted(ada_id, id).await?;
    }
    let mut report = Vec::new();
    for offer in &offers {
        let (id, name) = (offer.id.as_str(), offer.name.as_str());
        let failed = wait_for(format!("Ada's {id} fails"), TIMEOUT, async || {
            match transfers(ada).await?.into_iter().find(|item| item.id == id) {
                Some(item) if item.state == "failed" => Ok(Some(item)),
                other => Err(Error::Check(format!("Ada shows {other:?}"))),
            }
        })
        .await?;
        let expected = format!("{name} arrived damaged: its sender sent a piece of the wrong size");
        ensure!(failed.status == expected, "Ada's {id} says {:?}", failed.status);
        ensure!(failed.download.is_none(), "Ada can save {id}: {failed:?}");
        let file = wait_for(format!("Ada closes {id}'s channel"), TIMEOUT, async || {
            let link = mallory.link(ada_id).await?;
            match link.files.get(id) {
                Some(file) if file.closed && file.tiny_done => Ok(Some(file.clone())),
                other => Err(Error::Check(format!("Mallory's channel: {other:?}"))),
            }
        })
        .await?;
        report.push(format!("{id}: {} of {TINY_MESSAGES} messages sent before the channel closed", file.messages));
    }
    let memory = page_memory::stop_sampling(ada).await?;
    let link = mallory.link(ada_id).await?;
    for offer in &offers {
        ensure!(link.cancels.contains(&offer.id), "Ada did not tell Mallory {} failed: {:?}", offer.id, link.cancels);
    }
    let heap_growth = memory.end.heap - start.heap;
    let heap_peak = memory.peak.heap - start.heap;
    let wasm_growth = memory.peak.wasm - start.wasm;
    println!(
        "    tiny chunks: {}; Ada's JS heap +{:.1} MiB after GC (peak +{:.1} MiB), wasm +{:.1} MiB",
        report.join(", "),
        heap_growth / MIB,
        heap_peak / MIB,
        wasm_growth / MIB
    );
    note(format!("Ada's memory under tiny chunks: {memory:?}"));
    ensure!(heap_growth < MAX_TINY_GROWTH, "Ada's JS heap grew by {:.1} MiB", heap_growth / MIB);
    ensure!(wasm_growth < MAX_TINY_GROWTH, "Ada's wasm memory grew by {:.1} MiB", wasm_growth / MIB);
    Ok(())
}

/// The page Mallory sends as a file: were it opened as a page of Huddle's origin, its script would run there.
const EVIL_PAGE: &str = "<!doctype html><title>Invitation</title><p>Click to join the call</p>\
<script>document.title = 'hostile page ran'; window.opener && (window.opener.__pwned = true);</script>";

/// Mallory sends Ada an HTML file. Once Ada accepts it (or it arrives, in a page that does not ask), its link is a
/// download (`download` attribute), and the `blob:` behind it is of a harmless type, never `text/html`: it cannot
/// be opened as a page of Huddle's origin.
pub async fn a_received_html_file_only_downloads() -> Result<()> {
    let scene = scene(false).await?;
    let (ada, mallory, ada_id) = (&scene.ada, &scene.mallory, scene.ada_id.as_str());
    let offer = Offer {
        id: "page1".into(),
        name: "invitation.html".into(),
        size: EVIL_PAGE.len() as u64,
        mime: "text/html".into(),
        payload: Some(Payload::Text(EVIL_PAGE.into())),
    };
    mallory.offer_files(ada_id, &[offer]).await?;
    let first = wait_for("Ada lists invitation.html", TIMEOUT, async || {
        Ok(transfers(ada).await?.into_iter().find(|item| item.id == "page1"))
    })
    .await?;
    let asked = first.state == "offered";
    if asked {
        ada.click(&format!("{} .transfer-accept", transfer_of("page1"))).await?;
    }
    let done = wait_for("Ada has invitation.html", TIMEOUT, async || {
        Ok(transfers(ada).await?.into_iter().find(|item| item.id == "page1" && item.state == "done"))
    })
    .await?;
    println!(
        "    invitation.html (offered as text/html): {}; link download={:?}, blob type {:?}",
        if asked { "Ada was asked first" } else { "arrived without asking" },
        done.download_name,
        done.blob_type
    );
    let href = done.download.clone().unwrap_or_default();
    ensure!(href.starts_with("blob:"), "Ada's link to invitation.html is {href:?}");
    ensure!(
        done.download_name.as_deref().is_some_and(|name| !name.is_empty()),
        "Ada's link to invitation.html has no download attribute: a click opens it instead of saving it"
    );
    let blob_type = done.blob_type.clone().ok_or_else(|| {
        Error::Check(format!("no type recorded for Ada's {href} (was it made by URL.createObjectURL?)"))
    })?;
    let essence = blob_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if ACTIVE_TYPES.contains(&essence.as_str()) {
        let opened = open_in_new_tab(ada, &href).await.unwrap_or_else(|error| format!("could not be opened ({error})"));
        return Err(Error::Check(format!(
            "Ada's invitation.html is a blob: of Huddle's origin typed {blob_type:?}: opened in a new tab, {opened}"
        )));
    }
    ensure!(
        HARMLESS_TYPES.iter().any(|harmless| essence.starts_with(harmless)),
        "Ada's invitation.html is typed {blob_type:?}, not one of {HARMLESS_TYPES:?}"
    );
    Ok(())
}

/// What "Open link in new tab" does with `url` in `person`'s browser: the document's type, origin and whether the
/// file's script ran (its title says so). Back in the first tab afterwards.
async fn open_in_new_tab(person: &Person, url: &str) -> Result<String> {
    let client = person.client();
    let webdriver = |what: &'static str| move |error| Error::webdriver(format!("{}: {what}", person.name()), error);
    let first = client.window().await.map_err(webdriver("read the window handle"))?;
    let tab = client.new_window(true).await.map_err(webdriver("open a tab"))?.handle;
    client.switch_to_window(tab).await.map_err(webdriver("switch to the new tab"))?;
    let seen = match tokio::time::timeout(TIMEOUT, person.goto(url)).await {
        Ok(Ok(())) => {
            let page =
                person.eval_js("return [document.contentType, location.origin, document.title];", Vec::new()).await?;
            let ran = if page[2] == "hostile page ran" { "its script ran" } else { "its script did not run" };
            format!("it is a {} document of {} and {ran}", page[0], page[1])
        }
        Ok(Err(error)) => format!("it did not open ({error})"),
        Err(_) => format!("it had not opened after {TIMEOUT:?}"),
    };
    client.close_window().await.map_err(webdriver("close the tab"))?;
    client.switch_to_window(first).await.map_err(webdriver("switch back"))?;
    Ok(seen)
}

// ---- Malformed and oversized messages ----

const KIB: usize = 1024;

fn garbage() -> Vec<Frame> {
    let text = |value: &str| Frame::Text(value.to_owned());
    let json = |value: Value| Frame::Text(value.to_string());
    vec![
        text("not json at all"),
        text("{"),
        text("[]"),
        text("null"),
        text("42"),
        text("\"chat\""),
        json(json!({ "type": "telepathy", "text": "hello" })),
        json(json!({ "type": 7 })),
        json(json!({ "type": "chat" })),
        json(json!({ "type": "chat", "text": 42 })),
        json(json!({ "type": "chat", "text": null })),
        json(json!({ "type": "chat", "text": ["a", "b"] })),
        json(json!({ "type": "chat", "text": "   " })),
        text(r#"{"type":"chat","text":"\ud800 lone surrogate"}"#),
        json(json!({ "type": "media_state", "mic": "yes", "camera": 1 })),
        json(json!({ "type": "media_state" })),
        json(json!({ "type": "file_offer", "id": "../../etc", "name": "a", "size": "big" })),
        json(json!({ "type": "file_offer", "id": "a", "name": "n", "size": -1 })),
        json(json!({ "type": "file_offer", "id": "a", "name": "n", "size": 1.5 })),
        json(json!({ "type": "file_offer", "id": "a", "name": 5, "size": 1 })),
        json(json!({ "type": "file_accept", "id": "nosuch" })),
        json(json!({ "type": "file_end", "id": "nosuch", "sha256": "00" })),
        json(json!({ "type": "file_cancel", "id": 42 })),
        // Nesting deeper than any parser should follow, within the size a receiver reads.
        Frame::Text(format!("{}{}", "[".repeat(7_000), "]".repeat(7_000))),
        Frame::Text(format!(
            "{{\"type\":\"chat\",\"text\":\"x\",\"extra\":{}1{}}}",
            "[".repeat(5_000),
            "]".repeat(5_000)
        )),
        Frame::ChatOfChars(2_001),
        Frame::Binary(KIB),
        Frame::Binary(200 * KIB),
        Frame::StringOfBytes(200 * KIB),
    ]
}

/// The largest messages a browser sends (Chromium's SCTP takes 256 KiB, `RTCSctpTransport.maxMessageSize`), and
/// 10 MB ones, which the hostile page's own browser refuses to send: what reaches Ada is capped there, not by her.
fn oversized() -> Vec<Frame> {
    const MAX: usize = 256 * KIB;
    vec![
        // `{"type":"chat","text":"…"}` around the characters.
        Frame::ChatOfChars(MAX - 26),
        Frame::StringOfBytes(MAX),
        Frame::Binary(MAX),
        Frame::ChatOfChars(10 * KIB * KIB),
        Frame::StringOfBytes(10 * KIB * KIB),
        Frame::Binary(10 * KIB * KIB),
    ]
}

/// What Ada sees of the call, to compare before and after.
#[derive(Debug, PartialEq)]
struct Seen {
    tiles: Vec<Tile>,
    chat: Vec<(String, String)>,
    transfers: usize,
    stopped: bool,
    error: bool,
}

async fn seen(ada: &Person) -> Result<Seen> {
    Ok(Seen {
        tiles: ada.remote_tiles().await?,
        chat: ada.chat_messages().await?,
        transfers: ada.count(sel::TRANSFER).await?,
        stopped: ada.exists(sel::STOPPED).await?,
        error: ada.exists(sel::ERROR).await?,
    })
}

/// Mallory sends Ada malformed messages (not JSON, unknown types, wrong field types, absurd nesting, blank and
/// overlong chat, binary frames) and then 10 MB ones. They all reach Ada's browser, and change nothing she sees:
/// no line, no transfer, no tile change, no trap (no panic or "unreachable" in the console, no "stopped" notice);
/// her page still works: Bob's next chat line arrives, her mute toggle answers.
pub async fn malformed_and_oversized_messages_change_nothing() -> Result<()> {
    let scene = scene(true).await?;
    let (ada, mallory, ada_id, mallory_id) = (&scene.ada, &scene.mallory, &scene.ada_id, &scene.mallory_id);
    let (bob, _) = scene.bob.as_ref().ok_or_else(|| Error::Check("no Bob".into()))?;
    open_chat(bob).await?;
    let before = seen(ada).await?;
    let stats_before = channel_stats(ada, mallory_id).await?;

    let small = garbage();
    let sent = mallory.send_frames(ada_id, &small).await?;
    let unsent: Vec<String> = small
        .iter()
        .zip(&sent)
        .filter(|(_, s)| !s.sent)
        .map(|(frame, s)| format!("{}: {:?}", frame.describe(), s.error))
        .collect();
    ensure!(unsent.is_empty(), "Mallory's page could not send: {unsent:?}");
    // The positive control: they all reached Ada's browser.
    let count = small.len() as u64;
    wait_until(format!("Mallory's {count} malformed messages reach Ada's browser"), TIMEOUT, async || {
        Ok(channel_stats(ada, mallory_id).await?.received >= stats_before.received + count)
    })
    .await?;
    let big = oversized();
    let big_sent = mallory.send_frames(ada_id, &big).await?;
    for (frame, outcome) in big.iter().zip(&big_sent) {
        println!(
            "    Mallory sends {}: {}",
            frame.describe(),
            match &outcome.error {
                Some(error) => format!("send threw {error}"),
                None => "sent".to_owned(),
            }
        );
    }
    let big_count = big_sent.iter().filter(|s| s.sent).count() as u64;
    let arrived =
        wait_for("Mallory's oversized messages reach Ada's browser (or her channel closes)", TIMEOUT, async || {
            let stats = channel_stats(ada, mallory_id).await?;
            let link = mallory.link(ada_id).await?;
            Ok((stats.received >= stats_before.received + count + big_count || link.channel != "open")
                .then_some((stats, link.channel)))
        })
        .await;
    match &arrived {
        Ok((stats, channel)) => println!(
            "    Ada's browser received {} of Mallory's {} messages ({} bytes); Mallory's channel is {channel}",
            stats.received - stats_before.received,
            count + big_count,
            stats.bytes_received - stats_before.bytes_received
        ),
        Err(error) => println!("    the oversized messages: {error}"),
    }

    // Bob, a normal person, still gets through; Ada's page still answers.
    bob.send_chat("Still there, Ada?").await?;
    ada.wait_chat("Bob", "Still there, Ada?").await?;
    let was = ada.is_on(sel::TOGGLE_MIC).await?;
    ada.set_toggle(sel::TOGGLE_MIC, !was).await?;
    ada.set_toggle(sel::TOGGLE_MIC, was).await?;

    let after = seen(ada).await?;
    let console = ada.console_log()?;
    let traps: Vec<&String> = console
        .iter()
        .filter(|line| ["panicked", "unreachable", "RuntimeError"].iter().any(|sign| line.contains(sign)))
        .collect();
    ensure!(traps.is_empty(), "Ada's page trapped or panicked on Mallory's messages: {traps:?}");
    ensure!(!after.stopped, "Ada's page stopped (the wasm trapped) on Mallory's messages");
    let mut expected = before;
    expected.chat.push(("Bob".into(), "Still there, Ada?".into()));
    ensure!(after.tiles == expected.tiles, "Ada's tiles changed: {:?} -> {:?}", expected.tiles, after.tiles);
    ensure!(
        after.chat == expected.chat,
        "Mallory's messages changed Ada's chat: {:?} (expected {:?})",
        after.chat,
        expected.chat
    );
    ensure!(after == expected, "Ada's call changed: {expected:?} -> {after:?}");
    Ok(())
}

// ---- Floods the gate cuts off ----

/// What Ada's statistics panel says of what Mallory sent that was dropped, once it says something containing each
/// of `expected` (the panel is opened first).
async fn dropped_says(scene: &Scene, expected: &[&str]) -> Result<String> {
    let ada = &scene.ada;
    if !ada.exists(sel::STATS).await? {
        ada.click(sel::TOGGLE_STATS).await?;
    }
    let section = format!("{} .stats-dropped", stats_of(&scene.mallory_id));
    let mut last = String::new();
    let found = wait_for(format!("Ada's statistics say {expected:?} of Mallory"), TIMEOUT, async || {
        let text = ada.eval_js("return document.querySelector(arguments[0])?.textContent ?? '';", vec![json!(section)]);
        last = text.await?.as_str().unwrap_or_default().to_owned();
        Ok(expected.iter().all(|part| last.contains(part)).then(|| last.clone()))
    })
    .await;
    found.map_err(|error| Error::Check(format!("{error}; the panel says {last:?}")))
}

/// How many data channels Mallory opens at once.
const CHANNELS: u64 = 500;
/// The first few have labels of this many characters, near the most a browser sends (65,535 bytes). Only a few:
/// Chromium refuses to open more channels once a couple of megabytes of labels wait to be sent.
const LONG_LABEL: usize = 60_000;
const LONG_LABELS: u64 = 10;

/// Mallory opens [`CHANNELS`] data channels to Ada at once, none for a file Ada accepted, the first
/// [`LONG_LABELS`] with labels of [`LONG_LABEL`] characters. Ada's page closes the first ones and then stops listening for Mallory's channels: her
/// mute click shows within the issue's bound during and after, her statistics say the channels were refused and
/// Mallory is no longer listened to for them, and her call goes on: Mallory's next chat line still arrives, nothing
/// is listed as a transfer, nothing trapped.
pub async fn a_flood_of_data_channels_leaves_the_victim_responsive() -> Result<()> {
    let scene = scene(false).await?;
    let (ada, mallory, ada_id) = (&scene.ada, &scene.mallory, scene.ada_id.as_str());
    let at = ada.eval_js(RECORD_MUTE, Vec::new()).await?;
    let at = match (at[0].as_f64(), at[1].as_f64()) {
        (Some(x), Some(y)) => (x, y),
        _ => return Err(Error::Script { what: "where Ada's mute toggle is".into(), value: at }),
    };
    let mut clicks = vec![click_mute(ada, at, 0, "before the channels".into()).await?];
    mallory.open_channels(ada_id, CHANNELS, LONG_LABELS, LONG_LABEL).await?;
    clicks.push(click_mute(ada, at, clicks.len(), "as the channels open".into()).await?);
    let spam = wait_for("Mallory's channels to Ada open (or close)", TIMEOUT, async || {
        let spam = mallory.link(ada_id).await?.spam;
        Ok((spam.asked > 0 && spam.connecting == 0).then_some(spam))
    })
    .await?;
    println!(
        "    Mallory opened {} of {CHANNELS} channels (error: {:?}): Ada's page closed {}, {} stay open unheard",
        spam.asked, spam.error, spam.closed, spam.open
    );
    marker(&scene, "that was the channels").await?;
    clicks.push(click_mute(ada, at, clicks.len(), "after the channels".into()).await?);
    for click in &clicks {
        println!("    mute click {}: shown {:.0} ms after the press reached the browser", click.when, click.to_dom);
    }
    let said = dropped_says(&scene, &["data channel", "refused", "no longer listened to"]).await?;
    println!("    Ada's statistics: {said:?}");
    ensure!(spam.asked == CHANNELS, "Mallory's page opened only {} channels: {:?}", spam.asked, spam.error);
    all_shown_quickly(&clicks)?;
    ensure!(!ada.exists(sel::STOPPED).await?, "Ada's page stopped (a trap) under Mallory's channels");
    let listed = ada.count(sel::TRANSFER).await?;
    ensure!(listed == 0, "Mallory's channels made {listed} items in Ada's transfer list");
    Ok(())
}

/// Messages of euro signs just over the size bound in UTF-8 (three bytes each), a third of it in UTF-16 units.
const EUROS: usize = 16 * 1024 / 3 + 1;
/// How many Mallory sends at once: far more than the burst of messages any peer gets, arriving faster than the rate.
const EURO_MESSAGES: u64 = 800;

/// Mallory sends [`EURO_MESSAGES`] messages of [`EUROS`] euro signs at once, each over the size bound. Each counts
/// toward the flood, so Ada's page cuts Mallory off: Mallory sees her `huddle` channel closed, Ada's statistics say
/// the messages were too big and Mallory is no longer listened to, and Ada's mute toggle still answers.
pub async fn messages_over_the_size_bound_count_toward_the_flood() -> Result<()> {
    let scene = scene(false).await?;
    let (ada, mallory, ada_id) = (&scene.ada, &scene.mallory, scene.ada_id.as_str());
    let sent = mallory.send_burst(ada_id, "€", EUROS, EURO_MESSAGES).await?;
    ensure!(sent == EURO_MESSAGES, "Mallory's channel took only {sent} of {EURO_MESSAGES} messages");
    let closed = wait_until("Ada closes her channel with Mallory", TIMEOUT, async || {
        Ok(mallory.link(ada_id).await?.channel != "open")
    })
    .await;
    let said = dropped_says(&scene, &["too big", "no longer listened to"]).await;
    println!("    Ada's statistics: {said:?}");
    closed?;
    said?;
    let was = ada.is_on(sel::TOGGLE_MIC).await?;
    ada.set_toggle(sel::TOGGLE_MIC, !was).await?;
    ensure!(!ada.exists(sel::STOPPED).await?, "Ada's page stopped (a trap) under Mallory's messages");
    Ok(())
}
