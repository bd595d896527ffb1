//! Chrome DevTools Protocol commands sent through chromedriver (its `goog/cdp/execute` extension), for what plain
//! WebDriver cannot do, such as running a script in every new document before the page's own.

use fantoccini::wd::WebDriverCompatibleCommand;
use serde_json::{json, Value};

use crate::{Browser, Error, Result};

/// One DevTools command for the browser's current tab: `method` (e.g. `Page.enable`) with its `params`.
#[derive(Debug)]
struct Command {
    method: String,
    params: Value,
}

impl WebDriverCompatibleCommand for Command {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/goog/cdp/execute", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "cmd": self.method, "params": self.params }).to_string()))
    }
}

/// Sends a DevTools command to the browser's tab; returns its result.
pub async fn execute(browser: &Browser, method: &str, params: Value) -> Result<Value> {
    let command = Command { method: method.to_owned(), params };
    browser
        .client()
        .issue_cmd(command)
        .await
        .map_err(|e| Error::webdriver(format!("{}: DevTools {method}", browser.label()), e))
}

/// Has the tab run `source` in every document it loads from now on, before any of the document's own scripts.
pub async fn run_on_every_document(browser: &Browser, source: &str) -> Result<()> {
    execute(browser, "Page.addScriptToEvaluateOnNewDocument", json!({ "source": source })).await.map(drop)
}
