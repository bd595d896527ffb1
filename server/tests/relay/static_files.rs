//! The SPA as a browser receives it: precompressed copies chosen by `Accept-Encoding`, types, lengths, `Vary`,
//! `HEAD`, `ETag` and `304`, caching by kind of file, the fallback to `index.html` and its limits, path traversal,
//! the security headers on every response, and `--print-headers` rendering the same headers.
//!
//! The fixture is a `dist/` as `cargo xtask build` leaves it, its copies made by the system's `brotli` and `gzip`
//! and checked by them; hashes are computed by `openssl`, not by the relay's code. Requests are raw HTTP/1.1, so
//! paths reach the relay exactly as written.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use huddle_server::RunningRelay;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::*;

// 15 digits, as trunk writes a hash whose first digit is 0.
pub(crate) const JS: &str = "huddle-client-123456789abcdef.js";
pub(crate) const WASM: &str = "huddle-client-123456789abcdef_bg.wasm";
pub(crate) const CSS: &str = "style-fedcba9876543210.css";
pub(crate) const ICON: &str = "favicon-89abcdef01234567.svg";
const SECRET: &str = "the-file-outside-the-static-dir";
pub(crate) const ROOM: &str = "abcdefghijklmnopqrstuvwxya";

/// The text of the page's first inline script (the "stopped" notice of the root index.html, shortened): markup in
/// a string, which is script text, not tags, to a browser.
const STOPPED: &str = "\n      (function () {\n        var notice = '<div class=\"dialog\"><h2>Huddle stopped working</h2></div>';\n        \
                       addEventListener(\"error\", function (event) { if (!document.getElementById(\"stopped\")) stop(notice); });\n      \
                       })();\n    ";

/// The text of trunk's module loader, as trunk 0.21 writes it.
fn loader(js: &str, wasm: &str) -> String {
    format!(
        "\nimport init, * as bindings from '/{js}';\nconst wasm = await init({{ module_or_path: '/{wasm}' }});\n\n\
         window.wasmBindings = bindings;\n\n\ndispatchEvent(new CustomEvent(\"TrunkApplicationStarted\", {{detail: {{wasm}}}}));\n\n"
    )
}

/// A page shaped like trunk's output: preloads, a stylesheet, the two inline scripts, a comment mentioning one.
fn page(stopped: &str, loader: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n  <head>\n    <meta charset=\"utf-8\" />\n    <title>Huddle</title>\n    \
         <!-- Plain JavaScript in a <script>, since the wasm can no longer be called. -->\n\
         <link rel=\"modulepreload\" href=\"/{JS}\" crossorigin=\"anonymous\" integrity=\"sha384-abc\">\
         <link rel=\"preload\" href=\"/{WASM}\" crossorigin=\"anonymous\" as=\"fetch\" type=\"application/wasm\">\
         <link rel=\"stylesheet\" href=\"/{CSS}\" integrity=\"sha384-def\"/>\n    <script>{stopped}</script>\n  \n\
         <script type=\"module\">{loader}</script></head>\n  <body></body>\n</html>\n"
    )
}

/// A temporary `dist/` (inside a directory that also holds a file the relay must never serve) and the originals.
pub(crate) struct Dist {
    root: tempfile::TempDir,
    /// The originals by file name.
    pub(crate) files: BTreeMap<&'static str, Vec<u8>>,
}

