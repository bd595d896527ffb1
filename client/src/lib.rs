//! Huddle's single-page app: video calls, peer to peer. `cargo xtask build` compiles it to wasm with trunk.
//!
//! `call` holds the logic as plain Rust (tested natively); `rtc` is the web-sys edge (peer connections, devices,
//! the relay socket); `ui` the Yew components.

#![forbid(unsafe_code)]

pub mod app;
pub mod call;
pub mod config;
pub mod prefs;
pub mod route;
pub mod rtc;
pub mod small_map;
pub mod ui;

/// Mounts the app on `<body>`.
pub fn start() {
    yew::Renderer::<app::App>::new().render();
}
