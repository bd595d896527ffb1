//! The SPA's entry point; everything lives in the library (`lib.rs`).

#![forbid(unsafe_code)]

/// Talc instead of Rust's default wasm allocator (dlmalloc): general-purpose like it (freed memory is reused and
/// merged with free neighbours, so a long call does not grow the heap), faster in talc's wasm benchmarks, and lighter in
/// the wasm (what it saved: docs/SIZE.md). Its wasm allocator needs single-threaded wasm, which the SPA is.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

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
