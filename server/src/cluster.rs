//! Rooms shared by several relays through Redis (`--redis-url`).
//!
//! Each relay still keeps its own connections in its [`Registry`](crate::registry::Registry), which this module
//! reaches through a [`RegistryHandle`] until the relay's shutdown signal; [`crate::router`] decides what goes
//! through Redis. Redis holds who is in which room through which relay, decides every join atomically (capacity and
//! names are checked and the peer added in one Lua script), and carries messages between relays: each relay
//! subscribes to one channel of its own, and the scripts publish there what its peers must hear (see
//! `cluster/prelude.lua` for the layout). So:
//! - a signal to a peer on this relay goes straight to it; to one elsewhere, a script looks up its relay and
//!   publishes the signal to it;
//! - the relay a peer joins or leaves through tells its own peers at once, and the script tells the other relays;
//! - a peer resuming through another relay takes its place over; its old relay is told, closes the old connection
//!   and passes on what it held for it;
//! - every second each relay runs a sync script: its heartbeat, the repair of what Redis lost, and the removal of
//!   peers whose grace period ended or whose relay went silent for longer than the grace period.
//!
//! Redis being unreachable never closes a connection: signals between peers on the same relay still flow, joins
//! are refused with `unavailable`, `/healthz` says so, and everything resumes when Redis is back.
//!
//! Nothing that arrives on a relay's channel is believed unless it is sealed with the cluster secret
//! (`--cluster-secret`): see [`seal`] for what is covered, and why scripts seal some envelopes themselves. With a
//! `rediss://` URL the relay talks to Redis over TLS (`--redis-ca-file` names a private CA to trust).

pub mod seal;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;
use huddle_common::{DisplayName, LeaveReason, PeerId, PeerInfo, RoomId};
use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSub};
use redis::{FromRedisValue, Script, ScriptInvocation};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify};

use crate::config::Config;
use crate::registry::{ConnId, Decision, Held, JoinError, JoinRequest, RegistryHandle};
use seal::{ClusterKey, DropCounts, Dropped, Opener, Scheme, ShortSecret};

/// The longest any one Redis operation may take before it counts as Redis being unreachable.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(2);
/// How often each relay runs its sync script (heartbeat, repair, expiry).
const SYNC_PERIOD: Duration = Duration::from_secs(1);
/// Longest wait between two attempts to subscribe again.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(2);

/// Redis did not answer (or not in time); the operation may or may not have happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Redis is unreachable")]
pub struct Unreachable;

/// Why a relay cannot share rooms through Redis with its configuration.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The Redis URL is malformed (or names TLS options the relay cannot honour).
    #[error("--redis-url: {0}")]
    Url(#[source] redis::RedisError),
    /// No cluster secret.
    #[error("--redis-url needs --cluster-secret, the same on every relay, to tell their messages from forgeries")]
    NoSecret,
    /// A cluster secret too short to be a key.
    #[error("--cluster-secret: {0}")]
    ShortSecret(#[from] ShortSecret),
    /// The CA file cannot be read.
    #[error("--redis-ca-file {}: {error}", path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        error: std::io::Error,
    },
}

/// What one relay publishes to another (on the receiving relay's channel), sealed (see [`seal`]). `left` is
/// written by the Lua scripts, in `cluster/prelude.lua`.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Envelope {
    /// A serialized server message for one peer of the receiving relay, from `from`.
    Deliver { room: RoomId, to: PeerId, from: PeerId, text: String },
    /// Someone joined the room through another relay.
    Joined { room: RoomId, peer: PeerInfo },
    /// Someone is no longer in the room.
    Left { room: RoomId, peer: PeerId, reason: LeaveReason },
    /// A peer of the receiving relay resumed through relay `by`.
    TakenOver { room: RoomId, peer: PeerId, by: String },
}

struct Scripts {
    join: Script,
    signal: Script,
    leave: Script,
    disconnect: Script,
    sync: Script,
}

macro_rules! script {
    ($file:literal) => {
        Script::new(concat!(include_str!("cluster/prelude.lua"), include_str!(concat!("cluster/", $file))))
    };
}

impl Scripts {
    fn new() -> Self {
        Scripts {
            join: script!("join.lua"),
            signal: script!("signal.lua"),
            leave: script!("leave.lua"),
            disconnect: script!("disconnect.lua"),
            sync: script!("sync.lua"),
        }
    }
}

