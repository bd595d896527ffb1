//! The Content Security Policy: the page carries a strict one, and nothing a whole call does (chat, a file, the
//! statistics, a shared screen, leaving) runs into it. Violations are seen two ways: a `securitypolicyviolation`
//! listener each page has from before its own scripts run, and the browser console ("Refused to…").

use huddle_e2e::spa::{
    new_room_id, room_path, screen_of, screen_tile_of, selector as sel, stats_of, two_in_a_call_on, Person, TwoInACall,
};
use huddle_e2e::{diagnostics, ensure, wait_for, wait_until, Browser, Error, Relay, Result, ScratchDir, TIMEOUT};
use serde_json::json;

/// The positive control of the whole-call test: the page's own response carries a CSP (`'wasm-unsafe-eval'`, no
/// `'unsafe-inline'` or `'unsafe-eval'`), and an inline script put into the page is refused, and seen refused both
/// by the listener and in the console. Without this, an empty list of violations could mean a blind detector.
pub async fn the_page_has_a_strict_csp_and_refusals_are_seen() -> Result<()> {
    let relay = Relay::start().await?;
    let ada = Browser::launch("Ada").await?;
    ada.record_csp_violations().await?;
    let url = relay.url(&room_path(&new_room_id()));
    ada.goto(&url).await?;
    ada.wait_for(sel::NAME).await?;

    let (status, headers) = ada.fetch_headers(&url, "HEAD").await?;
    let policy = headers.get("content-security-policy").cloned().unwrap_or_default();
    diagnostics::note(format!("HEAD {url}: {status} {headers:?}"));
    ensure!(status == 200 && !policy.is_empty(), "the page answers {status} without a Content-Security-Policy");
    let script_src =
        directive(&policy, "script-src").ok_or_else(|| Error::Check(format!("the CSP has no script-src: {policy}")))?;
    ensure!(script_src.contains("'wasm-unsafe-eval'"), "script-src does not allow compiling wasm: {script_src}");
    for loophole in ["'unsafe-inline'", "'unsafe-eval'"] {
        ensure!(!policy.contains(loophole), "the CSP allows {loophole}: {policy}");
    }
    ensure!(ada.csp_violations().await?.is_empty(), "the page breaks its CSP: {:?}", ada.csp_violations().await?);

    const INJECT: &str = r#"
        const script = document.createElement('script');
        script.textContent = 'window.__inline_ran = true;';
        document.head.append(script);
        return window.__inline_ran === true;
    "#;
    ensure!(ada.eval_js(INJECT, Vec::new()).await? == json!(false), "an injected inline script ran");
    let violations = wait_for("the listener records the refused inline script", TIMEOUT, async || {
        Ok(Some(ada.csp_violations().await?).filter(|violations| !violations.is_empty()))
    })
    .await?;
    ensure!(
        violations.len() == 1
            && violations[0]["violatedDirective"].as_str().is_some_and(|d| d.starts_with("script-src"))
            && violations[0]["blockedURI"] == "inline",
        "the listener recorded {violations:?}"
    );
    let mut console = Vec::new();
    wait_until("the console says the inline script was refused", TIMEOUT, async || {
        console.extend(ada.console_log()?);
        Ok(!refusals(&console).is_empty())
    })
    .await?;
    diagnostics::note_block("Ada's console", console);
    Ok(())
}

