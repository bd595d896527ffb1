//! `--print-headers nginx` in a real nginx (Debian package `nginx`): the printed `location` blocks, included in a
//! minimal `server`, make nginx send what the relay sends for the same `dist/` — its security headers, its caching,
//! the page for room links, 404s for missing assets and for the compressed copies, and the `.gz` copies.
//!
//! nginx runs in the foreground, one process, on a free loopback port, with every file it writes in a temporary
//! directory; Debian's own nginx service (if the package started one) is never used. Brotli is left out: it needs a
//! module Debian's nginx lacks.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::static_files::{get, print_headers, Dist, Reply, CSS, ICON, IMMUTABLE, JS, ROOM, WASM};

/// How long nginx may take to accept connections after starting.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// A running nginx serving a static directory with a printed snippet, stopped when dropped.
struct Nginx {
    addr: SocketAddr,
    dir: tempfile::TempDir,
    child: Child,
}

impl Nginx {
    /// Starts one serving `root` with `snippet` included in its `server` block, and waits until it accepts.
    fn start(root: &Path, snippet: &[u8]) -> Nginx {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path();
        std::fs::write(tmp.join("huddle.conf"), snippet).unwrap();
        let at = |name: &str| format!("\"{}\"", tmp.join(name).display());
        let conf = format!(
            "daemon off;\nmaster_process off;\npid {pid};\nerror_log {error_log} info;\nevents {{}}\nhttp {{\n    \
             access_log {access_log};\n    client_body_temp_path {client_body};\n    proxy_temp_path {proxy};\n    \
             fastcgi_temp_path {fastcgi};\n    uwsgi_temp_path {uwsgi};\n    scgi_temp_path {scgi};\n    \
             include /etc/nginx/mime.types;\n    types {{ application/wasm wasm; }}\n    server {{\n        \
             listen {addr};\n        root \"{root}\";\n        include {snippet};\n    }}\n}}\n",
            pid = at("nginx.pid"),
            error_log = at("error.log"),
            access_log = at("access.log"),
            client_body = at("client_body"),
            proxy = at("proxy"),
            fastcgi = at("fastcgi"),
            uwsgi = at("uwsgi"),
            scgi = at("scgi"),
            root = root.display(),
            snippet = at("huddle.conf"),
        );
        std::fs::write(tmp.join("nginx.conf"), conf).unwrap();
        // Debian keeps nginx in /usr/sbin, which a user's PATH may lack.
        let program = if Path::new("/usr/sbin/nginx").exists() { "/usr/sbin/nginx" } else { "nginx" };
        let child = Command::new(program)
            .arg("-p")
            .arg(tmp)
            .arg("-c")
            .arg(tmp.join("nginx.conf"))
            .arg("-e")
            .arg(tmp.join("error.log"))
            .stdout(Stdio::null())
            .stderr(File::create(tmp.join("stderr.log")).unwrap())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("nginx does not run ({error}): install it (Debian package nginx; .ci/run installs it)")
            });
        let mut nginx = Nginx { addr, dir, child };
        let deadline = Instant::now() + READY_WITHIN;
        while TcpStream::connect(addr).is_err() {
            if let Some(status) = nginx.child.try_wait().unwrap() {
                panic!("nginx exited ({status}) instead of serving:\n{}", nginx.log());
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not accept on {addr} within {READY_WITHIN:?}:\n{}",
                nginx.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    /// What nginx said on stderr and in its error log, for a failing test.
    fn log(&self) -> String {
        ["stderr.log", "error.log"]
            .map(|name| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default())
            .join("")
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a static host must send as the relay does: the security headers and Cache-Control.
fn host_headers(reply: &Reply) -> (Option<&str>, std::collections::BTreeMap<String, String>) {
    (reply.header("cache-control"), reply.security())
}

#[tokio::test]
async fn the_printed_nginx_snippet_makes_nginx_send_what_the_relay_sends() {
    let dist = Dist::new();
    let public_url = "wss://relay.example.com/ws";
    let relay = dist.serve(Some(public_url)).await;
    let output = print_headers("nginx", Some(&dist.dir()), Some(public_url));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let nginx = Nginx::start(&dist.dir(), &output.stdout);
    let (relay, host) = (relay.local_addr(), nginx.addr);

    let page = &dist.files["index.html"];
    let [js, wasm, css, icon] = [JS, WASM, CSS, ICON].map(|name| format!("/{name}"));
    let (room, room_dot) = (format!("/r/{ROOM}"), format!("/r/{ROOM}."));
    let (copy, missing_copy) = (format!("/{JS}.gz"), "/x.js.br".to_owned());
    // Path, status, Cache-Control, and the file sent (the page for a room link).
    type Case<'a> = (&'a str, u16, &'a str, Option<&'a str>);
    let cases: [Case; 11] = [
        ("/", 200, "no-cache", Some("index.html")),
        ("/index.html", 200, "no-cache", Some("index.html")),
        (&room, 200, "no-cache", Some("index.html")),
        (&room_dot, 200, "no-cache", Some("index.html")),
        (&js, 200, IMMUTABLE, Some(JS)),
        (&wasm, 200, IMMUTABLE, Some(WASM)),
        (&css, 200, IMMUTABLE, Some(CSS)),
        (&icon, 200, IMMUTABLE, Some(ICON)),
        ("/assets/missing.wasm", 404, "no-cache", None),
        (&missing_copy, 404, "no-cache", None),
        (&copy, 404, "no-cache", None),
    ];
    for (path, status, cache_control, file) in cases {
        let (theirs, ours) = (get(host, path, &[]).await, get(relay, path, &[]).await);
        assert_eq!((theirs.status, ours.status), (status, status), "{path}: nginx, the relay\n{}", nginx.log());
        assert_eq!(theirs.header("cache-control"), Some(cache_control), "{path}");
        assert_eq!(host_headers(&theirs), host_headers(&ours), "{path}: nginx sends the relay's headers");
        assert_eq!(theirs.header("content-encoding"), None, "{path}");
        if let Some(name) = file {
            assert_eq!(theirs.body, dist.files[name], "{path}: {name}");
        } else {
            assert_ne!(theirs.body, *page, "{path}: not the page");
        }
    }
    let fallback = get(host, &room, &[]).await;
    assert!(fallback.get("content-type").starts_with("text/html"), "{room}");
    assert!(fallback.get("content-security-policy").contains("'sha256-"), "{room}: the page's own policy");
    assert_eq!(get(host, &wasm, &[]).await.get("content-type"), "application/wasm");

    // gzip_static: the .gz beside the file, said so, with Vary, and the same headers as the relay's copy.
    for (path, name) in [(wasm.as_str(), WASM), (&js, JS), (&css, CSS), (&room, "index.html")] {
        let gzip = [("accept-encoding", "gzip")];
        let (theirs, ours) = (get(host, path, &gzip).await, get(relay, path, &gzip).await);
        assert_eq!(theirs.status, 200, "{path}");
        assert_eq!(theirs.header("content-encoding"), Some("gzip"), "{path}");
        assert_eq!(theirs.body, std::fs::read(dist.dir().join(format!("{name}.gz"))).unwrap(), "{path}: the .gz");
        assert_eq!(theirs.get("vary").to_ascii_lowercase(), "accept-encoding", "{path}");
        assert_eq!(host_headers(&theirs), host_headers(&ours), "{path}");
    }

    // `always`: a 304 carries them too.
    for path in [wasm.as_str(), &room] {
        let etag = get(host, path, &[]).await.get("etag").to_owned();
        let (theirs, ours) = (get(host, path, &[("if-none-match", &etag)]).await, get(relay, path, &[]).await);
        assert_eq!(theirs.status, 304, "{path}");
        assert_eq!(host_headers(&theirs), host_headers(&ours), "{path}: a 304");
    }
}