impl Dist {
    /// Every asset with both copies, except the icon, which has only a gzip one (as when brotli would not be smaller).
    pub(crate) fn new() -> Dist {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("secret.txt"), SECRET).unwrap();
        std::fs::create_dir(root.path().join("dist")).unwrap();
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend((0..4000u32).flat_map(|i| (i % 251).to_le_bytes()));
        let files = BTreeMap::from([
            ("index.html", page(STOPPED, &loader(JS, WASM)).into_bytes()),
            (JS, "export function hello() { return 'hello from the glue'; }\n".repeat(40).into_bytes()),
            (WASM, wasm),
            (CSS, "body { margin: 0; font-family: system-ui; }\n".repeat(40).into_bytes()),
            (ICON, "<svg xmlns=\"http://www.w3.org/2000/svg\"><circle r=\"4\"/></svg>\n".repeat(20).into_bytes()),
            ("notes.txt", b"not content-hashed\n".to_vec()),
        ]);
        let dist = Dist { root, files };
        for (name, bytes) in &dist.files {
            std::fs::write(dist.dir().join(name), bytes).unwrap();
            if *name != "notes.txt" {
                dist.compress(name, "gzip");
                if *name != ICON {
                    dist.compress(name, "brotli");
                }
            }
        }
        dist
    }

    /// The `dist/` itself.
    pub(crate) fn dir(&self) -> PathBuf {
        self.root.path().join("dist")
    }

    /// `name.gz` (`gzip -9`) or `name.br` (brotli, quality 11) beside `name`.
    fn compress(&self, name: &str, tool: &str) {
        let (args, suffix): (&[&str], &str) =
            if tool == "gzip" { (&["-9", "-n", "-c"], ".gz") } else { (&["-q", "11", "-c"], ".br") };
        let output = Command::new(tool).args(args).arg(self.dir().join(name)).output().expect("gzip and brotli run");
        assert!(output.status.success(), "{tool} {name}");
        std::fs::write(self.dir().join(format!("{name}{suffix}")), output.stdout).unwrap();
    }

    /// A relay serving it, with `--public-url` when given.
    pub(crate) async fn serve(&self, public_url: Option<&str>) -> RunningRelay {
        let (dir, public_url) = (self.dir(), public_url.map(str::to_owned));
        relay(move |config| {
            config.static_dir = Some(dir);
            config.public_url = public_url;
        })
        .await
    }
}

/// An HTTP response as it came.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The status code.
    pub(crate) status: u16,
    /// Lowercased names; a repeated header keeps each value.
    pub(crate) headers: Vec<(String, String)>,
    /// The body as sent.
    pub(crate) body: Vec<u8>,
}

impl Reply {
    /// The value, if sent (once).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        let mut values = self.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let first = values.next();
        assert_eq!(values.next(), None, "{name} sent twice");
        first
    }

    /// The value, failing the test without it.
    pub(crate) fn get(&self, name: &str) -> &str {
        self.header(name).unwrap_or_else(|| panic!("no {name} in {:?}", self.headers))
    }

    /// Every header but `date`, which moves.
    fn stable_headers(&self) -> Vec<(String, String)> {
        self.headers.iter().filter(|(name, _)| name != "date").cloned().collect()
    }

    /// The security headers (what every response carries).
    pub(crate) fn security(&self) -> BTreeMap<String, String> {
        SECURITY_HEADERS.iter().map(|name| (name.to_string(), self.get(name).to_owned())).collect()
    }
}

const SECURITY_HEADERS: [&str; 5] =
    ["content-security-policy", "permissions-policy", "referrer-policy", "x-content-type-options", "x-frame-options"];

/// One raw HTTP/1.1 request; `path` goes on the request line as written.
async fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw)).await.expect("HTTP response in time").unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete head");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.trim().to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    Reply { status, headers, body: raw[split + 4..].to_vec() }
}

/// A GET with `headers`.
pub(crate) async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Reply {
    request(addr, "GET", path, headers).await
}

/// `bytes` run through `gzip -dc` or `brotli -dc`.
fn decompress(tool: &str, bytes: &[u8]) -> Vec<u8> {
    let mut child =
        Command::new(tool).arg("-dc").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("the tool runs");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{tool} -dc failed");
    output.stdout
}

