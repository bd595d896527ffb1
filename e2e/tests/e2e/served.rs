//! What a browser really receives from the relay: a first visit within the size budget, compressed; a repeat visit
//! or a reload that downloads no code again; the icon; and answers for paths that are not the app's.

use huddle_e2e::spa::{new_room_id, room_path, selector as sel, Person};
use huddle_e2e::{
    artifacts, diagnostics, ensure, wait_until, Browser, BrowserOptions, Error, Relay, ResourceTiming, Result, TIMEOUT,
};

/// The most the wasm may weigh as sent, as a share of its size: brotli at quality 11 takes Huddle's wasm to about a
/// third; gzip alone gets about 40 %, and an uncompressed answer is 100 %.
const WASM_MOST_ENCODED_PERCENT: u64 = 45;

/// A first visit to a room link (fresh profile) until the lobby can be used: every file crossed the network
/// once, the bodies as sent add up to no more than the budget (`BUDGET_BROTLI_BYTES` in `xtask/src/size.rs`, on
/// bodies as served brotli), and the wasm and the JavaScript came compressed. Prints the figures.
pub async fn a_first_visit_downloads_within_the_budget() -> Result<()> {
    let budget = budget()?;
    let relay = Relay::start().await?;
    let ada = Person::new("Ada").await?;
    let url = relay.url(&room_path(&new_room_id()));
    ada.goto(&url).await?;
    wait_lobby_usable(&ada).await?;
    let loaded = ada.resource_timing().await?;
    let listing = describe(&loaded);
    diagnostics::note(format!("a first visit loaded:\n{listing}"));

    let navigation = loaded.first().filter(|entry| entry.initiator == "navigation");
    ensure!(navigation.is_some_and(|entry| entry.url == url), "the first entry is not the visit to {url}:\n{listing}");
    let origin = relay.url("/");
    let foreign: Vec<&str> = loaded.iter().map(|e| e.url.as_str()).filter(|u| !u.starts_with(&origin)).collect();
    ensure!(foreign.is_empty(), "the page fetched from elsewhere than {origin}: {foreign:?}");
    // A fresh profile has nothing cached, so every file came over the network, and each only once (a preload that
    // does not match the request that uses it would fetch the same file twice). A second request the cache
    // answers is no download: Chromium asks for the icon twice, the second time from the cache.
    let mut paths: Vec<&str> = loaded.iter().map(ResourceTiming::path).collect();
    paths.sort_unstable();
    paths.dedup();
    let downloads = |path: &str| loaded.iter().filter(|e| e.path() == path && e.transfer_size > 0).count();
    let not_once: Vec<(&str, usize)> =
        paths.iter().map(|path| (*path, downloads(path))).filter(|(_, count)| *count != 1).collect();
    ensure!(not_once.is_empty(), "not downloaded exactly once on a first visit: {not_once:?}\n{listing}");
    let downloaded: Vec<&ResourceTiming> = loaded.iter().filter(|e| e.transfer_size > 0).collect();
    let failed: Vec<&ResourceTiming> = loaded.iter().filter(|e| e.status.is_some_and(|s| s != 200)).collect();
    ensure!(failed.is_empty(), "answers other than 200: {failed:?}");

    // The code, compressed.
    let wasm = of_kind(&loaded, ".wasm");
    let js = of_kind(&loaded, ".js");
    ensure!(!wasm.is_empty() && !js.is_empty(), "no wasm or no JavaScript among what was loaded:\n{listing}");
    for entry in &wasm {
        ensure!(
            entry.encoded_body_size * 100 <= entry.decoded_body_size * WASM_MOST_ENCODED_PERCENT,
            "{} came as {} of its {} bytes (more than {WASM_MOST_ENCODED_PERCENT} %): not compressed well enough",
            entry.path(),
            entry.encoded_body_size,
            entry.decoded_body_size
        );
    }
    for entry in wasm.iter().chain(&js) {
        ensure!(
            entry.encoded_body_size < entry.decoded_body_size,
            "{} came uncompressed ({} bytes)",
            entry.path(),
            entry.decoded_body_size
        );
        // Chromium reports the encoding from version 136 on; where it does, it must be the one the budget is on.
        ensure!(
            entry.content_encoding.as_deref().is_none_or(|encoding| encoding == "br"),
            "{} came {:?}, not brotli",
            entry.path(),
            entry.content_encoding
        );
    }

    // What crossed the network: each file's body as sent, and with its headers (which Chromium counts as a flat
    // 300 bytes a response, as Resource Timing now asks, so as not to tell a page the size of another's headers).
    let encoded: u64 = downloaded.iter().map(|e| e.encoded_body_size).sum();
    let decoded: u64 = downloaded.iter().map(|e| e.decoded_body_size).sum();
    let transferred: u64 = downloaded.iter().map(|e| e.transfer_size).sum();
    let [wasm_encoded, wasm_decoded] = [wasm[0].encoded_body_size, wasm[0].decoded_body_size];
    println!(
        "    first visit: {} files, bodies {encoded} B as sent ({decoded} B decoded), {transferred} B transferred \
         with headers; wasm {wasm_encoded} of {wasm_decoded} B ({:.1} %), encoding {}; budget {budget} B",
        downloaded.len(),
        100.0 * wasm_encoded as f64 / wasm_decoded as f64,
        wasm[0].content_encoding.as_deref().unwrap_or("not reported")
    );
    ensure!(
        encoded <= budget,
        "a first visit downloads {encoded} bytes of bodies, over the budget of {budget}:\n{listing}"
    );
    Ok(())
}

