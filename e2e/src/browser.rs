//! One simulated person's browser: its own headless Chromium or Firefox with a fresh profile, fake camera and
//! microphone, driven over WebDriver.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::wd::{Capabilities, TimeoutConfiguration};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

use crate::default_route::{default_route, DefaultRoute};
use crate::driver::{driver, Driver};
use crate::scratch::{slug, ScratchDir};
use crate::wait::{wait_for, wait_until, TIMEOUT};
use crate::{artifacts, diagnostics, Error, Result};

/// How long a page script may run (the media observations sample for about a second).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a navigation may take; everything is served from loopback.
const PAGE_LOAD_TIMEOUT: Duration = Duration::from_secs(20);

/// The size of the browser window, which in headless Chromium is the page's viewport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Viewport {
    /// A laptop: 1280x800.
    Desktop,
    /// A phone held upright: 390x844.
    Phone,
}

impl Viewport {
    /// Width and height in CSS pixels.
    pub fn size(self) -> (u32, u32) {
        match self {
            Viewport::Desktop => (1280, 800),
            Viewport::Phone => (390, 844),
        }
    }
}

/// Which browser a person uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BrowserKind {
    /// Debian's Chromium, through chromedriver.
    #[default]
    Chromium,
    /// Debian's Firefox ESR, through geckodriver.
    Firefox,
}

impl BrowserKind {
    /// `chromium` or `firefox`, as test names and reports say it.
    pub fn name(self) -> &'static str {
        match self {
            BrowserKind::Chromium => "chromium",
            BrowserKind::Firefox => "firefox",
        }
    }
}

/// The browsers of a test's people, in the order the test brings them in: the first person uses the first kind, the
/// second the second, and so on round the list. The e2e suite's list of tests says which tests run with which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Browsers(pub &'static [BrowserKind]);

impl Browsers {
    /// Everyone in Chromium.
    pub const CHROMIUM: Browsers = Browsers(&[BrowserKind::Chromium]);
    /// Everyone in Firefox.
    pub const FIREFOX: Browsers = Browsers(&[BrowserKind::Firefox]);
    /// Chromium first, then Firefox, then Chromium…
    pub const CHROMIUM_FIREFOX: Browsers = Browsers(&[BrowserKind::Chromium, BrowserKind::Firefox]);
    /// Firefox first, then Chromium, then Firefox…
    pub const FIREFOX_CHROMIUM: Browsers = Browsers(&[BrowserKind::Firefox, BrowserKind::Chromium]);
    /// Every pair of browsers, each side starting.
    pub const PAIRS: &'static [Browsers] =
        &[Browsers::CHROMIUM, Browsers::CHROMIUM_FIREFOX, Browsers::FIREFOX_CHROMIUM, Browsers::FIREFOX];
    /// Chromium alone, and both browsers together, each starting.
    pub const MIXED: &'static [Browsers] =
        &[Browsers::CHROMIUM, Browsers::CHROMIUM_FIREFOX, Browsers::FIREFOX_CHROMIUM];

    /// The browser of person `person` (0-based, in the order the test brings them in).
    pub fn of(self, person: usize) -> BrowserKind {
        self.0.get(person % self.0.len().max(1)).copied().unwrap_or_default()
    }

    /// `chromium+firefox`: the kinds, in order.
    pub fn label(self) -> String {
        self.0.iter().map(|kind| kind.name()).collect::<Vec<_>>().join("+")
    }
}

/// How to launch a [`Browser`].
#[derive(Clone, Debug)]
pub struct BrowserOptions {
    /// Who this browser is in the test (used in failure reports).
    pub label: String,
    /// Chromium or Firefox.
    pub kind: BrowserKind,
    /// The window size.
    pub viewport: Viewport,
    /// More Chromium switches, e.g. `--use-file-for-fake-video-capture=FILE.y4m` (Chromium only).
    pub extra_args: Vec<String>,
    /// An `http://` origin the browser treats as secure (camera and microphone work there, as on https).
    pub trusted_origin: Option<String>,
    /// Give the page the fake camera and microphone without asking (the default). When false, every permission
    /// prompt is denied instead, as for a person who clicks "Block".
    pub grant_media: bool,
    /// Also record the browser's network events, its own requests included (the icon), for
    /// [`Browser::network_responses`] (Chromium only).
    pub record_network: bool,
}