/// `'sha256-…'` of `text`, by openssl.
fn csp_hash(text: &str) -> String {
    let mut child = Command::new("sh")
        .args(["-c", "openssl dgst -sha256 -binary | base64"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl runs");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    format!("'sha256-{}'", String::from_utf8(output.stdout).unwrap().trim())
}

/// The CSP the fixture's page must get: exactly what the SPA needs, with `extra_connect` for `--public-url`.
fn expected_csp(scripts: &[&str], extra_connect: &str) -> String {
    let hashes: Vec<String> = scripts.iter().map(|script| csp_hash(script)).collect();
    format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval' {}; style-src 'self'; img-src 'self'; \
         media-src 'self'; connect-src 'self'{extra_connect}; font-src 'self'; manifest-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        hashes.join(" ")
    )
}

/// Cache-Control of the content-hashed files.
pub(crate) const IMMUTABLE: &str = "public, max-age=31536000, immutable";

#[tokio::test]
async fn each_file_comes_with_its_type_length_vary_and_caching() {
    let dist = Dist::new();
    let relay = dist.serve(None).await;
    let cases = [
        ("/index.html", "index.html", "text/html; charset=utf-8", "no-cache"),
        ("/", "index.html", "text/html; charset=utf-8", "no-cache"),
        (&format!("/{JS}"), JS, "text/javascript; charset=utf-8", IMMUTABLE),
        (&format!("/{WASM}"), WASM, "application/wasm", IMMUTABLE),
        (&format!("/{CSS}"), CSS, "text/css; charset=utf-8", IMMUTABLE),
        (&format!("/{ICON}"), ICON, "image/svg+xml", IMMUTABLE),
        ("/notes.txt", "notes.txt", "text/plain; charset=utf-8", "no-cache"),
    ];
    for (path, name, content_type, cache_control) in cases {
        let reply = get(relay.local_addr(), path, &[]).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.body, dist.files[name], "{path}: the file itself without Accept-Encoding");
        assert_eq!(reply.header("content-encoding"), None, "{path}");
        assert_eq!(reply.get("content-type"), content_type, "{path}");
        assert_eq!(reply.get("content-length"), reply.body.len().to_string(), "{path}");
        assert_eq!(reply.get("vary").to_ascii_lowercase(), "accept-encoding", "{path}");
        assert_eq!(reply.get("cache-control"), cache_control, "{path}");
        assert_eq!(reply.get("x-content-type-options"), "nosniff", "{path}");
    }
}

#[tokio::test]
async fn the_copy_sent_follows_accept_encoding() {
    let dist = Dist::new();
    let relay = dist.serve(None).await;
    let cases: [(Option<&str>, Option<&str>); 12] = [
        (Some("br"), Some("br")),
        (Some("gzip"), Some("gzip")),
        (Some("gzip, deflate, br, zstd"), Some("br")),
        (Some("br;q=0.5, gzip;q=0.8"), Some("gzip")),
        (Some("br;q=0.8, gzip;q=0.8"), Some("br")),
        (Some("br;q=0, gzip"), Some("gzip")),
        (Some("br;q=0, gzip;q=0"), None),
        (Some("gzip;q=0.5, identity"), None),
        (Some("identity"), None),
        (Some("*"), Some("br")),
        (Some("*;q=0.1, br;q=0"), Some("gzip")),
        (None, None),
    ];
    for name in [WASM, JS, CSS, "index.html"] {
        for (accept, expected) in cases {
            let headers: Vec<(&str, &str)> = accept.map(|value| ("accept-encoding", value)).into_iter().collect();
            let path = if name == "index.html" { format!("/r/{ROOM}") } else { format!("/{name}") };
            let reply = get(relay.local_addr(), &path, &headers).await;
            assert_eq!(reply.status, 200);
            assert_eq!(reply.header("content-encoding"), expected, "{name} for Accept-Encoding {accept:?}");
            assert_eq!(reply.get("content-length"), reply.body.len().to_string(), "{name} {accept:?}");
            assert_eq!(reply.get("vary").to_ascii_lowercase(), "accept-encoding");
            let original = &dist.files[name];
            let decoded = match expected {
                Some("br") => decompress("brotli", &reply.body),
                Some("gzip") => decompress("gzip", &reply.body),
                _ => reply.body.clone(),
            };
            assert_eq!(&decoded, original, "{name} {accept:?} decodes to the file");
            if expected.is_some() {
                assert!(reply.body.len() < original.len(), "{name}: the copy is the smaller one");
            }
        }
    }
}

