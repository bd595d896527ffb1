//! File transfers in the browser. The offer and its answer go over the peer's `huddle` channel: an offer waits for
//! the person to accept or decline it (declined by itself after a while); the bytes go over a data channel of their
//! own (`file:<id>`), read from the `File` a slice at a time and sent only while the channel's buffer has room, hashed
//! as they pass. The receiver hashes what arrives, gathers it into a `Blob` (never one big buffer) and offers it as a
//! download, of a harmless type, once the hash checks out; dismissing it releases the `Blob`. The rules (what is
//! asked, limits, names, counting, the list the screen shows and what it keeps) are plain Rust in
//! `crate::call::transfer`.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};

use futures::channel::mpsc;
use futures::StreamExt;
use gloo_timers::callback::Timeout;
use huddle_common::{FileOffer, PeerId, PeerMessage};
use js_sys::{Array, ArrayBuffer, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    Blob, BlobPropertyBag, File, MessageEvent, RtcDataChannel, RtcDataChannelState, RtcDataChannelType, Url,
};
use yew::Callback;

use crate::call::state::Action;
use crate::call::transfer::{
    channel_id, check_accept, judge_offer, new_id, offers_to_send, read_ranges, sanitize_name, should_fold, Allowance,
    CheckedOffer, Control, Declined, Direction, NoAnswer, OfferError, Receipt, ReceiveError, Request, Seen, Sent,
    Shelf, Status, Throttle, Transfer, TransferEvent, TransferKey, Verdict, CHUNK_BYTES, HIGH_WATER_BYTES,
    LOW_WATER_BYTES, OFFER_MARGIN_MS, OFFER_TIMEOUT_MS,
};
use crate::rtc::peer::PeerLink;
use crate::small_map::SmallMap;

/// A text message on a file channel longer than this is not read: no control message is that long.
const MAX_TEXT_BYTES: usize = 1024;
/// After sending `file_cancel`, the channel is closed by the peer, or by us after this long.
const CLOSE_AFTER_CANCEL_MS: u32 = 10_000;

/// What a transfer's task hears about: its channel's events, and requests to stop.
enum ChannelEvent {
    Open,
    BufferedLow,
    Binary(ArrayBuffer),
    /// A text message; `None` when it was too long to read.
    Text(Option<String>),
    Closed,
    Stop(Stop),
}

/// Why a transfer is stopped from outside its channel.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// This person cancelled it (or left the call).
    ByMe,
    /// The peer sent `file_cancel` on the `huddle` channel.
    ByPeer,
    /// The peer left, or the connection to them was given up.
    PeerGone,
    /// The peer never answered our offer.
    Unanswered,
}

/// How a transfer ended.
enum Outcome {
    /// All there; for a received file, the URL to save it from.
    Done(Option<String>),
    Cancelled {
        by_me: bool,
    },
    /// Went wrong; `tell_peer` when the other side cannot know yet.
    Failed {
        why: String,
        tell_peer: bool,
    },
    /// The peer sent on the file channel what no Huddle sends (a chunk of the wrong size, a message that is not part
    /// of the file): it fails, the peer is told on the `huddle` channel, and the file channel is closed at once, so
    /// whatever else it sends costs nothing.
    Broken(String),
}

impl Outcome {
    fn stopped(stop: Stop) -> Outcome {
        match stop {
            Stop::ByMe => Outcome::Cancelled { by_me: true },
            Stop::ByPeer => Outcome::Cancelled { by_me: false },
            Stop::PeerGone | Stop::Unanswered => Outcome::lost(),
        }
    }

    fn lost() -> Outcome {
        Outcome::Failed { why: "The connection was lost before the end".to_owned(), tell_peer: false }
    }

    fn tells_peer(&self) -> bool {
        matches!(
            self,
            Outcome::Cancelled { by_me: true } | Outcome::Failed { tell_peer: true, .. } | Outcome::Broken(_)
        )
    }

    fn into_event(self, key: TransferKey) -> TransferEvent {
        match self {
            Outcome::Done(download) => TransferEvent::Done(key, download),
            Outcome::Cancelled { by_me } => TransferEvent::Cancelled(key, by_me),
            Outcome::Failed { why, .. } | Outcome::Broken(why) => TransferEvent::Failed(key, why),
        }
    }
}

/// A file channel's event handlers, feeding one queue; detached when dropped.
struct ChannelEvents {
    channel: RtcDataChannel,
    _handlers: [Closure<dyn FnMut(JsValue)>; 4],
}

