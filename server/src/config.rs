//! The relay's configuration: every flag can also be set from the environment.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::static_host::StaticHost;

/// The largest room `--room-capacity` allows: what the SPA's adaptation carries in a full mesh on a 1 Mbit/s uplink
/// and a modest laptop (docs/BENCHMARKS.md, "Room capacity").
pub const MAX_ROOM_CAPACITY: u32 = 6;

/// Huddle's signaling relay: passes WebRTC negotiation between the peers of a room over WebSockets, and can serve
/// the built SPA. Media and chat never pass through it.
#[derive(Clone, Debug, Parser)]
#[command(name = "huddle-server", version, about, long_about = None)]
pub struct Config {
    /// Address to listen on. Use 0.0.0.0 (or ::) to accept connections from other hosts.
    #[arg(long, env = "HUDDLE_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Port to listen on (PaaS convention: PORT); 0 picks a free one.
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,

    /// Also serve the built SPA from this directory, precompressed and cached by kind of file, and /config.json;
    /// a path that names no file gets index.html, unless it ends in an asset's extension (a 404).
    #[arg(long, env = "HUDDLE_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,

    /// The relay's public WebSocket URL written into /config.json (e.g. wss://relay.example.com/ws), its origin
    /// allowed by the page's Content-Security-Policy. Unset: the SPA connects to /ws on the origin it was loaded from.
    #[arg(long, env = "HUDDLE_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Browser origins allowed to open a WebSocket (repeat, or comma-separate in the environment).
    /// None given: every origin is allowed.
    #[arg(long = "allowed-origin", env = "HUDDLE_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Most people in one room (at most 6: in a full mesh everyone sends their media to every other person, and
    /// beyond that a modest uplink and laptop cannot carry it; docs/BENCHMARKS.md, "Room capacity").
    #[arg(long, env = "HUDDLE_ROOM_CAPACITY", default_value_t = 4, value_parser = clap::value_parser!(u32).range(2..=MAX_ROOM_CAPACITY as i64))]
    pub room_capacity: u32,

    /// Most WebSocket connections open at once; more are refused with 503 at upgrade.
    #[arg(long, env = "HUDDLE_MAX_CONNECTIONS", default_value_t = 20_000)]
    pub max_connections: usize,

    /// Most WebSocket connections open at once from one client address (an IPv6 address counts by its /64); more
    /// are refused with 429 at upgrade.
    #[arg(long, env = "HUDDLE_MAX_CONNECTIONS_PER_IP", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_ip: u32,

    /// Joins a minute one client address may make on average; past it (and the burst), `join_rate_limited`.
    #[arg(long, env = "HUDDLE_JOIN_RATE_PER_IP", default_value_t = 60)]
    pub join_rate_per_ip: u32,

    /// Joins one client address may make at once, above the average.
    #[arg(long, env = "HUDDLE_JOIN_BURST_PER_IP", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub join_burst_per_ip: u32,

    /// A WebSocket that has not joined a room this long after its upgrade is closed with 4003.
    #[arg(long, env = "HUDDLE_JOIN_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    pub join_timeout: Duration,

    /// Time a client has to send a request's headers (and an idle kept-alive connection waits for the next
    /// request) before its connection is closed.
    #[arg(long, env = "HUDDLE_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    pub header_read_timeout: Duration,

    /// Most TCP connections open at once and not upgraded to a WebSocket (still speaking HTTP); more are answered
    /// 503 and closed at accept.
    #[arg(long, env = "HUDDLE_MAX_HTTP_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_http_connections: u64,

    /// Most of those from one client address (trusted proxies are exempt).
    #[arg(long, env = "HUDDLE_MAX_HTTP_CONNECTIONS_PER_IP", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_http_connections_per_ip: u32,

    /// A proxy or load balancer (address or network, e.g. 10.0.0.5 or 10.0.0.0/24; repeatable, or comma-separate in
    /// the environment) whose X-Forwarded-For is believed: the client is the right-most address in it that is not
    /// a trusted proxy. None given: X-Forwarded-For is ignored and the client is the TCP peer.
    #[arg(long = "trusted-proxy", env = "HUDDLE_TRUSTED_PROXIES", value_delimiter = ',', value_parser = crate::client_addr::parse_proxy)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Largest accepted message, in bytes; a larger frame closes the connection with 1009.
    #[arg(long, env = "HUDDLE_MAX_MESSAGE_BYTES", default_value_t = huddle_common::MAX_MESSAGE_BYTES)]
    pub max_message_bytes: usize,