#[tokio::test]
async fn a_missing_copy_falls_back_to_one_that_exists_and_copies_are_no_files_of_their_own() {
    let dist = Dist::new();
    let relay = dist.serve(None).await;
    let addr = relay.local_addr();
    let icon = format!("/{ICON}");
    let reply = get(addr, &icon, &[("accept-encoding", "br")]).await;
    assert_eq!((reply.status, reply.header("content-encoding")), (200, None), "no .br: the file itself");
    assert_eq!(reply.body, dist.files[ICON]);
    let reply = get(addr, &icon, &[("accept-encoding", "br, gzip")]).await;
    assert_eq!(reply.header("content-encoding"), Some("gzip"), "no .br: the .gz");
    assert_eq!(reply.get("content-type"), "image/svg+xml", "the type of the original");

    // A copy is never served as a file, with its own type or any other.
    for path in [format!("/{JS}.br"), format!("/{WASM}.gz"), "/index.html.br".to_owned(), "/missing.js.gz".to_owned()] {
        let reply = get(addr, &path, &[("accept-encoding", "gzip, br")]).await;
        assert_eq!(reply.status, 404, "{path}");
        assert!(!reply.body.is_empty(), "{path}: a 404 says what it is");
        assert_eq!(reply.get("content-type"), "text/plain; charset=utf-8");
    }
}

#[tokio::test]
async fn head_answers_as_get_does_without_the_body() {
    let dist = Dist::new();
    let relay = dist.serve(Some("wss://relay.example.com/ws")).await;
    let addr = relay.local_addr();
    let paths = [format!("/{WASM}"), format!("/{JS}"), "/".to_owned(), format!("/r/{ROOM}."), "/config.json".into()];
    for path in &paths {
        for accept in ["", "br", "gzip"] {
            let headers = [("accept-encoding", accept)];
            let got = get(addr, path, &headers).await;
            let head = request(addr, "HEAD", path, &headers).await;
            assert_eq!(head.status, 200, "HEAD {path}");
            assert!(head.body.is_empty(), "HEAD {path}: no body");
            assert_eq!(head.stable_headers(), got.stable_headers(), "HEAD {path} ({accept}): the same headers");
            assert_eq!(head.get("content-length"), got.body.len().to_string(), "HEAD {path}: the same length");
        }
    }
    let reply = request(addr, "POST", &format!("/{JS}"), &[("content-length", "0")]).await;
    assert_eq!((reply.status, reply.get("allow")), (405, "GET, HEAD"));
    // The health check answers HEAD itself (the page would otherwise).
    let reply = request(addr, "HEAD", "/healthz", &[]).await;
    assert_eq!((reply.status, reply.get("content-type"), reply.body.len()), (200, "application/json", 0));
}

#[tokio::test]
async fn etags_are_strong_per_copy_and_if_none_match_gives_a_304() {
    let dist = Dist::new();
    let relay = dist.serve(None).await;
    let addr = relay.local_addr();
    let wasm = format!("/{WASM}");
    let etag_of = |reply: &Reply| reply.get("etag").to_owned();
    let plain = etag_of(&get(addr, &wasm, &[]).await);
    let br = etag_of(&get(addr, &wasm, &[("accept-encoding", "br")]).await);
    let gzip = etag_of(&get(addr, &wasm, &[("accept-encoding", "gzip")]).await);
    for etag in [&plain, &br, &gzip] {
        assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() > 10, "a strong, quoted tag: {etag}");
    }
    assert!(plain != br && br != gzip && plain != gzip, "one per copy: {plain} {br} {gzip}");
    assert_eq!(etag_of(&get(addr, &wasm, &[]).await), plain, "stable");
    let page = etag_of(&get(addr, "/", &[]).await);
    assert_eq!(etag_of(&get(addr, &format!("/r/{ROOM}"), &[]).await), page, "the fallback is the same page");

    let weak = format!("W/{br}");
    let listed = format!("\"other\", {br}");
    for if_none_match in [br.as_str(), &listed, &weak, "*"] {
        let reply = get(addr, &wasm, &[("accept-encoding", "br"), ("if-none-match", if_none_match)]).await;
        assert_eq!(reply.status, 304, "If-None-Match: {if_none_match}");
        assert!(reply.body.is_empty(), "a 304 has no body");
        assert_eq!(reply.get("etag"), br);
        assert_eq!(reply.get("cache-control"), IMMUTABLE);
        assert_eq!(reply.get("vary").to_ascii_lowercase(), "accept-encoding");
        assert_eq!(reply.get("x-frame-options"), "DENY");
        let head = request(addr, "HEAD", &wasm, &[("accept-encoding", "br"), ("if-none-match", if_none_match)]).await;
        assert_eq!(head.status, 304, "HEAD, If-None-Match: {if_none_match}");
    }
    // Another copy's tag, or none that matches: the full answer.
    for if_none_match in [gzip.as_str(), "\"nope\"", "W/\"nope\", \"other\""] {
        let reply = get(addr, &wasm, &[("accept-encoding", "br"), ("if-none-match", if_none_match)]).await;
        assert_eq!(reply.status, 200, "If-None-Match: {if_none_match}");
        assert_eq!(reply.header("content-encoding"), Some("br"));
    }
    let reply = get(addr, &format!("/r/{ROOM}"), &[("if-none-match", &page)]).await;
    assert_eq!(reply.status, 304, "the page revalidates");
    assert_eq!(reply.get("cache-control"), "no-cache");
    assert!(reply.get("content-security-policy").contains("'sha256-"), "a 304 for the page carries its policy");
}

