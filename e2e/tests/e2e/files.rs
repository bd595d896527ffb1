//! Files between people in a call, each on a data channel of its own: nothing arrives that the receiver did not
//! accept (declined, or left unanswered, an offer moves no byte); a big file arrives byte for byte, with progress on
//! both sides; either side can cancel; an absurd file is refused with a reason; the sender's memory does not grow
//! with the file; a received file only downloads, and dismissing it releases it.

use std::time::{Duration, Instant};

use huddle_e2e::diagnostics::note;
use huddle_e2e::page_memory;
use huddle_e2e::spa::{
    new_room_id, selector as sel, tile_of, transfer_of, two_in_a_call, two_in_a_call_with_bob_on, Person, TwoInACall,
};
use huddle_e2e::{
    artifacts, cdp, ensure, wait_for, wait_until, Browser, BrowserOptions, Error, Relay, Result, ScratchDir,
};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The big file: 50 MiB.
const BIG_BYTES: usize = 50 * 1024 * 1024;
/// How long a big transfer may take; over loopback it takes a few seconds.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(90);
/// How long an unanswered offer may stay offered before the receiver's page declines it: more than the SPA waits (its
/// status line says how long), with room for a slow machine.
const UNANSWERED_TIMEOUT: Duration = Duration::from_secs(120);
/// Once garbage is collected, the sender's JavaScript heap (array buffers included) may have grown by less than this
/// from sending [`BIG_BYTES`]. Its peak includes the slices read and not yet collected: it must stay under the file's
/// size.
const MAX_HEAP_GROWTH: f64 = 20.0 * 1024.0 * 1024.0;
/// The sender's WebAssembly memory, which never shrinks, may grow by less than this.
const MAX_WASM_GROWTH: f64 = 8.0 * 1024.0 * 1024.0;

/// A transfer as a page shows it.
#[derive(Debug, Deserialize)]
struct Shown {
    id: String,
    direction: String,
    state: String,
    value: f64,
    max: f64,
    status: String,
    download: Option<String>,
    download_name: Option<String>,
}

const TRANSFERS: &str = r#"
    return Array.from(document.querySelectorAll('.transfer')).map((item) => {
      const progress = item.querySelector('.transfer-progress');
      const link = item.querySelector('a.file-download');
      return {
        id: item.dataset.transferId,
        direction: item.dataset.direction,
        state: item.dataset.state,
        value: Number(progress?.value ?? -1),
        max: Number(progress?.max ?? -1),
        status: (item.querySelector('.transfer-status')?.textContent ?? '').trim(),
        download: link ? link.getAttribute('href') : null,
        download_name: link ? link.getAttribute('download') : null,
      };
    });
"#;

async fn transfers(person: &Person) -> Result<Vec<Shown>> {
    let reply = person.eval_js(TRANSFERS, Vec::new()).await?;
    serde_json::from_value(reply.clone())
        .map_err(|_| Error::Script { what: format!("{}: transfers", person.name()), value: reply })
}

async fn transfer(person: &Person, id: &str) -> Result<Option<Shown>> {
    Ok(transfers(person).await?.into_iter().find(|shown| shown.id == id))
}

/// Waits until `person` shows the transfer `id` in `state`; returns it.
async fn wait_transfer_state(person: &Person, id: &str, state: &str, timeout: Duration) -> Result<Shown> {
    let what = format!("{} shows transfer {id} {state}", person.name());
    wait_for(what, timeout, async || match transfer(person, id).await? {
        Some(shown) if shown.state == state => Ok(Some(shown)),
        // Reported if it times out: what the page shows instead.
        other => Err(Error::Check(format!("shown: {other:?}"))),
    })
    .await
}

/// `person` accepts the offer `id` once it shows, with a click on its Accept button.
async fn accept(person: &Person, id: &str) -> Result<()> {
    wait_transfer_state(person, id, "offered", TRANSFER_TIMEOUT).await?;
    person.click(&format!("{} {}", transfer_of(id), sel::TRANSFER_ACCEPT)).await
}

/// Waits until `person` lists a transfer going `direction`; returns its id.
async fn wait_new_transfer(person: &Person, direction: &str) -> Result<String> {
    let what = format!("{} lists a transfer ({direction})", person.name());
    wait_for(what, TRANSFER_TIMEOUT, async || {
        Ok(transfers(person).await?.into_iter().find(|shown| shown.direction == direction).map(|shown| shown.id))
    })
    .await
}

