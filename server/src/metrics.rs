//! Counters and gauges, rendered in the Prometheus text format at `/metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use huddle_common::ErrorCode;

use crate::router::ClusterStatus;

/// Why the relay refused something: each error code, plus the refusals that are not an `error` message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// An `error` message with this code was sent.
    Error(ErrorCode),
    /// A frame over the size limit (close 1009).
    TooBig,
    /// Sustained flooding (close 1008).
    Flood,
    /// The outbound queue filled, in messages or bytes (close 4000).
    SlowConsumer,
    /// A message for a client would have taken what the relay holds for all clients past its budget (close 4000).
    QueueBudget,
    /// Writing to a client's socket stalled past the write timeout.
    WriteTimeout,
    /// Nothing arrived within the heartbeat timeout.
    HeartbeatTimeout,
    /// An upgrade from an origin not on the allowlist (403).
    Origin,
    /// An upgrade past the connection limit (503).
    ConnectionLimit,
    /// An upgrade past the per-address connection limit (429).
    AddressConnectionLimit,
    /// A TCP connection past the cap on connections not yet upgraded (503, closed at accept).
    HttpConnectionLimit,
    /// An upgraded connection that did not join within the join timeout (close 4003).
    JoinTimeout,
}

const OTHER_REJECTIONS: [(Rejection, &str); 11] = [
    (Rejection::TooBig, "too_big"),
    (Rejection::Flood, "flood"),
    (Rejection::SlowConsumer, "slow_consumer"),
    (Rejection::QueueBudget, "queue_budget"),
    (Rejection::WriteTimeout, "write_timeout"),
    (Rejection::HeartbeatTimeout, "heartbeat_timeout"),
    (Rejection::Origin, "origin"),
    (Rejection::ConnectionLimit, "connection_limit"),
    (Rejection::AddressConnectionLimit, "ip_connection_limit"),
    (Rejection::HttpConnectionLimit, "http_connection_limit"),
    (Rejection::JoinTimeout, "join_timeout"),
];

/// Everything `/metrics` reports. Lock-free: connection tasks bump these on hot paths.
#[derive(Debug, Default)]
pub struct Metrics {
    /// WebSocket connections open now.
    pub connections: AtomicU64,
    /// WebSocket connections accepted since start.
    pub connections_total: AtomicU64,
    /// Rooms with at least one peer (online or within its grace period).
    pub rooms: AtomicU64,
    /// Peers in rooms, online or within their grace period.
    pub peers: AtomicU64,
    /// Text messages received from clients.
    pub messages_received: AtomicU64,
    /// `signal` messages delivered (or queued for a peer within its grace period).
    pub messages_relayed: AtomicU64,
    /// Bytes of text received from clients.
    pub bytes_received: AtomicU64,
    /// Bytes of text queued to clients.
    pub bytes_sent: AtomicU64,
    /// Times reading from a connection was paused for its read rate (`--read-bytes-per-sec`).
    pub read_pauses: AtomicU64,
    /// TCP connections open and still speaking HTTP (not upgraded to a WebSocket).
    pub http_connections: AtomicU64,
    /// Bytes of messages waiting to be written to clients, or held for peers away or joining, now (see
    /// [`Budget`](crate::backlog::Budget)).
    pub queued_bytes: AtomicU64,
    errors: [AtomicU64; ErrorCode::ALL.len()],
    other_rejections: [AtomicU64; OTHER_REJECTIONS.len()],
}

impl Metrics {
    /// Counts one refusal.
    pub fn reject(&self, rejection: Rejection) {
        self.rejection_counter(rejection).fetch_add(1, Relaxed);
    }

    /// How often this refusal happened.
    pub fn rejections(&self, rejection: Rejection) -> u64 {
        self.rejection_counter(rejection).load(Relaxed)
    }