#[tokio::test]
async fn paths_naming_no_file_get_the_page_unless_they_name_an_asset() {
    let dist = Dist::new();
    let relay = dist.serve(None).await;
    let addr = relay.local_addr();
    let page = &dist.files["index.html"];
    let expected = expected_csp(&[STOPPED, &loader(JS, WASM)], "");
    for path in [
        "/".to_owned(),
        format!("/r/{ROOM}"),
        format!("/r/{ROOM}."),
        format!("/r/{ROOM}%20"),
        format!("/r/{ROOM})"),
        format!("/r/{ROOM}/"),
        format!("/r/{ROOM}?utm_source=chat"),
        "/some/thing.".to_owned(),
        "/anything/else".to_owned(),
        "/r/room.example".to_owned(),
    ] {
        let reply = get(addr, &path, &[]).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(&reply.body, page, "{path}: the page");
        assert_eq!(reply.get("content-type"), "text/html; charset=utf-8", "{path}");
        assert_eq!(reply.get("cache-control"), "no-cache", "{path}");
        assert_eq!(reply.get("content-security-policy"), expected, "{path}");
    }
    for path in ["/assets/missing.wasm", "/missing.js", "/missing.CSS", "/r/room.json", "/favicon.ico", "/robots.txt"] {
        let reply = get(addr, path, &[]).await;
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.get("content-type"), "text/plain; charset=utf-8", "{path}");
        assert!(!reply.body.is_empty() && reply.body != *page, "{path}: a short text, not the page");
        assert_eq!(reply.get("content-length"), reply.body.len().to_string());
        assert_eq!(reply.security().len(), 5, "{path}");
    }
}

#[tokio::test]
async fn no_request_path_reaches_outside_the_static_dir() {
    let dist = Dist::new();
    let relay = dist.serve(None).await;
    let addr = relay.local_addr();
    assert!(dist.dir().join("../secret.txt").exists(), "the bait is there");
    for path in [
        "/../secret.txt",
        "/../../secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/..%5csecret.txt",
        "/..\\secret.txt",
        "/r/..%2f..%2fsecret.txt",
        "/./../secret.txt",
        "/%2e%2e/dist/../secret.txt",
        "/secret.txt%00",
        "/%00../secret.txt",
        "//../secret.txt",
        "/..",
        "/%2e%2e",
    ] {
        let reply = get(addr, path, &[]).await;
        let body = String::from_utf8_lossy(&reply.body);
        assert!(!body.contains(SECRET), "{path} served the file outside");
        assert!(matches!(reply.status, 200 | 400 | 404), "{path}: {}", reply.status);
        if reply.status == 200 {
            assert_eq!(reply.body, dist.files["index.html"], "{path}: only ever the page");
        }
    }
}

