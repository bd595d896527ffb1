//! The built SPA from `--static-dir`, served as a deployment should: each file in the smallest precompressed copy
//! the browser accepts (`X.br`, `X.gz` beside `X`, from `cargo xtask build`), with its own type, a strong `ETag`
//! per copy, `304` for a copy the browser already has, `HEAD`, and a `Cache-Control` by kind of file (trunk's
//! content-hashed files are immutable; everything else is revalidated, so a new deploy shows at once).
//!
//! A path that names no file gets `index.html`, so that every link (`/r/<room>`, and one mangled by pasting,
//! `/r/<room>.`) opens the SPA, which says itself when a link leads nowhere; but a path that ends in an asset's
//! extension is a missing file, and gets a `404`. Request paths are decoded segment by segment and a segment that
//! could step outside the directory (`..`, an encoded `/` or `\`, NUL) means "no such file".
//!
//! Files are read from disk and kept in memory keyed by their path, modification time and length, so a redeploy
//! that replaces `dist/` under a running relay is served at once, and a request costs an `open` and an `fstat` per
//! copy it looks at. A new `index.html` is a new deploy: the rest of the cache is dropped with the old one.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use base64::Engine;
use headers::{ETag, HeaderMapExt, IfNoneMatch};
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};
use warp::http::header::{self, HeaderMap, HeaderValue};
use warp::http::{Method, StatusCode};
use warp::hyper::body::Bytes;
use warp::hyper::Body;
use warp::reply::Response;

use crate::content_coding::{self, Coding};
use crate::security_headers::{SecurityHeaders, SiteHeaders};

/// The SPA's shell: what `/` and every path that names no file get.
pub const INDEX: &str = "index.html";

/// Extensions of files that are never routes of the SPA: a request for a missing one is a `404`, not the app.
pub const ASSET_EXTENSIONS: &[&str] = &[
    "wasm",
    "js",
    "mjs",
    "css",
    "map",
    "json",
    "webmanifest",
    "txt",
    "xml",
    "html",
    "htm",
    "svg",
    "png",
    "ico",
    "jpg",
    "jpeg",
    "gif",
    "webp",
    "avif",
    "woff",
    "woff2",
    "ttf",
    "otf",
    "br",
    "gz",
    "zst",
];

/// How long a browser may keep a file without asking again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caching {
    /// A content-hashed file: a new build names a changed file differently, so a copy is good forever.
    Immutable,
    /// Anything else (`index.html`, `config.json`…): kept, but checked with the relay (a `304`) before each use.
    Revalidate,
}

impl Caching {
    /// How a file named `file_name` is cached: trunk names the files it hashes `<stem>-<hash>.<ext>` (and the wasm
    /// `<stem>-<hash>_bg.wasm`), the hash a 64-bit seahash in lowercase hex without leading zeros. At least 8 digits
    /// are asked for, so that a hand-named `foo-bad.js` is not cached forever; a hash that happens to be shorter
    /// (one in four billion) only costs its file the long cache.
    pub fn of(file_name: &str) -> Caching {
        let Some((stem, _extension)) = file_name.rsplit_once('.') else { return Caching::Revalidate };
        let stem = stem.strip_suffix("_bg").unwrap_or(stem);
        let hashed = stem.rsplit_once('-').is_some_and(|(name, hash)| {
            !name.is_empty()
                && (8..=16).contains(&hash.len())
                && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if hashed {
            Caching::Immutable
        } else {
            Caching::Revalidate
        }
    }

    /// Its `Cache-Control`.
    pub fn header_value(self) -> &'static str {
        match self {
            Caching::Immutable => "public, max-age=31536000, immutable",
            Caching::Revalidate => "no-cache",
        }
    }
}

/// Whether a request path's last segment ends in one of [`ASSET_EXTENSIONS`] (`/r/room.` does not).
pub fn has_asset_extension(file_name: &str) -> bool {
    file_name
        .rsplit_once('.')
        .is_some_and(|(_, extension)| ASSET_EXTENSIONS.iter().any(|known| known.eq_ignore_ascii_case(extension)))
}

/// The `Content-Type` of a file named `file_name` (of the original, for its compressed copies too). The table is
/// `mime_guess`'s (which warp already builds), with `charset=utf-8` on text, as trunk writes UTF-8.
pub fn content_type(file_name: &str) -> HeaderValue {
    let mime = mime_guess::from_path(file_name).first_or_octet_stream();
    let text = mime.type_() == mime_guess::mime::TEXT
        || matches!(mime.essence_str(), "application/javascript" | "application/json" | "application/manifest+json");
    let value = if text && mime.get_param(mime_guess::mime::CHARSET).is_none() {
        format!("{}; charset=utf-8", mime.essence_str())
    } else {
        mime.to_string()
    };
    HeaderValue::from_str(&value).expect("a MIME type is a valid header value")
}

/// Bytes ready to be sent, and how: what `GET`, `HEAD` and `If-None-Match` need.
pub struct Representation {
    /// The body of a `200`.
    pub body: Bytes,
    /// Its strong validator.
    pub etag: ETag,
    /// Its type.
    pub content_type: HeaderValue,
    /// `br` or `gzip` for a compressed copy.
    pub content_encoding: Option<&'static str>,
    /// How long it may be kept.
    pub caching: Caching,
    /// Whether another `Accept-Encoding` could have been answered with other bytes.
    pub varies_by_encoding: bool,
    /// The policy of this very document, when it is an HTML page; other responses get the site's ([`crate::start`]).
    pub security: Option<Arc<SecurityHeaders>>,
}

impl Representation {
    /// A representation made in memory (such as `/config.json`), revalidated on every use.
    pub fn generated(body: Bytes, content_type: HeaderValue) -> Representation {
        let etag = strong_etag(&body);
        Representation {
            body,
            etag,
            content_type,
            content_encoding: None,
            caching: Caching::Revalidate,
            varies_by_encoding: false,
            security: None,
        }
    }

