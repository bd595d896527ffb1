//! Everything the call screen shows, changed only through [`Action`]s: plain Rust, unit-tested natively, and the
//! state behind Yew's `use_reducer` (through `ui::call_state`).

use std::rc::Rc;

use huddle_common::{DisplayName, ErrorCode, PeerId, PeerInfo, PeerMessage};

use crate::call::chat::ChatHistory;
pub use crate::call::chat::{Author, ChatLine};
use crate::call::ice::IceProblem;
use crate::call::quality::{Grade, OwnVideo};
use crate::call::transfer::{TransferEvent, TransferList};

/// Where the call stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    /// Waiting for the relay's `joined`.
    Joining,
    /// In the room.
    InCall,
    /// The relay connection dropped; calls already connected go on while the app reconnects.
    Reconnecting,
    /// Over, and why.
    Ended(Ending),
    /// The relay would not take the name before the call began: the lobby is back, with this reason under its name
    /// field and its devices still on, for another try (see `call::refusal`).
    NameRefused(String),
}

/// Why the call screen ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Ending {
    /// The person pressed Leave.
    Left,
    /// The relay refused the join.
    Refused {
        /// The protocol error code.
        code: ErrorCode,
        /// The relay's explanation.
        message: String,
    },
    /// The same person joined from another tab, which took over.
    Replaced,
    /// The relay closed the connection for abuse, or cannot be reached at all.
    RelayUnavailable,
}

/// `RTCPeerConnection.connectionState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Not started.
    New,
    /// ICE/DTLS in progress.
    Connecting,
    /// Media can flow.
    Connected,
    /// Lost for now; may come back (or an ICE restart brings it back).
    Disconnected,
    /// Gave up; an ICE restart is under way.
    Failed,
    /// Closed.
    Closed,
}

impl LinkState {
    /// The browser's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::New => "new",
            LinkState::Connecting => "connecting",
            LinkState::Connected => "connected",
            LinkState::Disconnected => "disconnected",
            LinkState::Failed => "failed",
            LinkState::Closed => "closed",
        }
    }

    /// What a person is told while the link is not up (None once connected).
    pub fn label(self) -> Option<&'static str> {
        match self {
            LinkState::Connected => None,
            LinkState::New | LinkState::Connecting => Some("Connecting…"),
            LinkState::Disconnected => Some("Connection lost, reconnecting…"),
            LinkState::Failed => Some("Reconnecting…"),
            LinkState::Closed => Some("Disconnected"),
        }
    }
}

/// Another person in the call.
#[derive(Clone, Debug, PartialEq)]
pub struct RemotePeer {
    /// Their id.
    pub id: PeerId,
    /// Their name.
    pub name: DisplayName,
    /// The state of the peer connection to them.
    pub link: LinkState,
    /// Their microphone is on (as they last told us).
    pub mic_on: bool,
    /// Their camera is on (as they last told us).
    pub camera_on: bool,
    /// They share their screen (as they last told us).
    pub screen_on: bool,
    /// Bumped when their media stream gains or loses a track, so the tile re-attaches it.
    pub media_revision: u32,
    /// How good the connection to them is, as the network monitor last graded it (the tile's indicator); `None`
    /// before anything was measured.
    pub quality: Option<Grade>,
    /// Their camera is on but they paused its video to us, their network not carrying it (as they last told us).
    pub video_paused: bool,
}

/// The call screen's state.
#[derive(Clone, Debug, PartialEq)]
pub struct CallState {
    /// Where the call stands.
    pub phase: Phase,
    /// Joining, but the relay could not be reached yet: the engine is trying again (see the lobby).
    pub relay_retrying: bool,
    /// Our peer id, once joined.
    pub me: Option<PeerId>,
    /// Everyone else, in the order they arrived.
    pub peers: Vec<RemotePeer>,
    /// Our microphone is on.
    pub mic_on: bool,
    /// Our camera is on.
    pub camera_on: bool,
    /// We share our screen.
    pub sharing: bool,
    /// The chat's latest lines, shared by the states that have the same (an action copies the pointer).
    pub chat: Rc<ChatHistory>,
    /// The chat panel is open.
    pub chat_open: bool,
    /// Chat lines received while the panel was closed, and still kept.
    pub unread: usize,
    /// The call statistics panel is open (it takes the chat's place beside the stage).
    pub stats_open: bool,
    /// The device settings dialog is open.
    pub settings_open: bool,
    /// The list of keyboard shortcuts is open.
    pub help_open: bool,
    /// A short-lived message for the person (someone left, the link was copied…).
    pub notice: Option<String>,
    /// What is wrong with the call's ICE servers, shown until dismissed: unlike a notice it does not fade, since
    /// it explains why connections do not come up.
    pub ice_problem: Option<IceProblem>,
    /// Files sent and received during the call.
    pub transfers: TransferList,
    /// What the network lets our video do; unless full, a lasting notice says so ([`OwnVideo::notice`]).
    pub own_video: OwnVideo,
}

