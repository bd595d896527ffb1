//! The state every connection shares: the router (and through it the rooms), limits, metrics, credentials, the
//! connection count and the shutdown signal.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::config::Config;
use crate::metrics::Metrics;
use crate::registry::ConnId;
use crate::resume::ResumeKey;
use crate::router::Router;
use crate::turn::IceConfig;

/// Per-connection limits, from the configuration.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest accepted message, bytes.
    pub max_message_bytes: usize,
    /// Token bucket refill rate.
    pub rate_limit_per_sec: u32,
    /// Token bucket size.
    pub rate_limit_burst: u32,
    /// Consecutive dropped messages before closing with 1008.
    pub rate_limit_close_after: u32,
    /// Outbound queue length.
    pub queue_capacity: usize,
    /// Ping period.
    pub heartbeat_interval: Duration,
    /// Silence that drops a connection.
    pub heartbeat_timeout: Duration,
    /// A socket write stalled this long drops a connection.
    pub write_timeout: Duration,
}

/// Shared by every connection of one relay process.
pub struct Relay {
    /// Where joins, signals and leaves go: the rooms here and, with `--redis-url`, the other relays.
    pub router: Router,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Per-connection limits.
    pub limits: Limits,
    /// Room capacity, as told to clients in `joined`.
    pub room_capacity: u32,
    /// ICE servers for `joined`.
    pub ice: IceConfig,
    /// Signs and checks resume tokens.
    pub resume_key: ResumeKey,
    max_connections: usize,
    open_connections: AtomicUsize,
    all_closed: Notify,
    next_conn: AtomicU64,
    shutdown: watch::Sender<bool>,
}

impl Relay {
    /// The shared state for a relay configured by `config`; with `--redis-url`, it starts syncing with Redis
    /// (in the background: Redis need not be up yet). Fails only on a malformed Redis URL.
    pub fn new(config: &Config) -> Result<Arc<Self>, redis::RedisError> {
        let metrics = Arc::new(Metrics::default());
        let shutdown = watch::channel(false).0;
        Ok(Arc::new(Relay {
            router: Router::new(config, Arc::clone(&metrics), shutdown.subscribe())?,
            metrics,
            limits: Limits {
                max_message_bytes: config.max_message_bytes,
                rate_limit_per_sec: config.rate_limit_per_sec,
                rate_limit_burst: config.rate_limit_burst,
                rate_limit_close_after: config.rate_limit_close_after.max(1),
                queue_capacity: config.queue_capacity.max(1),
                heartbeat_interval: config.heartbeat_interval,
                heartbeat_timeout: config.heartbeat_timeout,
                write_timeout: config.write_timeout,
            },
            room_capacity: config.room_capacity,
            ice: IceConfig::new(
                config.stun_urls.clone(),
                config.turn_urls.clone(),
                config.turn_secret.clone(),
                config.turn_ttl,
            )
            .with_policy(config.ice_transport_policy),
            resume_key: match &config.resume_secret {
                Some(secret) => ResumeKey::new(secret.as_bytes()),
                None => ResumeKey::random(),
            },
            max_connections: config.max_connections,
            open_connections: AtomicUsize::new(0),
            all_closed: Notify::new(),
            next_conn: AtomicU64::new(1),
            shutdown,
        }))
    }

    /// Reserves a place for a new connection, or `None` at the connection limit.
    pub fn admit_connection(self: &Arc<Self>) -> Option<ConnectionSlot> {
        let taken = self.open_connections.fetch_add(1, Ordering::AcqRel);
        if taken >= self.max_connections {
            self.release_slot();
            return None;
        }
        self.metrics.connections.fetch_add(1, Ordering::Relaxed);
        self.metrics.connections_total.fetch_add(1, Ordering::Relaxed);
        Some(ConnectionSlot { relay: Arc::clone(self), id: self.next_conn.fetch_add(1, Ordering::Relaxed) })
    }

    fn release_slot(&self) {
        if self.open_connections.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.all_closed.notify_waiters();
        }
    }

    /// A receiver that turns true when the relay shuts down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Tells every connection to close with 1001 (going away), then waits until they have, at most `timeout`.
    pub async fn shut_down(&self, timeout: Duration) {
        self.shutdown.send_replace(true);
        let wait = async {
            loop {
                let notified = self.all_closed.notified();
                if self.open_connections.load(Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        };
        if tokio::time::timeout(timeout, wait).await.is_err() {
            tracing::warn!("some connections did not close in time");
        }
    }
}

/// One admitted connection; dropping it frees its place.
pub struct ConnectionSlot {
    relay: Arc<Relay>,
    /// The connection's id.
    pub id: ConnId,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.relay.metrics.connections.fetch_sub(1, Ordering::Relaxed);
        self.relay.release_slot();
    }
}