/// This relay's link to the others through Redis.
pub struct Cluster {
    id: String,
    prefix: String,
    client: redis::Client,
    connection: ConnectionManager,
    scripts: Scripts,
    key: ClusterKey,
    dropped: DropCounts,
    capacity: u32,
    grace: Duration,
    room_ttl: Duration,
    subscribed: AtomicBool,
    reachable: AtomicBool,
    /// The next sync also puts back what Redis lost (set whenever the subscription is new).
    repair: AtomicBool,
    sync_now: Notify,
    errors: AtomicU64,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("id", &self.id).field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl Cluster {
    /// A cluster link for Redis at `url` (not connected yet: see [`Cluster::spawn`]), sealing with
    /// `--cluster-secret`; keys and channels are named under `--redis-prefix`.
    pub fn new(url: &str, config: &Config) -> Result<Self, SetupError> {
        let secret = config.cluster_secret.as_deref().ok_or(SetupError::NoSecret)?;
        let key = ClusterKey::new(secret.as_bytes())?;
        let client = match &config.redis_ca_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|error| SetupError::CaFile { path: path.clone(), error })?;
                let certificates = redis::TlsCertificates { client_tls: None, root_cert: Some(pem) };
                redis::Client::build_with_tls(url, certificates)
            }
            None => redis::Client::open(url),
        }
        .map_err(SetupError::Url)?;
        let (prefix, capacity, grace) = (&config.redis_prefix, config.room_capacity, config.rejoin_grace);
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(OPERATION_TIMEOUT))
            .set_response_timeout(Some(OPERATION_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), manager).map_err(SetupError::Url)?;
        let mut id = [0u8; 8];
        getrandom::getrandom(&mut id).expect("the OS random source is available");
        Ok(Cluster {
            id: id.iter().map(|byte| format!("{byte:02x}")).collect(),
            prefix: prefix.to_owned(),
            client,
            connection,
            scripts: Scripts::new(),
            key,
            dropped: DropCounts::default(),
            capacity,
            grace,
            // Rooms outlive a relay that died by this much at most, even if no other relay ever cleans up.
            room_ttl: grace + Duration::from_secs(30),
            subscribed: AtomicBool::new(false),
            // Assumed until the first sync says otherwise (the subscription gates health meanwhile), so that the
            // first failure is reported.
            reachable: AtomicBool::new(true),
            repair: AtomicBool::new(true),
            sync_now: Notify::new(),
            errors: AtomicU64::new(0),
        })
    }

    /// This relay's id among the others (random per process).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether this relay is subscribed to its channel and its last sync reached Redis.
    pub fn is_healthy(&self) -> bool {
        self.subscribed.load(Ordering::Acquire) && self.reachable.load(Ordering::Acquire)
    }

    /// Redis operations that failed or timed out since start.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Envelopes dropped since start, by reason.
    pub fn dropped(&self) -> [(Dropped, u64); Dropped::ALL.len()] {
        self.dropped.snapshot()
    }

    /// A call of `script` with the arguments every script starts with (see `cluster/prelude.lua`).
    fn invocation<'a>(&self, script: &'a Script) -> ScriptInvocation<'a> {
        let (inner_pad, outer_pad) = self.key.pads();
        let mut invocation = script.prepare_invoke();
        invocation.arg(&self.prefix).arg(inner_pad).arg(outer_pad);
        invocation
    }

    /// Starts listening on this relay's channel, handing what arrives to `registry`, and syncing what `registry`
    /// holds, until `shutdown` turns true (or its sender is dropped with the rest of the relay).
    pub fn spawn(self: &Arc<Self>, registry: RegistryHandle, shutdown: watch::Receiver<bool>) {
        tracing::info!(relay = %self.id, prefix = %self.prefix, "sharing rooms through Redis");
        tokio::spawn(Arc::clone(self).listen(registry.clone(), shutdown.clone()));
        tokio::spawn(Arc::clone(self).keep_in_sync(registry, shutdown));
    }

    /// Asks Redis to admit `request` (joined through connection `conn`).
    pub async fn join(&self, request: &JoinRequest, conn: ConnId) -> Result<Decision, JoinError> {
        if !self.subscribed.load(Ordering::Acquire) {
            // Without the subscription nothing could reach the newcomer from other relays.
            return Err(JoinError::Unavailable);
        }
        let info = PeerInfo { id: request.peer_id.clone(), name: request.name.clone() };
        let joined = Envelope::Joined { room: request.room.clone(), peer: info };
        let taken_over =
            Envelope::TakenOver { room: request.room.clone(), peer: request.peer_id.clone(), by: self.id.clone() };
        let mut invocation = self.invocation(&self.scripts.join);
        invocation
            .arg(request.room.as_str())
            .arg(request.peer_id.as_str())
            .arg(&self.id)
            .arg(conn)
            .arg(request.name.as_str())
            .arg(crate::names::uniqueness_key(&request.name))
            .arg(self.capacity)
            .arg(request.resume.map(|claim| claim.nonce.to_hex()).unwrap_or_default())
            .arg(request.nonce.to_hex())
            .arg(millis(self.room_ttl))
            .arg(encode(&joined))
            .arg(encode(&taken_over));
        let (outcome, others): (String, Vec<String>) =
            self.run(&invocation).await.map_err(|Unreachable| JoinError::Unavailable)?;
        match outcome.as_str() {
            "joined" | "resumed" => Ok(Decision { resumed: outcome == "resumed", peers: peer_infos(&others) }),
            "full" => Err(JoinError::RoomFull(self.capacity as usize)),
            "taken" => Err(JoinError::NameTaken),
            "invalid_resume" => Err(JoinError::InvalidResume),
            other => {
                tracing::error!(outcome = other, "the join script answered something unexpected");
                Err(JoinError::Unavailable)
            }
        }
    }

    /// Passes a serialized message from `from` to `to`, a peer of `room` on another relay. Returns false when
    /// Redis lists either of them in no such room.
    pub async fn signal(&self, room: &RoomId, from: &PeerId, to: &PeerId, text: &str) -> Result<bool, Unreachable> {
        let envelope =
            Envelope::Deliver { room: room.clone(), to: to.clone(), from: from.clone(), text: text.to_owned() };
        // Only the script learns which relay holds `to`: sealed for whichever does.
        let sealed = self.key.seal_content(None, SystemTime::now(), &encode(&envelope));
        let mut invocation = self.invocation(&self.scripts.signal);
        invocation.arg(room.as_str()).arg(from.as_str()).arg(to.as_str()).arg(sealed);
        let delivered: i64 = self.run(&invocation).await?;
        Ok(delivered == 1)
    }

    /// Removes `peer` if this relay still holds it through `conn` (with `only_if_away`, only if its grace period
    /// is running) and tells the other relays. Returns whether it was removed.
    pub async fn leave(
        &self,
        room: &RoomId,
        peer: &PeerId,
        conn: ConnId,
        reason: LeaveReason,
        only_if_away: bool,
    ) -> Result<bool, Unreachable> {
        let reason = match reason {
            LeaveReason::Left => "left",
            LeaveReason::Disconnected => "disconnected",
        };
        let mut invocation = self.invocation(&self.scripts.leave);
        self.held_peer(&mut invocation, room, peer, conn).arg(reason).arg(u8::from(only_if_away));
        let removed: i64 = self.run(&invocation).await?;
        Ok(removed == 1)
    }

    /// Starts the grace period of `peer`, whose connection `conn` dropped.
    pub async fn disconnect(&self, room: &RoomId, peer: &PeerId, conn: ConnId) -> Result<(), Unreachable> {
        let mut invocation = self.invocation(&self.scripts.disconnect);
        self.held_peer(&mut invocation, room, peer, conn).arg(millis(self.grace));
        let _: i64 = self.run(&invocation).await?;
        Ok(())
    }

    /// The arguments that name a peer this relay holds through `conn`, as `leave.lua` and `disconnect.lua` take them.
    fn held_peer<'a, 'b>(
        &self,
        invocation: &'b mut ScriptInvocation<'a>,
        room: &RoomId,
        peer: &PeerId,
        conn: ConnId,
    ) -> &'b mut ScriptInvocation<'a> {
        invocation.arg(room.as_str()).arg(peer.as_str()).arg(&self.id).arg(conn)
    }

    async fn run<T: FromRedisValue>(&self, invocation: &ScriptInvocation<'_>) -> Result<T, Unreachable> {
        let mut connection = self.connection.clone();
        self.bounded(invocation.invoke_async(&mut connection)).await
    }

    /// Waits for a Redis operation at most [`OPERATION_TIMEOUT`]; a failure counts as Redis being unreachable.
    async fn bounded<T>(&self, operation: impl Future<Output = redis::RedisResult<T>>) -> Result<T, Unreachable> {
        match tokio::time::timeout(OPERATION_TIMEOUT, operation).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                self.failed(&error);
                Err(Unreachable)
            }
            Err(_) => {
                self.failed(&"no answer in time");
                Err(Unreachable)
            }
        }
    }

    fn failed(&self, error: &dyn std::fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if self.reachable.swap(false, Ordering::AcqRel) {
            tracing::warn!(%error, "Redis is unreachable; calls go on, joins are refused until it is back");
        } else {
            tracing::debug!(%error, "Redis operation failed");
        }
    }

    /// The channel of `relay`, named as `channel()` in `cluster/prelude.lua` names it.
    fn channel(&self, relay: &str) -> String {
        format!("{}:relay:{relay}", self.prefix)
    }

    /// Publishes a `deliver` to `relay`, sealed for it.
    async fn publish(&self, relay: &str, envelope: &Envelope) -> Result<(), Unreachable> {
        let mut connection = self.connection.clone();
        let mut command = redis::cmd("PUBLISH");
        command.arg(self.channel(relay)).arg(self.key.seal_content(Some(relay), SystemTime::now(), &encode(envelope)));
        self.bounded(command.query_async::<i64>(&mut connection)).await.map(drop)
    }

    /// Subscribes to this relay's channel and hands every envelope to the registry; subscribes again whenever the
    /// connection is lost.
    async fn listen(self: Arc<Self>, registry: RegistryHandle, mut shutdown: watch::Receiver<bool>) {
        let channel = self.channel(&self.id);
        let mut opener = Opener::new(self.key.clone(), &self.id);
        let mut delay = Duration::from_millis(100);
        loop {
            let subscription = tokio::time::timeout(OPERATION_TIMEOUT, async {
                let mut pubsub: PubSub = self.client.get_async_pubsub().await?;
                pubsub.subscribe(&channel).await?;
                redis::RedisResult::Ok(pubsub)
            });
            let attempt = tokio::select! {
                attempt = subscription => attempt,
                _ = shutdown.wait_for(|down| *down) => return,
            };
            match attempt {
                Ok(Ok(mut pubsub)) => {
                    delay = Duration::from_millis(100);
                    self.subscribed.store(true, Ordering::Release);
                    self.repair.store(true, Ordering::Release);
                    self.sync_now.notify_one();
                    tracing::info!(relay = %self.id, "subscribed to Redis");
                    let mut messages = pubsub.on_message();
                    loop {
                        let message = tokio::select! {
                            message = messages.next() => message,
                            _ = shutdown.wait_for(|down| *down) => return,
                        };
                        let Some(message) = message else { break };
                        self.on_envelope(&registry, &mut opener, message.get_payload_bytes());
                    }
                    self.subscribed.store(false, Ordering::Release);
                    self.failed(&"the subscription connection closed");
                }
                Ok(Err(error)) => self.failed(&error),
                Err(_) => self.failed(&"no answer in time"),
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.wait_for(|down| *down) => return,
            }
            delay = (delay * 2).min(MAX_RETRY_DELAY);
        }
    }

    fn on_envelope(self: &Arc<Self>, registry: &RegistryHandle, opener: &mut Opener, payload: &[u8]) {
        let envelope = opener.open(payload, SystemTime::now()).and_then(|(scheme, body)| {
            let envelope = serde_json::from_str::<Envelope>(body).map_err(|_| Dropped::Unreadable)?;
            // A peer's words come only under the content key; membership news only from the scripts.
            match (scheme, &envelope) {
                (Scheme::Content, Envelope::Deliver { .. }) => Ok(envelope),
                (Scheme::Membership, Envelope::Joined { .. } | Envelope::Left { .. } | Envelope::TakenOver { .. }) => {
                    Ok(envelope)
                }
                _ => Err(Dropped::Unreadable),
            }
        });
        let envelope = match envelope {
            Ok(envelope) => envelope,
            Err(reason) => {
                let count = self.dropped.count(reason);
                // Logged at the first and then at every doubling, so that a flood of forgeries cannot flood the log.
                if count.is_power_of_two() {
                    tracing::warn!(%reason, count, "dropped a message from Redis (see huddle_redis_dropped_total)");
                }
                return;
            }
        };
        match envelope {
            Envelope::Deliver { room, to, from, text } => {
                registry.lock().deliver_forwarded(&room, &from, &to, text.into());
            }
            Envelope::Joined { room, peer } => registry.lock().announce_joined(&room, peer),
            Envelope::Left { room, peer, reason } => registry.lock().announce_left(&room, &peer, reason),
            Envelope::TakenOver { room, peer, by } => {
                let held = registry.lock().hand_over(&room, &peer);
                if held.is_empty() {
                    return;
                }
                // What this relay held for the peer while it was away follows it to its new relay, in order.
                let cluster = Arc::clone(self);
                tokio::spawn(async move {
                    for (from, text) in held {
                        let envelope =
                            Envelope::Deliver { room: room.clone(), to: peer.clone(), from, text: text.to_string() };
                        if cluster.publish(&by, &envelope).await.is_err() {
                            break;
                        }
                    }
                });
            }
        }
    }

    /// Runs the sync script every [`SYNC_PERIOD`], and at once after each new subscription.
    async fn keep_in_sync(self: Arc<Self>, registry: RegistryHandle, mut shutdown: watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(SYNC_PERIOD);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut strays = Vec::new();
        // Other relays are judged silent only by a relay that has been reaching Redis for a whole grace period,
        // so that everyone has had time to send a heartbeat after an outage.
        let mut reaching_since: Option<Instant> = None;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = self.sync_now.notified() => {}
                _ = shutdown.wait_for(|down| *down) => return,
            }
            let held = registry.lock().held(Instant::now());
            let repair = self.repair.swap(false, Ordering::AcqRel);
            let judge = self.subscribed.load(Ordering::Acquire)
                && reaching_since.is_some_and(|since| since.elapsed() >= self.grace);
            match self.sync(&held, repair, judge, &strays).await {
                Ok(found) => {
                    if !self.reachable.swap(true, Ordering::AcqRel) {
                        tracing::info!(relay = %self.id, "Redis is reachable");
                    }
                    reaching_since.get_or_insert_with(Instant::now);
                    strays = found;
                }
                Err(Unreachable) => {
                    reaching_since = None;
                    strays.clear();
                    if repair {
                        self.repair.store(true, Ordering::Release);
                    }
                }
            }
        }
    }

    /// One run of `sync.lua`; returns the strays it found.
    async fn sync(
        &self,
        held: &[Held],
        repair: bool,
        judge: bool,
        strays: &[String],
    ) -> Result<Vec<String>, Unreachable> {
        let mut invocation = self.invocation(&self.scripts.sync);
        let dead_after = if judge { millis(self.grace) } else { 0 };
        invocation.arg(&self.id).arg(millis(self.room_ttl)).arg(dead_after).arg(u8::from(repair)).arg(held.len());
        for peer in held {
            invocation
                .arg(peer.room.as_str())
                .arg(peer.peer.as_str())
                .arg(peer.conn)
                .arg(peer.name.as_str())
                .arg(&peer.name_key)
                .arg(peer.nonce.to_hex())
                .arg(millis(peer.grace_left));
        }
        for stray in strays {
            invocation.arg(stray);
        }
        let (removed, found): (i64, Vec<String>) = self.run(&invocation).await?;
        if removed > 0 {
            tracing::info!(removed, "removed peers whose grace period ended or whose relay went silent");
        }
        Ok(found)
    }
}

