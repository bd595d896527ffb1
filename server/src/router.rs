//! Where every message of a connection goes: the router owns this relay's registry and, with `--redis-url`, its
//! link to the other relays, and is the one place that decides whether a peer is reached here or through Redis.
//! Connections speak the protocol and hand it their joins, signals, leaves and dropped connections; the cluster's
//! listener reaches the registry through its own handle.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use huddle_common::{LeaveReason, PeerId, RoomId, ServerMessage};
use tokio::sync::watch;

use crate::backlog::Budget;
use crate::cluster::seal::Dropped;
use crate::cluster::{Cluster, SetupError, Unreachable};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::registry::{Admission, ConnId, JoinError, JoinRequest, Registry, RegistryHandle};
use crate::room_tag::RoomTag;

/// Why a signal reached no one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    /// The recipient is in the room neither here nor (with a shared registry) through another relay, or the
    /// sender is not.
    #[error("no peer {0} in this room")]
    UnknownPeer(PeerId),
    /// The recipient is not on this relay, and the shared registry (Redis) that would find it cannot be reached.
    #[error("cannot reach {0} right now: the relay lost its shared registry")]
    Unavailable(PeerId),
}

/// How the link to the other relays is doing, for `/healthz` and `/metrics`.
#[derive(Clone, Copy, Debug)]
pub struct ClusterStatus {
    /// Whether this relay is subscribed to its channel and its last sync reached Redis.
    pub healthy: bool,
    /// Redis operations that failed or timed out since start.
    pub errors: u64,
    /// Envelopes from Redis dropped since start, by reason (see [`crate::cluster::seal`]).
    pub dropped: [(Dropped, u64); Dropped::ALL.len()],
}

/// Joins, signals and leaves, carried out in this relay's registry and, with a shared registry, in Redis.
#[derive(Debug)]
pub struct Router {
    registry: RegistryHandle,
    budget: Arc<Budget>,
    cluster: Option<Arc<Cluster>>,
    metrics: Arc<Metrics>,
    grace: Duration,
}

impl Router {
    /// The router of a relay configured by `config`. With `--redis-url`, it starts syncing with Redis (in the
    /// background: Redis need not be up yet) until `shutdown` turns true. Fails on a malformed Redis URL, or a
    /// missing or short cluster secret.
    pub fn new(config: &Config, metrics: Arc<Metrics>, shutdown: watch::Receiver<bool>) -> Result<Self, SetupError> {
        let per_connection = usize::try_from(config.queue_bytes).unwrap_or(usize::MAX);
        let budget = Arc::new(Budget::new(per_connection, config.queue_budget, Arc::clone(&metrics)));
        let registry = Registry::new(config.room_capacity as usize, Arc::clone(&metrics), Arc::clone(&budget));
        let registry = RegistryHandle::new(registry);
        let cluster = match &config.redis_url {
            Some(url) => {
                let cluster = Cluster::new(url, config)?;
                let cluster = Arc::new(cluster);
                cluster.spawn(registry.clone(), shutdown);
                Some(cluster)
            }
            None => None,
        };
        Ok(Router { registry, budget, cluster, metrics, grace: config.rejoin_grace })
    }

    /// What the relay may hold for its clients, and holds.
    pub fn budget(&self) -> &Arc<Budget> {
        &self.budget
    }

    /// Admits a peer, or gives it back its place when resuming; with a shared registry, Redis decides. `welcome`
    /// builds the newcomer's `joined`, which it gets before anything else.
    pub async fn join(
        &self,
        request: JoinRequest,
        welcome: impl FnOnce(Admission<'_>) -> ServerMessage,
    ) -> Result<(), JoinError> {
        let Some(cluster) = &self.cluster else { return self.registry.lock().join(request, welcome) };
        // Whatever other relays send the newcomer once Redis lists it waits here until `joined` is sent.
        self.registry.lock().reserve(&request.room, &request.peer_id);
        // Boxed, as is the signal's trip through Redis: every connection's task would otherwise carry the Redis
        // round trip's state, which only the rare join or signal through Redis needs.
        match Box::pin(cluster.join(&request, request.outbox.conn)).await {
            Ok(decision) => {
                self.registry.lock().admit(request, decision, welcome);
                Ok(())
            }
            Err(error) => {
                self.registry.lock().cancel(&request.room, &request.peer_id);
                Err(error)
            }
        }
    }

    /// Delivers a signal from `from` to `to` in `room` (`text`: the `signal` message as `to` gets it): to a peer
    /// here, or else through the relay that holds it (never to the sender itself, as without Redis). A peer within
    /// its grace period gets it when it resumes.
    pub async fn signal(&self, room: &RoomId, from: &PeerId, to: &PeerId, text: &Arc<str>) -> Result<(), SignalError> {
        let here = self.registry.lock().deliver(room, from, to, text);
        let delivered = match &self.cluster {
            Some(cluster) if !here && from != to => match Box::pin(cluster.signal(room, from, to, text)).await {
                Ok(delivered) => delivered,
                Err(Unreachable) => return Err(SignalError::Unavailable(to.clone())),
            },
            _ => here,
        };
        if !delivered {
            return Err(SignalError::UnknownPeer(to.clone()));
        }
        self.metrics.messages_relayed.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Removes a peer that left on purpose (or was expelled), if its connection `conn` still holds it: the others
    /// are told at once, here and (in the background) on the other relays.
    pub fn leave(&self, room: RoomId, peer: PeerId, conn: ConnId, reason: LeaveReason) {
        self.registry.lock().leave(&room, &peer, conn, reason);
        let Some(cluster) = self.cluster.clone() else { return };
        tokio::spawn(async move {
            if cluster.leave(&room, &peer, conn, reason, false).await.is_err() {
                tracing::warn!(room = %RoomTag::of(&room), %peer, "could not record a leave in Redis; the next sync will");
            }
        });
    }

    /// Starts the grace period of a peer whose connection `conn` dropped, if that connection still holds it: what
    /// is sent to it meanwhile is held, and unless it resumes it is removed when the period ends and the others are
    /// told.
    pub fn disconnect(&self, room: RoomId, peer: PeerId, conn: ConnId) {
        let Some(epoch) = self.registry.lock().disconnect(&room, &peer, conn, self.grace) else { return };
        let (registry, cluster, grace) = (self.registry.clone(), self.cluster.clone(), self.grace);
        tokio::spawn(async move {
            if let Some(cluster) = &cluster {
                if cluster.disconnect(&room, &peer, conn).await.is_err() {
                    tracing::warn!(room = %RoomTag::of(&room), %peer, "could not record a dropped connection in Redis");
                }
            }
            tokio::time::sleep(grace).await;
            if let Some(cluster) = &cluster {
                if !registry.lock().is_away(&room, &peer, epoch) {
                    return;
                }
                // Whether or not Redis hears of it (it would expire the peer itself otherwise), the peers here are
                // told now.
                let _ = cluster.leave(&room, &peer, conn, LeaveReason::Disconnected, true).await;
            }
            registry.lock().expire(&room, &peer, epoch);
        });
    }

    /// With `--redis-url`, how the link to the other relays is doing; `None` without.
    pub fn cluster_status(&self) -> Option<ClusterStatus> {
        let cluster = self.cluster.as_deref()?;
        Some(ClusterStatus { healthy: cluster.is_healthy(), errors: cluster.errors(), dropped: cluster.dropped() })
    }
}