    fn rejection_counter(&self, rejection: Rejection) -> &AtomicU64 {
        match rejection {
            Rejection::Error(code) => {
                let index = ErrorCode::ALL.iter().position(|c| *c == code).expect("ErrorCode::ALL lists every code");
                &self.errors[index]
            }
            other => {
                let index = OTHER_REJECTIONS.iter().position(|(r, _)| *r == other).expect("listed above");
                &self.other_rejections[index]
            }
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let mut metric = |name: &str, kind: &str, help: &str, value: &AtomicU64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}", value.load(Relaxed));
        };
        metric("huddle_connections", "gauge", "WebSocket connections open now.", &self.connections);
        metric("huddle_connections_total", "counter", "WebSocket connections accepted.", &self.connections_total);
        metric("huddle_rooms", "gauge", "Rooms with at least one peer.", &self.rooms);
        metric("huddle_peers", "gauge", "Peers in rooms, including those within their rejoin grace.", &self.peers);
        metric("huddle_messages_received_total", "counter", "Messages received from clients.", &self.messages_received);
        metric("huddle_messages_relayed_total", "counter", "Signals relayed to their target.", &self.messages_relayed);
        metric("huddle_bytes_received_total", "counter", "Bytes of messages received.", &self.bytes_received);
        metric("huddle_bytes_sent_total", "counter", "Bytes of messages queued to clients.", &self.bytes_sent);
        let pauses = "Times reading from a connection was paused because it sent faster than its read rate.";
        metric("huddle_read_pauses_total", "counter", pauses, &self.read_pauses);
        let http = "TCP connections open and not upgraded to a WebSocket.";
        metric("huddle_http_connections", "gauge", http, &self.http_connections);
        metric(
            "huddle_queued_bytes",
            "gauge",
            "Bytes waiting to be written to clients or held for them.",
            &self.queued_bytes,
        );
        out.push_str("# HELP huddle_rejections_total Refused requests and dropped connections, by reason.\n");
        out.push_str("# TYPE huddle_rejections_total counter\n");
        let reasons = ErrorCode::ALL
            .iter()
            .map(|code| code.as_str())
            .zip(&self.errors)
            .chain(OTHER_REJECTIONS.iter().map(|(_, name)| *name).zip(&self.other_rejections));
        for (reason, count) in reasons {
            let _ = writeln!(out, "huddle_rejections_total{{reason=\"{reason}\"}} {}", count.load(Relaxed));
        }
        out
    }
}

/// The lines `/metrics` adds when rooms are shared through Redis.
pub fn render_cluster(cluster: &ClusterStatus) -> String {
    let mut out = format!(
        "# HELP huddle_redis_up Whether the relay is subscribed to Redis and its last sync reached it.\n\
         # TYPE huddle_redis_up gauge\nhuddle_redis_up {}\n\
         # HELP huddle_redis_errors_total Redis operations that failed or timed out.\n\
         # TYPE huddle_redis_errors_total counter\nhuddle_redis_errors_total {}\n\
         # HELP huddle_redis_dropped_total Messages on this relay's Redis channel dropped, by reason: unauthenticated \
         (no valid cluster-secret tag: a forgery, or a relay with another secret), misdirected, stale, replayed, \
         unreadable.\n\
         # TYPE huddle_redis_dropped_total counter\n",
        u8::from(cluster.healthy),
        cluster.errors
    );
    for (reason, count) in cluster.dropped {
        let _ = writeln!(out, "huddle_redis_dropped_total{{reason=\"{}\"}} {count}", reason.as_str());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_lists_every_rejection_reason_with_its_count() {
        let metrics = Metrics::default();
        metrics.reject(Rejection::Error(ErrorCode::NameTaken));
        metrics.reject(Rejection::Error(ErrorCode::NameTaken));
        metrics.reject(Rejection::SlowConsumer);
        let text = metrics.render();
        assert!(text.contains("huddle_rejections_total{reason=\"name_taken\"} 2\n"), "{text}");
        assert!(text.contains("huddle_rejections_total{reason=\"slow_consumer\"} 1\n"), "{text}");
        assert!(text.contains("huddle_rejections_total{reason=\"room_full\"} 0\n"), "{text}");
        assert!(text.contains("# TYPE huddle_connections gauge\nhuddle_connections 0\n"), "{text}");
    }
}
