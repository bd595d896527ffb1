//! The relay's address: from the runtime `config.json` when it names one, else `/ws` on the page's own origin.

use huddle_common::ClientConfig;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// The WebSocket URL of the relay, given the config and the page's `location.protocol` and `location.host`.
pub fn relay_url(config: &ClientConfig, page_protocol: &str, page_host: &str) -> String {
    match &config.relay_url {
        Some(url) if !url.trim().is_empty() => url.trim().to_owned(),
        _ => {
            let scheme = if page_protocol == "https:" { "wss" } else { "ws" };
            format!("{scheme}://{page_host}/ws")
        }
    }
}

/// Fetches `config.json`; a missing or broken file means the defaults.
pub async fn load() -> String {
    let window = web_sys::window().expect("a window");
    let config = fetch_text(&window, "/config.json").await.and_then(|text| ClientConfig::from_json(&text));
    let config = config.unwrap_or_default();
    let location = window.location();
    relay_url(&config, &location.protocol().unwrap_or_default(), &location.host().unwrap_or_default())
}

/// The body of a successful `GET` of `path`.
async fn fetch_text(window: &web_sys::Window, path: &str) -> Option<String> {
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str(path)).await.ok()?.dyn_into().ok()?;
    if !response.ok() {
        return None;
    }
    JsFuture::from(response.text().ok()?).await.ok()?.as_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_by_default_with_the_matching_scheme() {
        let none = ClientConfig::default();
        assert_eq!(relay_url(&none, "http:", "127.0.0.1:8080"), "ws://127.0.0.1:8080/ws");
        assert_eq!(relay_url(&none, "https:", "huddle.example"), "wss://huddle.example/ws");
        let blank = ClientConfig { relay_url: Some("  ".into()) };
        assert_eq!(relay_url(&blank, "https:", "huddle.example"), "wss://huddle.example/ws");
    }

    #[test]
    fn a_configured_relay_wins() {
        let config = ClientConfig { relay_url: Some("wss://relay.example/ws".into()) };
        assert_eq!(relay_url(&config, "http:", "localhost:8081"), "wss://relay.example/ws");
    }
}