impl ChannelEvents {
    fn attach(channel: &RtcDataChannel, queue: &mpsc::UnboundedSender<ChannelEvent>) -> Self {
        let handler = |read: fn(JsValue) -> Option<ChannelEvent>| {
            let queue = queue.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
                if let Some(event) = read(event) {
                    let _ = queue.unbounded_send(event);
                }
            })
        };
        let on_open = handler(|_| Some(ChannelEvent::Open));
        let on_low = handler(|_| Some(ChannelEvent::BufferedLow));
        let on_message = handler(|event| {
            let data = event.unchecked_into::<MessageEvent>().data();
            match data.as_string() {
                Some(text) => Some(ChannelEvent::Text((text.len() <= MAX_TEXT_BYTES).then_some(text))),
                None => data.dyn_into::<ArrayBuffer>().ok().map(ChannelEvent::Binary),
            }
        });
        let on_close = handler(|_| Some(ChannelEvent::Closed));
        channel.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        channel.set_onbufferedamountlow(Some(on_low.as_ref().unchecked_ref()));
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        channel.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        ChannelEvents { channel: Clone::clone(channel), _handlers: [on_open, on_low, on_message, on_close] }
    }
}

impl Drop for ChannelEvents {
    fn drop(&mut self) {
        self.channel.set_onopen(None);
        self.channel.set_onbufferedamountlow(None);
        self.channel.set_onmessage(None);
        self.channel.set_onclose(None);
    }
}

/// Where a transfer is, as far as the browser side is concerned.
enum Running {
    /// To offer once the peer has fewer than `MAX_PENDING_PER_PEER` of our offers to answer.
    Queued { file: File, link: Weak<PeerLink> },
    /// We offered this file; waiting for `file_accept`, or for `_timer` to give up on it.
    Offered { file: File, link: Weak<PeerLink>, _timer: Timeout },
    /// Offered to us; waiting for the person to accept or decline it, or for `_timer` to decline it.
    Asking { offer: CheckedOffer, link: Weak<PeerLink>, _timer: Timeout },
    /// We accepted this offer; waiting for its channel, or for `_timer` to give up on it.
    Accepted { offer: CheckedOffer, link: Weak<PeerLink>, _timer: Timeout },
    /// Bytes are moving; its task listens here.
    Moving { queue: mpsc::UnboundedSender<ChannelEvent> },
}

struct Shared {
    dispatch: Callback<Action>,
    running: RefCell<SmallMap<TransferKey, Running>>,
    /// The finished transfers listed, with the `blob:` URLs of received files: released when dismissed, pushed out
    /// by newer ones, or when the call ends.
    shelf: RefCell<Shelf>,
    /// The bytes received in this call, and how many may be.
    allowance: RefCell<Allowance>,
}

impl Shared {
    /// Tells the call screen; a transfer this ends may push an older finished one off the list, and its file is
    /// released.
    fn emit(&self, event: TransferEvent) {
        let released = self.shelf.borrow_mut().record(&event);
        self.dispatch.emit(Action::Transfer(event));
        if let Some((key, download)) = released {
            revoke(download);
            self.dispatch.emit(Action::Transfer(TransferEvent::Dismissed(key)));
        }
    }
}

/// Releases a received file: the URL was the only reference to its `Blob`.
fn revoke(download: Option<String>) {
    if let Some(url) = download {
        let _ = Url::revoke_object_url(&url);
    }
}

/// Every file transfer of a call, both ways.
pub struct Transfers(Rc<Shared>);

impl Transfers {
    /// No transfers yet; what happens to them is told to the call screen through `dispatch`. At most `receive_limit`
    /// bytes are received in the call.
    pub fn new(dispatch: Callback<Action>, receive_limit: u64) -> Self {
        expose_memory();
        Transfers(Rc::new(Shared {
            dispatch,
            running: RefCell::new(SmallMap::new()),
            shelf: RefCell::new(Shelf::default()),
            allowance: RefCell::new(Allowance::new(receive_limit)),
        }))
    }

    /// Changes how many bytes may be received in this call (files already accepted keep coming).
    pub fn set_receive_limit(&self, limit: u64) {
        self.0.allowance.borrow_mut().set_limit(limit);
    }

    /// Bytes received in this call so far, counting accepted files in full.
    pub fn received(&self) -> u64 {
        self.0.allowance.borrow().used()
    }

    /// What the person asks of the transfer `key` from the list.
    pub fn request(&self, key: TransferKey, request: Request) {
        match request {
            Request::Accept => self.accept(key),
            Request::Decline => self.decline(key, Declined::ByMe),
            Request::Cancel => self.stop(key, Stop::ByMe),
            Request::Dismiss => self.dismiss(&key),
        }
    }