/// Coming back to the room link (a new navigation, in the same browser) and reloading it download no wasm and no
/// JavaScript again: both come from the HTTP cache (transfer size 0, the same decoded size). The page itself is
/// revalidated every time (it is `no-cache`) and the answer is a 304: headers only, fewer bytes than the first full
/// answer (Chromium counts a response's headers as a flat 300 bytes, so a 304 is 300).
///
/// On a reload Chromium revalidates only the page itself and takes its subresources from the cache while they are
/// fresh, so the reload sees a transfer size of 0 as well, not a 304: with a year's `max-age` the hashed files stay
/// fresh (`immutable` spares Firefox, which revalidates everything on a reload, the 304s).
pub async fn a_repeat_visit_downloads_no_code_again() -> Result<()> {
    let relay = Relay::start().await?;
    let ada = Person::new("Ada").await?;
    let url = relay.url(&room_path(&new_room_id()));
    ada.goto(&url).await?;
    ada.wait_for(sel::NAME).await?;
    let first = ada.resource_timing().await?;
    let code: Vec<ResourceTiming> =
        of_kind(&first, ".wasm").into_iter().chain(of_kind(&first, ".js")).cloned().collect();
    ensure!(code.iter().any(|e| e.path().ends_with(".wasm")), "no wasm on the first visit:\n{}", describe(&first));
    let first_page = first[0].transfer_size;

    ada.goto("about:blank").await?;
    ada.goto(&url).await?;
    ada.wait_for(sel::NAME).await?;
    let again = ada.resource_timing().await?;
    diagnostics::note(format!("the repeat visit loaded:\n{}", describe(&again)));
    from_cache("the repeat visit", &code, &again)?;
    let page = again[0].transfer_size;
    ensure!(
        page > 0 && page < first_page,
        "the repeat visit's page took {page} bytes, the first {first_page}: not revalidated with a 304"
    );

    ada.eval_js("window.__before_reload = true; setTimeout(() => location.reload(), 0);", Vec::new()).await?;
    wait_until("the page reloads", TIMEOUT, async || {
        let reloaded =
            ada.eval_js("return !window.__before_reload && document.readyState === 'complete';", Vec::new()).await?;
        Ok(reloaded == true && ada.exists(sel::NAME).await?)
    })
    .await?;
    let reloaded = ada.resource_timing().await?;
    diagnostics::note(format!("the reload loaded:\n{}", describe(&reloaded)));
    from_cache("the reload", &code, &reloaded)?;
    let page = reloaded[0].transfer_size;
    ensure!(page > 0 && page < first_page, "the reloaded page took {page} bytes, the first {first_page}");
    println!(
        "    repeat visit: {} B transferred, the page {page} B; the first visit's page took {first_page} B",
        again.iter().map(|e| e.transfer_size).sum::<u64>()
    );
    Ok(())
}

