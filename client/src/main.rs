//! The SPA's entry point; everything lives in the library (`lib.rs`).

#[cfg(target_arch = "wasm32")]
fn main() {
    huddle_client::start();
}

/// On the host the crate only compiles (for clippy and native unit tests); there is no browser to render into.
#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("huddle-client runs in the browser: `cargo xtask run` builds it and serves it at http://127.0.0.1:8080");
    std::process::exit(2);
}