    /// Offers `file` to the peer at the other end of `link`; the bytes go once they accept. While the peer has
    /// `MAX_PENDING_PER_PEER` of our offers to answer, it is queued instead (the receiver would decline more).
    pub fn offer(&self, link: &Rc<PeerLink>, file: &File) {
        let name = sanitize_name(&file.name());
        let size = file.size() as u64;
        let key = TransferKey { peer: link.id().clone(), id: new_id(random_u64()), direction: Direction::Send };
        let mut transfer = Transfer::new(key.clone(), name.clone(), size);
        if size > FileOffer::MAX_SIZE {
            transfer.status = Status::Failed(OfferError::TooLarge { name, size }.to_string());
            return self.0.emit(TransferEvent::Added(transfer));
        }
        if offers_to_send(self.outstanding(&key.peer), 1) == 0 {
            transfer.status = Status::Queued;
            let queued = Running::Queued { file: Clone::clone(file), link: Rc::downgrade(link) };
            self.0.running.borrow_mut().insert(key, queued);
            return self.0.emit(TransferEvent::Added(transfer));
        }
        if let Err(why) = self.send_offer(link, &key, file) {
            transfer.status = Status::Failed(why);
        }
        self.0.emit(TransferEvent::Added(transfer));
    }

    /// Our offers to `peer` not answered yet.
    fn outstanding(&self, peer: &PeerId) -> usize {
        let running = self.0.running.borrow();
        running.iter().filter(|(key, entry)| &key.peer == peer && matches!(entry, Running::Offered { .. })).count()
    }

    /// Sends the offer of `file` as `key`, and waits for its answer (for a while).
    fn send_offer(&self, link: &Rc<PeerLink>, key: &TransferKey, file: &File) -> Result<(), String> {
        let name = sanitize_name(&file.name());
        let offer = FileOffer { id: key.id.clone(), name: name.clone(), size: file.size() as u64, mime: file.type_() };
        if !link.send(&PeerMessage::FileOffer(offer)) {
            return Err(format!("Could not offer {name}: not connected yet"));
        }
        let timer = self.timer(key, OFFER_TIMEOUT_MS + OFFER_MARGIN_MS);
        let offered = Running::Offered { file: Clone::clone(file), link: Rc::downgrade(link), _timer: timer };
        self.0.running.borrow_mut().insert(key.clone(), offered);
        Ok(())
    }

    /// Sends the oldest offers queued for `peer`, as many as may be outstanding.
    fn send_queued(&self, peer: &PeerId) {
        let queued: Vec<TransferKey> = self
            .0
            .running
            .borrow()
            .iter()
            .filter(|(key, entry)| &key.peer == peer && matches!(entry, Running::Queued { .. }))
            .map(|(key, _)| key.clone())
            .collect();
        let count = offers_to_send(self.outstanding(peer), queued.len());
        for key in queued.into_iter().take(count) {
            let Some(Running::Queued { file, link }) = self.0.running.borrow_mut().remove(&key) else { continue };
            let sent = match link.upgrade() {
                Some(link) => self.send_offer(&link, &key, &file),
                None => Err(format!("Could not offer {}: not connected", sanitize_name(&file.name()))),
            };
            match sent {
                Ok(()) => self.0.emit(TransferEvent::Offered(key)),
                Err(why) => self.0.emit(TransferEvent::Failed(key, why)),
            }
        }
    }

    /// A file message from the peer at the other end of `link`, on its `huddle` channel.
    pub fn on_message(&self, link: &Rc<PeerLink>, message: PeerMessage) {
        let peer = link.id().clone();
        match message {
            PeerMessage::FileOffer(offer) => self.on_offer(link, offer),
            PeerMessage::FileAccept { id } => self.on_accept(link, id),
            PeerMessage::FileCancel { id } => {
                for direction in [Direction::Send, Direction::Receive] {
                    self.stop(TransferKey { peer: peer.clone(), id: id.clone(), direction }, Stop::ByPeer);
                }
            }
            // `file_end` belongs on a file channel; chat and media state are not for us.
            _ => {}
        }
    }

    fn on_offer(&self, link: &Rc<PeerLink>, offer: FileOffer) {
        let peer = link.id().clone();
        let key = TransferKey { peer: peer.clone(), id: offer.id.clone(), direction: Direction::Receive };
        let seen = {
            let (running, shelf) = (self.0.running.borrow(), self.0.shelf.borrow());
            let asking =
                |(k, entry): (&TransferKey, &Running)| k.peer == peer && matches!(entry, Running::Asking { .. });
            Seen {
                known: running.contains_key(&key) || shelf.holds(&key),
                pending: running.iter().filter(|entry| asking(*entry)).count(),
                refused: shelf.refusals_from(&peer),
            }
        };
        let room = self.0.allowance.borrow().room();
        match judge_offer(&offer, seen, room) {
            Verdict::Ask(checked) => {
                let mut transfer = Transfer::new(key.clone(), checked.name.clone(), checked.size);
                transfer.status = Status::Offered;
                let timer = self.timer(&key, OFFER_TIMEOUT_MS);
                let asking = Running::Asking { offer: checked, link: Rc::downgrade(link), _timer: timer };
                self.0.running.borrow_mut().insert(key, asking);
                self.0.emit(TransferEvent::Added(transfer));
            }
            Verdict::Refuse(refused) => {
                link.send(&PeerMessage::FileCancel { id: offer.id.clone() });
                // Shown under an id of our own: theirs may be malformed or belong to another transfer.
                let key = TransferKey { id: new_id(random_u64()), ..key };
                let mut transfer = Transfer::new(key, sanitize_name(&offer.name), offer.size);
                transfer.status = Status::Declined(Declined::Refused(refused.to_string()));
                self.0.emit(TransferEvent::Added(transfer));
            }
            Verdict::Drop => {
                link.send(&PeerMessage::FileCancel { id: offer.id });
                self.0.emit(TransferEvent::Dropped(peer));
            }
        }
    }