impl BrowserOptions {
    /// A desktop-sized browser that grants camera and microphone.
    pub fn new(label: &str) -> Self {
        BrowserOptions {
            label: label.to_owned(),
            kind: BrowserKind::Chromium,
            viewport: Viewport::Desktop,
            extra_args: Vec::new(),
            trusted_origin: None,
            grant_media: true,
            record_network: false,
        }
    }

    /// A desktop-sized browser of `kind` that grants camera and microphone.
    pub fn of_kind(label: &str, kind: BrowserKind) -> Self {
        BrowserOptions { kind, ..BrowserOptions::new(label) }
    }
}

/// One entry of a document's Resource Timing: its navigation or a resource it fetched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceTiming {
    /// The URL fetched.
    pub url: String,
    /// What fetched it: `navigation`, `script`, `link`, `fetch`, `other`…
    pub initiator: String,
    /// Bytes that came over the network, headers included (Chromium counts them as a flat 300 bytes a response, as
    /// Resource Timing asks): 0 when it came from the HTTP cache, the headers alone when the cache revalidated it
    /// (a 304).
    pub transfer_size: u64,
    /// The body's size as sent, compressed if it was.
    pub encoded_body_size: u64,
    /// The body's size once decompressed.
    pub decoded_body_size: u64,
    /// The HTTP status, where the browser reports it.
    pub status: Option<u16>,
    /// The `Content-Encoding` it came with (`br`, `gzip`), where the browser reports it.
    pub content_encoding: Option<String>,
}

impl ResourceTiming {
    /// The path of the URL, without query or fragment (`/r/…`, `/huddle-client-….wasm`).
    pub fn path(&self) -> &str {
        let after_scheme = self.url.split_once("://").map_or(self.url.as_str(), |(_, rest)| rest);
        let path = after_scheme.find('/').map_or("/", |slash| &after_scheme[slash..]);
        path.split(['?', '#']).next().unwrap_or(path)
    }
}

/// An HTTP response the browser received (see [`Browser::network_responses`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkResponse {
    /// The URL requested.
    pub url: String,
    /// The HTTP status.
    pub status: u16,
    /// The type the response declared (`image/svg+xml`).
    pub mime_type: String,
    /// What asked for it, as DevTools says: `Document`, `Script`, `Fetch`… and `Other` for the browser's own
    /// requests, such as the icon.
    pub kind: String,
}

/// A headless browser session; the browser quits and its profile is deleted when this is dropped.
pub struct Browser {
    client: Client,
    session: String,
    driver: Arc<Driver>,
    label: String,
    kind: BrowserKind,
    _profile: ScratchDir,
    /// A Firefox's default route (see `default_route`), held while it is open.
    _route: Option<Arc<DefaultRoute>>,
}

impl Browser {
    /// Launches a desktop-sized browser for the person `label`.
    pub async fn launch(label: &str) -> Result<Browser> {
        Self::launch_with(BrowserOptions::new(label)).await
    }

    /// Launches a phone-sized (390x844) browser for the person `label`.
    pub async fn launch_phone(label: &str) -> Result<Browser> {
        Self::launch_with(BrowserOptions { viewport: Viewport::Phone, ..BrowserOptions::new(label) }).await
    }

