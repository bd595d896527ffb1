//! The decisions of W3C "perfect negotiation", as plain Rust: one routine for every (re)negotiation, and the
//! polite/impolite roles that make simultaneous offers (glare) converge.
//!
//! The browser glue (`rtc::peer`) asks this type what to do with each description and applies the answer.

use huddle_common::PeerId;

/// `RTCPeerConnection.signalingState`, as far as negotiation cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalingState {
    /// No negotiation in progress.
    Stable,
    /// We sent an offer and wait for the answer.
    HaveLocalOffer,
    /// Anything else (have-remote-offer, pranswer, closed).
    Other,
}

/// Which kind of session description arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescriptionKind {
    /// An offer.
    Offer,
    /// An answer.
    Answer,
}

/// What to do with an incoming description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Glare, and we are impolite: our offer wins, theirs is dropped.
    Ignore,
    /// Set it as the remote description (rolling back our own offer if we are polite and had one), then answer if
    /// it was an offer.
    Apply {
        /// Reply with an answer afterwards.
        answer: bool,
    },
}

/// Per-peer negotiation state.
///
/// Roles: once the first negotiation is done, the side whose offer opened the connection is polite and the side
/// that answered it is impolite. (Rolling back an offer on the answering side, whose transceivers came from the
/// other's offer, leaves Chromium's receiver presenting no frames; with this choice that side never rolls back.)
/// Both sides know which they were, so they agree without talking. Until then, only a collision of two opening
/// offers can happen, and the smaller peer id is polite.
#[derive(Clone, Debug)]
pub struct Negotiator {
    smaller_id: bool,
    opened: Option<bool>,
    making_offer: bool,
    ignore_offer: bool,
    setting_remote_answer_pending: bool,
}

impl Negotiator {
    /// A negotiator between `me` and `them`, before their first negotiation.
    pub fn new(me: &PeerId, them: &PeerId) -> Self {
        Negotiator {
            smaller_id: me < them,
            opened: None,
            making_offer: false,
            ignore_offer: false,
            setting_remote_answer_pending: false,
        }
    }

    /// Whether this side yields in glare.
    pub fn is_polite(&self) -> bool {
        self.opened.unwrap_or(self.smaller_id)
    }

    /// The first negotiation completed: `opened` is true on the side whose offer was answered.
    pub fn settle(&mut self, opened: bool) {
        self.opened.get_or_insert(opened);
    }

    /// An offer of ours is being created and set (between `negotiationneeded` and sending it).
    pub fn set_making_offer(&mut self, making: bool) {
        self.making_offer = making;
    }

    /// Decides about a description that arrived while the connection is in `state`.
    pub fn on_description(&mut self, kind: DescriptionKind, state: SignalingState) -> Decision {
        let ready_for_offer =
            !self.making_offer && (state == SignalingState::Stable || self.setting_remote_answer_pending);
        let collision = kind == DescriptionKind::Offer && !ready_for_offer;
        self.ignore_offer = !self.is_polite() && collision;
        if self.ignore_offer {
            return Decision::Ignore;
        }
        self.setting_remote_answer_pending = kind == DescriptionKind::Answer;
        Decision::Apply { answer: kind == DescriptionKind::Offer }
    }

    /// The remote description was set (successfully or not).
    pub fn remote_description_applied(&mut self) {
        self.setting_remote_answer_pending = false;
    }

    /// A failed `addIceCandidate` is expected (and harmless) for candidates of an offer we ignored.
    pub fn candidate_failure_expected(&self) -> bool {
        self.ignore_offer
    }
}

/// ICE candidates that arrived before the remote description they belong to; applied once it is set.
#[derive(Debug)]
pub struct CandidateQueue<C> {
    waiting: Vec<C>,
}

impl<C> Default for CandidateQueue<C> {
    fn default() -> Self {
        CandidateQueue { waiting: Vec::new() }
    }
}

impl<C> CandidateQueue<C> {
    /// Candidates beyond this are dropped: a peer sending thousands before its offer is broken or hostile.
    pub const LIMIT: usize = 256;

