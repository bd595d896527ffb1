//! The WebSocket upgrade of `/ws`, done here over hyper's upgrade rather than by warp's `ws()` filter: warp 0.3
//! brings tungstenite 0.21, whose read buffer per connection is fixed and was the largest part of what an idle
//! connection cost (bench/PROFILE.md). The handshake checks what warp's filter checked (RFC 6455 section 4.2.1), then the
//! origin and the connection limits (the relay's, and the client address's); the socket is then a tungstenite
//! stream with small buffers.

use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine;
use sha1::{Digest, Sha1};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;
use warp::http::{header, HeaderMap, Method, Request, Response, StatusCode};
use warp::hyper::upgrade::Parts;
use warp::hyper::Body;

use crate::accept::HttpConn;
use crate::client_addr::TrustedProxies;
use crate::config::Config;
use crate::connection;
use crate::metrics::Rejection;
use crate::relay::{Refusal, Relay};

/// The path of the WebSocket endpoint.
pub const PATH: &str = "/ws";

/// Bytes read from the socket at a time, and what the read buffer holds while no message is arriving. A message
/// larger than this grows the buffer to its size (see bench/PROFILE.md).
const READ_BUFFER: usize = 512;

/// What `/ws` upgrades need besides the request: the relay and the origins allowed.
#[derive(Clone)]
pub struct Upgrades {
    /// The relay.
    pub relay: Arc<Relay>,
    /// Allowed `Origin`s, without trailing slashes; empty allows any.
    pub allowed_origins: Arc<[String]>,
    /// The proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
}

impl Upgrades {
    /// The upgrades of a relay configured by `config`.
    pub fn new(relay: Arc<Relay>, config: &Config) -> Self {
        let allowed_origins = config.allowed_origins.iter().map(|o| o.trim_end_matches('/').to_owned()).collect();
        Upgrades { relay, allowed_origins, trusted_proxies: TrustedProxies::new(&config.trusted_proxies) }
    }

    /// Answers a request for `/ws` that came from `peer`: 101 and a connection task, or why not.
    pub fn upgrade(&self, mut request: Request<Body>, peer: IpAddr) -> Response<Body> {
        if request.method() != Method::GET {
            return refuse(StatusCode::METHOD_NOT_ALLOWED, "use GET to open a WebSocket");
        }
        let Some(accept) = handshake_accept(request.headers()) else {
            return refuse(StatusCode::BAD_REQUEST, "expected a WebSocket upgrade (version 13)");
        };
        let relay = &self.relay;
        if let Some(origin) = request.headers().get(header::ORIGIN) {
            let allowed = self.allowed_origins.is_empty()
                || self.allowed_origins.iter().any(|allowed| allowed.as_bytes() == origin.as_bytes());
            if !allowed {
                relay.metrics.reject(Rejection::Origin);
                return refuse(StatusCode::FORBIDDEN, "origin not allowed");
            }
        }
        let client = self.trusted_proxies.client(peer, request.headers());
        let slot = match relay.admit_connection(client) {
            Ok(slot) => slot,
            Err(refusal @ Refusal::Full) => {
                relay.metrics.reject(Rejection::ConnectionLimit);
                return refuse(StatusCode::SERVICE_UNAVAILABLE, refusal);
            }
            Err(refusal @ Refusal::AddressFull) => {
                relay.metrics.reject(Rejection::AddressConnectionLimit);
                return refuse(StatusCode::TOO_MANY_REQUESTS, refusal);
            }
        };
        let max_message = relay.limits.max_message_bytes;
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            .max_message_size(Some(max_message))
            .max_frame_size(Some(max_message));
        let upgrading = warp::hyper::upgrade::on(&mut request);
        let relay = Arc::clone(relay);
        tokio::spawn(async move {
            let upgraded = match upgrading.await {
                Ok(upgraded) => upgraded,
                Err(error) => {
                    tracing::debug!(%error, "upgrade failed");
                    return;
                }
            };
            // Without hyper's boxed wrapper when it is the accepted TCP stream (it always is here), keeping what
            // the client sent after the handshake; it no longer counts as a connection in HTTP.
            match upgraded.downcast::<HttpConn>() {
                Ok(Parts { io, read_buf, .. }) => {
                    let io = io.into_upgraded();
                    // Only what was read past the handshake is kept: hyper's whole read buffer would
                    // otherwise live as long as the connection.
                    let early = read_buf.to_vec();
                    drop(read_buf);
                    let socket = WebSocketStream::from_partially_read(io, early, Role::Server, Some(config));
                    connection::serve(socket.await, relay, slot).await;
                }
                Err(upgraded) => {
                    let socket = WebSocketStream::from_raw_socket(upgraded, Role::Server, Some(config)).await;
                    connection::serve(socket, relay, slot).await;
                }
            }
        });
        Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_ACCEPT, accept)
            .body(Body::empty())
            .expect("a valid response")
    }
}

/// The `Sec-WebSocket-Accept` for a valid upgrade request, or `None` when it is not one: `Connection` must list
/// `upgrade`, `Upgrade` be `websocket`, `Sec-WebSocket-Version` be 13 and `Sec-WebSocket-Key` be present.
fn handshake_accept(headers: &HeaderMap) -> Option<String> {
    let lists = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value.to_str().is_ok_and(|value| value.split(',').any(|item| item.trim().eq_ignore_ascii_case(token)))
        })
    };
    if !lists(header::CONNECTION, "upgrade") || !lists(header::UPGRADE, "websocket") {
        return None;
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION)?.as_bytes() != b"13" {
        return None;
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY)?;
    Some(accept_key(key.as_bytes()))
}

/// RFC 6455: base64 of the SHA-1 of the client's key followed by the protocol's GUID.
fn accept_key(key: &[u8]) -> String {
    const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(GUID);
    base64::engine::general_purpose::STANDARD.encode(sha1.finalize())
}

fn refuse(status: StatusCode, why: impl ToString) -> Response<Body> {
    Response::builder().status(status).body(Body::from(why.to_string())).expect("a valid response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_key_is_the_one_of_rfc_6455() {
        // The example of RFC 6455, section 1.3.
        assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn only_a_websocket_upgrade_of_version_13_is_accepted() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.append(*name, value.parse().unwrap());
            }
            map
        };
        let good = [
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "WebSocket"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        assert_eq!(handshake_accept(&headers(&good)).as_deref(), Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
        for missing in 0..good.len() {
            let mut partial = good.to_vec();
            partial.remove(missing);
            assert_eq!(handshake_accept(&headers(&partial)), None, "without {}", good[missing].0);
        }
        let mut old = good.to_vec();
        old[2] = ("sec-websocket-version", "8");
        assert_eq!(handshake_accept(&headers(&old)), None);
        let mut other = good.to_vec();
        other[1] = ("upgrade", "h2c");
        assert_eq!(handshake_accept(&headers(&other)), None);
    }
}