/// Ada and Bob go through a whole call, each page recording CSP violations from its very start: they chat both
/// ways, Ada sends Bob a file, he accepts it and it arrives, she opens the statistics and sees them live, shares her
/// screen and Bob sees it, then both leave. Neither page recorded a violation, and neither console says anything was refused.
pub async fn a_whole_call_breaks_no_content_security_policy() -> Result<()> {
    let relay = Relay::start().await?;
    let (ada, bob) = (Browser::launch("Ada").await?, Browser::launch("Bob").await?);
    ada.record_csp_violations().await?;
    bob.record_csp_violations().await?;
    let TwoInACall { ada, bob, ada_id, bob_id, .. } = two_in_a_call_on(&relay, ada, bob).await?;

    // Chat, both ways.
    ada.send_chat("Can you see my slides?").await?;
    open_chat(&bob).await?;
    bob.wait_chat("Ada", "Can you see my slides?").await?;
    bob.send_chat("Not yet.").await?;
    ada.wait_chat("Bob", "Not yet.").await?;

    // A small file, picked like a person would, arrives.
    let scratch = ScratchDir::new("csp-file")?;
    let path = scratch.write("agenda.txt", "1. Slides\n2. Questions\n".repeat(200))?;
    let path = path.to_str().ok_or_else(|| Error::Check(format!("{} is not UTF-8", path.display())))?;
    ada.find(sel::FILE_INPUT).await?.send_keys(path).await.map_err(|e| Error::webdriver("Ada: pick agenda.txt", e))?;
    bob.click(&format!("{}[data-direction=\"receive\"] {}", sel::TRANSFER, sel::TRANSFER_ACCEPT)).await?;
    wait_until("Bob has received agenda.txt", TIMEOUT, async || {
        let received = bob.eval_js(RECEIVED_FILES, Vec::new()).await?;
        Ok(received.as_array().is_some_and(|files| files.contains(&json!("agenda.txt"))))
    })
    .await?;

    // The statistics, live.
    ada.click(sel::TOGGLE_STATS).await?;
    let bitrate = format!("{} .stats-bitrate-in", stats_of(&bob_id));
    wait_until("Ada's statistics show Bob's video arriving", TIMEOUT, async || {
        let shown = ada.find_all(&bitrate).await?;
        let Some(shown) = shown.first() else { return Ok(false) };
        let text = shown.text().await.map_err(|e| Error::webdriver("Ada: read the bitrate", e))?;
        Ok(text.split_whitespace().next().and_then(|n| n.parse::<f64>().ok()).is_some_and(|kbps| kbps > 0.0))
    })
    .await?;
    ada.click(sel::TOGGLE_STATS).await?;
    ada.wait_gone(sel::STATS).await?;

    // A shared screen.
    ada.set_toggle(sel::TOGGLE_SCREEN, true).await?;
    bob.wait_video_playing(&screen_of(&ada_id)).await?;
    ada.set_toggle(sel::TOGGLE_SCREEN, false).await?;
    bob.wait_gone(&screen_tile_of(&ada_id)).await?;

    bob.leave().await?;
    ada.leave().await?;

    for person in [&ada, &bob] {
        let violations = person.csp_violations().await?;
        let console = person.console_log()?;
        let refused: Vec<String> = refusals(&console).into_iter().cloned().collect();
        diagnostics::note_block(&format!("{}'s console", person.name()), console);
        ensure!(violations.is_empty(), "{}'s page broke its CSP: {violations:?}", person.name());
        ensure!(refused.is_empty(), "{}'s console reports refusals: {refused:?}", person.name());
    }
    Ok(())
}

/// The names of the files received and ready to save.
const RECEIVED_FILES: &str = r#"
    return Array.from(document.querySelectorAll('.transfer[data-direction="receive"][data-state="done"] a.file-download'))
      .map((link) => link.getAttribute('download'));
"#;

async fn open_chat(person: &Person) -> Result<()> {
    if !person.chat_open().await? {
        person.click(sel::TOGGLE_CHAT).await?;
        person.wait_for(sel::CHAT).await?;
    }
    Ok(())
}

/// The console lines that say the CSP refused something.
fn refusals(console: &[String]) -> Vec<&String> {
    console.iter().filter(|line| line.contains("Content Security Policy") || line.contains("Refused to")).collect()
}

/// The sources of one directive of a policy (`script-src 'self' …`), if it has it.
fn directive<'a>(policy: &'a str, name: &str) -> Option<&'a str> {
    policy.split(';').map(str::trim).find(|d| d.split_whitespace().next() == Some(name))
}