    /// A timer that, unless dropped first, ends the offer `key` once `after_ms` have passed: declines it while it
    /// waits for this person's answer, gives up on it once accepted if its channel never came, and on our own offer
    /// that the peer never answered.
    fn timer(&self, key: &TransferKey, after_ms: u32) -> Timeout {
        let (shared, key) = (Rc::downgrade(&self.0), key.clone());
        Timeout::new(after_ms, move || {
            if let Some(shared) = shared.upgrade() {
                let transfers = Transfers(shared);
                let (accepted, offered) = match transfers.0.running.borrow().get(&key) {
                    Some(Running::Accepted { .. }) => (true, false),
                    Some(Running::Offered { .. }) => (false, true),
                    _ => (false, false),
                };
                if accepted {
                    transfers.fail_accepted(key, "the sender never started sending it");
                } else if offered {
                    transfers.stop(key, Stop::Unanswered);
                } else {
                    transfers.decline(key, Declined::Unanswered);
                }
            }
        })
    }

    /// The person accepts the offer `key`: unless too many files are arriving (then it stays offered, and they are
    /// told) or it no longer fits in the bytes per call (then it is declined, saying so), the sender is asked to send.
    fn accept(&self, key: TransferKey) {
        let entry = self.0.running.borrow_mut().remove(&key);
        let Some(Running::Asking { offer, link, _timer }) = entry else {
            if let Some(other) = entry {
                self.0.running.borrow_mut().insert(key, other);
            }
            return;
        };
        let incoming = self
            .0
            .running
            .borrow()
            .iter()
            .filter(|(k, entry)| k.direction == Direction::Receive && !matches!(entry, Running::Asking { .. }))
            .count();
        let checked = check_accept(&offer, incoming, &self.0.allowance.borrow());
        match checked {
            Ok(()) => {}
            Err(busy @ OfferError::TooMany { .. }) => {
                self.0.running.borrow_mut().insert(key, Running::Asking { offer, link, _timer });
                return self.0.dispatch.emit(Action::Notice(busy.to_string()));
            }
            Err(refused) => {
                if let Some(link) = link.upgrade() {
                    link.send(&PeerMessage::FileCancel { id: key.id.clone() });
                }
                return self.0.emit(TransferEvent::Declined(key, Declined::Refused(refused.to_string())));
            }
        }
        let Some(live) = link.upgrade().filter(|link| link.send(&PeerMessage::FileAccept { id: key.id.clone() }))
        else {
            return self.0.emit(TransferEvent::Failed(key, "The connection was lost before the start".into()));
        };
        self.0.allowance.borrow_mut().reserve(offer.size);
        let timer = self.timer(&key, OFFER_TIMEOUT_MS);
        let accepted = Running::Accepted { offer, link: Rc::downgrade(&live), _timer: timer };
        self.0.running.borrow_mut().insert(key.clone(), accepted);
        self.0.emit(TransferEvent::Accepted(key));
    }

    /// Declines the offer `key` if it still waits for an answer; the sender is told.
    fn decline(&self, key: TransferKey, why: Declined) {
        let entry = self.0.running.borrow_mut().remove(&key);
        let Some(Running::Asking { link, .. }) = entry else {
            if let Some(other) = entry {
                self.0.running.borrow_mut().insert(key, other);
            }
            return;
        };
        if let Some(link) = link.upgrade() {
            link.send(&PeerMessage::FileCancel { id: key.id.clone() });
        }
        self.0.emit(TransferEvent::Declined(key, why));
    }

