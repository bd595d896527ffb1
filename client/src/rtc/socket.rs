//! The relay connection: a browser `WebSocket` whose events arrive on a channel, for the engine's async loop.
//!
//! Text only (the protocol has no binary frames). What is sent before the socket opens waits, in order, and goes
//! out when it does; closing a socket that is still connecting waits for that too, so a last message (`leave`)
//! is not lost. A connection can also be abandoned, as dropping it would: closed at once, and whatever it still
//! delivers ignored.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures::channel::mpsc;
use futures::StreamExt;
use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use crate::rtc::bindings::event_handler;

/// What the relay connection reports.
pub enum SocketEvent {
    /// A text frame.
    Text(String),
    /// The connection closed (or never opened: code 1006), with the close code.
    Closed(u16),
}

/// An open (or opening) relay connection, and what it reports. Dropping it closes the socket.
pub struct RelaySocket {
    shared: Rc<Shared>,
    events: mpsc::UnboundedReceiver<SocketEvent>,
    /// The socket's handlers, which must live as long as it does.
    _handlers: [Closure<dyn FnMut(JsValue)>; 3],
}

/// A handle for sending on the connection, for whoever holds one.
#[derive(Clone)]
pub struct RelaySender(Rc<Shared>);

struct Shared {
    socket: WebSocket,
    /// Frames sent before the socket opened.
    waiting: RefCell<Vec<String>>,
    /// Closing was asked while the socket was still connecting.
    close_when_open: Cell<bool>,
    /// Where the events go, to end the stream when the connection is abandoned.
    events: mpsc::UnboundedSender<SocketEvent>,
    /// The connection was abandoned: nothing it delivers counts any more.
    abandoned: Cell<bool>,
}

impl Shared {
    /// Stops listening to the socket and closes it.
    fn detach(&self) {
        let socket = &self.socket;
        socket.set_onopen(None);
        socket.set_onmessage(None);
        socket.set_onclose(None);
        let _ = socket.close();
    }
}

impl RelaySocket {
    /// Starts connecting to `url`; fails only when the URL is unusable.
    pub fn open(url: &str) -> Result<Self, JsValue> {
        let socket = WebSocket::new(url)?;
        let (sender, events) = mpsc::unbounded();
        let shared = Rc::new(Shared {
            socket,
            waiting: RefCell::new(Vec::new()),
            close_when_open: Cell::new(false),
            events: sender.clone(),
            abandoned: Cell::new(false),
        });

        let opened = Rc::downgrade(&shared);
        let on_open = event_handler(&shared.socket, WebSocket::set_onopen, move |_: JsValue| {
            if let Some(shared) = opened.upgrade() {
                for text in shared.waiting.take() {
                    let _ = shared.socket.send_with_str(&text);
                }
                if shared.close_when_open.get() {
                    let _ = shared.socket.close();
                }
            }
        });
        let texts = sender.clone();
        let on_message = event_handler(&shared.socket, WebSocket::set_onmessage, move |event: MessageEvent| {
            if let Some(text) = event.data().as_string() {
                let _ = texts.unbounded_send(SocketEvent::Text(text));
            }
        });
        // An error is always followed by a close event, which is all the engine needs to know.
        let on_close = event_handler(&shared.socket, WebSocket::set_onclose, move |event: CloseEvent| {
            let _ = sender.unbounded_send(SocketEvent::Closed(event.code()));
            sender.close_channel();
        });
        Ok(RelaySocket { shared, events, _handlers: [on_open, on_message, on_close] })
    }

    /// A handle to send with.
    pub fn sender(&self) -> RelaySender {
        RelaySender(Rc::clone(&self.shared))
    }

    /// The next event; `None` after [`SocketEvent::Closed`], or once the connection is abandoned
    /// ([`RelaySender::abandon`]).
    pub async fn next(&mut self) -> Option<SocketEvent> {
        let event = self.events.next().await?;
        // Events that arrived before the connection was abandoned, but were not read yet, are void too.
        (!self.shared.abandoned.get()).then_some(event)
    }
}

impl Drop for RelaySocket {
    fn drop(&mut self) {
        self.shared.detach();
    }
}

impl RelaySender {
    /// Sends a text frame now, or as soon as the socket opens; dropped if it is closing.
    pub fn send(&self, text: String) {
        match self.0.socket.ready_state() {
            WebSocket::CONNECTING => self.0.waiting.borrow_mut().push(text),
            WebSocket::OPEN => {
                let _ = self.0.socket.send_with_str(&text);
            }
            // Closing or closed (the relay refused us, say): the browser would only log an error.
            _ => {}
        }
    }

    /// Closes the connection once what was sent has gone out.
    pub fn close(&self) {
        if self.0.socket.ready_state() == WebSocket::CONNECTING {
            self.0.close_when_open.set(true);
        } else {
            let _ = self.0.socket.close();
        }
    }

    /// Done with the connection, as if its [`RelaySocket`] were dropped: the socket closes now, and its reader gets
    /// no more events (not even [`SocketEvent::Closed`]).
    pub fn abandon(&self) {
        self.0.abandoned.set(true);
        self.0.detach();
        self.0.events.close_channel();
    }
}
