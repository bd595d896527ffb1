//! Files between people in a call, each on a data channel of its own: a big file arrives byte for byte, with progress
//! on both sides; either side can cancel; an absurd file is refused with a reason; the sender's memory does not grow
//! with the file.

use std::time::{Duration, Instant};

use huddle_e2e::diagnostics::note;
use huddle_e2e::spa::{new_room_id, selector as sel, tile_of, transfer_of, two_in_a_call, Person, TwoInACall};
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

/// Collects garbage until memory settles: freed array buffers are only uncounted by the collection after the one that
/// finds them dead, and that needs a turn of the event loop in between.
const SETTLE: &str = r#"
    const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
    const settle = async () => {
      for (let i = 0; i < 3; i++) {
        gc();
        await tick();
      }
      return { heap: performance.memory.usedJSHeapSize, wasm: window.__huddle_wasm_memory.buffer.byteLength };
    };
"#;

/// Starts sampling the page's memory every 10 ms, once it has settled.
const SAMPLE_MEMORY: &str = r#"
    const done = arguments[arguments.length - 1];
    settle().then((start) => {
      window.__memory = { start, peak: { ...start } };
      window.__sampler = setInterval(() => {
        window.__memory.peak.heap = Math.max(window.__memory.peak.heap, performance.memory.usedJSHeapSize);
        window.__memory.peak.wasm = Math.max(window.__memory.peak.wasm, window.__huddle_wasm_memory.buffer.byteLength);
      }, 10);
      done(start);
    });
"#;

/// Stops sampling; adds where memory settles afterwards.
const MEMORY_PEAK: &str = r#"
    const done = arguments[arguments.length - 1];
    clearInterval(window.__sampler);
    settle().then((end) => done({ ...window.__memory, end }));
"#;

#[derive(Debug, Deserialize)]
struct Memory {
    heap: f64,
    wasm: f64,
}

#[derive(Debug, Deserialize)]
struct MemoryRecord {
    start: Memory,
    peak: Memory,
    end: Memory,
}

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
    ada.eval_js_async(&format!("{SETTLE}{SAMPLE_MEMORY}"), Vec::new()).await?;
    let started = Instant::now();
    let input = ada.find(sel::FILE_INPUT).await?;
    let path = path.to_str().ok_or_else(|| Error::Check(format!("{} is not UTF-8", path.display())))?;
    input.send_keys(path).await.map_err(|e| Error::webdriver("Ada: pick big.bin", e))?;

    let id = wait_new_transfer(&ada, "send").await?;
    // A picture of it under way (or done, if it was quicker than the look).
    wait_until("Bob's copy of big.bin is 40% there", TRANSFER_TIMEOUT, async || {
        Ok(transfer(&bob, &id).await?.is_some_and(|t| t.state == "done" || t.value >= 0.4 * t.max))
    })
    .await?;
    bob.screenshot(artifacts::screenshot_path("file-transfer.png")).await?;
    let received = wait_transfer_state(&bob, &id, "done", TRANSFER_TIMEOUT).await?;
    let took = started.elapsed();
    let sent = wait_transfer_state(&ada, &id, "done", TRANSFER_TIMEOUT).await?;
    let memory: MemoryRecord =
        serde_json::from_value(ada.eval_js_async(&format!("{SETTLE}{MEMORY_PEAK}"), vec![]).await?)
            .map_err(|e| Error::Check(format!("Ada's memory: {e}")))?;
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