/// Everything that can change the call screen.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// The relay admitted us (first join, or a rejoin after a relay blip).
    Joined {
        /// Our id.
        me: PeerId,
        /// Who is in the room.
        peers: Vec<PeerInfo>,
    },
    /// Someone entered.
    PeerJoined(PeerInfo),
    /// Someone left or dropped.
    PeerLeft {
        /// Who.
        peer: PeerId,
        /// They lost their connection (rather than leaving).
        dropped: bool,
    },
    /// A peer connection changed state.
    Link(PeerId, LinkState),
    /// A remote stream gained or lost a track.
    RemoteMediaChanged(PeerId),
    /// A message arrived on a data channel.
    FromPeer(PeerId, PeerMessage),
    /// We sent a chat line.
    ChatSent(String),
    /// Open or close the chat panel.
    ToggleChat,
    /// Open or close the call statistics panel.
    ToggleStats,
    /// Open or close the device settings.
    ToggleSettings,
    /// Open or close the list of keyboard shortcuts.
    ToggleHelp,
    /// Close what is on top (Escape): the shortcuts, else the settings, else the chat, else the statistics.
    CloseTopmost,
    /// Our microphone was switched.
    SetMic(bool),
    /// Our camera was switched.
    SetCamera(bool),
    /// Our screen share started or stopped.
    SetSharing(bool),
    /// Show a notice.
    Notice(String),
    /// Hide the notice.
    ClearNotice,
    /// The browser reported a problem with the call's ICE servers.
    IceProblem(IceProblem),
    /// The person closed the ICE problem's message.
    DismissIceProblem,
    /// The relay connection dropped; reconnecting.
    RelayLost,
    /// Something happened to a file transfer.
    Transfer(TransferEvent),
    /// The connection to a peer reads differently: the network monitor grades it (see `call::quality::Grader`).
    Grade(PeerId, Grade),
    /// What our own video does because of the network.
    OwnVideo(OwnVideo),
    /// The call is over.
    End(Ending),
    /// The relay refused the name before the call began, for this reason: back to the lobby.
    NameRefused(String),
    /// Join was pressed (again, after a refused name): a fresh call state, with the devices as set in the lobby.
    Start {
        /// The microphone is on.
        mic_on: bool,
        /// The camera is on.
        camera_on: bool,
    },
}

impl CallState {
    /// The state when the call screen opens, with the devices as chosen in the lobby.
    pub fn new(mic_on: bool, camera_on: bool) -> Self {
        CallState {
            phase: Phase::Joining,
            relay_retrying: false,
            me: None,
            peers: Vec::new(),
            mic_on,
            camera_on,
            sharing: false,
            chat: Rc::default(),
            chat_open: false,
            unread: 0,
            stats_open: false,
            settings_open: false,
            help_open: false,
            notice: None,
            ice_problem: None,
            transfers: TransferList::default(),
            own_video: OwnVideo::Full,
        }
    }

    /// The peer with this id.
    pub fn peer(&self, id: &PeerId) -> Option<&RemotePeer> {
        self.peers.iter().find(|peer| &peer.id == id)
    }

    fn peer_mut(&mut self, id: &PeerId) -> Option<&mut RemotePeer> {
        self.peers.iter_mut().find(|peer| &peer.id == id)
    }

    fn add_peer(&mut self, info: PeerInfo) {
        if self.peer(&info.id).is_none() {
            self.peers.push(RemotePeer {
                id: info.id,
                name: info.name,
                link: LinkState::New,
                // Until they say otherwise: a tile shows their video if it arrives.
                mic_on: true,
                camera_on: true,
                screen_on: false,
                media_revision: 0,
                quality: None,
                video_paused: false,
            });
        }
    }