    /// The answer to `method` with these request headers: `200` (its body left out for `HEAD`, every header the
    /// same), `304` when `If-None-Match` names it (weak comparison, lists and `*`, as RFC 9110 section 13.1.2
    /// says), `405` for a method other than `GET` and `HEAD`.
    pub fn respond(&self, method: &Method, request: &HeaderMap) -> Response {
        if method != Method::GET && method != Method::HEAD {
            return method_not_allowed();
        }
        let not_modified = request.typed_get::<IfNoneMatch>().is_some_and(|tags| !tags.precondition_passes(&self.etag));
        let mut response = if not_modified {
            // A 304 carries the validator and caching headers a 200 would (RFC 9110 section 15.4.5), no content.
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            response
        } else {
            let body = if method == Method::HEAD { Body::empty() } else { Body::from(self.body.clone()) };
            let mut response = Response::new(body);
            let headers = response.headers_mut();
            // Set by hand so that HEAD tells the length it would have sent.
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(self.body.len()));
            headers.insert(header::CONTENT_TYPE, self.content_type.clone());
            if let Some(encoding) = self.content_encoding {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
            }
            response
        };
        let headers = response.headers_mut();
        headers.typed_insert(self.etag.clone());
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(self.caching.header_value()));
        if self.varies_by_encoding {
            headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        }
        if let Some(security) = &self.security {
            security.apply(headers);
        }
        response
    }
}

/// A file as read from disk, with what is worked out from it once.
struct Loaded {
    modified: Option<SystemTime>,
    len: u64,
    bytes: Bytes,
    etag: ETag,
    /// For an HTML file: the security headers that allow its own inline scripts.
    document: Option<Arc<SecurityHeaders>>,
}

/// The files of `--static-dir`.
pub struct StaticFiles {
    dir: PathBuf,
    site: Arc<SiteHeaders>,
    /// Shared by every request; a std mutex, as it is only held to look up or insert an entry, never across I/O.
    cache: Mutex<HashMap<PathBuf, Arc<Loaded>>>,
}