    /// Launches a browser as described.
    pub async fn launch_with(options: BrowserOptions) -> Result<Browser> {
        match options.kind {
            BrowserKind::Chromium => Self::launch_on(driver()?, options).await,
            BrowserKind::Firefox => {
                let route = default_route()?;
                let mut browser = Self::launch_on(Arc::new(Driver::geckodriver()?), options).await?;
                browser._route = Some(route);
                Ok(browser)
            }
        }
    }

    /// Launches a browser as described, through `driver` (e.g. a chromedriver in a network lab's person namespace;
    /// a geckodriver of its own for a Firefox).
    pub(crate) async fn launch_on(driver: Arc<Driver>, options: BrowserOptions) -> Result<Browser> {
        let profile = ScratchDir::new(&format!("profile-{}", slug(&options.label)))?;
        let (width, height) = options.viewport.size();
        let capabilities = match options.kind {
            BrowserKind::Chromium => chromium_capabilities(&options, &profile)?,
            BrowserKind::Firefox => firefox_capabilities(&options, &profile)?,
        };
        let client = ClientBuilder::new(HttpConnector::new()).capabilities(capabilities).connect(&driver.url()).await?;
        let session = match client.session_id().await {
            Ok(Some(session)) => session,
            other => {
                let _ = client.close().await;
                return Err(Error::Check(format!("the WebDriver server gave no session id: {other:?}")));
            }
        };
        driver.track(&session, &options.label);
        let browser = Browser {
            client,
            session,
            driver,
            label: options.label,
            kind: options.kind,
            _profile: profile,
            _route: None,
        };
        let timeouts = TimeoutConfiguration::new(Some(SCRIPT_TIMEOUT), Some(PAGE_LOAD_TIMEOUT), Some(Duration::ZERO));
        browser.client.update_timeouts(timeouts).await.map_err(|e| Error::webdriver("set timeouts", e))?;
        browser.fit_viewport(width, height).await?;
        Ok(browser)
    }

    /// Resizes the window so that the page's viewport (not the window) is `width` x `height`: even headless,
    /// Chromium keeps room for its toolbar inside `--window-size`, and Firefox starts at a size of its own.
    async fn fit_viewport(&self, width: u32, height: u32) -> Result<()> {
        const VIEWPORT: &str = "return [innerWidth, innerHeight, outerWidth, outerHeight];";
        let sizes = self.eval_js(VIEWPORT, Vec::new()).await?;
        let size = |i: usize| sizes[i].as_u64().map(|v| v as u32);
        let (Some(inner_w), Some(inner_h), Some(outer_w), Some(outer_h)) = (size(0), size(1), size(2), size(3)) else {
            return Err(Error::Script { what: format!("{}: viewport size", self.label), value: sizes });
        };
        if (inner_w, inner_h) == (width, height) {
            return Ok(());
        }
        let (window_w, window_h) = (width + outer_w.saturating_sub(inner_w), height + outer_h.saturating_sub(inner_h));
        self.client.set_window_size(window_w, window_h).await.map_err(|e| self.error("resize the window", e))?;
        let now = self.eval_js("return [innerWidth, innerHeight];", Vec::new()).await?;
        if now == json!([width, height]) {
            Ok(())
        } else {
            Err(Error::Check(format!("{}: viewport is {now} after resizing, not [{width}, {height}]", self.label)))
        }
    }

    /// Who this browser is in the test.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Chromium or Firefox.
    pub fn kind(&self) -> BrowserKind {
        self.kind
    }