    /// Whether `action` would leave this state as it is, for the network monitor's news, which comes every second
    /// (then the call screen need not be copied nor rendered again).
    pub fn unchanged_by(&self, action: &Action) -> bool {
        match action {
            Action::Grade(peer, grade) => self.peer(peer).is_none_or(|peer| peer.quality == Some(*grade)),
            Action::OwnVideo(video) => self.own_video == *video,
            _ => false,
        }
    }

    /// Applies one action.
    pub fn apply(&mut self, action: Action) {
        let over = matches!(self.phase, Phase::Ended(_) | Phase::NameRefused(_));
        match action {
            Action::Start { mic_on, camera_on } => *self = CallState::new(mic_on, camera_on),
            _ if over => {}
            Action::Joined { me, peers } => {
                self.phase = Phase::InCall;
                self.relay_retrying = false;
                self.me = Some(me);
                // After a relay blip the list may lack peers who are still reconnecting themselves: keep ours.
                for info in peers {
                    self.add_peer(info);
                }
            }
            Action::PeerJoined(info) => {
                self.notice = Some(format!("{} joined", info.name));
                self.add_peer(info);
            }
            Action::PeerLeft { peer, dropped } => {
                if let Some(index) = self.peers.iter().position(|p| p.id == peer) {
                    let gone = self.peers.remove(index);
                    let how = if dropped { "lost connection" } else { "left" };
                    self.notice = Some(format!("{} {how}", gone.name));
                }
            }
            Action::Link(peer, link) => {
                if let Some(peer) = self.peer_mut(&peer) {
                    peer.link = link;
                }
            }
            Action::RemoteMediaChanged(peer) => {
                if let Some(peer) = self.peer_mut(&peer) {
                    peer.media_revision = peer.media_revision.wrapping_add(1);
                }
            }
            Action::FromPeer(from, message) => self.on_peer_message(from, message),
            Action::ChatSent(text) => self.add_chat(ChatLine { author: Author::Me, text }),
            Action::ToggleChat => {
                self.chat_open = !self.chat_open;
                if self.chat_open {
                    self.unread = 0;
                    self.stats_open = false;
                }
            }
            Action::ToggleStats => {
                self.stats_open = !self.stats_open;
                if self.stats_open {
                    self.chat_open = false;
                }
            }
            Action::ToggleSettings => self.settings_open = !self.settings_open,
            Action::ToggleHelp => self.help_open = !self.help_open,
            Action::CloseTopmost => {
                if self.help_open {
                    self.help_open = false;
                } else if self.settings_open {
                    self.settings_open = false;
                } else if self.chat_open {
                    self.chat_open = false;
                } else {
                    self.stats_open = false;
                }
            }
            Action::SetMic(on) => self.mic_on = on,
            Action::SetCamera(on) => self.camera_on = on,
            Action::SetSharing(on) => self.sharing = on,
            Action::Notice(text) => self.notice = Some(text),
            Action::ClearNotice => self.notice = None,
            Action::IceProblem(problem) => self.ice_problem = Some(problem),
            Action::DismissIceProblem => self.ice_problem = None,
            Action::Grade(peer, grade) => {
                if let Some(peer) = self.peer_mut(&peer) {
                    peer.quality = Some(grade);
                }
            }
            Action::OwnVideo(video) => self.own_video = video,
            Action::RelayLost => match self.phase {
                Phase::InCall => self.phase = Phase::Reconnecting,
                Phase::Joining => self.relay_retrying = true,
                _ => {}
            },
            Action::Transfer(event) => {
                let peers = &self.peers;
                let name_of = |id: &PeerId| peers.iter().find(|p| &p.id == id).map(|p| p.name.to_string());
                self.transfers.apply(event, name_of);
            }
            Action::End(ending) => self.phase = Phase::Ended(ending),
            Action::NameRefused(reason) => self.phase = Phase::NameRefused(reason),
        }
    }

    /// Adds a line to the history: copies the history's list of lines if an earlier state still shares it (Yew's
    /// reducer keeps the previous state), never the lines themselves.
    fn add_chat(&mut self, line: ChatLine) {
        Rc::make_mut(&mut self.chat).push(line);
        // Lines dropped from the history are no longer there to read.
        self.unread = self.unread.min(self.chat.len());
    }

