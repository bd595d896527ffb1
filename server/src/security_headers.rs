//! The security headers of every response: a Content-Security-Policy that allows exactly what the SPA does, and the
//! headers that stop browsers from sniffing types, framing the page, leaking referrers or lending powerful features.
//!
//! One value, [`SecurityHeaders`], is both what the relay sends and what `--print-headers` renders for a static host
//! (`crate::static_host`), so the two cannot drift. What the SPA needs, from reading `client/` and `index.html`:
//! - scripts: its own files, its wasm (`'wasm-unsafe-eval'` lets `WebAssembly.instantiateStreaming` compile it),
//!   and the inline scripts of the page itself, each allowed by the SHA-256 of its text: the "stopped" notice of
//!   `index.html` and trunk's module loader, whose text names the build's hashed files, so the hashes come from the
//!   served file, never from a constant;
//! - styles: its stylesheet only (no `style` attribute or `<style>` element in the SPA; a document that has
//!   `<style>` elements gets their hashes too);
//! - connections: `/config.json` and `/ws` on its own origin (`'self'`, which CSP 3 extends to `ws:`/`wss:` on the
//!   same host; older Safari does not, and `--public-url` names the origin for it), plus the relay of `--public-url`;
//! - images: its icon. Nothing is shown from `data:` or `blob:` URLs: a received file is saved through an
//!   `<a download href="blob:…">`, a navigation, which no fetch directive governs; camera and screen pictures reach
//!   `<video>` through `srcObject`, which is not a URL load either;
//! - no workers, frames, plugins or form submissions (every `<form>` is handled by an `onsubmit` that prevents the
//!   default).

use std::sync::{Arc, Mutex};

use base64::Engine;
use html5gum::{DefaultEmitter, Token, Tokenizer};
use sha2::{Digest, Sha256};
use warp::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use warp::http::{Response, StatusCode};
use warp::hyper::Body;

/// What the configuration adds to the policy: the relay's origin, when the SPA is told to connect elsewhere.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    relay_origin: Option<String>,
}

/// Why `--public-url` cannot be named in a Content-Security-Policy.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Not a URL at all.
    #[error(
        "--public-url {url:?} is not a URL ({error}); give the relay's WebSocket URL, e.g. wss://relay.example.com/ws"
    )]
    NotAUrl {
        /// As given.
        url: String,
        /// What the parser said.
        error: url::ParseError,
    },
    /// A URL, but not a WebSocket one.
    #[error("--public-url {0:?} is not a WebSocket URL: it must start with wss:// (or ws:// without TLS)")]
    NotAWebSocket(String),
    /// A host that a CSP source expression cannot spell (an IPv6 address, or characters outside a DNS name).
    #[error("--public-url {0:?}: a Content-Security-Policy can only name a relay by host name or IPv4 address")]
    UnnamableHost(String),
}

impl Policy {
    /// The policy for a relay whose public WebSocket URL is `public_url` (blank counts as unset, as the SPA reads it).
    pub fn new(public_url: Option<&str>) -> Result<Policy, PolicyError> {
        let Some(url) = public_url.map(str::trim).filter(|url| !url.is_empty()) else { return Ok(Policy::default()) };
        let parsed = url::Url::parse(url).map_err(|error| PolicyError::NotAUrl { url: url.to_owned(), error })?;
        if !matches!(parsed.scheme(), "ws" | "wss") {
            return Err(PolicyError::NotAWebSocket(url.to_owned()));
        }
        // CSP's host-part is DNS labels (an IPv4 address is one such spelling); the url crate has already lowercased
        // the host and turned an international name into its ASCII form.
        let nameable = matches!(parsed.host(), Some(url::Host::Domain(_) | url::Host::Ipv4(_)))
            && parsed.host_str().is_some_and(|host| {
                host.split('.')
                    .all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            });
        if !nameable {
            return Err(PolicyError::UnnamableHost(url.to_owned()));
        }
        // The origin, not the URL: scheme, host and a port only when it is not the default (443 for wss).
        Ok(Policy { relay_origin: Some(parsed.origin().ascii_serialization()) })
    }

