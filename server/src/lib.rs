//! Huddle's signaling relay: rooms of peers exchanging WebRTC negotiation messages over WebSockets.
//!
//! The binary (`main.rs`) only parses the configuration and waits for a signal; [`start`] is what tests use too.

#![forbid(unsafe_code)]

mod accept;
pub mod backlog;
pub mod client_addr;
pub mod cluster;
pub mod config;
mod connection;
mod content_coding;
pub mod decode;
pub mod metrics;
pub mod names;
pub mod per_addr;
mod rate_limit;
pub mod registry;
pub mod relay;
pub mod resume;
pub mod room_tag;
pub mod router;
mod routes;
pub mod security_headers;
pub mod static_files;
pub mod static_host;
pub mod turn;
mod upgrade;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use warp::hyper::server::conn::AddrIncoming;
use warp::hyper::service::{make_service_fn, service_fn, Service};
use warp::hyper::{Body, Request, Server};

use accept::{Gate, HttpCaps, HttpConn};
use client_addr::TrustedProxies;
pub use config::{Config, LogFormat};
pub use relay::Relay;
use security_headers::{Policy, SiteHeaders};
use static_files::StaticFiles;

/// A relay listening for connections.
pub struct RunningRelay {
    addr: SocketAddr,
    relay: Arc<Relay>,
    stop_accepting: oneshot::Sender<()>,
    server: JoinHandle<()>,
}

/// Binds and starts serving in the background.
pub async fn start(config: Config) -> std::io::Result<RunningRelay> {
    let invalid = |error: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, error);
    let policy = Policy::new(config.public_url.as_deref()).map_err(|error| invalid(error.to_string()))?;
    let relay = Relay::new(&config).map_err(|error| invalid(error.to_string()))?;
    let site = Arc::new(SiteHeaders::new(policy));
    let files = match &config.static_dir {
        Some(dir) => Some(StaticFiles::new(dir.clone(), Arc::clone(&site)).await),
        None => None,
    };
    let routes = warp::service(routes::routes(Arc::clone(&relay), &config, files));
    let upgrades = upgrade::Upgrades::new(Arc::clone(&relay), &config);
    // `/ws` first, by hand (see `upgrade`); everything else through warp's routes. Every answer, the refusals of
    // `/ws` and warp's own rejections included, then gets the security headers.
    let make_service = make_service_fn(move |conn: &HttpConn| {
        let (routes, upgrades, site) = (routes.clone(), upgrades.clone(), Arc::clone(&site));
        let peer = conn.remote_addr().ip();
        async move {
            Ok::<_, Infallible>(service_fn(move |request: Request<Body>| {
                let (mut routes, upgrades, site) = (routes.clone(), upgrades.clone(), Arc::clone(&site));
                async move {
                    let mut response = if request.uri().path() == upgrade::PATH {
                        upgrades.upgrade(request, peer)
                    } else {
                        routes.call(request).await?
                    };
                    site.secure(&mut response);
                    Ok::<_, Infallible>(response)
                }
            }))
        }
    });
    let bind = |error: warp::hyper::Error| std::io::Error::new(std::io::ErrorKind::AddrInUse, error);
    let mut incoming = AddrIncoming::bind(&SocketAddr::new(config.host, config.port)).map_err(bind)?;
    incoming.set_nodelay(true);
    let addr = incoming.local_addr();
    let caps = HttpCaps::new(
        usize::try_from(config.max_http_connections).unwrap_or(usize::MAX),
        config.max_http_connections_per_ip,
        TrustedProxies::new(&config.trusted_proxies),
        Arc::clone(&relay.metrics),
    );
    let (stop_accepting, stopped) = oneshot::channel::<()>();
    // HTTP/1 only: the relay has no use for cleartext HTTP/2, and a connection that switched to it would escape the
    // header-read timeout.
    let serving = Server::builder(Gate::new(incoming, caps))
        .http1_only(true)
        .http1_header_read_timeout(config.header_read_timeout)
        .serve(make_service)
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        });
    let server = tokio::spawn(async move {
        if let Err(error) = serving.await {
            tracing::error!(%error, "server error");
        }
    });
    Ok(RunningRelay { addr, relay, stop_accepting, server })
}

impl RunningRelay {
    /// The address it listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state, for inspecting metrics in tests.
    pub fn relay(&self) -> &Arc<Relay> {
        &self.relay
    }

    /// Stops accepting, closes every WebSocket with 1001 (going away) and waits for them, at most `timeout`.
    pub async fn shut_down(self, timeout: Duration) {
        let _ = self.stop_accepting.send(());
        self.relay.shut_down(timeout).await;
        let _ = tokio::time::timeout(timeout, self.server).await;
    }
}