#[tokio::test]
async fn the_policy_hashes_the_pages_inline_scripts_and_follows_a_new_page() {
    let dist = Dist::new();
    let relay = dist.serve(None).await;
    let addr = relay.local_addr();
    let first = expected_csp(&[STOPPED, &loader(JS, WASM)], "");
    assert_eq!(get(addr, "/", &[]).await.get("content-security-policy"), first);
    assert!(!first.contains("unsafe-inline") && !first.contains("blob:") && !first.contains("data:"));
    // Other responses carry the same headers (the policy only matters to a page, but one set is simpler to check).
    assert_eq!(get(addr, &format!("/{WASM}"), &[]).await.get("content-security-policy"), first);
    assert_eq!(get(addr, "/healthz", &[]).await.get("content-security-policy"), first);

    // A new build: its loader names other files, in a page of the very same length; later, a longer one.
    // (The pause lets the file's modification time move on, even on a coarse clock.)
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (js, wasm) = ("huddle-client-fedcba987654321.js", "huddle-client-fedcba987654321_bg.wasm");
    let rebuilt = page(STOPPED, &loader(js, wasm));
    assert_eq!(rebuilt.len(), dist.files["index.html"].len());
    std::fs::write(dist.dir().join("index.html"), &rebuilt).unwrap();
    let reply = get(addr, &format!("/r/{ROOM}"), &[]).await;
    assert_eq!(reply.body, rebuilt.as_bytes(), "the new page at once");
    let second = expected_csp(&[STOPPED, &loader(js, wasm)], "");
    assert_ne!(first, second);
    assert_eq!(reply.get("content-security-policy"), second);
    assert_eq!(get(addr, "/metrics", &[]).await.get("content-security-policy"), second, "the site's, too");

    // Written with CRLF line ends: a browser hashes the script's text with them read as LF.
    let stopped = "\r\n  addEventListener('unhandledrejection', function () { location.reload(); });\r\n";
    std::fs::write(dist.dir().join("index.html"), page(stopped, &loader(js, wasm))).unwrap();
    let reply = get(addr, "/", &[("accept-encoding", "br")]).await;
    assert_eq!(reply.header("content-encoding"), Some("br"), "the stale .br is still the best copy offered");
    let expected = expected_csp(&[&stopped.replace("\r\n", "\n"), &loader(js, wasm)], "");
    assert_eq!(reply.get("content-security-policy"), expected, "the policy of the page on disk");
}

#[tokio::test]
async fn a_redeployed_file_is_served_new_at_once() {
    let dist = Dist::new();
    let relay = dist.serve(None).await;
    let addr = relay.local_addr();
    assert_eq!(get(addr, "/notes.txt", &[]).await.body, b"not content-hashed\n");
    tokio::time::sleep(Duration::from_millis(50)).await;
    std::fs::write(dist.dir().join("notes.txt"), b"a new deploy, same len\n").unwrap();
    assert_eq!(get(addr, "/notes.txt", &[]).await.body, b"a new deploy, same len\n");
    std::fs::remove_file(dist.dir().join("notes.txt")).unwrap();
    assert_eq!(get(addr, "/notes.txt", &[]).await.status, 404);
}