    /// Messages per second a connection may send on average.
    #[arg(long, env = "HUDDLE_RATE_LIMIT_PER_SEC", default_value_t = 50)]
    pub rate_limit_per_sec: u32,

    /// Messages a connection may send in a burst above the average.
    #[arg(long, env = "HUDDLE_RATE_LIMIT_BURST", default_value_t = 200)]
    pub rate_limit_burst: u32,

    /// Consecutive messages dropped by the rate limit before the connection is closed with 1008.
    #[arg(long, env = "HUDDLE_RATE_LIMIT_CLOSE_AFTER", default_value_t = 100)]
    pub rate_limit_close_after: u32,

    /// Bytes a second the relay reads from one connection on average. A client that sends faster (past the
    /// burst) is not read from until it is back within the rate: its sends wait, nothing is dropped.
    #[arg(long, env = "HUDDLE_READ_BYTES_PER_SEC", default_value_t = 256 << 10, value_parser = clap::value_parser!(u32).range(1024..))]
    pub read_bytes_per_sec: u32,

    /// Bytes the relay reads from one connection at once, above the average (a person joining a room of 4 sends
    /// about 20 KB of offers and candidates).
    #[arg(long, env = "HUDDLE_READ_BURST_BYTES", default_value_t = 256 << 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub read_burst_bytes: u32,

    /// Messages waiting to be sent to one connection; a client that falls further behind is disconnected.
    #[arg(long, env = "HUDDLE_QUEUE_CAPACITY", default_value_t = 256)]
    pub queue_capacity: usize,

    /// Bytes waiting to be sent to one connection (or held for one peer within its grace period); a client that
    /// falls further behind is disconnected (4000).
    #[arg(long, env = "HUDDLE_QUEUE_BYTES", default_value_t = 1 << 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub queue_bytes: u64,

    /// Bytes waiting to be sent (or held) for all connections together. Past three quarters of it new joins are
    /// refused (`overloaded`); a message that would pass it is not queued and its receiver is disconnected (4000).
    #[arg(long, env = "HUDDLE_QUEUE_BUDGET", default_value_t = 256 << 20, value_parser = clap::value_parser!(u64).range(4..))]
    pub queue_budget: u64,

    /// A write to a connection's socket that makes no headway for this long (the client stopped reading) drops it.
    #[arg(long, env = "HUDDLE_WRITE_TIMEOUT", default_value = "5s", value_parser = positive_duration)]
    pub write_timeout: Duration,

    /// How often the relay pings each connection.
    #[arg(long, env = "HUDDLE_HEARTBEAT_INTERVAL", default_value = "15s", value_parser = positive_duration)]
    pub heartbeat_interval: Duration,

    /// A connection silent for this long (no message, no pong) is dropped.
    #[arg(long, env = "HUDDLE_HEARTBEAT_TIMEOUT", default_value = "45s", value_parser = positive_duration)]
    pub heartbeat_timeout: Duration,

    /// How long a peer whose connection dropped stays in its room, waiting to resume, before the others are told.
    #[arg(long, env = "HUDDLE_REJOIN_GRACE", default_value = "15s", value_parser = humantime::parse_duration)]
    pub rejoin_grace: Duration,

    /// Secret keying resume tokens (at least 32 bytes). Set it (and share it between relays) so a peer can resume
    /// after a restart. Unset: a random secret per process.
    #[arg(long, env = "HUDDLE_RESUME_SECRET", hide_env_values = true, value_parser = long_secret)]
    pub resume_secret: Option<String>,

    /// How long a resume token stays valid after it was issued (at a join or resume): a call longer than this
    /// whose connection drops comes back as a new arrival.
    #[arg(long, env = "HUDDLE_RESUME_TTL", default_value = "24h", value_parser = positive_duration)]
    pub resume_ttl: Duration,

    /// STUN server URL handed to clients (repeatable). None by default: no public server is ever assumed.
    #[arg(long = "stun-url", env = "HUDDLE_STUN_URLS", value_delimiter = ',')]
    pub stun_urls: Vec<String>,

    /// TURN server URL handed to clients with credentials (repeatable; needs --turn-secret).
    #[arg(long = "turn-url", env = "HUDDLE_TURN_URLS", value_delimiter = ',', requires = "turn_secret")]
    pub turn_urls: Vec<String>,

    /// Shared secret of the TURN server (coturn: use-auth-secret, static-auth-secret).
    #[arg(long, env = "HUDDLE_TURN_SECRET", hide_env_values = true, requires = "turn_urls")]
    pub turn_secret: Option<String>,