/// The page names its icon, an SVG, so the browser asks for that and never for a `/favicon.ico` that is not there
/// (headless Chromium does fetch icons, on its own, after the page loaded: Resource Timing does not see it, its
/// network events do). Waits for the browser's own request for the icon: a 200 `image/svg+xml`; nothing asked for
/// `favicon.ico`, nothing failed to load, and the console reports no failed load.
pub async fn the_icon_is_an_svg_and_no_favicon_is_missing() -> Result<()> {
    let relay = Relay::start().await?;
    let ada = Browser::launch_with(BrowserOptions { record_network: true, ..BrowserOptions::new("Ada") }).await?;
    ada.goto(&relay.url(&room_path(&new_room_id()))).await?;
    ada.wait_for(sel::NAME).await?;
    let icon = ada.eval_js("return document.querySelector('link[rel~=\"icon\"]')?.href ?? null;", Vec::new()).await?;
    let Some(icon) = icon.as_str() else { return Err(Error::Check("the page has no <link rel=\"icon\">".into())) };
    ensure!(!icon.ends_with("/favicon.ico"), "the icon is {icon}");

    let mut responses = Vec::new();
    wait_until(format!("the browser fetches the icon {icon}"), TIMEOUT, async || {
        responses.extend(ada.network_responses()?);
        Ok(responses.iter().any(|response| response.url == icon))
    })
    .await?;
    let listing: Vec<String> =
        responses.iter().map(|r| format!("{} {} {} ({})", r.status, r.url, r.mime_type, r.kind)).collect();
    diagnostics::note_block("what Ada's browser received", listing.clone());
    let fetched = responses.iter().find(|response| response.url == icon).expect("waited for");
    ensure!(
        fetched.status == 200 && fetched.mime_type == "image/svg+xml",
        "the icon answered {} {:?}",
        fetched.status,
        fetched.mime_type
    );
    ensure!(
        !responses.iter().any(|r| r.url.ends_with("/favicon.ico")),
        "the browser asked for favicon.ico: {listing:?}"
    );
    ensure!(!responses.iter().any(|r| r.status >= 400), "something failed to load: {listing:?}");
    let loaded = ada.resource_timing().await?;
    ensure!(!loaded.iter().any(|e| e.path() == "/favicon.ico"), "the page loaded /favicon.ico:\n{}", describe(&loaded));
    // Chromium logs every response of 400 or more it gets, its own requests' too ("Failed to load resource").
    let failures: Vec<String> = ada.console_log()?.into_iter().filter(|line| line.contains("Failed to load")).collect();
    ensure!(failures.is_empty(), "the console reports failed loads: {failures:?}");
    Ok(())
}

/// Any path the app does not know gets the page (which then says the link leads nowhere), but a missing asset is
/// a plain 404: a stale page asking for a file of an older build must not be handed HTML as code.
pub async fn a_missing_asset_is_not_found_and_other_paths_get_the_page() -> Result<()> {
    let relay = Relay::start().await?;
    let ada = Browser::launch("Ada").await?;
    ada.goto(&relay.url("/")).await?;
    let (status, _) = ada.fetch_headers("/assets/missing.wasm", "GET").await?;
    ensure!(status == 404, "/assets/missing.wasm answers {status}");
    let room = room_path(&new_room_id());
    for path in ["/nowhere", "/r/nope", &format!("{room}."), &format!("{room}%20"), "/nowhere/deeper/"] {
        let (status, headers) = ada.fetch_headers(path, "GET").await?;
        let kind = headers.get("content-type").map(String::as_str).unwrap_or_default();
        ensure!(status == 200 && kind.starts_with("text/html"), "{path} answers {status} {kind:?}, not the page");
    }
    Ok(())
}

/// Waits until the lobby can be used: the name typed and Join enabled (which also needs the camera).
async fn wait_lobby_usable(person: &Person) -> Result<()> {
    person.type_into(sel::NAME, person.name()).await?;
    person.wait_interactable(sel::JOIN).await.map(drop)
}

/// The entries whose path ends with `extension`.
fn of_kind<'a>(loaded: &'a [ResourceTiming], extension: &str) -> Vec<&'a ResourceTiming> {
    loaded.iter().filter(|entry| entry.path().ends_with(extension)).collect()
}

/// Checks that each of `code` was used again in `loaded` and came from the HTTP cache.
fn from_cache(visit: &str, code: &[ResourceTiming], loaded: &[ResourceTiming]) -> Result<()> {
    for before in code {
        let Some(now) = loaded.iter().find(|entry| entry.url == before.url) else {
            return Err(Error::Check(format!("{visit} did not load {}:\n{}", before.path(), describe(loaded))));
        };
        ensure!(
            now.transfer_size == 0 && now.decoded_body_size == before.decoded_body_size,
            "{visit} downloaded {} again: {now:?} (the first visit: {before:?})",
            before.path()
        );
    }
    Ok(())
}

/// One line per entry, for failure reports.
fn describe(loaded: &[ResourceTiming]) -> String {
    loaded
        .iter()
        .map(|e| {
            format!(
                "  {} {}: transfer {} B, body {} B as sent, {} B decoded, status {:?}, encoding {:?}",
                e.initiator,
                e.path(),
                e.transfer_size,
                e.encoded_body_size,
                e.decoded_body_size,
                e.status,
                e.content_encoding
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The budget of a first visit, in bytes of bodies as served brotli: read from `BUDGET_BROTLI_BYTES` in
/// `xtask/src/size.rs`, where it is stated, so that it is stated once.
fn budget() -> Result<u64> {
    let path = artifacts::workspace_root().join("xtask/src/size.rs");
    let source = std::fs::read_to_string(&path).map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    source
        .lines()
        .find_map(|line| {
            let value = line.trim().strip_prefix("pub const BUDGET_BROTLI_BYTES: u64 = ")?.strip_suffix(';')?;
            value.replace('_', "").parse().ok()
        })
        .ok_or_else(|| Error::Check(format!("no `pub const BUDGET_BROTLI_BYTES: u64 = …;` in {}", path.display())))
}