    /// An accepted offer whose bytes cannot come: it fails with `why`, the sender is told, and its bytes no longer
    /// count.
    fn fail_accepted(&self, key: TransferKey, why: &str) {
        let entry = self.0.running.borrow_mut().remove(&key);
        let Some(Running::Accepted { offer, link, .. }) = entry else {
            if let Some(other) = entry {
                self.0.running.borrow_mut().insert(key, other);
            }
            return;
        };
        self.0.allowance.borrow_mut().release(offer.size);
        if let Some(link) = link.upgrade() {
            link.send(&PeerMessage::FileCancel { id: key.id.clone() });
        }
        self.0.emit(TransferEvent::Failed(key, format!("{}: {why}", offer.name)));
    }

    /// Takes a finished transfer off the list and releases its file.
    fn dismiss(&self, key: &TransferKey) {
        let taken = self.0.shelf.borrow_mut().take(key);
        if let Some((key, download)) = taken {
            revoke(download);
            self.0.dispatch.emit(Action::Transfer(TransferEvent::Dismissed(key)));
        }
    }

    fn on_accept(&self, link: &Rc<PeerLink>, id: String) {
        let key = TransferKey { peer: link.id().clone(), id, direction: Direction::Send };
        let entry = self.0.running.borrow_mut().remove(&key);
        let file = match entry {
            Some(Running::Offered { file, .. }) => file,
            Some(other) => {
                self.0.running.borrow_mut().insert(key, other);
                return;
            }
            None => return,
        };
        // Answered: the next queued offer may go (before the bytes start, which may take a while).
        self.send_queued(&key.peer);
        let Ok(channel) = link.create_channel(&FileOffer::channel_label(&key.id)) else {
            return self.0.emit(TransferEvent::Failed(key, "The connection was lost before the start".into()));
        };
        self.0.emit(TransferEvent::Accepted(key.clone()));
        channel.set_binary_type(RtcDataChannelType::Arraybuffer);
        let (queue, events) = mpsc::unbounded();
        let handlers = ChannelEvents::attach(&channel, &queue);
        self.0.running.borrow_mut().insert(key.clone(), Running::Moving { queue });
        let work = send_file(self.0.dispatch.clone(), key.clone(), file, Clone::clone(&channel), events);
        spawn_local(finish(Rc::downgrade(&self.0), key, channel, handlers, Rc::downgrade(link), Box::pin(work)));
    }

    /// A data channel the peer at the other end of `link` opened: the bytes of a file we accepted, or else nothing
    /// we want (closed at once). Bytes for an offer not answered yet fail it: the sender did not wait.
    pub fn on_channel(&self, link: &Rc<PeerLink>, channel: RtcDataChannel) {
        let Some(id) = channel_id(&channel.label()).map(str::to_owned) else {
            channel.close();
            return;
        };
        let key = TransferKey { peer: link.id().clone(), id, direction: Direction::Receive };
        let entry = self.0.running.borrow_mut().remove(&key);
        let offer = match entry {
            Some(Running::Accepted { offer, .. }) => offer,
            Some(Running::Asking { offer, .. }) => {
                channel.close();
                link.send(&PeerMessage::FileCancel { id: key.id.clone() });
                let why = format!("{}: the sender sent it before you accepted it", offer.name);
                return self.0.emit(TransferEvent::Failed(key, why));
            }
            Some(other) => {
                self.0.running.borrow_mut().insert(key, other);
                channel.close();
                return;
            }
            None => {
                channel.close();
                return;
            }
        };
        // Before anything arrives: the handlers are attached in the same task as the `datachannel` event.
        channel.set_binary_type(RtcDataChannelType::Arraybuffer);
        let (queue, events) = mpsc::unbounded();
        let handlers = ChannelEvents::attach(&channel, &queue);
        self.0.running.borrow_mut().insert(key.clone(), Running::Moving { queue });
        let work = receive_file(Rc::downgrade(&self.0), key.clone(), offer, events);
        spawn_local(finish(Rc::downgrade(&self.0), key, channel, handlers, Rc::downgrade(link), Box::pin(work)));
    }

    /// The peer left or their connection was given up: their transfers fail.
    pub fn peer_gone(&self, peer: &PeerId) {
        let keys: Vec<TransferKey> = self.0.running.borrow().keys().filter(|key| &key.peer == peer).cloned().collect();
        for key in keys {
            self.stop(key, Stop::PeerGone);
        }
    }

    /// The call ends: every transfer stops and received files are released.
    pub fn close_all(&self) {
        // Queued offers first: ending an offered one would send the next in the queue.
        let mut keys: Vec<(bool, TransferKey)> = self
            .0
            .running
            .borrow()
            .iter()
            .map(|(key, entry)| (!matches!(entry, Running::Queued { .. }), key.clone()))
            .collect();
        keys.sort_by_key(|(later, _)| *later);
        for (_, key) in keys {
            self.stop(key, Stop::ByMe);
        }
        let urls = self.0.shelf.borrow_mut().clear();
        for url in urls {
            revoke(Some(url));
        }
    }