#[tokio::test]
async fn connect_src_names_the_public_url_origin() {
    let dist = Dist::new();
    let relay = dist.serve(Some("wss://Relay.Example.com:8443/ws?token=x")).await;
    let reply = get(relay.local_addr(), "/", &[]).await;
    let expected = expected_csp(&[STOPPED, &loader(JS, WASM)], " wss://relay.example.com:8443");
    assert_eq!(reply.get("content-security-policy"), expected);
    let config = get(relay.local_addr(), "/config.json", &[]).await;
    assert_eq!(config.get("content-security-policy"), expected);
    assert_eq!(config.get("cache-control"), "no-cache");
    assert_eq!(config.get("content-type"), "application/json");
    let etag = config.get("etag").to_owned();
    assert_eq!(get(relay.local_addr(), "/config.json", &[("if-none-match", &etag)]).await.status, 304);

    let refused = huddle_server::start({
        let mut config = huddle_server::Config::defaults();
        config.port = 0;
        config.public_url = Some("https://relay.example.com/ws".into());
        config
    })
    .await;
    let error = refused.err().expect("a URL a policy cannot name is refused at start");
    assert!(error.to_string().contains("--public-url") && error.to_string().contains("wss://"), "{error}");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let dist = Dist::new();
    let relay = dist.serve(None).await;
    let addr = relay.local_addr();
    let page = get(addr, "/", &[]).await.security();
    assert_eq!(page["x-content-type-options"], "nosniff");
    assert_eq!(page["referrer-policy"], "no-referrer");
    assert_eq!(page["x-frame-options"], "DENY");
    assert_eq!(
        page["permissions-policy"],
        "camera=(self), microphone=(self), display-capture=(self), geolocation=(), payment=(), usb=(), serial=(), \
         hid=()"
    );
    let wasm = format!("/{WASM}");
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], u16);
    let cases: [Case; 8] = [
        ("GET", "/healthz", &[], 200),
        ("GET", "/metrics", &[], 200),
        ("GET", "/config.json", &[], 200),
        ("GET", "/missing.js", &[], 404),
        ("GET", &wasm, &[("if-none-match", "*")], 304),
        ("DELETE", "/", &[], 405),
        ("GET", "/ws", &[], 400),
        ("POST", "/healthz", &[("content-length", "0")], 405),
    ];
    for (method, path, headers, status) in cases {
        let reply = request(addr, method, path, headers).await;
        assert_eq!(reply.status, status, "{method} {path}");
        assert_eq!(reply.security(), page, "{method} {path}");
    }

    // Without a static directory: the policy of no page, still on everything, warp's own 404 included.
    let bare = relay_without_files().await;
    let none = get(bare.local_addr(), "/healthz", &[]).await.security();
    assert!(none["content-security-policy"].contains("script-src 'self' 'wasm-unsafe-eval'; "), "{none:?}");
    for path in ["/metrics", "/nothing", "/ws"] {
        assert_eq!(get(bare.local_addr(), path, &[]).await.security(), none, "{path}");
    }

    // The 101 of a WebSocket upgrade is left alone: no content for a browser to apply them to.
    let (_socket, response) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await.unwrap();
    assert_eq!(response.status(), 101);
    assert!(response.headers().get("content-security-policy").is_none());
}

async fn relay_without_files() -> RunningRelay {
    relay(|_| {}).await
}

/// `--print-headers HOST` for `dir`, run as the binary is.
pub(crate) fn print_headers(host: &str, dir: Option<&Path>, public_url: Option<&str>) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_huddle-server"));
    command.args(["--print-headers", host]).env_remove("HUDDLE_STATIC_DIR").env_remove("HUDDLE_PUBLIC_URL");
    if let Some(dir) = dir {
        command.arg("--static-dir").arg(dir);
    }
    if let Some(url) = public_url {
        command.args(["--public-url", url]);
    }
    command.output().expect("the relay binary runs")
}

/// `(name, value)` pairs, lowercased names, of what the relay sends for `path` that a static host must send too.
async fn host_headers(addr: SocketAddr, path: &str) -> BTreeMap<String, String> {
    let reply = get(addr, path, &[]).await;
    let mut headers = reply.security();
    headers.insert("cache-control".into(), reply.get("cache-control").to_owned());
    headers
}

