//! Keeping the call screen's updates back while first connections are being set up. An update re-renders the screen,
//! and the browser runs that render (and the layout after it) ahead of the set-up's next steps: a description
//! applied, an offer or answer sent, ICE candidates passed on, and the browser's own work on the page's thread for
//! the ICE checks. On joining (and when someone joins) the render would delay the whole call setup: in Chromium, ICE
//! took measurably longer with the call screen rendered as soon as the negotiation was done than with it rendered
//! once connected (the call setup benchmark, docs/BENCHMARKS.md). Held updates are passed on, in order, as soon as
//! the last awaited connection is up (or has failed, or the peer left), while the first video frame is still being
//! encoded.

use std::cell::RefCell;
use std::collections::HashSet;
use std::hash::Hash;

/// Passes updates on, or keeps them while first connections to some peers are being set up.
pub struct ConnectGate<K, T> {
    deliver: Box<dyn Fn(T)>,
    awaited: RefCell<HashSet<K>>,
    held: RefCell<Vec<T>>,
}

impl<K: Eq + Hash, T> ConnectGate<K, T> {
    /// A gate passing updates to `deliver`, open.
    pub fn new(deliver: impl Fn(T) + 'static) -> Self {
        ConnectGate { deliver: Box::new(deliver), awaited: RefCell::default(), held: RefCell::default() }
    }

    /// Passes `update` on, or keeps it if connections are awaited.
    pub fn emit(&self, update: T) {
        if self.awaited.borrow().is_empty() {
            (self.deliver)(update);
        } else {
            self.held.borrow_mut().push(update);
        }
    }

    /// Keeps updates back until the connection to each of `peers` is settled (nothing is kept for no peers).
    pub fn await_peers(&self, peers: impl IntoIterator<Item = K>) {
        self.awaited.borrow_mut().extend(peers);
    }

    /// The connection to `peer` is up, or will not come up soon (it failed, the peer left, the call ended).
    pub fn settled(&self, peer: &K) {
        let open = {
            let mut awaited = self.awaited.borrow_mut();
            awaited.remove(peer) && awaited.is_empty()
        };
        if open {
            self.release();
        }
    }

    /// Stops waiting for any connection: passes on everything kept.
    pub fn open(&self) {
        self.awaited.borrow_mut().clear();
        self.release();
    }

    fn release(&self) {
        let held = std::mem::take(&mut *self.held.borrow_mut());
        for update in held {
            (self.deliver)(update);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;

    fn gate() -> (ConnectGate<&'static str, u32>, Rc<RefCell<Vec<u32>>>) {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let sink = Rc::clone(&seen);
        (ConnectGate::new(move |update| sink.borrow_mut().push(update)), seen)
    }

    #[test]
    fn open_gates_pass_updates_at_once() {
        let (gate, seen) = gate();
        gate.emit(1);
        gate.await_peers([]);
        gate.emit(2);
        assert_eq!(*seen.borrow(), [1, 2]);
    }

    #[test]
    fn updates_wait_in_order_for_the_last_connection() {
        let (gate, seen) = gate();
        gate.await_peers(["ada", "cy"]);
        gate.emit(1);
        gate.emit(2);
        gate.settled(&"ada");
        gate.settled(&"bob");
        assert!(seen.borrow().is_empty());
        gate.settled(&"cy");
        assert_eq!(*seen.borrow(), [1, 2]);
        gate.emit(3);
        assert_eq!(*seen.borrow(), [1, 2, 3]);
    }

    #[test]
    fn opening_releases_everything() {
        let (gate, seen) = gate();
        gate.await_peers(["ada"]);
        gate.emit(1);
        gate.open();
        gate.emit(2);
        assert_eq!(*seen.borrow(), [1, 2]);
        gate.settled(&"ada");
        assert_eq!(*seen.borrow(), [1, 2]);
    }
}