    /// Returns the candidate back when it can be applied now; keeps it otherwise.
    pub fn offer(&mut self, candidate: C, has_remote_description: bool) -> Option<C> {
        if has_remote_description {
            return Some(candidate);
        }
        if self.waiting.len() < Self::LIMIT {
            self.waiting.push(candidate);
        }
        None
    }

    /// Everything kept, in arrival order, once the remote description is set.
    pub fn drain(&mut self) -> Vec<C> {
        std::mem::take(&mut self.waiting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Negotiator, Negotiator) {
        let (a, b) = (PeerId::from("aaaa"), PeerId::from("bbbb"));
        (Negotiator::new(&a, &b), Negotiator::new(&b, &a))
    }

    #[test]
    fn exactly_one_side_is_polite() {
        let (a, b) = pair();
        assert!(a.is_polite());
        assert!(!b.is_polite());
    }

    #[test]
    fn after_the_first_negotiation_the_opener_is_polite_whatever_the_ids() {
        let (mut smaller, mut larger) = pair();
        // The larger id opened the connection: its offer was answered by the smaller.
        larger.settle(true);
        smaller.settle(false);
        assert!(larger.is_polite());
        assert!(!smaller.is_polite());
        // Later negotiations do not change the roles.
        larger.settle(false);
        smaller.settle(true);
        assert!(larger.is_polite() && !smaller.is_polite());
        // Glare now: the answering side keeps its offer, the opener rolls back and answers.
        assert_eq!(smaller.on_description(DescriptionKind::Offer, SignalingState::HaveLocalOffer), Decision::Ignore);
        assert_eq!(
            larger.on_description(DescriptionKind::Offer, SignalingState::HaveLocalOffer),
            Decision::Apply { answer: true }
        );
    }

    #[test]
    fn an_offer_in_a_stable_state_is_answered() {
        let (mut a, _) = pair();
        assert_eq!(a.on_description(DescriptionKind::Offer, SignalingState::Stable), Decision::Apply { answer: true });
        a.remote_description_applied();
        assert_eq!(
            a.on_description(DescriptionKind::Answer, SignalingState::HaveLocalOffer),
            Decision::Apply { answer: false }
        );
    }

    #[test]
    fn glare_converges_the_impolite_offer_wins() {
        let (mut polite, mut impolite) = pair();
        // Both made an offer at the same time; each receives the other's while in have-local-offer.
        let at_polite = polite.on_description(DescriptionKind::Offer, SignalingState::HaveLocalOffer);
        let at_impolite = impolite.on_description(DescriptionKind::Offer, SignalingState::HaveLocalOffer);
        assert_eq!(at_polite, Decision::Apply { answer: true }, "the polite side rolls back and answers");
        assert_eq!(at_impolite, Decision::Ignore, "the impolite side keeps its own offer");
        assert!(impolite.candidate_failure_expected());
        assert!(!polite.candidate_failure_expected());
        // The polite side's answer then completes the impolite side's offer.
        assert_eq!(
            impolite.on_description(DescriptionKind::Answer, SignalingState::HaveLocalOffer),
            Decision::Apply { answer: false }
        );
        assert!(!impolite.candidate_failure_expected());
    }

    #[test]
    fn an_offer_while_making_one_is_a_collision() {
        let (mut polite, mut impolite) = pair();
        polite.set_making_offer(true);
        impolite.set_making_offer(true);
        assert_eq!(
            polite.on_description(DescriptionKind::Offer, SignalingState::Stable),
            Decision::Apply { answer: true }
        );
        assert_eq!(impolite.on_description(DescriptionKind::Offer, SignalingState::Stable), Decision::Ignore);
    }

    #[test]
    fn candidates_wait_for_the_remote_description() {
        let mut queue = CandidateQueue::default();
        assert_eq!(queue.offer(1, false), None);
        assert_eq!(queue.offer(2, false), None);
        assert_eq!(queue.offer(3, true), Some(3));
        assert_eq!(queue.drain(), vec![1, 2]);
        assert!(queue.drain().is_empty());
        for n in 0..1000 {
            queue.offer(n, false);
        }
        assert_eq!(queue.drain().len(), CandidateQueue::<i32>::LIMIT);
    }
}
