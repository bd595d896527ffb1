//! Keeping the call screen's updates back while a first negotiation is under way. An update re-renders the screen, and
//! the browser runs that render (and the layout after it) ahead of the negotiation's next step: a description applied,
//! an offer or answer sent, ICE candidates passed on. On joining (and when someone joins) the render would delay the
//! whole call setup. Held updates are passed on, in order, as soon as the last awaited negotiation is done.

use std::cell::RefCell;
use std::collections::HashSet;
use std::hash::Hash;

/// Passes updates on, or keeps them while first negotiations with some peers are under way.
pub struct OfferGate<K, T> {
    deliver: Box<dyn Fn(T)>,
    awaited: RefCell<HashSet<K>>,
    held: RefCell<Vec<T>>,
}

impl<K: Eq + Hash, T> OfferGate<K, T> {
    /// A gate passing updates to `deliver`, open.
    pub fn new(deliver: impl Fn(T) + 'static) -> Self {
        OfferGate { deliver: Box::new(deliver), awaited: RefCell::default(), held: RefCell::default() }
    }

    /// Passes `update` on, or keeps it if negotiations are awaited.
    pub fn emit(&self, update: T) {
        if self.awaited.borrow().is_empty() {
            (self.deliver)(update);
        } else {
            self.held.borrow_mut().push(update);
        }
    }

    /// Keeps updates back until the negotiation with each of `peers` is done (nothing is kept for no peers).
    pub fn await_negotiations(&self, peers: impl IntoIterator<Item = K>) {
        self.awaited.borrow_mut().extend(peers);
    }

    /// The negotiation with `peer` is done, or will not be (the peer left, the call ended).
    pub fn negotiated(&self, peer: &K) {
        let open = {
            let mut awaited = self.awaited.borrow_mut();
            awaited.remove(peer) && awaited.is_empty()
        };
        if open {
            self.release();
        }
    }

    /// Stops waiting for any negotiation: passes on everything kept.
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

    fn gate() -> (OfferGate<&'static str, u32>, Rc<RefCell<Vec<u32>>>) {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let sink = Rc::clone(&seen);
        (OfferGate::new(move |update| sink.borrow_mut().push(update)), seen)
    }

    #[test]
    fn open_gates_pass_updates_at_once() {
        let (gate, seen) = gate();
        gate.emit(1);
        gate.await_negotiations([]);
        gate.emit(2);
        assert_eq!(*seen.borrow(), [1, 2]);
    }

    #[test]
    fn updates_wait_in_order_for_the_last_negotiation() {
        let (gate, seen) = gate();
        gate.await_negotiations(["ada", "cy"]);
        gate.emit(1);
        gate.emit(2);
        gate.negotiated(&"ada");
        gate.negotiated(&"bob");
        assert!(seen.borrow().is_empty());
        gate.negotiated(&"cy");
        assert_eq!(*seen.borrow(), [1, 2]);
        gate.emit(3);
        assert_eq!(*seen.borrow(), [1, 2, 3]);
    }

    #[test]
    fn opening_releases_everything() {
        let (gate, seen) = gate();
        gate.await_negotiations(["ada"]);
        gate.emit(1);
        gate.open();
        gate.emit(2);
        assert_eq!(*seen.borrow(), [1, 2]);
        gate.negotiated(&"ada");
        assert_eq!(*seen.borrow(), [1, 2]);
    }
}