    fn stop(&self, key: TransferKey, stop: Stop) {
        let entry = self.0.running.borrow_mut().remove(&key);
        let link = match entry {
            None => return,
            Some(Running::Moving { queue }) => {
                // Its task ends the transfer (it may already be ending: then this is not heard).
                let _ = queue.unbounded_send(ChannelEvent::Stop(stop));
                self.0.running.borrow_mut().insert(key, Running::Moving { queue });
                return;
            }
            Some(Running::Queued { file, link }) => {
                // Never offered: nothing to tell the peer, who does not know its id (so cannot cancel it either).
                return match stop {
                    Stop::ByMe => self.0.emit(TransferEvent::Cancelled(key, true)),
                    Stop::PeerGone => self.0.emit(TransferEvent::NoAnswer(key, NoAnswer::PeerLeft)),
                    Stop::ByPeer | Stop::Unanswered => {
                        self.0.running.borrow_mut().insert(key, Running::Queued { file, link });
                    }
                };
            }
            Some(Running::Offered { link, .. }) => {
                let peer = key.peer.clone();
                match stop {
                    // The person we offered it to declined it, or let it go unanswered.
                    Stop::ByPeer => self.0.emit(TransferEvent::Declined(key, Declined::ByPeer)),
                    Stop::PeerGone => self.0.emit(TransferEvent::NoAnswer(key, NoAnswer::PeerLeft)),
                    Stop::ByMe | Stop::Unanswered => {
                        // Withdrawn: the peer stops asking their person about it.
                        if let Some(link) = link.upgrade() {
                            link.send(&PeerMessage::FileCancel { id: key.id.clone() });
                        }
                        match stop {
                            Stop::ByMe => self.0.emit(TransferEvent::Cancelled(key, true)),
                            _ => self.0.emit(TransferEvent::NoAnswer(key, NoAnswer::TimedOut)),
                        }
                    }
                }
                if stop != Stop::PeerGone {
                    self.send_queued(&peer);
                }
                return;
            }
            Some(Running::Asking { .. }) if stop == Stop::PeerGone => {
                return self.0.emit(TransferEvent::NoAnswer(key, NoAnswer::PeerLeft));
            }
            Some(Running::Accepted { offer, link, .. }) => {
                self.0.allowance.borrow_mut().release(offer.size);
                link
            }
            Some(Running::Asking { link, .. }) => link,
        };
        let outcome = Outcome::stopped(stop);
        if outcome.tells_peer() {
            if let Some(link) = link.upgrade() {
                link.send(&PeerMessage::FileCancel { id: key.id.clone() });
            }
        }
        self.0.emit(outcome.into_event(key));
    }
}

/// Runs a transfer's work, then tells the peer if needed, closes the channel and reports how it ended.
///
/// A side that sends `file_cancel` leaves closing the channel to the peer: Chrome may deliver the closing before a
/// message sent just ahead of it, and the peer would then take a cancel for a lost connection.
///
/// `work` is boxed so that sending and receiving share one copy of this rather than each carrying its own
/// (docs/SIZE.md, "What each change saved").
async fn finish(
    shared: Weak<Shared>,
    key: TransferKey,
    channel: RtcDataChannel,
    handlers: ChannelEvents,
    link: Weak<PeerLink>,
    work: Pin<Box<dyn Future<Output = Outcome>>>,
) {
    let outcome = work.await;
    drop(handlers);
    if let Outcome::Broken(_) = outcome {
        if let Some(link) = link.upgrade() {
            link.send(&PeerMessage::FileCancel { id: key.id.clone() });
        }
        channel.close();
    } else if outcome.tells_peer() {
        let cancel = PeerMessage::FileCancel { id: key.id.clone() };
        if channel.ready_state() == RtcDataChannelState::Open {
            let _ = channel.send_with_str(&cancel.to_json());
        }
        if let Some(link) = link.upgrade() {
            link.send(&cancel);
        }
        // Should the peer never close it, whatever it still sends is dropped unread until this does.
        let channel = Clone::clone(&channel);
        spawn_local(async move {
            gloo_timers::future::TimeoutFuture::new(CLOSE_AFTER_CANCEL_MS).await;
            channel.close();
        });
    } else {
        channel.close();
    }
    match shared.upgrade() {
        Some(shared) => {
            shared.running.borrow_mut().remove(&key);
            shared.emit(outcome.into_event(key));
        }
        // The call is over: nobody will save it.
        None => {
            if let Outcome::Done(download) = outcome {
                revoke(download);
            }
        }
    }
}