    /// The fantoccini client, for anything the helpers here do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Navigates to `url` and waits for the page's load event.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.client.goto(url).await.map_err(|e| self.error(format!("open {url}"), e))
    }

    /// The current URL.
    pub async fn current_url(&self) -> Result<String> {
        Ok(self.client.current_url().await.map_err(|e| self.error("read the URL", e))?.to_string())
    }

    /// The page's `<title>`.
    pub async fn title(&self) -> Result<String> {
        self.client.title().await.map_err(|e| self.error("read the title", e))
    }

    /// Runs `script` as a function body with `args` as `arguments`; returns what it `return`s.
    pub async fn eval_js(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.client.execute(script, args).await.map_err(|e| self.error("run a script", e))
    }

    /// Runs `script` with `args` followed by a callback in `arguments`; returns what the callback is called with.
    pub async fn eval_js_async(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.client.execute_async(script, args).await.map_err(|e| self.error("run an async script", e))
    }

    /// Fetches `path` from the page's origin, from inside the page: `(status, body parsed as JSON or as a string)`.
    pub async fn fetch(&self, path: &str) -> Result<(u16, Value)> {
        const FETCH: &str = r#"
            const [path, done] = arguments;
            fetch(path, { cache: 'no-store' })
              .then(async (response) => {
                const text = await response.text();
                let body;
                try { body = JSON.parse(text); } catch (_) { body = text; }
                done({ status: response.status, body });
              })
              .catch((error) => done({ error: String(error) }));
        "#;
        let reply = self.eval_js_async(FETCH, vec![json!(path)]).await?;
        match reply["status"].as_u64() {
            Some(status) => Ok((status as u16, reply["body"].clone())),
            None => Err(Error::Script { what: format!("{}: fetch {path}", self.label), value: reply }),
        }
    }

    /// Asks the page's origin for `path` with `method` (`GET`, `HEAD`), from inside the page, bypassing the HTTP
    /// cache: the status and the response headers (names in lower case).
    pub async fn fetch_headers(&self, path: &str, method: &str) -> Result<(u16, BTreeMap<String, String>)> {
        const FETCH_HEADERS: &str = r#"
            const [path, method, done] = arguments;
            fetch(path, { method, cache: 'no-store' })
              .then((response) => done({ status: response.status, headers: Object.fromEntries(response.headers) }))
              .catch((error) => done({ error: String(error) }));
        "#;
        let reply = self.eval_js_async(FETCH_HEADERS, vec![json!(path), json!(method)]).await?;
        let status = reply["status"].as_u64();
        let headers: Option<BTreeMap<String, String>> = reply["headers"].as_object().map(|headers| {
            headers.iter().map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_owned())).collect()
        });
        match (status, headers) {
            (Some(status), Some(headers)) => Ok((status as u16, headers)),
            _ => Err(Error::Script { what: format!("{}: {method} {path}", self.label), value: reply }),
        }
    }

    /// What the current document loaded, as Resource Timing reports it: its navigation first, then every
    /// resource it fetched, in the order the browser recorded them. Sizes are only reported for same-origin resources.
    pub async fn resource_timing(&self) -> Result<Vec<ResourceTiming>> {
        const ENTRIES: &str = r#"
            return performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
              .map((e) => ({
                url: e.name, initiator: e.initiatorType, transfer: e.transferSize, encoded: e.encodedBodySize,
                decoded: e.decodedBodySize, status: e.responseStatus ?? null, encoding: e.contentEncoding ?? null,
              }));
        "#;
        let reply = self.eval_js(ENTRIES, Vec::new()).await?;
        let entries = reply.as_array().ok_or_else(|| self.unexpected("resource timing", &reply))?;
        entries
            .iter()
            .map(|entry| {
                let size = |key: &str| entry[key].as_f64().map(|bytes| bytes as u64);
                Some(ResourceTiming {
                    url: entry["url"].as_str()?.to_owned(),
                    initiator: entry["initiator"].as_str()?.to_owned(),
                    transfer_size: size("transfer")?,
                    encoded_body_size: size("encoded")?,
                    decoded_body_size: size("decoded")?,
                    status: entry["status"].as_u64().map(|status| status as u16).filter(|status| *status != 0),
                    content_encoding: entry["encoding"].as_str().filter(|e| !e.is_empty()).map(str::to_owned),
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| self.unexpected("resource timing", &reply))
    }

    /// From now on, every document this browser loads records each Content Security Policy violation in
    /// `window.__csp_violations`, from before the document's own scripts run (see [`csp_violations`]).
    ///
    /// [`csp_violations`]: Self::csp_violations
    pub async fn record_csp_violations(&self) -> Result<()> {
        const RECORDER: &str = r#"
            if (!window.__csp_violations) {
              window.__csp_violations = [];
              // Capturing on the document sees every violation of the page, whatever element it is dispatched at.
              document.addEventListener('securitypolicyviolation', (event) => window.__csp_violations.push({
                violatedDirective: event.violatedDirective, blockedURI: event.blockedURI,
                sourceFile: event.sourceFile, lineNumber: event.lineNumber, disposition: event.disposition,
              }), true);
            }
        "#;
        crate::cdp::run_on_every_document(self, RECORDER).await
    }

    /// The Content Security Policy violations the current document has recorded (needs
    /// [`record_csp_violations`](Self::record_csp_violations) before it was loaded).
    pub async fn csp_violations(&self) -> Result<Vec<Value>> {
        let reply = self.eval_js("return window.__csp_violations ?? null;", Vec::new()).await?;
        match reply {
            Value::Array(violations) => Ok(violations),
            other => Err(Error::Check(format!(
                "{}: the page records no CSP violations ({other}): was record_csp_violations called before it \
                 loaded?",
                self.label
            ))),
        }
    }

    /// The first element matching a CSS selector (fails if there is none).
    pub async fn find(&self, selector: &str) -> Result<Element> {
        self.client.find(Locator::Css(selector)).await.map_err(|e| self.error(format!("find {selector}"), e))
    }

    /// Every element matching a CSS selector.
    pub async fn find_all(&self, selector: &str) -> Result<Vec<Element>> {
        self.client.find_all(Locator::Css(selector)).await.map_err(|e| self.error(format!("find {selector}"), e))
    }

    /// How many elements match a CSS selector.
    pub async fn count(&self, selector: &str) -> Result<usize> {
        Ok(self.find_all(selector).await?.len())
    }

    /// Whether any element matches a CSS selector.
    pub async fn exists(&self, selector: &str) -> Result<bool> {
        Ok(self.count(selector).await? > 0)
    }

    /// Waits (up to [`TIMEOUT`]) until an element matches `selector`.
    pub async fn wait_for(&self, selector: &str) -> Result<()> {
        let what = format!("{} shows {selector}", self.label);
        wait_until(what, TIMEOUT, async || self.exists(selector).await).await
    }

    /// Waits (up to [`TIMEOUT`]) until no element matches `selector`.
    pub async fn wait_gone(&self, selector: &str) -> Result<()> {
        let what = format!("{} no longer shows {selector}", self.label);
        wait_until(what, TIMEOUT, async || Ok(!self.exists(selector).await?)).await
    }

    /// Waits (up to [`TIMEOUT`]) until the first element matching `selector` is displayed and enabled, as a person
    /// waits for a button to become clickable.
    pub async fn wait_interactable(&self, selector: &str) -> Result<Element> {
        let what = format!("{}'s {selector} is displayed and enabled", self.label);
        wait_for(what, TIMEOUT, async || {
            let Some(element) = self.find_all(selector).await?.into_iter().next() else { return Ok(None) };
            let displayed = element.is_displayed().await.map_err(|e| self.error(format!("inspect {selector}"), e))?;
            let enabled = element.is_enabled().await.map_err(|e| self.error(format!("inspect {selector}"), e))?;
            Ok((displayed && enabled).then_some(element))
        })
        .await
    }

    /// Whether the first element matching `selector` is enabled (a disabled button is not).
    pub async fn is_enabled(&self, selector: &str) -> Result<bool> {
        let element = self.find(selector).await?;
        element.is_enabled().await.map_err(|e| self.error(format!("inspect {selector}"), e))
    }

    /// Clicks the element matching `selector` once it is displayed and enabled, as a person would.
    pub async fn click(&self, selector: &str) -> Result<()> {
        let element = self.wait_interactable(selector).await?;
        element.click().await.map_err(|e| self.error(format!("click {selector}"), e))
    }

    /// Presses `keys` on whatever has the focus (the page body when nothing else does), as a person would. WebDriver
    /// key codes work too, e.g. `"\u{E00C}"` for Escape.
    pub async fn press_keys(&self, keys: &str) -> Result<()> {
        self.client
            .active_element()
            .await
            .map_err(|e| self.error("find the focused element", e))?
            .send_keys(keys)
            .await
            .map_err(|e| self.error(format!("press {keys:?}"), e))
    }

    /// Clears the field matching `selector` and types `text` into it.
    pub async fn type_into(&self, selector: &str, text: &str) -> Result<()> {
        let element = self.wait_interactable(selector).await?;
        element.clear().await.map_err(|e| self.error(format!("clear {selector}"), e))?;
        element.send_keys(text).await.map_err(|e| self.error(format!("type into {selector}"), e))
    }

    /// The visible text of the element matching `selector`.
    pub async fn text(&self, selector: &str) -> Result<String> {
        let element = self.find(selector).await?;
        element.text().await.map_err(|e| self.error(format!("read the text of {selector}"), e))
    }

    /// An attribute of the element matching `selector` (`None` if it has no such attribute).
    pub async fn attr(&self, selector: &str, name: &str) -> Result<Option<String>> {
        let element = self.find(selector).await?;
        element.attr(name).await.map_err(|e| self.error(format!("read {name} of {selector}"), e))
    }

    /// The value of the input (or select) matching `selector`.
    pub async fn value(&self, selector: &str) -> Result<String> {
        let element = self.find(selector).await?;
        Ok(element.prop("value").await.map_err(|e| self.error(format!("read {selector}"), e))?.unwrap_or_default())
    }

    /// Saves what the page shows as a PNG at `path` (its directory is created if needed).
    pub async fn screenshot(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let png = self.client.screenshot().await.map_err(|e| self.error("take a screenshot", e))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        }
        std::fs::write(path, png).map_err(|e| Error::io(format!("write {}", path.display()), e))
    }

    /// The browser console since the last call (also filed in the failure report when the browser closes).
    pub fn console_log(&self) -> Result<Vec<String>> {
        self.driver
            .console_log(&self.session)?
            .ok_or_else(|| Error::Check(format!("{}: geckodriver cannot read Firefox's console", self.label)))
    }

    /// The HTTP responses the browser got since the last call, in order: every request of the pages and the
    /// browser's own for them (such as the icon), which Resource Timing does not list. Needs
    /// [`BrowserOptions::record_network`].
    pub fn network_responses(&self) -> Result<Vec<NetworkResponse>> {
        let events = self.driver.performance_log(&self.session)?;
        Ok(events
            .iter()
            .filter(|event| event["method"] == "Network.responseReceived")
            .filter_map(|event| {
                let response = &event["params"]["response"];
                let url = response["url"].as_str()?;
                // Chromium's own pages (the first tab is a new-tab page) are not the pages under test.
                url.starts_with("http").then(|| NetworkResponse {
                    url: url.to_owned(),
                    status: response["status"].as_u64().unwrap_or(0) as u16,
                    mime_type: response["mimeType"].as_str().unwrap_or_default().to_owned(),
                    kind: event["params"]["type"].as_str().unwrap_or_default().to_owned(),
                })
            })
            .collect())
    }

    fn unexpected(&self, what: &str, value: &Value) -> Error {
        Error::Script { what: format!("{}: {what}", self.label), value: value.clone() }
    }

    fn error(&self, what: impl std::fmt::Display, source: fantoccini::error::CmdError) -> Error {
        Error::webdriver(format!("{}: {what}", self.label), source)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Blocking calls: a Drop cannot await, and Chromium must be gone before the profile dir is removed.
        self.driver.untrack(&self.session);
        let console = match self.driver.console_log(&self.session) {
            Ok(Some(console)) => console,
            Ok(None) => vec!["(Firefox's console cannot be read over WebDriver)".to_owned()],
            Err(error) => vec![format!("(unavailable: {error})")],
        };
        diagnostics::note_block(&format!("{}'s browser console", self.label), console);
        if let Err(error) = self.driver.delete_session(&self.session) {
            diagnostics::note(format!("{}: {error}", self.label));
        }
    }
}

/// Chromium's switches and chromedriver's options for `options`, its profile in `profile`.
fn chromium_capabilities(options: &BrowserOptions, profile: &ScratchDir) -> Result<Capabilities> {
    let (width, height) = options.viewport.size();
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--use-fake-device-for-media-stream",
        // Without it no ICE candidate exists in a loopback-only namespace.
        "--allow-loopback-in-peer-connection",
        "--autoplay-policy=no-user-gesture-required",
        "--hide-scrollbars",
        "--lang=en-US",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    args.push(if options.grant_media { "--use-fake-ui-for-media-stream" } else { "--deny-permission-prompts" }.into());
    args.push(format!("--user-data-dir={}", profile.path().display()));
    args.push(format!("--window-size={width},{height}"));
    if let Some(origin) = &options.trusted_origin {
        args.push(format!("--unsafely-treat-insecure-origin-as-secure={origin}"));
    }
    args.extend(options.extra_args.iter().cloned());

    let mut capabilities = Capabilities::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert("goog:chromeOptions".into(), json!({ "binary": artifacts::chromium()?, "args": args }));
    let logs = if options.record_network {
        json!({ "browser": "ALL", "performance": "ALL" })
    } else {
        json!({ "browser": "ALL" })
    };
    capabilities.insert("goog:loggingPrefs".into(), logs);
    Ok(capabilities)
}

/// Firefox's preferences and geckodriver's options for `options`, its profile in `profile`.
fn firefox_capabilities(options: &BrowserOptions, profile: &ScratchDir) -> Result<Capabilities> {
    if !options.extra_args.is_empty() || options.record_network || options.trusted_origin.is_some() {
        return Err(Error::Check(format!(
            "{}: Chromium's switches, network log and trusted origins have no Firefox equivalent here yet",
            options.label
        )));
    }
    let mut prefs = json!({
        // The fake camera (a plain colour that changes) and microphone (a tone), given without a prompt.
        "media.navigator.streams.fake": true,
        "media.navigator.permission.disabled": options.grant_media,
        // Host candidates with their addresses, not mDNS names (which nothing here resolves). Firefox's candidates
        // are on the default route's address (see `default_route`).
        "media.peerconnection.ice.obfuscate_host_addresses": false,
        "media.autoplay.default": 0,
        "media.autoplay.blocking_policy": 0,
        "intl.accept_languages": "en-US",
        // Nothing of Firefox's own reaching out (nothing could leave the namespace anyway: no waiting on it).
        "network.captive-portal-service.enabled": false,
        "network.connectivity-service.enabled": false,
        "media.gmp-manager.updateEnabled": false,
        "app.normandy.enabled": false,
        "browser.region.network.url": "",
        "services.settings.server": "data:,",
    });
    if !options.grant_media {
        // As for a person who clicks "Block": 2 is "deny".
        prefs["permissions.default.camera"] = json!(2);
        prefs["permissions.default.microphone"] = json!(2);
    }
    let profile = profile.path().display().to_string();
    let mut capabilities = Capabilities::new();
    capabilities.insert("browserName".into(), json!("firefox"));
    capabilities.insert(
        "moz:firefoxOptions".into(),
        json!({ "binary": artifacts::firefox()?, "args": ["-headless", "-profile", profile], "prefs": prefs }),
    );
    Ok(capabilities)
}
