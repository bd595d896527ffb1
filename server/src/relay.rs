//! The state every connection shares: the registry, limits, metrics, credentials and the shutdown signal.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use huddle_common::{LeaveReason, PeerId, RoomId};
use tokio::sync::{watch, Notify};

use crate::cluster::Cluster;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::registry::{ConnId, Registry};
use crate::resume::ResumeKey;
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
    /// How long a dropped peer may resume.
    pub rejoin_grace: Duration,
}

/// Shared by every connection of one relay process.
pub struct Relay {
    registry: Mutex<Registry>,
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
    /// With `--redis-url`: the rooms this relay shares with others.
    pub cluster: Option<Arc<Cluster>>,
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
        let cluster = match &config.redis_url {
            Some(url) => {
                Some(Arc::new(Cluster::new(url, &config.redis_prefix, config.room_capacity, config.rejoin_grace)?))
            }
            None => None,
        };
        let relay = Arc::new(Relay {
            registry: Mutex::new(Registry::new(config.room_capacity as usize, Arc::clone(&metrics))),
            metrics,
            limits: Limits {
                max_message_bytes: config.max_message_bytes,
                rate_limit_per_sec: config.rate_limit_per_sec,
                rate_limit_burst: config.rate_limit_burst,
                rate_limit_close_after: config.rate_limit_close_after.max(1),
                queue_capacity: config.queue_capacity.max(1),
                heartbeat_interval: config.heartbeat_interval,
                heartbeat_timeout: config.heartbeat_timeout,
                rejoin_grace: config.rejoin_grace,
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
            cluster,
            max_connections: config.max_connections,
            open_connections: AtomicUsize::new(0),
            all_closed: Notify::new(),
            next_conn: AtomicU64::new(1),
            shutdown: watch::channel(false).0,
        });
        if let Some(cluster) = &relay.cluster {
            cluster.spawn(&relay);
        }
        Ok(relay)
    }

    /// The registry, locked. A panic elsewhere while holding it cannot leave it half-updated in a way that matters
    /// more than stopping every call, so a poisoned lock is used as is.
    pub fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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

    /// Starts the grace period of a peer whose connection `conn` dropped: unless it resumes, it is removed when
    /// the period ends and the others are told.
    pub fn schedule_expiry(self: &Arc<Self>, room: RoomId, peer: PeerId, conn: ConnId, epoch: u64) {
        let relay = Arc::clone(self);
        tokio::spawn(async move {
            if let Some(cluster) = &relay.cluster {
                if cluster.disconnect(&room, &peer, conn).await.is_err() {
                    tracing::warn!(%room, %peer, "could not record a dropped connection in Redis");
                }
            }
            tokio::time::sleep(relay.limits.rejoin_grace).await;
            if let Some(cluster) = &relay.cluster {
                if !relay.registry().is_away(&room, &peer, epoch) {
                    return;
                }
                // Whether or not Redis hears of it (it would expire the peer itself otherwise), the peers here are
                // told now.
                let _ = cluster.leave(&room, &peer, conn, LeaveReason::Disconnected, true).await;
            }
            relay.registry().expire(&room, &peer, epoch);
        });
    }

    /// Tells the other relays that a peer of this one left (with a shared registry; otherwise nothing to do).
    pub fn announce_leave(self: &Arc<Self>, room: RoomId, peer: PeerId, conn: ConnId, reason: LeaveReason) {
        let Some(cluster) = self.cluster.clone() else { return };
        tokio::spawn(async move {
            if cluster.leave(&room, &peer, conn, reason, false).await.is_err() {
                tracing::warn!(%room, %peer, "could not record a leave in Redis; the next sync will");
            }
        });
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