    fn on_peer_message(&mut self, from: PeerId, message: PeerMessage) {
        let Some(peer) = self.peer_mut(&from) else { return };
        match message {
            PeerMessage::MediaState { mic, camera, screen, video_paused } => {
                peer.mic_on = mic;
                peer.camera_on = camera;
                peer.screen_on = screen;
                peer.video_paused = camera && video_paused;
            }
            PeerMessage::Chat { text } => {
                if text.trim().is_empty() || text.chars().count() > PeerMessage::MAX_CHAT_CHARS {
                    return;
                }
                let author = Author::Peer { id: from, name: peer.name.clone() };
                if !self.chat_open {
                    self.unread += 1;
                }
                self.add_chat(ChatLine { author, text });
            }
            // Files are the engine's business (`crate::rtc::transfer`); it never passes them on.
            PeerMessage::FileOffer(_)
            | PeerMessage::FileAccept { .. }
            | PeerMessage::FileEnd { .. }
            | PeerMessage::FileCancel { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str, name: &str) -> PeerInfo {
        PeerInfo { id: id.into(), name: DisplayName::parse(name).unwrap() }
    }

    fn joined_with(peers: &[(&str, &str)]) -> CallState {
        let mut state = CallState::new(true, true);
        let peers = peers.iter().map(|(id, name)| info(id, name)).collect();
        state.apply(Action::Joined { me: "me".into(), peers });
        state
    }

    #[test]
    fn joining_lists_the_room_and_arrivals_and_departures_update_it() {
        let mut state = joined_with(&[("a", "Ada")]);
        assert_eq!(state.phase, Phase::InCall);
        assert_eq!(state.peers.len(), 1);
        assert_eq!(state.peers[0].link, LinkState::New);
        state.apply(Action::PeerJoined(info("b", "Bob")));
        assert_eq!(state.notice.as_deref(), Some("Bob joined"));
        state.apply(Action::PeerLeft { peer: "a".into(), dropped: true });
        assert_eq!(state.notice.as_deref(), Some("Ada lost connection"));
        assert_eq!(state.peers.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["Bob"]);
    }

    #[test]
    fn a_rejoin_after_a_relay_blip_keeps_peers_the_relay_does_not_list_yet() {
        let mut state = joined_with(&[("a", "Ada"), ("b", "Bob")]);
        state.apply(Action::Link("a".into(), LinkState::Connected));
        state.apply(Action::RelayLost);
        assert_eq!(state.phase, Phase::Reconnecting);
        state.apply(Action::Joined { me: "me".into(), peers: vec![info("b", "Bob")] });
        assert_eq!(state.phase, Phase::InCall);
        assert_eq!(state.peers.len(), 2);
        assert_eq!(state.peer(&"a".into()).unwrap().link, LinkState::Connected);
    }

    #[test]
    fn a_relay_unreachable_while_joining_is_retried_in_the_lobby_then_forgotten_once_joined() {
        let mut state = CallState::new(true, true);
        assert!(!state.relay_retrying);
        state.apply(Action::RelayLost);
        assert_eq!(state.phase, Phase::Joining);
        assert!(state.relay_retrying);
        state.apply(Action::Joined { me: "me".into(), peers: Vec::new() });
        assert_eq!(state.phase, Phase::InCall);
        assert!(!state.relay_retrying);
    }

    #[test]
    fn chat_counts_unread_lines_until_the_panel_opens() {
        let mut state = joined_with(&[("a", "Ada")]);
        state.apply(Action::FromPeer("a".into(), PeerMessage::Chat { text: "hi".into() }));
        state.apply(Action::FromPeer("a".into(), PeerMessage::Chat { text: "there".into() }));
        assert_eq!(state.unread, 2);
        state.apply(Action::ToggleChat);
        assert_eq!(state.unread, 0);
        state.apply(Action::FromPeer("a".into(), PeerMessage::Chat { text: "open now".into() }));
        assert_eq!(state.unread, 0);
        state.apply(Action::ChatSent("hello".into()));
        let authors: Vec<_> = state.chat.lines().map(|(_, line)| line.author.clone()).collect();
        let ada = Author::Peer { id: "a".into(), name: DisplayName::parse("Ada").unwrap() };
        assert_eq!(authors, [ada.clone(), ada.clone(), ada, Author::Me]);
    }

    #[test]
    fn the_chat_and_the_stats_panel_take_turns_beside_the_stage() {
        let mut state = joined_with(&[("a", "Ada")]);
        state.apply(Action::ToggleStats);
        assert!(state.stats_open && !state.chat_open);
        state.apply(Action::ToggleChat);
        assert!(state.chat_open && !state.stats_open);
        state.apply(Action::ToggleStats);
        assert!(state.stats_open && !state.chat_open);
        state.apply(Action::ToggleStats);
        assert!(!state.stats_open && !state.chat_open);
    }

    #[test]
    fn escape_closes_the_topmost_overlay_first() {
        let mut state = joined_with(&[("a", "Ada")]);
        for action in [Action::ToggleStats, Action::ToggleSettings, Action::ToggleHelp] {
            state.apply(action);
        }
        assert!(state.stats_open && state.settings_open && state.help_open);
        state.apply(Action::CloseTopmost);
        assert!(state.stats_open && state.settings_open && !state.help_open);
        state.apply(Action::CloseTopmost);
        assert!(state.stats_open && !state.settings_open);
        state.apply(Action::ToggleChat);
        state.apply(Action::CloseTopmost);
        assert!(!state.chat_open && !state.stats_open);
        state.apply(Action::ToggleStats);
        state.apply(Action::CloseTopmost);
        assert!(!state.stats_open);
        let closed = state.clone();
        state.apply(Action::CloseTopmost);
        assert_eq!(state, closed);
    }

    #[test]
    fn hostile_peer_messages_change_nothing() {
        let mut state = joined_with(&[("a", "Ada")]);
        let before = state.clone();
        state.apply(Action::FromPeer("stranger".into(), PeerMessage::Chat { text: "hi".into() }));
        state.apply(Action::FromPeer("a".into(), PeerMessage::Chat { text: "   ".into() }));
        let flood = "x".repeat(PeerMessage::MAX_CHAT_CHARS + 1);
        state.apply(Action::FromPeer("a".into(), PeerMessage::Chat { text: flood }));
        assert_eq!(state, before);
    }

    #[test]
    fn media_state_from_a_peer_shows_on_their_tile() {
        let mut state = joined_with(&[("a", "Ada")]);
        state.apply(Action::FromPeer(
            "a".into(),
            PeerMessage::MediaState { mic: false, camera: false, screen: true, video_paused: false },
        ));
        let ada = state.peer(&"a".into()).unwrap();
        assert!(!ada.mic_on && !ada.camera_on && ada.screen_on);
    }

    #[test]
    fn an_ice_problem_stays_shown_until_dismissed() {
        let mut state = joined_with(&[("a", "Ada")]);
        state.apply(Action::IceProblem(IceProblem::TurnCredentialsRefused));
        // Notices come and go; the problem stays, and a rejoin does not hide it either.
        state.apply(Action::PeerJoined(info("b", "Bob")));
        state.apply(Action::ClearNotice);
        state.apply(Action::Joined { me: "me".into(), peers: vec![info("a", "Ada")] });
        assert_eq!(state.ice_problem, Some(IceProblem::TurnCredentialsRefused));
        assert_eq!(state.peer(&"a".into()).unwrap().link, LinkState::New, "nothing pretends to be connected");
        state.apply(Action::DismissIceProblem);
        assert_eq!(state.ice_problem, None);
    }

    #[test]
    fn nothing_changes_once_the_call_ended() {
        let mut state = joined_with(&[("a", "Ada")]);
        state.apply(Action::End(Ending::Left));
        let ended = state.clone();
        state.apply(Action::PeerJoined(info("b", "Bob")));
        state.apply(Action::RelayLost);
        assert_eq!(state, ended);
    }

    #[test]
    fn a_refused_name_waits_in_the_lobby_until_join_starts_afresh() {
        let mut state = CallState::new(true, true);
        state.apply(Action::RelayLost);
        state.apply(Action::NameRefused("Pick another.".into()));
        assert_eq!(state.phase, Phase::NameRefused("Pick another.".into()));
        let refused = state.clone();
        state.apply(Action::Joined { me: "me".into(), peers: Vec::new() });
        assert_eq!(state, refused, "the refused call's engine has nothing more to say");
        state.apply(Action::Start { mic_on: false, camera_on: true });
        assert_eq!(state, CallState::new(false, true));
        state.apply(Action::Joined { me: "me".into(), peers: Vec::new() });
        assert_eq!(state.phase, Phase::InCall);
    }

    #[test]
    fn a_transfer_keeps_the_name_of_the_person_it_is_with_after_they_leave() {
        use crate::call::transfer::{Direction, Transfer, TransferKey};
        let mut state = joined_with(&[("a", "Ada")]);
        let key = TransferKey { peer: "a".into(), id: "k3v9".into(), direction: Direction::Receive };
        state.apply(Action::Transfer(TransferEvent::Added(Transfer::new(key.clone(), "big.bin".into(), 10))));
        state.apply(Action::PeerLeft { peer: "a".into(), dropped: false });
        state.apply(Action::Transfer(TransferEvent::Failed(key.clone(), "The connection was lost".into())));
        let transfer = state.transfers.get(&key).unwrap();
        assert_eq!((transfer.peer_name.as_str(), transfer.data_state()), ("Ada", "failed"));
    }

    fn chat_from(state: &mut CallState, peer: &str, text: &str) {
        state.apply(Action::FromPeer(peer.into(), PeerMessage::Chat { text: text.into() }));
    }

    #[test]
    fn a_line_is_tied_to_the_person_not_only_to_the_name() {
        let mut state = joined_with(&[("a", "Ada")]);
        chat_from(&mut state, "a", "hi");
        state.apply(Action::PeerLeft { peer: "a".into(), dropped: false });
        // Someone else takes the name: the old line is still the first Ada's.
        state.apply(Action::PeerJoined(info("b", "Ada")));
        chat_from(&mut state, "b", "hello");
        let ids: Vec<_> = state
            .chat
            .lines()
            .map(|(_, line)| match &line.author {
                Author::Peer { id, name } => (id.to_string(), name.to_string()),
                Author::Me => unreachable!("only peers wrote"),
            })
            .collect();
        assert_eq!(ids, [("a".to_owned(), "Ada".to_owned()), ("b".to_owned(), "Ada".to_owned())]);
    }

    #[test]
    fn a_chat_flood_keeps_the_latest_lines_within_the_bounds_and_unread_counts_only_those() {
        let mut state = joined_with(&[("a", "Ada")]);
        let flood = ChatHistory::MAX_LINES * 3;
        for i in 0..flood {
            chat_from(&mut state, "a", &format!("line {i}"));
        }
        assert_eq!(state.chat.len(), ChatHistory::MAX_LINES);
        assert_eq!(state.chat.trimmed(), (flood - ChatHistory::MAX_LINES) as u64);
        assert_eq!(state.unread, ChatHistory::MAX_LINES, "no more unread than there is to read");
        let (_, newest) = state.chat.lines().next_back().unwrap();
        assert_eq!(newest.text, format!("line {}", flood - 1));
        state.apply(Action::ToggleChat);
        assert_eq!(state.unread, 0);
        // The longest lines: the byte bound keeps fewer of them.
        let longest = "é".repeat(PeerMessage::MAX_CHAT_CHARS);
        for _ in 0..ChatHistory::MAX_LINES {
            chat_from(&mut state, "a", &longest);
        }
        assert!(state.chat.bytes() <= ChatHistory::MAX_BYTES);
        assert!(state.chat.len() < ChatHistory::MAX_LINES);
        assert_eq!(state.unread, 0, "the panel is open");
    }

    #[test]
    fn unread_lines_trimmed_away_stop_counting_but_recent_ones_still_count() {
        let mut state = joined_with(&[("a", "Ada")]);
        chat_from(&mut state, "a", "one");
        chat_from(&mut state, "a", "two");
        state.apply(Action::ToggleChat);
        state.apply(Action::ToggleChat);
        for _ in 0..ChatHistory::MAX_LINES - 2 {
            state.apply(Action::ChatSent("mine".into()));
        }
        chat_from(&mut state, "a", "three");
        assert_eq!(state.unread, 1);
    }

    #[test]
    fn an_action_copies_the_chat_pointer_not_the_chat() {
        let mut state = joined_with(&[("a", "Ada")]);
        for i in 0..ChatHistory::MAX_LINES {
            chat_from(&mut state, "a", &i.to_string());
        }
        // As Yew's reducer does: a copy of the previous state, then the action.
        let previous = state.clone();
        state.apply(Action::ToggleSettings);
        state.apply(Action::FromPeer(
            "a".into(),
            PeerMessage::MediaState { mic: false, camera: true, screen: false, video_paused: false },
        ));
        assert!(Rc::ptr_eq(&previous.chat, &state.chat), "an unrelated action shares the history");
        chat_from(&mut state, "a", "new");
        assert!(!Rc::ptr_eq(&previous.chat, &state.chat));
        // The new history shares every line it kept with the previous one.
        let kept: Vec<_> = previous.chat.lines().skip(1).zip(state.chat.lines()).collect();
        assert_eq!(kept.len(), ChatHistory::MAX_LINES - 1);
        assert!(kept.iter().all(|((_, old), (_, new))| Rc::ptr_eq(old, new)));
        assert_eq!(previous.chat.len(), ChatHistory::MAX_LINES, "the previous state is unchanged");
    }

    #[test]
    fn each_remote_peer_has_its_own_grade_and_loses_it_on_leaving() {
        use crate::call::quality::{Quality, Reason};
        let mut state = joined_with(&[("a", "Ada"), ("b", "Bob")]);
        let quality = |state: &CallState, id: &str| state.peer(&id.into()).unwrap().quality;
        assert_eq!(quality(&state, "a"), None, "nothing shown before the first grade");
        let weak = Grade { quality: Quality::Weak, reason: Some(Reason::LossIn(6.0)) };
        state.apply(Action::Grade("a".into(), Grade::GOOD));
        state.apply(Action::Grade("b".into(), weak));
        state.apply(Action::Grade("stranger".into(), weak));
        assert_eq!(quality(&state, "a"), Some(Grade::GOOD));
        assert_eq!(quality(&state, "b"), Some(weak));
        assert!(state.peer(&"stranger".into()).is_none());

        // Bob leaves and comes back: his new connection starts ungraded.
        state.apply(Action::PeerLeft { peer: "b".into(), dropped: true });
        state.apply(Action::PeerJoined(info("b", "Bob")));
        assert_eq!(quality(&state, "b"), None);
        assert_eq!(quality(&state, "a"), Some(Grade::GOOD), "Ada's grade is hers alone");
    }

    #[test]
    fn news_that_changes_nothing_is_told_apart() {
        let mut state = joined_with(&[("a", "Ada")]);
        assert!(!state.unchanged_by(&Action::Grade("a".into(), Grade::GOOD)));
        state.apply(Action::Grade("a".into(), Grade::GOOD));
        assert!(state.unchanged_by(&Action::Grade("a".into(), Grade::GOOD)));
        assert!(state.unchanged_by(&Action::Grade("stranger".into(), Grade::GOOD)), "not on the call screen");
        assert!(state.unchanged_by(&Action::OwnVideo(OwnVideo::Full)));
        assert!(!state.unchanged_by(&Action::OwnVideo(OwnVideo::Paused)));
        assert!(!state.unchanged_by(&Action::ToggleChat));
    }

    #[test]
    fn a_held_back_video_of_ours_keeps_a_notice_until_it_is_sent_in_full() {
        let mut state = joined_with(&[("a", "Ada")]);
        assert_eq!(state.own_video.notice(), None);
        state.apply(Action::OwnVideo(OwnVideo::Reduced));
        assert_eq!(state.own_video.notice(), Some("Your connection is weak: video reduced"));
        // Unlike a notice, it does not fade, nor give way to one.
        state.apply(Action::PeerJoined(info("b", "Bob")));
        state.apply(Action::ClearNotice);
        assert_eq!(state.own_video, OwnVideo::Reduced);
        state.apply(Action::OwnVideo(OwnVideo::Paused));
        assert!(state.own_video.notice().unwrap().contains("video paused"));
        state.apply(Action::OwnVideo(OwnVideo::Full));
        assert_eq!(state.own_video.notice(), None);
        // A new call starts in full.
        state.apply(Action::OwnVideo(OwnVideo::Reduced));
        state.apply(Action::Start { mic_on: true, camera_on: true });
        assert_eq!(state.own_video, OwnVideo::Full);
    }

    #[test]
    fn a_peer_whose_network_paused_their_video_says_so_until_it_resumes() {
        let mut state = joined_with(&[("a", "Ada")]);
        let media_state = |camera, video_paused| {
            Action::FromPeer("a".into(), PeerMessage::MediaState { mic: true, camera, screen: false, video_paused })
        };
        let paused = |state: &CallState| state.peer(&"a".into()).unwrap().video_paused;
        assert!(!paused(&state));
        state.apply(media_state(true, true));
        assert!(paused(&state));
        // A camera turned off is off, not paused.
        state.apply(media_state(false, true));
        assert!(!paused(&state));
        state.apply(media_state(true, true));
        state.apply(media_state(true, false));
        assert!(!paused(&state));
    }
}