impl StaticFiles {
    /// Serves `dir`; `site` is told the policy of each new `index.html`, for the responses that are not documents.
    /// Reads `index.html` at once, so that the first responses already carry its policy.
    pub async fn new(dir: PathBuf, site: Arc<SiteHeaders>) -> Arc<StaticFiles> {
        let files = Arc::new(StaticFiles { dir, site, cache: Mutex::new(HashMap::new()) });
        match files.load(PathBuf::from(INDEX)).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                tracing::warn!(dir = %files.dir.display(), "--static-dir has no index.html (yet): build the SPA into it (cargo xtask build)")
            }
            Err(error) => tracing::warn!(dir = %files.dir.display(), %error, "cannot read index.html"),
        }
        files
    }

    /// The answer to a request for `path` (as sent, percent-encoded, without the query).
    pub async fn respond(&self, method: &Method, path: &str, request: &HeaderMap) -> Response {
        if method != Method::GET && method != Method::HEAD {
            return method_not_allowed();
        }
        let last = path.rsplit('/').next().unwrap_or_default();
        let last = percent_decode_str(last).decode_utf8_lossy();
        // The compressed copies are ways of sending their file, not files of their own.
        let copy = [Coding::Brotli, Coding::Gzip].iter().any(|coding| last.ends_with(coding.suffix()));
        let file = match relative_path(path) {
            Some(relative) if !copy => self.representation(&relative, request).await,
            _ => Ok(None),
        };
        let file = match file {
            Ok(Some(file)) => Ok(Some(file)),
            Ok(None) if has_asset_extension(&last) => Ok(None),
            Ok(None) => self.representation(Path::new(INDEX), request).await,
            Err(error) => Err(error),
        };
        match file {
            Ok(Some(file)) => file.respond(method, request),
            Ok(None) => plain(StatusCode::NOT_FOUND, "Not found: this file is not part of Huddle.\n"),
            Err(error) => {
                tracing::error!(%error, path, "cannot read a static file");
                plain(StatusCode::INTERNAL_SERVER_ERROR, "This file cannot be read right now.\n")
            }
        }
    }

    /// The copy of `relative` to send for these request headers, `None` when there is no such file.
    async fn representation(&self, relative: &Path, request: &HeaderMap) -> io::Result<Option<Representation>> {
        let Some(original) = self.load(relative.to_owned()).await? else { return Ok(None) };
        let name = relative.file_name().and_then(|name| name.to_str()).unwrap_or_default();
        let mut chosen = (Arc::clone(&original), None);
        for coding in content_coding::preferred(request) {
            let Some(encoding) = coding.content_encoding() else { break };
            let mut copy = relative.as_os_str().to_owned();
            copy.push(coding.suffix());
            if let Some(loaded) = self.load(PathBuf::from(copy)).await? {
                chosen = (loaded, Some(encoding));
                break;
            }
        }
        let (loaded, content_encoding) = chosen;
        Ok(Some(Representation {
            body: loaded.bytes.clone(),
            etag: loaded.etag.clone(),
            content_type: content_type(name),
            content_encoding,
            caching: Caching::of(name),
            varies_by_encoding: true,
            security: original.document.clone(),
        }))
    }

    /// `relative`'s current content, from the cache when its modification time and length are unchanged; `None`
    /// when it is missing or not a file.
    async fn load(&self, relative: PathBuf) -> io::Result<Option<Arc<Loaded>>> {
        let path = self.dir.join(&relative);
        let cached = self.cache.lock().expect("the cache lock is never poisoned").get(&relative).cloned();
        let known = cached.as_ref().map(|loaded| (loaded.modified, loaded.len));
        let reading =
            tokio::task::spawn_blocking(move || read_if_changed(&path, known)).await.map_err(io::Error::other)?;
        match reading? {
            Reading::Missing => {
                self.cache.lock().expect("the cache lock is never poisoned").remove(&relative);
                Ok(None)
            }
            Reading::Unchanged => Ok(cached),
            Reading::New { modified, len, bytes, etag } => {
                // Worked out before taking the lock, which every request shares.
                let document = (content_type(&relative.to_string_lossy()).as_bytes().starts_with(b"text/html"))
                    .then(|| Arc::new(self.site.policy().headers(Some(&bytes))));
                let loaded = Arc::new(Loaded { modified, len, etag, bytes: Bytes::from(bytes), document });
                let mut cache = self.cache.lock().expect("the cache lock is never poisoned");
                if relative == Path::new(INDEX) {
                    // A new deploy: what the cache holds of the old one will not be asked for again.
                    cache.clear();
                    if let Some(document) = &loaded.document {
                        self.site.set(Arc::clone(document));
                    }
                }
                cache.insert(relative, Arc::clone(&loaded));
                Ok(Some(loaded))
            }
        }
    }
}

/// What reading a file found.
enum Reading {
    Missing,
    /// The cached content is still the file's.
    Unchanged,
    New {
        modified: Option<SystemTime>,
        len: u64,
        bytes: Vec<u8>,
        /// Hashed on the blocking thread that read it, off the runtime's.
        etag: ETag,
    },
}