/// Records, in the page, every state and progress value the transfers show (the test polls too slowly to see them
/// all).
const RECORD_PROGRESS: &str = r#"
    window.__shown = [];
    const last = new Map();
    new MutationObserver(() => {
      for (const item of document.querySelectorAll('.transfer')) {
        const progress = item.querySelector('.transfer-progress');
        const seen = [item.dataset.transferId, item.dataset.state, Number(progress.value), Number(progress.max)];
        if (last.get(seen[0]) !== seen.join()) {
          last.set(seen[0], seen.join());
          window.__shown.push(seen);
        }
      }
    }).observe(document.body, { subtree: true, childList: true, attributes: true });
"#;

/// Makes a file of `mib` MiB in the page (one pseudo-random MiB, repeated: cheap even when huge) and drops it onto
/// the element matching `selector`, as a person dragging it from their desktop would; returns its size.
const DROP_FILE: &str = r#"
    const [selector, name, mib] = arguments;
    const target = document.querySelector(selector);
    if (!target) return `nothing matches ${selector}`;
    const block = new Uint8Array(1024 * 1024);
    let x = 0x2545f491;
    for (let i = 0; i < block.length; i++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      block[i] = x & 0xff;
    }
    const part = new Blob([block]);
    const file = new File(Array(mib).fill(part), name, { type: 'application/octet-stream' });
    const data = new DataTransfer();
    data.items.add(file);
    for (const type of ['dragenter', 'dragover', 'drop']) {
      target.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }));
    }
    return file.size;
"#;

async fn drop_file(person: &Person, selector: &str, name: &str, mib: u64) -> Result<()> {
    let size = person.eval_js(DROP_FILE, vec![json!(selector), json!(name), json!(mib)]).await?;
    ensure!(size == json!(mib * 1024 * 1024), "{}: dropping {name} on {selector} gave {size}", person.name());
    Ok(())
}

