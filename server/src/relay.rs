//! The state every connection shares: the router (and through it the rooms), limits, metrics, credentials, the
//! connection count and the shutdown signal.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{watch, Notify};

use crate::client_addr::AddrKey;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::per_addr::{Held, Holdings, JoinRate};
use crate::registry::ConnId;
use crate::resume::{ResumeKey, ShortSecret};
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
    /// Bytes read from one connection a second on average.
    pub read_bytes_per_sec: u32,
    /// Bytes read at once above the rate.
    pub read_burst_bytes: u32,
    /// Outbound queue length.
    pub queue_capacity: usize,
    /// Ping period.
    pub heartbeat_interval: Duration,
    /// Silence that drops a connection.
    pub heartbeat_timeout: Duration,
    /// How long after its upgrade a connection may stay out of a room.
    pub join_timeout: Duration,
    /// A socket write stalled this long drops a connection.
    pub write_timeout: Duration,
}

/// Why a connection was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The relay holds `--max-connections` already.
    #[error("too many connections; try again later")]
    Full,
    /// The client's address holds `--max-connections-per-ip` already.
    #[error("too many connections from your address; close some and try again")]
    AddressFull,
}

/// Why a relay cannot start with its configuration.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Sharing rooms through Redis is misconfigured.
    #[error(transparent)]
    Cluster(#[from] crate::cluster::SetupError),
    /// `--resume-secret` is too short.
    #[error(transparent)]
    ResumeSecret(#[from] ShortSecret),
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
    /// When this process started: a resume token issued before names a join this process cannot know about.
    pub started: SystemTime,
    /// How fast each client address may join.
    pub join_rate: JoinRate,
    per_addr: Arc<Holdings>,
    max_connections: usize,
    open_connections: AtomicUsize,
    all_closed: Notify,
    next_conn: AtomicU64,
    shutdown: watch::Sender<bool>,
}

impl Relay {
    /// The shared state for a relay configured by `config`; with `--redis-url`, it starts syncing with Redis
    /// (in the background: Redis need not be up yet). Fails on a configuration it cannot work with.
    pub fn new(config: &Config) -> Result<Arc<Self>, SetupError> {
        let metrics = Arc::new(Metrics::default());
        let shutdown = watch::channel(false).0;
        Ok(Arc::new(Relay {
            resume_key: match &config.resume_secret {
                Some(secret) => ResumeKey::new(secret.as_bytes(), config.resume_ttl)?,
                None => ResumeKey::random(config.resume_ttl),
            },
            started: SystemTime::now(),
            router: Router::new(config, Arc::clone(&metrics), shutdown.subscribe())?,
            metrics,
            limits: Limits {
                max_message_bytes: config.max_message_bytes,
                rate_limit_per_sec: config.rate_limit_per_sec,
                rate_limit_burst: config.rate_limit_burst,
                rate_limit_close_after: config.rate_limit_close_after.max(1),
                read_bytes_per_sec: config.read_bytes_per_sec,
                read_burst_bytes: config.read_burst_bytes,
                queue_capacity: config.queue_capacity.max(1),
                heartbeat_interval: config.heartbeat_interval,
                heartbeat_timeout: config.heartbeat_timeout,
                join_timeout: config.join_timeout,
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
            join_rate: JoinRate::new(config.join_rate_per_ip, config.join_burst_per_ip),
            per_addr: Holdings::new(config.max_connections_per_ip),
            max_connections: config.max_connections,
            open_connections: AtomicUsize::new(0),
            all_closed: Notify::new(),
            next_conn: AtomicU64::new(1),
            shutdown,
        }))
    }

    /// Reserves a place for a new connection from `client`, unless the relay or that address is at its limit.
    pub fn admit_connection(self: &Arc<Self>, client: IpAddr) -> Result<ConnectionSlot, Refusal> {
        let client = AddrKey::from(client);
        let held = self.per_addr.take(client).ok_or(Refusal::AddressFull)?;
        let taken = self.open_connections.fetch_add(1, Ordering::AcqRel);
        if taken >= self.max_connections {
            self.release_slot();
            return Err(Refusal::Full);
        }
        self.metrics.connections.fetch_add(1, Ordering::Relaxed);
        self.metrics.connections_total.fetch_add(1, Ordering::Relaxed);
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        Ok(ConnectionSlot { relay: Arc::clone(self), id, client, _held: held })
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
    /// The client's address, as the per-address limits count it.
    pub client: AddrKey,
    _held: Held,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.relay.metrics.connections.fetch_sub(1, Ordering::Relaxed);
        self.relay.release_slot();
    }
}
