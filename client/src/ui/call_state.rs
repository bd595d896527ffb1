//! Plugs the call's state (`call::state`, plain Rust) into Yew's `use_reducer`, so that `call/` needs no Yew.

use std::rc::Rc;

use yew::Reducible;

use crate::call::state::{Action, CallState};

// Both types are this crate's, so the impl may live here, at the Yew edge, without a wrapper.
impl Reducible for CallState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        // The same state (no copy) is no change to Yew: nothing renders.
        if self.unchanged_by(&action) {
            return self;
        }
        // A copy, unless nothing else holds the state; either way cheap, the chat being shared (`call::chat`).
        let mut next = Rc::unwrap_or_clone(self);
        next.apply(action);
        Rc::new(next)
    }
}