#[tokio::test]
async fn print_headers_renders_for_nginx_what_the_relay_sends() {
    let dist = Dist::new();
    let public_url = "wss://relay.example.com/ws";
    let relay = dist.serve(Some(public_url)).await;
    let addr = relay.local_addr();
    let output = print_headers("nginx", Some(&dist.dir()), Some(public_url));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("\ngzip_static on;\n") && text.contains("brotli_static"), "{text}");

    // Each `location … { … }` block: its add_header lines, and its other directives.
    let mut blocks: BTreeMap<String, (BTreeMap<String, String>, Vec<String>)> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if let Some(location) = line.strip_prefix("location ").and_then(|rest| rest.strip_suffix(" {")) {
            current = Some(location.to_owned());
            blocks.insert(location.to_owned(), Default::default());
        } else if line == "}" {
            current = None;
        } else if let Some(location) = &current {
            let block = blocks.get_mut(location).unwrap();
            if let Some(rest) = line.strip_prefix("add_header ") {
                let (name, value) = rest.split_once(' ').unwrap();
                let value = value.strip_suffix(" always;").expect("always, for errors and 304s too");
                let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).expect("quoted");
                assert!(block.0.insert(name.to_ascii_lowercase(), value.to_owned()).is_none(), "{name} twice");
            } else {
                block.1.push(line.to_owned());
            }
        }
    }
    let immutable = [JS, WASM, CSS, ICON].map(|name| format!("= /{name}"));
    for location in immutable.iter().map(String::as_str).chain(["= /index.html"]) {
        let path = location.trim_start_matches("= ");
        let (headers, _) = blocks.get(location).unwrap_or_else(|| panic!("no block for {location}:\n{text}"));
        assert_eq!(*headers, host_headers(addr, path).await, "{location}");
    }
    let (headers, directives) = &blocks["/"];
    assert_eq!(*headers, host_headers(addr, &format!("/r/{ROOM}")).await, "the fallback");
    assert_eq!(directives, &["try_files $uri /index.html;"]);
    let assets = blocks.keys().find(|location| location.contains("wasm|js")).expect("the asset extensions' block");
    let (headers, directives) = &blocks[assets];
    assert_eq!(*headers, host_headers(addr, "/missing.js").await, "a missing asset");
    assert_eq!(directives, &["try_files $uri =404;"]);
    let copies = blocks.keys().find(|location| location.contains("(br|gz)")).expect("the copies' block");
    assert_eq!(blocks[copies].0, host_headers(addr, &format!("/{JS}.br")).await, "a compressed copy");
    assert!(!blocks.keys().any(|location| location.contains("notes.txt")), "only hashed files are immutable");
    assert_eq!(blocks.len(), 8, "{text}");
}

#[tokio::test]
async fn print_headers_renders_for_netlify_what_the_relay_sends() {
    let dist = Dist::new();
    let relay = dist.serve(None).await;
    let addr = relay.local_addr();
    let output = print_headers("netlify", Some(&dist.dir()), None);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();

    let mut rules: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    for line in text.lines().filter(|line| !line.starts_with('#') && !line.trim().is_empty()) {
        if let Some(header) = line.strip_prefix("  ") {
            let (name, value) = header.split_once(": ").unwrap();
            let (_, headers) = rules.last_mut().expect("a header belongs to a path");
            assert!(headers.insert(name.to_ascii_lowercase(), value.to_owned()).is_none());
        } else {
            rules.push((line.to_owned(), BTreeMap::new()));
        }
    }
    assert_eq!(rules[0].0, "/*");
    assert_eq!(rules[0].1, get(addr, "/", &[]).await.security(), "every response's headers");
    assert_eq!(rules[0].1, get(addr, "/healthz", &[]).await.security());
    assert!(!rules[0].1.contains_key("cache-control"), "hosts join a header's values across matching rules");
    let mut paths = Vec::new();
    for (path, headers) in &rules[1..] {
        assert_eq!(headers.keys().collect::<Vec<_>>(), ["cache-control"], "{path}");
        assert_eq!(headers["cache-control"], get(addr, path, &[]).await.get("cache-control"), "{path}");
        paths.push(path.as_str());
    }
    let hashed = [ICON, JS, WASM, CSS].map(|name| format!("/{name}"));
    let mut expected = vec!["/", "/index.html", "/config.json"];
    expected.extend(hashed.iter().map(String::as_str));
    paths[3..].sort();
    expected[3..].sort();
    assert_eq!(paths, expected);
}

#[tokio::test]
async fn print_headers_needs_a_built_static_dir() {
    let without = print_headers("nginx", None, None);
    assert!(!without.status.success());
    assert!(String::from_utf8_lossy(&without.stderr).contains("--static-dir"), "clap names what is missing");

    let empty = tempfile::tempdir().unwrap();
    let unbuilt = print_headers("netlify", Some(empty.path()), None);
    assert_eq!(unbuilt.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&unbuilt.stderr);
    assert!(stderr.contains("has no index.html") && stderr.contains("cargo xtask build"), "{stderr}");
    assert!(unbuilt.stdout.is_empty());

    let dist = Dist::new();
    let refused = print_headers("nginx", Some(&dist.dir()), Some("relay.example.com"));
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--public-url"));
}