    /// The headers for every response when the served page is `document` (the bytes of `index.html`, or of another
    /// HTML file served as such); without one, the policy allows no inline script.
    pub fn headers(&self, document: Option<&[u8]>) -> SecurityHeaders {
        let inline = document.map(InlineHashes::of).unwrap_or_default();
        let sources = |fixed: &[&str], hashes: &[String]| {
            fixed.iter().copied().chain(hashes.iter().map(String::as_str)).collect::<Vec<_>>().join(" ")
        };
        let script_src = sources(&["'self'", "'wasm-unsafe-eval'"], &inline.scripts);
        let style_src = sources(&["'self'"], &inline.styles);
        let connect_src = sources(&["'self'"], self.relay_origin.as_slice());
        let csp = [
            "default-src 'none'".to_owned(),
            format!("script-src {script_src}"),
            format!("style-src {style_src}"),
            "img-src 'self'".to_owned(),
            "media-src 'self'".to_owned(),
            format!("connect-src {connect_src}"),
            "font-src 'self'".to_owned(),
            "manifest-src 'self'".to_owned(),
            "object-src 'none'".to_owned(),
            "base-uri 'none'".to_owned(),
            "form-action 'none'".to_owned(),
            "frame-ancestors 'none'".to_owned(),
        ]
        .join("; ");
        let value = |text: &str| HeaderValue::from_str(text).expect("header values are visible ASCII");
        SecurityHeaders {
            headers: vec![
                (header::CONTENT_SECURITY_POLICY, value(&csp)),
                // The SPA asks for the camera, the microphone and a screen; nothing embedded may. The rest are
                // features it never uses, refused so that no script could start using them.
                (
                    HeaderName::from_static("permissions-policy"),
                    HeaderValue::from_static(
                        "camera=(self), microphone=(self), display-capture=(self), geolocation=(), payment=(), \
                         usb=(), serial=(), hid=()",
                    ),
                ),
                (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
                (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
                // `frame-ancestors 'none'` for browsers too old to read it.
                (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            ],
        }
    }
}

/// The headers of every response that brings none of its own (an HTML page brings those of its own inline
/// scripts): those of the last `index.html` read, or of no page at all without `--static-dir`. Their hashes only
/// matter to a page, so between a redeploy and the first request for the new `index.html` the old ones do no harm.
pub struct SiteHeaders {
    policy: Policy,
    /// A std mutex: held only to clone or replace the `Arc`.
    current: Mutex<Arc<SecurityHeaders>>,
}

impl SiteHeaders {
    /// Starts with the headers of no page.
    pub fn new(policy: Policy) -> SiteHeaders {
        let current = Mutex::new(Arc::new(policy.headers(None)));
        SiteHeaders { policy, current }
    }

    /// The policy they are made by.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The headers to send now.
    pub fn current(&self) -> Arc<SecurityHeaders> {
        Arc::clone(&self.current.lock().expect("never poisoned"))
    }

    /// Those of a new `index.html`.
    pub fn set(&self, headers: Arc<SecurityHeaders>) {
        *self.current.lock().expect("never poisoned") = headers;
    }

    /// Adds them to `response` unless it carries a policy of its own. The `101` of a WebSocket upgrade is left
    /// alone: it has no content for a browser to apply them to, and the socket is no longer HTTP.
    pub fn secure(&self, response: &mut Response<Body>) {
        if response.status() == StatusCode::SWITCHING_PROTOCOLS
            || response.headers().contains_key(header::CONTENT_SECURITY_POLICY)
        {
            return;
        }
        self.current().apply(response.headers_mut());
    }
}

/// The security headers of a response, in the order they are sent and printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityHeaders {
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl SecurityHeaders {
    /// Each header's name and value.
    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &str)> {
        self.headers.iter().map(|(name, value)| (name, value.to_str().expect("built from text")))
    }

    /// Sets every one of them on `headers`, replacing what was there.
    pub fn apply(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
    }
}

/// The CSP hash sources (`'sha256-…'`) of a document's inline scripts and `<style>` elements.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InlineHashes {
    /// One per inline `<script>` (those with a `src` attribute run their file, not their text).
    pub scripts: Vec<String>,
    /// One per `<style>` element.
    pub styles: Vec<String>,
}

impl InlineHashes {
    /// Finds them as a browser's tokenizer does (comments skipped, script data read up to its real end tag, line
    /// breaks normalised to `\n` before hashing, as the browser hashes the element's text), in document order.
    pub fn of(html: &[u8]) -> InlineHashes {
        let mut emitter = DefaultEmitter::default();
        // Read a <script>'s content as script data and a <style>'s as raw text, as the tree builder would tell it.
        emitter.naively_switch_states(true);
        let mut hashes = InlineHashes::default();
        let mut open: Option<(&'static [u8], Vec<u8>)> = None;
        for token in Tokenizer::new_with_emitter(html, emitter) {
            let Ok(token) = token;
            match token {
                Token::StartTag(tag) if &tag.name[..] == b"script" && !tag.attributes.contains_key(&b"src"[..]) => {
                    open = Some((b"script", Vec::new()));
                }
                Token::StartTag(tag) if &tag.name[..] == b"style" => open = Some((b"style", Vec::new())),
                Token::String(text) => {
                    if let Some((_, content)) = &mut open {
                        content.extend_from_slice(&text.value);
                    }
                }
                Token::EndTag(tag) => {
                    if let Some((name, content)) = open.take_if(|(name, _)| &tag.name[..] == *name) {
                        let hash = hash_source(&content);
                        if name == b"script" {
                            hashes.scripts.push(hash)
                        } else {
                            hashes.styles.push(hash)
                        }
                    }
                }
                _ => {}
            }
        }
        hashes
    }
}

/// `'sha256-<base64>'`: the CSP hash source of `text`.
fn hash_source(text: &[u8]) -> String {
    format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csp(headers: &SecurityHeaders) -> String {
        headers.iter().find(|(name, _)| **name == header::CONTENT_SECURITY_POLICY).unwrap().1.to_owned()
    }

    #[test]
    fn each_inline_script_and_style_is_hashed_as_the_browser_reads_it() {
        let html = b"<!doctype html><head><!-- <script>not one</script> -->\
            <script>one()</script>\r\n<SCRIPT type=module>if (a </b) two()\r\n</script >\
            <script src=/app.js>ignored</script><style>p{}</style><script></script>";
        let hashes = InlineHashes::of(html);
        assert_eq!(
            hashes.scripts,
            [hash_source(b"one()"), hash_source(b"if (a </b) two()\n"), hash_source(b"")],
            "comments skipped, CRLF read as LF, src scripts left out"
        );
        assert_eq!(hashes.styles, [hash_source(b"p{}")]);
        // The digest of the empty string, as every CSP implementation computes it.
        assert_eq!(hash_source(b""), "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='");
    }

    #[test]
    fn the_policy_allows_the_page_scripts_and_the_configured_relay_and_nothing_inline_else() {
        let policy = Policy::new(Some("wss://Relay.Example.com/ws")).unwrap();
        let headers = policy.headers(Some(b"<script>go()</script>"));
        let csp = csp(&headers);
        assert!(csp.starts_with("default-src 'none'; "), "{csp}");
        assert!(csp.contains(&format!("script-src 'self' 'wasm-unsafe-eval' {}; ", hash_source(b"go()"))), "{csp}");
        assert!(csp.contains("; style-src 'self'; "), "{csp}");
        assert!(csp.contains("; connect-src 'self' wss://relay.example.com; "), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        let names: Vec<_> = headers.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "content-security-policy",
                "permissions-policy",
                "referrer-policy",
                "x-content-type-options",
                "x-frame-options"
            ]
        );
    }

    #[test]
    fn the_relay_is_named_by_its_origin() {
        let origin = |url: &str| Policy::new(Some(url)).unwrap().relay_origin;
        assert_eq!(origin("wss://relay.example.com:443/ws"), Some("wss://relay.example.com".into()));
        assert_eq!(origin("ws://127.0.0.1:8080/ws?x=1"), Some("ws://127.0.0.1:8080".into()));
        assert_eq!(origin("  "), None, "blank is unset, as the SPA reads it");
        assert_eq!(Policy::new(None).unwrap().relay_origin, None);
        assert!(matches!(Policy::new(Some("relay.example.com")), Err(PolicyError::NotAUrl { .. })));
        assert!(matches!(Policy::new(Some("https://relay.example.com/ws")), Err(PolicyError::NotAWebSocket(_))));
        assert!(matches!(Policy::new(Some("wss://[::1]:8080/ws")), Err(PolicyError::UnnamableHost(_))));
        assert!(matches!(Policy::new(Some("wss://a$b.example/ws")), Err(PolicyError::UnnamableHost(_))));
    }
}