/// Opens `path` and reads it unless `known` (the cached copy's modification time and length) is still what the
/// open file says, so that a file replaced by a rename is read whole from one version.
fn read_if_changed(path: &Path, known: Option<(Option<SystemTime>, u64)>) -> io::Result<Reading> {
    let mut file = match fs::File::open(path) {
        Ok(file) => file,
        Err(error) if matches!(error.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {
            return Ok(Reading::Missing)
        }
        Err(error) => return Err(error),
    };
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Ok(Reading::Missing);
    }
    let (modified, len) = (metadata.modified().ok(), metadata.len());
    // Without a modification time (no such platform runs the relay), always read.
    if modified.is_some() && known == Some((modified, len)) {
        return Ok(Reading::Unchanged);
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.read_to_end(&mut bytes)?;
    let etag = strong_etag(&bytes);
    Ok(Reading::New { modified, len, bytes, etag })
}

/// The path under the static directory that a request path names, `None` when it names none: each segment is
/// percent-decoded, and an empty one, `.`, `..`, or one holding `/`, `\`, `:` or NUL (which could step elsewhere
/// on some system), is refused rather than cleaned up.
fn relative_path(request_path: &str) -> Option<PathBuf> {
    let rest = request_path.strip_prefix('/')?;
    if rest.is_empty() {
        return Some(PathBuf::from(INDEX));
    }
    let mut relative = PathBuf::new();
    for segment in rest.split('/') {
        let segment = percent_decode_str(segment).decode_utf8().ok()?;
        if segment.is_empty() || segment == "." || segment == ".." || segment.contains(['/', '\\', ':', '\0']) {
            return None;
        }
        relative.push(segment.as_ref());
    }
    // Belt and braces: only plain names, whatever the platform makes of them.
    relative.components().all(|part| matches!(part, Component::Normal(_))).then_some(relative)
}

/// `"<first 128 bits of the SHA-256, base64url>"`: changes with any byte, so distinct for each compressed copy.
fn strong_etag(bytes: &[u8]) -> ETag {
    let digest = Sha256::digest(bytes);
    let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16]);
    format!("\"{tag}\"").parse().expect("a quoted base64url string is an entity tag")
}

/// A short plain-text answer.
fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(Caching::Revalidate.header_value()));
    response
}

fn method_not_allowed() -> Response {
    let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "Only GET and HEAD are answered here.\n");
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunks_hashed_names_are_immutable_and_nothing_else() {
        for name in [
            "huddle-client-4f3c2a1b0e9d8c7b.js",
            "huddle-client-4f3c2a1b0e9d8c7b_bg.wasm",
            "huddle-client-d359d68218c4660_bg.wasm", // a real build's: the hash's leading zero is not written
            "huddle-client-d359d68218c4660.js",
            "style-0123456789abcdef.css",
            "favicon-89abcdef.svg",
        ] {
            assert_eq!(Caching::of(name), Caching::Immutable, "{name}");
        }
        for name in [
            "index.html",
            "config.json",
            "huddle-client.js",
            "foo-bad.js",
            "style-0123456789ABCDEF.css",
            "style-0123456789abcdef0.css",
            "-0123456789abcdef.css",
            "huddle-client-4f3c2a1b0e9d8c7b",
        ] {
            assert_eq!(Caching::of(name), Caching::Revalidate, "{name}");
        }
    }

    #[test]
    fn types_are_those_of_the_original_with_a_charset_on_text() {
        assert_eq!(content_type("app_bg.wasm"), "application/wasm");
        assert_eq!(content_type("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("style.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("favicon.svg"), "image/svg+xml");
        assert_eq!(content_type("config.json"), "application/json; charset=utf-8");
        assert_eq!(content_type("mystery"), "application/octet-stream");
    }

    #[test]
    fn request_paths_never_step_outside_the_directory() {
        assert_eq!(relative_path("/"), Some(PathBuf::from("index.html")));
        assert_eq!(relative_path("/assets/app%20x.js"), Some(PathBuf::from("assets/app x.js")));
        for path in [
            "/../secret",
            "/a/../../secret",
            "/%2e%2e/secret",
            "/%2E%2E%2Fsecret",
            "/..%5csecret",
            "/a\\..\\secret",
            "/%00",
            "/./index.html",
            "/a//b",
            "/r/room/",
            "/C:/secret",
            "/%ff",
            "relative",
        ] {
            assert_eq!(relative_path(path), None, "{path}");
        }
    }

    #[test]
    fn asset_extensions_are_read_from_the_last_segment() {
        assert!(has_asset_extension("missing.wasm"));
        assert!(has_asset_extension("APP.JS"));
        assert!(has_asset_extension("app.js.br"));
        assert!(!has_asset_extension("abcdefghijklmnopqrstuvwxya."));
        assert!(!has_asset_extension("abcdefghijklmnopqrstuvwxya)"));
        assert!(!has_asset_extension("room"));
        assert!(!has_asset_extension("thing.example"));
    }
}