    /// How long TURN credentials stay valid; joined clients get fresh ones at two thirds of it (`ice_servers`).
    #[arg(long, env = "HUDDLE_TURN_TTL", default_value = "10m", value_parser = positive_duration)]
    pub turn_ttl: Duration,

    /// Which ICE candidates clients may use; `relay` sends every call through the TURN server (needs --turn-url).
    #[arg(long, env = "HUDDLE_ICE_TRANSPORT_POLICY", value_enum, default_value_t = IcePolicy::All, requires_if("relay", "turn_urls"))]
    pub ice_transport_policy: IcePolicy,

    /// Share rooms with other relays through this Redis (e.g. redis://127.0.0.1:6379/0, or rediss:// for TLS;
    /// redis://user:password@host for an ACL user); needs --cluster-secret. Unset: rooms live in this process only.
    #[arg(long, env = "HUDDLE_REDIS_URL", hide_env_values = true, requires = "cluster_secret")]
    pub redis_url: Option<String>,

    /// Secret shared by every relay of a cluster (at least 32 bytes): seals the messages relays pass each other
    /// through Redis, so that nothing else that can publish there is believed.
    #[arg(long, env = "HUDDLE_CLUSTER_SECRET", hide_env_values = true, value_parser = long_secret)]
    pub cluster_secret: Option<String>,

    /// With a rediss:// URL, trust this CA (PEM) for Redis' certificate instead of the system's roots.
    #[arg(long, env = "HUDDLE_REDIS_CA_FILE")]
    pub redis_ca_file: Option<PathBuf>,

    /// Prefix of every Redis key and channel; relays sharing rooms must use the same one.
    #[arg(long, env = "HUDDLE_REDIS_PREFIX", default_value = "huddle")]
    pub redis_prefix: String,

    /// Log format.
    #[arg(long, env = "HUDDLE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,

    /// Print the headers a static host must send to serve --static-dir as the relay does (nginx location blocks,
    /// or a _headers file for Netlify and Cloudflare Pages), with --public-url's relay in the policy, and exit.
    // No environment variable: one left set in a deployment would turn the relay into a one-shot printer.
    #[arg(long, value_enum, value_name = "HOST", requires = "static_dir")]
    pub print_headers: Option<StaticHost>,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// For people at a terminal.
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Which ICE candidates clients may use (`RTCConfiguration.iceTransportPolicy`, sent in `joined`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum IcePolicy {
    /// Any: direct paths when they work, the TURN server when they do not.
    All,
    /// TURN relay only: media always goes through the TURN server; peers never see each other's addresses.
    Relay,
}

/// A duration such as `15s` or `12h`, refused when zero: a zero ping period, silence limit or credential lifetime
/// would make every connection fail rather than mean "none".
fn positive_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(duration) if duration.is_zero() => Err("must be longer than zero".to_owned()),
        Ok(duration) => Ok(duration),
        Err(error) => Err(error.to_string()),
    }
}

/// A secret used as a key (`--cluster-secret`, `--resume-secret`): at least 32 bytes.
fn long_secret(text: &str) -> Result<String, String> {
    let min = crate::cluster::seal::MIN_SECRET_BYTES.max(crate::resume::MIN_SECRET_BYTES);
    if text.len() < min {
        return Err(format!(
            "must be at least {min} bytes long (it has {}); `openssl rand -base64 32` makes one",
            text.len()
        ));
    }
    Ok(text.to_owned())
}

impl Config {
    /// The defaults, as if started with no flags and an empty environment (for tests and embedding).
    pub fn defaults() -> Self {
        Config::parse_from(["huddle-server"])
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_configuration_reference_documents_every_flag_and_its_variable() {
        let reference = include_str!("../../docs/CONFIG.md");
        for arg in Config::command().get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if matches!(long, "help" | "version") {
                continue;
            }
            assert!(reference.contains(&format!("| `--{long}` |")), "docs/CONFIG.md lacks --{long}");
            if let Some(env) = arg.get_env() {
                let env = env.to_string_lossy();
                assert!(reference.contains(&format!("| `{env}` |")), "docs/CONFIG.md lacks {env} for --{long}");
            }
        }
    }

