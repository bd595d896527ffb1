//! A real `redis-server` for tests of several relays sharing rooms. The same helper as the relay's own integration
//! tests, included by path so the two cannot drift.

#[path = "../../server/tests/relay/redis_server.rs"]
mod redis_server;

pub use redis_server::RedisServer;
