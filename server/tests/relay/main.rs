//! Integration tests: the real relay on 127.0.0.1:0, driven by real WebSocket clients.
//!
//! Where a test must show that something did *not* arrive, it sends a marker along a path that does arrive and
//! checks the marker comes next (each connection's messages are delivered in order), instead of waiting and hoping.

mod backlog;
mod bad_input;
mod cluster;
mod harness;
mod http;
mod lifecycle;
mod limits;
mod logs;
mod nginx;
mod redis_server;
mod rooms;
mod shutdown;
mod slots;
mod static_files;