    #[test]
    fn a_relay_only_policy_needs_a_turn_server() {
        let refused = Config::try_parse_from(["huddle-server", "--ice-transport-policy", "relay"]).unwrap_err();
        assert_eq!(refused.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        assert!(refused.to_string().contains("--turn-url"), "{refused}");
        let config = Config::try_parse_from([
            "huddle-server",
            "--ice-transport-policy",
            "relay",
            "--turn-url",
            "turn:127.0.0.1:3478",
            "--turn-secret",
            "s3cret",
        ])
        .unwrap();
        assert_eq!(config.ice_transport_policy, IcePolicy::Relay);
        let wrong = Config::try_parse_from(["huddle-server", "--ice-transport-policy", "none"]).unwrap_err();
        assert_eq!(wrong.kind(), clap::error::ErrorKind::InvalidValue);
    }

    #[test]
    fn periods_and_lifetimes_must_be_longer_than_zero() {
        for flag in [
            "--heartbeat-interval",
            "--heartbeat-timeout",
            "--turn-ttl",
            "--resume-ttl",
            "--join-timeout",
            "--header-read-timeout",
            "--write-timeout",
        ] {
            let refused = Config::try_parse_from(["huddle-server", flag, "0s"]).unwrap_err();
            assert_eq!(refused.kind(), clap::error::ErrorKind::ValueValidation, "{flag}");
            assert!(refused.to_string().contains("must be longer than zero"), "{refused}");
            let garbled = Config::try_parse_from(["huddle-server", flag, "soon"]).unwrap_err();
            assert_eq!(garbled.kind(), clap::error::ErrorKind::ValueValidation, "{flag}");
        }
        let config = Config::try_parse_from(["huddle-server", "--heartbeat-interval", "500ms", "--turn-ttl", "1s"]);
        let config = config.unwrap();
        assert_eq!(config.heartbeat_interval, Duration::from_millis(500));
        assert_eq!(config.turn_ttl, Duration::from_secs(1));
    }

    #[test]
    fn sharing_rooms_through_redis_needs_a_long_cluster_secret() {
        let url = ["huddle-server", "--redis-url", "redis://127.0.0.1:6379/0"];
        let refused = Config::try_parse_from(url).unwrap_err();
        assert_eq!(refused.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        assert!(refused.to_string().contains("--cluster-secret"), "{refused}");
        let short = Config::try_parse_from([&url[..], &["--cluster-secret", "too short"]].concat()).unwrap_err();
        assert_eq!(short.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(short.to_string().contains("at least 32 bytes"), "{short}");
        let secret = "x".repeat(32);
        let config = Config::try_parse_from([&url[..], &["--cluster-secret", &secret]].concat()).unwrap();
        assert_eq!(config.cluster_secret.as_deref(), Some(secret.as_str()));
    }

    #[test]
    fn a_resume_secret_must_be_long() {
        let short = Config::try_parse_from(["huddle-server", "--resume-secret", "hunter2"]).unwrap_err();
        assert_eq!(short.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(short.to_string().contains("at least 32 bytes"), "{short}");
        let secret = "y".repeat(32);
        let config = Config::try_parse_from(["huddle-server", "--resume-secret", &secret]).unwrap();
        assert_eq!(config.resume_secret.as_deref(), Some(secret.as_str()));
        assert_eq!(Config::defaults().resume_ttl, Duration::from_secs(24 * 3600));
    }

    #[test]
    fn defaults_are_safe() {
        let config = Config::defaults();
        assert!(config.host.is_loopback(), "binds loopback unless told otherwise");
        assert!(config.stun_urls.is_empty() && config.turn_urls.is_empty(), "no public ICE server by default");
        assert_eq!(config.room_capacity, 4);
        // A full mesh larger than the adaptation carries is refused, with the reason's range.
        let big = Config::try_parse_from(["huddle-server", "--room-capacity", "7"]).unwrap_err().to_string();
        assert!(big.contains("2..=6"), "{big}");
        let largest = Config::try_parse_from(["huddle-server", "--room-capacity", "6"]).unwrap();
        assert_eq!(largest.room_capacity, MAX_ROOM_CAPACITY);
        assert_eq!(config.ice_transport_policy, IcePolicy::All);
        assert!(config.trusted_proxies.is_empty(), "X-Forwarded-For is believed only when asked");
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        let config =
            Config::try_parse_from(["huddle-server", "--trusted-proxy", "10.0.0.5", "--trusted-proxy", "fd00::/8"]);
        let proxies: Vec<String> = config.unwrap().trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(proxies, ["10.0.0.5/32", "fd00::/8"]);
        let refused = Config::try_parse_from(["huddle-server", "--trusted-proxy", "lb.internal"]).unwrap_err();
        assert_eq!(refused.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(refused.to_string().contains("neither an IP address"), "{refused}");
    }
}
