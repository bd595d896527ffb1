//! The browser side of a call: web-sys glue behind small Rust types.

mod bindings;
pub mod engine;
pub mod media;
pub mod monitor;
pub mod peer;
pub mod socket;
pub mod stats;
pub mod transfer;

pub use bindings::clipboard_write_text;