/// What a stop request or a peer's message means for the sender of transfer `id` while bytes are moving. The only
/// message a receiver sends on our channel is its `file_cancel`; the first anything else ends the transfer and the
/// channel, so a receiver flooding it costs nothing more.
fn interrupts_sending(event: ChannelEvent, id: &str, name: &str) -> Option<Outcome> {
    match event {
        ChannelEvent::Stop(stop) => Some(Outcome::stopped(stop)),
        ChannelEvent::Closed => Some(Outcome::lost()),
        ChannelEvent::Text(Some(text)) if is_cancel(&text, id) => Some(Outcome::Cancelled { by_me: false }),
        ChannelEvent::Text(_) | ChannelEvent::Binary(_) => Some(not_part_of_sending(name)),
        ChannelEvent::Open | ChannelEvent::BufferedLow => None,
    }
}

fn not_part_of_sending(name: &str) -> Outcome {
    Outcome::Broken(format!("{name} failed: the receiver sent something that is not part of a file transfer"))
}

/// Whether `text` is the `file_cancel` of transfer `id`.
fn is_cancel(text: &str, id: &str) -> bool {
    matches!(PeerMessage::from_json(text), Some(PeerMessage::FileCancel { id: of }) if of == id)
}

/// Sends `file` on `channel`: a slice at a time, waiting whenever the channel's buffer is full, so that memory use
/// does not depend on the file's size. Then `file_end` with the hash, and waits for the receiver to close the channel.
async fn send_file(
    dispatch: Callback<Action>,
    key: TransferKey,
    file: File,
    channel: RtcDataChannel,
    mut events: mpsc::UnboundedReceiver<ChannelEvent>,
) -> Outcome {
    let progress = |bytes| dispatch.emit(Action::Transfer(TransferEvent::Progress(key.clone(), bytes)));
    let name = sanitize_name(&file.name());
    let interrupts = |event| interrupts_sending(event, &key.id, &name);
    loop {
        match events.next().await {
            Some(ChannelEvent::Open) => break,
            Some(event) => {
                if let Some(outcome) = interrupts(event) {
                    return outcome;
                }
            }
            None => return Outcome::lost(),
        }
    }
    channel.set_buffered_amount_low_threshold(LOW_WATER_BYTES);
    let size = file.size() as u64;
    let mut sent = Sent::default();
    let mut scratch = vec![0u8; CHUNK_BYTES];
    let mut throttle = Throttle::default();
    for (start, end) in read_ranges(size) {
        while let Ok(event) = events.try_recv() {
            if let Some(outcome) = interrupts(event) {
                return outcome;
            }
        }
        while channel.buffered_amount() > HIGH_WATER_BYTES {
            match events.next().await {
                Some(event) => {
                    if let Some(outcome) = interrupts(event) {
                        return outcome;
                    }
                }
                None => return Outcome::lost(),
            }
        }
        let Ok(block) = read_slice(&file, start, end).await else {
            return Outcome::Failed { why: format!("Could not read {name}"), tell_peer: true };
        };
        let block = Uint8Array::new(&block);
        let length = block.length();
        if u64::from(length) != end - start {
            return Outcome::Failed { why: format!("{name} changed while it was being sent"), tell_peer: true };
        }
        let mut offset = 0;
        while offset < length {
            let count = (length - offset).min(CHUNK_BYTES as u32);
            let chunk = block.subarray(offset, offset + count);
            let bytes = &mut scratch[..count as usize];
            chunk.copy_to(bytes);
            sent.add(bytes);
            if channel.send_with_array_buffer_view(&chunk).is_err() {
                return Outcome::lost();
            }
            offset += count;
        }
        if throttle.due(js_sys::Date::now()) {
            progress(sent.bytes());
        }
    }
    progress(sent.bytes());
    let end = PeerMessage::FileEnd { id: key.id.clone(), sha256: sent.sha256() };
    if channel.send_with_str(&end.to_json()).is_err() {
        return Outcome::lost();
    }
    // The receiver closes the channel once it has everything and the hash checks out; it says so otherwise.
    loop {
        match events.next().await {
            Some(ChannelEvent::Closed) | None => return Outcome::Done(None),
            Some(ChannelEvent::Text(Some(text))) if is_cancel(&text, &key.id) => {
                return Outcome::Failed { why: format!("{name} did not arrive intact"), tell_peer: false };
            }
            Some(ChannelEvent::Stop(stop)) => return Outcome::stopped(stop),
            Some(ChannelEvent::Text(_) | ChannelEvent::Binary(_)) => return not_part_of_sending(&name),
            Some(ChannelEvent::Open | ChannelEvent::BufferedLow) => {}
        }
    }
}

/// Reads bytes `start..end` of `file`, and only those.
async fn read_slice(file: &File, start: u64, end: u64) -> Result<ArrayBuffer, JsValue> {
    let slice = file.slice_with_f64_and_f64(start as f64, end as f64)?;
    Ok(JsFuture::from(slice.array_buffer()).await?.unchecked_into())
}