/// Deterministic pseudo-random bytes (xorshift64*): a chunk lost, repeated or out of place changes the hash.
fn pattern(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        bytes.extend_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const MIB: f64 = 1024.0 * 1024.0;

/// Ada picks a 50 MiB file (a real one, from disk) and it goes to Bob. Both see it progress, then done; Bob's
/// download holds exactly Ada's bytes; and Ada's memory stays flat while she sends.
pub async fn a_big_file_arrives_intact_and_the_sender_stays_small() -> Result<()> {
    let relay = Relay::start().await?;
    // Exact heap sizes (Chromium otherwise rounds them and refreshes them rarely), and a way to collect garbage first.
    let options = BrowserOptions {
        extra_args: vec!["--enable-precise-memory-info".into(), "--js-flags=--expose-gc".into()],
        ..BrowserOptions::new("Ada")
    };
    let ada = Person::with_browser("Ada", Browser::launch_with(options).await?);
    let bob = Person::new("Bob").await?;
    let room = new_room_id();
    ada.join_room(&relay, &room).await?;
    bob.join_room(&relay, &room).await?;
    let bob_id = ada.wait_tile_named("Bob").await?;
    let ada_id = bob.wait_tile_named("Ada").await?;
    ada.wait_sees_and_hears(&bob_id).await?;
    bob.wait_sees_and_hears(&ada_id).await?;

    let scratch = ScratchDir::new("files")?;
    let bytes = pattern(BIG_BYTES);
    let expected = hex(&Sha256::digest(&bytes));
    let path = scratch.write("big.bin", &bytes)?;
    drop(bytes);

    bob.eval_js(RECORD_PROGRESS, Vec::new()).await?;
    page_memory::start_sampling(&ada, 10).await?;
    let started = Instant::now();
    let input = ada.find(sel::FILE_INPUT).await?;
    let path = path.to_str().ok_or_else(|| Error::Check(format!("{} is not UTF-8", path.display())))?;
    input.send_keys(path).await.map_err(|e| Error::webdriver("Ada: pick big.bin", e))?;

    let id = wait_new_transfer(&ada, "send").await?;
    // Offered, and nothing moves until Bob accepts.
    let offered = wait_transfer_state(&bob, &id, "offered", TRANSFER_TIMEOUT).await?;
    ensure!(offered.status == "Ada offers you this file", "Bob's offer says {:?}", offered.status);
    ensure!(offered.value == 0.0 && offered.download.is_none(), "Bob's offer shows {offered:?}");
    let waiting = transfer(&ada, &id).await?.ok_or_else(|| Error::Check("Ada's transfer is gone".into()))?;
    ensure!(waiting.status == "Waiting for Bob to accept…", "Ada's transfer says {:?}", waiting.status);
    ensure!(waiting.value == 0.0, "Ada sent {} bytes before Bob accepted", waiting.value);
    bob.click(&format!("{} {}", transfer_of(&id), sel::TRANSFER_ACCEPT)).await?;
    // A picture of it under way (or done, if it was quicker than the look).
    wait_until("Bob's copy of big.bin is 40% there", TRANSFER_TIMEOUT, async || {
        Ok(transfer(&bob, &id).await?.is_some_and(|t| t.state == "done" || t.value >= 0.4 * t.max))
    })
    .await?;
    bob.screenshot(artifacts::screenshot_path("file-transfer.png")).await?;
    let received = wait_transfer_state(&bob, &id, "done", TRANSFER_TIMEOUT).await?;
    let took = started.elapsed();
    let sent = wait_transfer_state(&ada, &id, "done", TRANSFER_TIMEOUT).await?;
    let memory = page_memory::stop_sampling(&ada).await?;
    bob.screenshot(artifacts::screenshot_path("file-transfer-done.png")).await?;

    // What each side showed on the way.
    let size = BIG_BYTES as f64;
    ensure!(sent.status == "Sent to Bob", "Ada's transfer says {:?}", sent.status);
    ensure!((sent.value, sent.max) == (size, size), "Ada's progress ends at {} of {}", sent.value, sent.max);
    ensure!(received.status == "Received from Ada", "Bob's transfer says {:?}", received.status);
    ensure!(
        (received.value, received.max) == (size, size),
        "Bob's progress ends at {}/{}",
        received.value,
        received.max
    );
    let shown: Vec<(String, String, f64, f64)> =
        serde_json::from_value(bob.eval_js("return window.__shown;", vec![]).await?)
            .map_err(|e| Error::Check(format!("Bob's recorded progress: {e}")))?;
    let mine: Vec<_> = shown.iter().filter(|(shown_id, ..)| shown_id == &id).collect();
    let partway =
        mine.iter().filter(|(_, state, value, max)| state == "receiving" && *value > 0.0 && value < max).count();
    ensure!(partway >= 1, "Bob never saw big.bin part-way: {mine:?}");
    ensure!(mine.last().is_some_and(|(_, state, ..)| state == "done"), "Bob's last state: {mine:?}");
    let values: Vec<f64> = mine.iter().map(|(_, _, value, _)| *value).collect();
    ensure!(values.windows(2).all(|pair| pair[0] <= pair[1]), "Bob's progress went backwards: {values:?}");

    // The bytes.
    ensure!(
        received.download_name.as_deref() == Some("big.bin"),
        "Bob's download is named {:?}",
        received.download_name
    );
    let url = received.download.ok_or_else(|| Error::Check("Bob has no download link".into()))?;
    ensure!(url.starts_with("blob:"), "Bob's download link is {url}");
    // Saved as a person saves it: a click on the link, and the file in Bob's downloads folder.
    let downloads = ScratchDir::new("downloads")?;
    let folder = downloads.path().to_str().ok_or_else(|| Error::Check("the downloads folder is not UTF-8".into()))?;
    cdp::execute(&bob, "Browser.setDownloadBehavior", json!({ "behavior": "allow", "downloadPath": folder })).await?;
    bob.click(&format!("{} {}", transfer_of(&id), sel::FILE_DOWNLOAD)).await?;
    let saved = downloads.path().join("big.bin");
    wait_until("Bob's download of big.bin is saved whole", TRANSFER_TIMEOUT, async || {
        Ok(std::fs::metadata(&saved).is_ok_and(|file| file.len() == BIG_BYTES as u64))
    })
    .await?;
    let copy = std::fs::read(&saved).map_err(|e| Error::io(format!("read {}", saved.display()), e))?;
    let copy = hex(&Sha256::digest(&copy));
    ensure!(copy == expected, "Bob's saved copy hashes to {copy}, Ada's file to {expected}");

    // Ada's memory.
    let heap_growth = memory.end.heap - memory.start.heap;
    let heap_peak = memory.peak.heap - memory.start.heap;
    let wasm_growth = memory.peak.wasm - memory.start.wasm;
    let rate = size / MIB / took.as_secs_f64();
    println!(
        "    50 MiB in {took:.2?} ({rate:.1} MiB/s); sender JS heap: +{:.1} MiB after GC (peak +{:.1} MiB), \
         wasm memory +{:.1} MiB",
        heap_growth / MIB,
        heap_peak / MIB,
        wasm_growth / MIB
    );
    note(format!("memory of Ada's page while sending: {memory:?}"));
    ensure!(heap_growth < MAX_HEAP_GROWTH, "Ada's JS heap grew by {:.1} MiB sending 50 MiB", heap_growth / MIB);
    ensure!(heap_peak < size, "Ada's JS heap peaked {:.1} MiB higher sending 50 MiB", heap_peak / MIB);
    ensure!(wasm_growth < MAX_WASM_GROWTH, "Ada's wasm memory grew by {:.1} MiB sending 50 MiB", wasm_growth / MIB);
    Ok(())
}

/// Ada drops a 1 GiB file onto Bob's tile; Bob cancels it part-way, and both see it cancelled. Then Ada sends another
/// with the button's input and cancels it herself.
pub async fn either_side_can_cancel_a_transfer() -> Result<()> {
    let relay = Relay::start().await?;
    let TwoInACall { ada, bob, bob_id, .. } = two_in_a_call(&relay).await?;

    // Bob cancels.
    drop_file(&ada, &tile_of(&bob_id), "huge.iso", 1024).await?;
    let id = wait_new_transfer(&ada, "send").await?;
    accept(&bob, &id).await?;
    wait_part_way(&bob, &id, "receiving").await?;
    wait_part_way(&ada, &id, "sending").await?;
    bob.click(&format!("{} {}", transfer_of(&id), sel::TRANSFER_CANCEL)).await?;
    let bobs = wait_transfer_state(&bob, &id, "cancelled", TRANSFER_TIMEOUT).await?;
    let adas = wait_transfer_state(&ada, &id, "cancelled", TRANSFER_TIMEOUT).await?;
    ensure!(bobs.status == "Cancelled", "Bob's transfer says {:?}", bobs.status);
    ensure!(adas.status == "Cancelled by Bob", "Ada's transfer says {:?}", adas.status);
    ensure!(bobs.value < bobs.max, "Bob's cancelled transfer shows {} of {}", bobs.value, bobs.max);
    ensure!(
        !bob.exists(&format!("{} {}", transfer_of(&id), sel::FILE_DOWNLOAD)).await?,
        "Bob can save a cancelled file"
    );

    // Ada cancels.
    drop_file(&ada, ".stage", "second.iso", 1024).await?;
    let second = wait_for("Ada lists a second transfer", TRANSFER_TIMEOUT, async || {
        Ok(transfers(&ada).await?.into_iter().find(|t| t.id != id).map(|t| t.id))
    })
    .await?;
    accept(&bob, &second).await?;
    wait_part_way(&bob, &second, "receiving").await?;
    ada.click(&format!("{} {}", transfer_of(&second), sel::TRANSFER_CANCEL)).await?;
    let adas = wait_transfer_state(&ada, &second, "cancelled", TRANSFER_TIMEOUT).await?;
    let bobs = wait_transfer_state(&bob, &second, "cancelled", TRANSFER_TIMEOUT).await?;
    ensure!(adas.status == "Cancelled", "Ada's transfer says {:?}", adas.status);
    ensure!(bobs.status == "Cancelled by Ada", "Bob's transfer says {:?}", bobs.status);

    // The call goes on: chat still crosses the same peer connection.
    ada.send_chat("Never mind, I'll send a link.").await?;
    if !bob.chat_open().await? {
        bob.click(sel::TOGGLE_CHAT).await?;
    }
    bob.wait_chat("Ada", "Never mind, I'll send a link.").await
}

/// Waits until `person`'s transfer `id` is in `state` ("sending" or "receiving") with some of it moved.
async fn wait_part_way(person: &Person, id: &str, state: &str) -> Result<()> {
    let what = format!("{}'s transfer {id} is {state} part-way", person.name());
    wait_until(what, TRANSFER_TIMEOUT, async || {
        Ok(transfer(person, id).await?.is_some_and(|t| t.state == state && t.value > 0.0))
    })
    .await
}

/// A file over 4 GiB is refused before anything is sent, with the reason; Bob is not bothered with it.
pub async fn a_file_over_4_gib_is_refused_with_a_reason() -> Result<()> {
    let relay = Relay::start().await?;
    let TwoInACall { ada, bob, .. } = two_in_a_call(&relay).await?;
    drop_file(&ada, ".stage", "disk.img", 5 * 1024).await?;
    let id = wait_new_transfer(&ada, "send").await?;
    let refused = wait_transfer_state(&ada, &id, "failed", Duration::from_secs(10)).await?;
    ensure!(
        refused.status == "disk.img is 5.0 GB: files up to 4 GB can be sent",
        "Ada's refused transfer says {:?}",
        refused.status
    );
    ensure!(
        !ada.exists(&format!("{} {}", transfer_of(&id), sel::TRANSFER_CANCEL)).await?,
        "a refused file can be cancelled"
    );
    // Something Bob would see by now had it been offered: a chat line sent after it arrives after it.
    ada.send_chat("Too big, sorry").await?;
    if !bob.chat_open().await? {
        bob.click(sel::TOGGLE_CHAT).await?;
    }
    bob.wait_chat("Ada", "Too big, sorry").await?;
    let bobs: Vec<Value> = bob.eval_js(TRANSFERS, Vec::new()).await?.as_array().cloned().unwrap_or_default();
    ensure!(bobs.is_empty(), "Bob was shown {bobs:?}");
    Ok(())
}

/// Makes a small file of `text` with the media type `type` in the page and drops it onto the element matching
/// `selector`; returns its size.
const DROP_TEXT_FILE: &str = r#"
    const [selector, name, text, type] = arguments;
    const target = document.querySelector(selector);
    if (!target) return `nothing matches ${selector}`;
    const file = new File([text], name, { type });
    const data = new DataTransfer();
    data.items.add(file);
    for (const kind of ['dragenter', 'dragover', 'drop']) {
      target.dispatchEvent(new DragEvent(kind, { dataTransfer: data, bubbles: true, cancelable: true }));
    }
    return file.size;
"#;

/// Reads a `blob:` URL from inside the page: `{ ok, type, size }`, `ok` false once the URL is revoked.
const READ_BLOB: &str = r#"
    const [url, done] = arguments;
    fetch(url)
      .then((response) => response.blob())
      .then((blob) => done({ ok: true, type: blob.type, size: blob.size }))
      .catch((error) => done({ ok: false, type: String(error), size: 0 }));
"#;

#[derive(Debug, Deserialize)]
struct BlobRead {
    ok: bool,
    #[serde(rename = "type")]
    kind: String,
    size: u64,
}

async fn read_blob(person: &Person, url: &str) -> Result<BlobRead> {
    let reply = person.eval_js_async(READ_BLOB, vec![json!(url)]).await?;
    serde_json::from_value(reply.clone())
        .map_err(|_| Error::Script { what: format!("{}: read {url}", person.name()), value: reply })
}

/// Ada offers Bob a file and Bob declines it: both say so, no byte moves, and the offer can no longer be accepted.
/// Bob can then dismiss it.
pub async fn a_declined_offer_transfers_nothing() -> Result<()> {
    let relay = Relay::start().await?;
    let TwoInACall { ada, bob, bob_id, .. } = two_in_a_call(&relay).await?;
    drop_file(&ada, &tile_of(&bob_id), "holiday.mov", 64).await?;
    let id = wait_new_transfer(&ada, "send").await?;
    let offered = wait_transfer_state(&bob, &id, "offered", TRANSFER_TIMEOUT).await?;
    ensure!(offered.status == "Ada offers you this file", "Bob's offer says {:?}", offered.status);
    bob.click(&format!("{} {}", transfer_of(&id), sel::TRANSFER_DECLINE)).await?;
    let bobs = wait_transfer_state(&bob, &id, "declined", TRANSFER_TIMEOUT).await?;
    ensure!(bobs.status == "Declined", "Bob's declined offer says {:?}", bobs.status);
    let adas = wait_transfer_state(&ada, &id, "declined", TRANSFER_TIMEOUT).await?;
    ensure!(adas.status == "Declined by Bob", "Ada's declined offer says {:?}", adas.status);

    // Bob's chat line travels behind anything his page sent Ada before it (an accept would have): once she has it,
    // nothing was accepted, and nothing moved either way.
    bob.send_chat("Not now, thanks").await?;
    if !ada.chat_open().await? {
        ada.click(sel::TOGGLE_CHAT).await?;
    }
    ada.wait_chat("Bob", "Not now, thanks").await?;
    let adas = transfer(&ada, &id).await?;
    ensure!(adas.as_ref().is_some_and(|t| t.state == "declined" && t.value == 0.0), "Ada's transfer: {adas:?}");
    let bobs = transfer(&bob, &id).await?;
    ensure!(
        bobs.as_ref().is_some_and(|t| t.state == "declined" && t.value == 0.0 && t.download.is_none()),
        "Bob's transfer: {bobs:?}"
    );
    for answer in [sel::TRANSFER_ACCEPT, sel::TRANSFER_DECLINE, sel::TRANSFER_CANCEL] {
        ensure!(!bob.exists(&format!("{} {answer}", transfer_of(&id))).await?, "Bob's declined offer has {answer}");
    }

    // Over, so it can go.
    bob.click(&format!("{} {}", transfer_of(&id), sel::TRANSFER_DISMISS)).await?;
    bob.wait_gone(&transfer_of(&id)).await?;
    ensure!(transfer(&ada, &id).await?.is_some(), "Bob's dismissing took Ada's line too");
    Ok(())
}

/// Ada offers Bob a file and Bob does nothing: after a while his page declines it, saying why, and Ada's says Bob
/// declined.
pub async fn an_offer_left_unanswered_is_declined() -> Result<()> {
    let relay = Relay::start().await?;
    let TwoInACall { ada, bob, bob_id, .. } = two_in_a_call(&relay).await?;
    drop_file(&ada, &tile_of(&bob_id), "minutes.bin", 1).await?;
    let id = wait_new_transfer(&ada, "send").await?;
    wait_transfer_state(&bob, &id, "offered", TRANSFER_TIMEOUT).await?;
    let shown = Instant::now();
    let bobs = wait_transfer_state(&bob, &id, "declined", UNANSWERED_TIMEOUT).await?;
    let waited = shown.elapsed();
    let adas = wait_transfer_state(&ada, &id, "declined", TRANSFER_TIMEOUT).await?;
    println!("    an unanswered offer was declined {waited:.1?} after it showed");
    // The line says how long the page waited. The offer showed a little before this test first saw it (a poll, a
    // WebDriver round trip apart), so it was seen waiting that much less: allowed for, not a sooner decline.
    let said = bobs
        .status
        .strip_prefix("Declined: not answered within ")
        .and_then(|rest| rest.strip_suffix(" s"))
        .and_then(|seconds| seconds.parse::<u64>().ok())
        .ok_or_else(|| Error::Check(format!("Bob's unanswered offer says {:?}", bobs.status)))?;
    let seen_late = Duration::from_secs(5);
    ensure!(
        waited + seen_late >= Duration::from_secs(said),
        "Bob's page declined after {waited:?}, its line says {said} s"
    );
    ensure!(adas.status == "Declined by Bob", "Ada's offer says {:?}", adas.status);
    ensure!((bobs.value, adas.value) == (0.0, 0.0), "bytes moved: Bob {bobs:?}, Ada {adas:?}");
    ensure!(
        !bob.exists(&format!("{} {}", transfer_of(&id), sel::TRANSFER_ACCEPT)).await?,
        "Bob can still accept an offer his page declined"
    );
    Ok(())
}

/// Ada sends Bob a page (`text/html`) and he accepts it: its link downloads it (a `download` attribute) and its blob
/// is not a page (`application/octet-stream`). Dismissing it takes it off Bob's list and releases the blob; Ada
/// dismisses her own line.
pub async fn dismissing_a_received_file_releases_it() -> Result<()> {
    let relay = Relay::start().await?;
    // Bob's page may read blob: URLs with `fetch`, which the Content-Security-Policy (`connect-src`) would refuse.
    let bob = Browser::launch("Bob").await?;
    cdp::execute(&bob, "Page.setBypassCSP", json!({ "enabled": true })).await?;
    let TwoInACall { ada, bob, bob_id, .. } = two_in_a_call_with_bob_on(&relay, bob).await?;
    let page = "<!doctype html><script>document.title = 'Huddle runs me'</script>";
    let size = ada
        .eval_js(DROP_TEXT_FILE, vec![json!(tile_of(&bob_id)), json!("invite.html"), json!(page), json!("text/html")])
        .await?;
    ensure!(size == json!(page.len()), "Ada: dropping invite.html gave {size}");
    let id = wait_new_transfer(&ada, "send").await?;
    accept(&bob, &id).await?;
    let received = wait_transfer_state(&bob, &id, "done", TRANSFER_TIMEOUT).await?;
    ensure!(
        received.download_name.as_deref() == Some("invite.html"),
        "Bob's link downloads as {:?}",
        received.download_name
    );
    let url = received.download.ok_or_else(|| Error::Check("Bob has no download link".into()))?;
    let blob = read_blob(&bob, &url).await?;
    ensure!(
        blob.ok && blob.kind == "application/octet-stream" && blob.size == page.len() as u64,
        "Bob's invite.html is {blob:?}"
    );

    bob.click(&format!("{} {}", transfer_of(&id), sel::TRANSFER_DISMISS)).await?;
    bob.wait_gone(&transfer_of(&id)).await?;
    let released = read_blob(&bob, &url).await?;
    ensure!(!released.ok, "Bob's dismissed file can still be read: {released:?}");

    wait_transfer_state(&ada, &id, "done", TRANSFER_TIMEOUT).await?;
    ada.click(&format!("{} {}", transfer_of(&id), sel::TRANSFER_DISMISS)).await?;
    ada.wait_gone(&transfer_of(&id)).await?;
    ensure!(!ada.exists(sel::TRANSFER).await?, "Ada still lists a transfer");
    Ok(())
}

/// Picks the option whose text is `arguments[1]` in the select `arguments[0]`, as a person would; returns its value.
const PICK_OPTION_NAMED: &str = r#"
    const [selector, text] = arguments;
    const select = document.querySelector(selector);
    const option = Array.from(select?.options ?? []).find((option) => option.textContent === text);
    if (!option) return null;
    select.value = option.value;
    select.dispatchEvent(new Event('change', { bubbles: true }));
    return option.value;
"#;

/// What the settings show about files: the chosen limit's text, and what was received.
const RECEIVE_SETTING: &str = r#"
    const select = document.querySelector(arguments[0]);
    return [select.selectedOptions[0].textContent, document.querySelector('#settings .field-note').textContent];
"#;

/// Bob lowers the bytes he receives per call in the settings (remembered for next time): Ada's file over it is
/// declined with the reason on Bob's side and as declined on hers; a small one still arrives, and the settings count
/// it.
pub async fn a_file_over_the_bytes_per_call_is_declined_saying_so() -> Result<()> {
    let relay = Relay::start().await?;
    let TwoInACall { ada, bob, bob_id, .. } = two_in_a_call(&relay).await?;
    bob.click(sel::TOGGLE_SETTINGS).await?;
    bob.wait_for(sel::RECEIVE_LIMIT_SELECT).await?;
    let shown = bob.eval_js(RECEIVE_SETTING, vec![json!(sel::RECEIVE_LIMIT_SELECT)]).await?;
    ensure!(shown == json!(["2.0 GB", "0 B received in this call"]), "Bob's settings show {shown}");
    let picked = bob.eval_js(PICK_OPTION_NAMED, vec![json!(sel::RECEIVE_LIMIT_SELECT), json!("256.0 MB")]).await?;
    ensure!(picked == json!((256u64 << 20).to_string()), "Bob picked {picked}");
    let stored = bob.eval_js("return localStorage.getItem('huddle.receive_limit');", Vec::new()).await?;
    ensure!(stored == json!(json!(picked).to_string()), "Bob's choice is stored as {stored}");
    bob.click("#close-settings").await?;

    drop_file(&ada, &tile_of(&bob_id), "backup.tar", 300).await?;
    let id = wait_new_transfer(&ada, "send").await?;
    let adas = wait_transfer_state(&ada, &id, "declined", TRANSFER_TIMEOUT).await?;
    ensure!(adas.status == "Declined by Bob", "Ada's offer says {:?}", adas.status);
    // Bob's line has an id of his own (an offer refused by a rule may be malformed).
    let bobs = transfers(&bob).await?;
    let expected =
        "Declined: backup.tar is 300.0 MB, more than the 256.0 MB left of the 256.0 MB you receive per call \
                    (Settings)";
    ensure!(
        bobs.len() == 1 && bobs[0].state == "declined" && bobs[0].status == expected && bobs[0].value == 0.0,
        "Bob shows {bobs:?}"
    );
    ensure!(!bob.exists(sel::TRANSFER_ACCEPT).await?, "Bob is asked about a file over his limit");

    drop_file(&ada, &tile_of(&bob_id), "notes.bin", 1).await?;
    let small = wait_for("Ada lists a second transfer", TRANSFER_TIMEOUT, async || {
        Ok(transfers(&ada).await?.into_iter().find(|t| t.id != id).map(|t| t.id))
    })
    .await?;
    accept(&bob, &small).await?;
    wait_transfer_state(&bob, &small, "done", TRANSFER_TIMEOUT).await?;
    bob.click(sel::TOGGLE_SETTINGS).await?;
    bob.wait_for(sel::RECEIVE_LIMIT_SELECT).await?;
    let shown = bob.eval_js(RECEIVE_SETTING, vec![json!(sel::RECEIVE_LIMIT_SELECT)]).await?;
    ensure!(shown == json!(["256.0 MB", "1.0 MB received in this call"]), "Bob's settings show {shown}");
    Ok(())
}

/// Makes small files (`[name, text]` pairs) in the page and drops them all at once onto the element matching
/// `selector`; returns how many were dropped.
const DROP_TEXT_FILES: &str = r#"
    const [selector, files] = arguments;
    const target = document.querySelector(selector);
    if (!target) return `nothing matches ${selector}`;
    const data = new DataTransfer();
    for (const [name, text] of files) data.items.add(new File([text], name, { type: 'text/plain' }));
    for (const kind of ['dragenter', 'dragover', 'drop']) {
      target.dispatchEvent(new DragEvent(kind, { dataTransfer: data, bubbles: true, cancelable: true }));
    }
    return data.files.length;
"#;

/// Ada drops five files on Bob's tile at once. Bob's page asks about three at a time (it would decline more unseen),
/// so Ada's page offers three and queues two, saying so; as Bob answers (accepts two, declines one), the queued ones
/// are offered, and every file Bob accepts arrives. Nothing is declined without asking him.
pub async fn five_files_at_once_go_three_offers_at_a_time_and_all_arrive() -> Result<()> {
    let relay = Relay::start().await?;
    let TwoInACall { ada, bob, bob_id, .. } = two_in_a_call(&relay).await?;
    let files: Vec<(String, String)> =
        (1..=5).map(|n| (format!("note-{n}.txt"), format!("note {n}: ").repeat(100 * n))).collect();
    let dropped = ada.eval_js(DROP_TEXT_FILES, vec![json!(tile_of(&bob_id)), json!(files)]).await?;
    ensure!(dropped == json!(5), "Ada: dropping five files gave {dropped}");

    // Ada: three offered (waiting for Bob), two queued.
    let adas = wait_for("Ada lists five transfers", TRANSFER_TIMEOUT, async || {
        let shown = transfers(&ada).await?;
        Ok((shown.len() == 5).then_some(shown))
    })
    .await?;
    let waiting: Vec<&Shown> = adas.iter().filter(|t| t.status == "Waiting for Bob to accept…").collect();
    let queued: Vec<&Shown> = adas.iter().filter(|t| t.state == "queued").collect();
    ensure!(waiting.len() == 3 && queued.len() == 2, "Ada shows {adas:?}");
    ensure!(
        queued.iter().all(|t| t.status == "Queued: Bob has other offers to answer"),
        "Ada's queued files say {queued:?}"
    );
    // Bob: the same three, asking him.
    let offered = wait_for("Bob is offered three files", TRANSFER_TIMEOUT, async || {
        let shown = transfers(&bob).await?;
        let offered: Vec<String> = shown.iter().filter(|t| t.state == "offered").map(|t| t.id.clone()).collect();
        Ok((offered.len() == 3).then_some(offered))
    })
    .await?;
    let mut expected: Vec<String> = waiting.iter().map(|t| t.id.clone()).collect();
    let mut asked = offered.clone();
    expected.sort();
    asked.sort();
    ensure!(asked == expected, "Bob is asked about {asked:?}, Ada offered {expected:?}");

    // Bob answers: accepts two, declines one; the two queued ones follow, and he accepts them too.
    accept(&bob, &offered[0]).await?;
    bob.click(&format!("{} {}", transfer_of(&offered[1]), sel::TRANSFER_DECLINE)).await?;
    accept(&bob, &offered[2]).await?;
    let followed = wait_for("Bob is offered the two queued files", TRANSFER_TIMEOUT, async || {
        let shown = transfers(&bob).await?;
        let later: Vec<String> =
            shown.iter().filter(|t| !offered.contains(&t.id) && t.state == "offered").map(|t| t.id.clone()).collect();
        Ok((later.len() == 2).then_some(later))
    })
    .await?;
    for id in &followed {
        ensure!(queued.iter().any(|t| &t.id == id), "Bob is offered {id}, which Ada did not queue: {adas:?}");
        accept(&bob, id).await?;
    }
    let arrived = [&offered[0], &offered[2], &followed[0], &followed[1]];
    for id in arrived {
        wait_transfer_state(&bob, id, "done", TRANSFER_TIMEOUT).await?;
        wait_transfer_state(&ada, id, "done", TRANSFER_TIMEOUT).await?;
    }
    let declined = wait_transfer_state(&ada, &offered[1], "declined", TRANSFER_TIMEOUT).await?;
    ensure!(declined.status == "Declined by Bob", "Ada's declined file says {:?}", declined.status);
    // What arrived is what Ada sent: each file's size, by name.
    for shown in transfers(&bob).await?.iter().filter(|t| t.state == "done") {
        let name = shown.download_name.clone().unwrap_or_default();
        let text = files.iter().find(|(file, _)| *file == name).map(|(_, text)| text.len());
        ensure!(text == Some(shown.max as usize), "Bob received {name} of {} bytes, Ada sent {text:?}", shown.max);
    }
    ensure!(!bob.exists(".transfers-dropped").await?, "Bob's page declined some of Ada's files without asking him");
    Ok(())
}