fn encode(envelope: &Envelope) -> String {
    serde_json::to_string(envelope).expect("envelopes always serialize")
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Pairs of id and name from a script's reply; anything unreadable is skipped (the scripts only store validated
/// values).
fn peer_infos(flat: &[String]) -> Vec<PeerInfo> {
    flat.chunks_exact(2)
        .filter_map(|pair| {
            let name = DisplayName::parse(&pair[1]).ok()?;
            Some(PeerInfo { id: PeerId::from(pair[0].as_str()), name })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_and_match_what_the_scripts_write() {
        let room = RoomId::from_random([7; 16]);
        let left = format!(r#"{{"kind":"left","room":"{room}","peer":"abc","reason":"disconnected"}}"#);
        let parsed: Envelope = serde_json::from_str(&left).unwrap();
        assert_eq!(
            parsed,
            Envelope::Left { room: room.clone(), peer: PeerId::from("abc"), reason: LeaveReason::Disconnected }
        );
        let deliver =
            Envelope::Deliver { room, to: PeerId::from("a"), from: PeerId::from("b"), text: r#"{"x":"y"}"#.into() };
        assert_eq!(serde_json::from_str::<Envelope>(&encode(&deliver)).unwrap(), deliver);
    }

    #[test]
    fn peer_lists_from_scripts_are_read_in_pairs() {
        let flat = ["p1", "Ada", "p2", "Bob", "odd"].map(String::from);
        let infos = peer_infos(&flat);
        assert_eq!(
            infos.iter().map(|info| (info.id.as_str(), info.name.as_str())).collect::<Vec<_>>(),
            [("p1", "Ada"), ("p2", "Bob")]
        );
    }
}