/// Receives the file offered as `offer` from its channel's `events`: counts and hashes each chunk, keeps the chunks as
/// they came (folded into a `Blob` every 16 MiB), and on `file_end` checks the whole and makes it a download. Whatever
/// does not arrive no longer counts against the bytes per call.
async fn receive_file(
    shared: Weak<Shared>,
    key: TransferKey,
    offer: CheckedOffer,
    events: mpsc::UnboundedReceiver<ChannelEvent>,
) -> Outcome {
    let mut receipt = Receipt::new(&offer.name, offer.size);
    let outcome = receive_bytes(&shared, &key, &offer, &mut receipt, events).await;
    if !matches!(outcome, Outcome::Done(_)) {
        if let Some(shared) = shared.upgrade() {
            shared.allowance.borrow_mut().release(receipt.missing());
        }
    }
    outcome
}

async fn receive_bytes(
    shared: &Weak<Shared>,
    key: &TransferKey,
    offer: &CheckedOffer,
    receipt: &mut Receipt,
    mut events: mpsc::UnboundedReceiver<ChannelEvent>,
) -> Outcome {
    let progress = |bytes| {
        if let Some(shared) = shared.upgrade() {
            shared.emit(TransferEvent::Progress(key.clone(), bytes));
        }
    };
    // A sender that breaks the rules of the channel (pieces of the wrong size, more than offered, messages that are
    // not part of a file) is cut off at once; a file that is only incomplete or hashes differently is told gently.
    let damaged = |damage: ReceiveError| match damage {
        ReceiveError::Incomplete { .. } | ReceiveError::Damaged { .. } => {
            Outcome::Failed { why: damage.to_string(), tell_peer: true }
        }
        _ => Outcome::Broken(damage.to_string()),
    };
    let mut parts = Array::new();
    let mut unfolded = 0;
    let mut scratch = Vec::new();
    let mut throttle = Throttle::default();
    while let Some(event) = events.next().await {
        match event {
            ChannelEvent::Binary(buffer) => {
                let chunk = Uint8Array::new(&buffer);
                // Messages are bounded by the connection's maximum message size (256 KiB in Chrome).
                scratch.resize(chunk.length() as usize, 0);
                chunk.copy_to(&mut scratch);
                if let Err(damage) = receipt.add(&scratch) {
                    return damaged(damage);
                }
                let count = parts.push(&buffer);
                unfolded += scratch.len() as u64;
                if should_fold(unfolded, count) {
                    match Blob::new_with_buffer_source_sequence(&parts) {
                        Ok(blob) => parts = Array::of1(&blob),
                        Err(_) => return out_of_memory(&offer.name),
                    }
                    unfolded = 0;
                }
                if throttle.due(js_sys::Date::now()) {
                    progress(receipt.received());
                }
            }
            ChannelEvent::Text(text) => match receipt.read_control(&key.id, text.as_deref()) {
                Ok(Control::End { sha256 }) => {
                    progress(receipt.received());
                    if let Err(damage) = receipt.finish(&sha256) {
                        return damaged(damage);
                    }
                    let Some(url) = download_url(&parts, offer.mime) else { return out_of_memory(&offer.name) };
                    return Outcome::Done(Some(url));
                }
                Ok(Control::Cancel) => return Outcome::Cancelled { by_me: false },
                Err(damage) => return damaged(damage),
            },
            ChannelEvent::Stop(stop) => return Outcome::stopped(stop),
            ChannelEvent::Closed => return Outcome::lost(),
            ChannelEvent::Open | ChannelEvent::BufferedLow => {}
        }
    }
    Outcome::lost()
}

fn out_of_memory(name: &str) -> Outcome {
    Outcome::Failed { why: format!("No room to keep {name} in this browser"), tell_peer: true }
}

/// The received parts as one `Blob` of the offered type, behind a `blob:` URL.
fn download_url(parts: &Array, mime: &str) -> Option<String> {
    let options = BlobPropertyBag::new();
    options.set_type(mime);
    let blob = Blob::new_with_buffer_source_sequence_and_options(parts, &options).ok()?;
    Url::create_object_url_with_blob(&blob).ok()
}

/// 64 random bits, for transfer ids (unique, not secret).
fn random_u64() -> u64 {
    let half = || (js_sys::Math::random() * 4_294_967_296.0) as u64;
    (half() << 32) | half()
}

/// Sets `window.__huddle_wasm_memory` to this module's memory, so that the end-to-end tests can check that sending a
/// file does not grow it with the file's size.
fn expose_memory() {
    if let Some(window) = web_sys::window() {
        let _ = Reflect::set(&window, &"__huddle_wasm_memory".into(), &wasm_bindgen::memory());
    }
}
