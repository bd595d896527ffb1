//! Accepting TCP connections with a cap on those still speaking HTTP (not yet upgraded to a WebSocket): in all
//! (`--max-http-connections`) and per address (`--max-http-connections-per-ip`, not applied to trusted proxies,
//! which carry many clients). A connection past either cap gets a short 503 and is closed at once, so a host
//! opening sockets and dribbling headers holds only a bounded number of file descriptors, each for at most the
//! header-read timeout. A connection stops counting once it is upgraded (see [`HttpConn::into_upgraded`]).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use warp::hyper::server::accept::Accept;
use warp::hyper::server::conn::{AddrIncoming, AddrStream};

use crate::client_addr::{AddrKey, TrustedProxies};
use crate::metrics::{Metrics, Rejection};
use crate::per_addr::{Held, Holdings};

/// What a refused connection reads before it is closed.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n\
content-length: 44\r\nconnection: close\r\n\r\ntoo many connections; try again in a moment\n";

/// The caps on connections not yet upgraded, and who holds what under them.
#[derive(Debug)]
pub struct HttpCaps {
    max: usize,
    open: AtomicUsize,
    per_addr: Arc<Holdings>,
    trusted: TrustedProxies,
    metrics: Arc<Metrics>,
}

impl HttpCaps {
    /// At most `max` connections in HTTP at once, `per_addr` of them from one address (trusted proxies exempt).
    pub fn new(max: usize, per_addr: u32, trusted: TrustedProxies, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(HttpCaps { max, open: AtomicUsize::new(0), per_addr: Holdings::new(per_addr), trusted, metrics })
    }

    /// A pass for a connection from `stream`'s peer, or `None` past a cap.
    fn admit(self: &Arc<Self>, stream: &AddrStream) -> Option<Pass> {
        let ip = stream.remote_addr().ip();
        let held = if self.trusted.contains(ip) { None } else { Some(self.per_addr.take(AddrKey::from(ip))?) };
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.max {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        self.metrics.http_connections.fetch_add(1, Ordering::Relaxed);
        Some(Pass { caps: Arc::clone(self), _held: held })
    }
}

/// A connection's place under the caps; dropping it frees the place.
#[derive(Debug)]
struct Pass {
    caps: Arc<HttpCaps>,
    _held: Option<Held>,
}

impl Drop for Pass {
    fn drop(&mut self) {
        self.caps.open.fetch_sub(1, Ordering::AcqRel);
        self.caps.metrics.http_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The listener: hyper's [`AddrIncoming`] (which also rides out running out of file descriptors), with the caps.
pub struct Gate {
    incoming: AddrIncoming,
    caps: Arc<HttpCaps>,
}

impl Gate {
    /// Accepts from `incoming` under `caps`.
    pub fn new(incoming: AddrIncoming, caps: Arc<HttpCaps>) -> Self {
        Gate { incoming, caps }
    }
}

impl Accept for Gate {
    type Conn = HttpConn;
    type Error = io::Error;

    fn poll_accept(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<io::Result<HttpConn>>> {
        let gate = self.get_mut();
        loop {
            let stream = match ready!(Pin::new(&mut gate.incoming).poll_accept(cx)) {
                Some(Ok(stream)) => stream,
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                None => return Poll::Ready(None),
            };
            match gate.caps.admit(&stream) {
                Some(pass) => return Poll::Ready(Some(Ok(HttpConn { stream, pass: Some(pass) }))),
                None => {
                    gate.caps.metrics.reject(Rejection::HttpConnectionLimit);
                    // Best effort and without waiting: a fresh socket's send buffer takes this whole.
                    let _ = stream.into_inner().try_write(REFUSAL);
                }
            }
        }
    }
}

/// An accepted connection, counted under the caps while it speaks HTTP.
#[derive(Debug)]
pub struct HttpConn {
    stream: AddrStream,
    pass: Option<Pass>,
}

impl HttpConn {
    /// The peer's address.
    pub fn remote_addr(&self) -> std::net::SocketAddr {
        self.stream.remote_addr()
    }

    /// The stream, once upgraded to a WebSocket: it no longer counts under the caps (the WebSocket limits take
    /// over).
    pub fn into_upgraded(mut self) -> AddrStream {
        self.pass = None;
        self.stream
    }
}

impl AsyncRead for HttpConn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for HttpConn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_whole_http_response() {
        let text = std::str::from_utf8(REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("content-length: {}", body.len())), "{head}");
    }
}
