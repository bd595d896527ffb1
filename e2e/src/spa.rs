//! The SPA's UI contract, as the tests rely on it: routes, selectors, and the flows a person goes through.
//!
//! Routes: `/` (home) and `/r/<room id>` (the room: a lobby, then the call). The page exposes
//! `window.__huddle_pcs`, a `Map` from peer id to `RTCPeerConnection`, and in a call `window.__huddle_wasm_memory`,
//! the SPA's `WebAssembly.Memory`.

use std::ops::Deref;

use huddle_common::{ErrorCode, RoomId};
use serde_json::Value;

use crate::scratch::random_u64;
use crate::wait::{wait_for, wait_until, TIMEOUT};
use crate::{Browser, BrowserKind, BrowserOptions, Browsers, Error, Relay, Result};

/// The selectors of the contract, by screen.
pub mod selector {
    /// Home and lobby: the display name input.
    pub const NAME: &str = "#name";
    /// Home: "Start a call".
    pub const START: &str = "#start";
    /// Home: paste a room link...
    pub const ROOM_LINK: &str = "#room-link";
    /// ...and open it.
    pub const OPEN_ROOM: &str = "#open-room";

    /// Lobby: the camera preview.
    pub const PREVIEW: &str = "video#preview";
    /// Lobby: the microphone level meter.
    pub const MIC_LEVEL: &str = "#mic-level";
    /// Lobby: camera choice.
    pub const CAMERA_SELECT: &str = "select#camera-select";
    /// Lobby: microphone choice.
    pub const MIC_SELECT: &str = "select#mic-select";
    /// Lobby: the room's link, as text.
    pub const SHARE_LINK: &str = "#share-link";
    /// Lobby: "Join" (disabled while the name is empty).
    pub const JOIN: &str = "#join";
    /// Lobby: why the name cannot be used (e.g. the relay said it is taken), shown under [`NAME`].
    pub const NAME_ERROR: &str = "#name-error";
    /// Lobby: why there is no camera or microphone (denied, missing).
    pub const MEDIA_ERROR: &str = "#media-error";
    /// Lobby, after Join: the relay could not be reached yet and is being tried again.
    pub const JOIN_RETRY: &str = "#join-retry";

    /// Lobby and call: microphone on/off (`aria-pressed="true"` when on).
    pub const TOGGLE_MIC: &str = "#toggle-mic";
    /// Lobby and call: camera on/off (`aria-pressed="true"` when on).
    pub const TOGGLE_CAMERA: &str = "#toggle-camera";
    /// Lobby and call: copy the room's link.
    pub const COPY_LINK: &str = "#copy-link";

    /// Call: every tile; remote ones carry `data-peer-id` and `data-state` (the connection state).
    pub const TILE: &str = ".tile";
    /// Call: remote tiles.
    pub const REMOTE_TILE: &str = ".tile[data-peer-id]";
    /// Call: one's own tile.
    pub const LOCAL_TILE: &str = ".tile.local";
    /// In a tile: the person's name.
    pub const TILE_NAME: &str = ".tile-name";
    /// In a tile: present while that person's microphone is off.
    pub const TILE_MUTED: &str = ".tile-muted";
    /// In a tile: present while that person's camera is off.
    pub const TILE_CAMERA_OFF: &str = ".tile-camera-off";
    /// In a tile: have the video fill the tile, cropping it (`aria-pressed="true"`), or show the whole picture.
    pub const TILE_FIT: &str = ".tile-fit";
    /// In a remote tile, once graded: the connection's quality (`data-quality` good, weak or poor), focusable, its
    /// reason in `aria-label` and `title`.
    pub const TILE_QUALITY: &str = ".tile-quality";
    /// In a remote tile: present while that person's network has paused their video.
    pub const TILE_PAUSED: &str = ".tile-paused";
    /// Call: the lasting notice while our own connection holds our video back.
    pub const OWN_CONNECTION: &str = "#own-connection";
    /// Call: show or hide the chat.
    pub const TOGGLE_CHAT: &str = "#toggle-chat";
    /// Call: open or close the device settings.
    pub const TOGGLE_SETTINGS: &str = "#toggle-settings";
    /// Call settings: the camera picker.
    pub const CALL_CAMERA_SELECT: &str = "select#call-camera-select";
    /// Call settings: the microphone picker.
    pub const CALL_MIC_SELECT: &str = "select#call-mic-select";
    /// Settings: the bytes of files received per call, at most (each option's value in bytes, its text "2.0 GB"),
    /// followed by `.field-note`, what was received in this call ("1.0 MB received in this call").
    pub const RECEIVE_LIMIT_SELECT: &str = "select#receive-limit-select";
    /// Call: the keyboard shortcut list.
    pub const SHORTCUTS: &str = "#shortcuts";
    /// Call: the short-lived notice ("Bob joined", "Your camera was disconnected…").
    pub const NOTICE: &str = ".notice";
    /// Call: what is wrong with the call's ICE servers, shown until dismissed; `data-problem` is a stable code
    /// (`turn_credentials_refused`), `.banner-text` the message.
    pub const ICE_PROBLEM: &str = "#ice-problem";
    /// Call: share the screen / stop sharing (`aria-pressed="true"` while sharing).
    pub const TOGGLE_SCREEN: &str = "#toggle-screen";
    /// Call: the video of one's own shared screen.
    pub const LOCAL_SCREEN_VIDEO: &str = ".tile.local-screen video";
    /// Call: leave.
    pub const LEAVE: &str = "#leave";

    /// Call: open or close the call statistics (`aria-pressed="true"` while open).
    pub const TOGGLE_STATS: &str = "#toggle-stats";
    /// Statistics: the panel (`data-update-ms`: how long the last update took). One `.stats-peer[data-peer-id]`
    /// section per peer, with `.stats-path` ("Direct (host)", "Relayed (TURN)"), `.stats-bitrate-in`,
    /// `.stats-bitrate-out` ("812 kbit/s"), `.stats-rtt` ("3.1 ms"), `.stats-loss` ("0 %"), `.stats-fps` ("30 fps"),
    /// `.stats-resolution` ("640x480"), `.stats-codec` ("VP8, opus"), and `svg.sparkline polyline` graphs.
    pub const STATS: &str = "#stats";

    /// Call: send a file to everyone (opens the picker of [`FILE_INPUT`]).
    pub const SEND_FILE: &str = "#send-file";
    /// Call: the hidden `<input type=file>` behind every way of picking a file to send. Files set on it without
    /// going through a button go to everyone.
    pub const FILE_INPUT: &str = "#file-input";
    /// In a remote tile: send a file to that person.
    pub const TILE_SEND_FILE: &str = ".tile-send-file";
    /// Call: one file transfer, with `data-transfer-id`, `data-direction` (`send` or `receive`) and `data-state`
    /// (`offered` while a received offer awaits an answer, `sending`, `receiving`, `done`, `cancelled`, `declined`
    /// or `failed`).
    pub const TRANSFER: &str = ".transfer";
    /// In a transfer: its `<progress>` (`max` = the file's size in bytes, `value` = bytes so far).
    pub const TRANSFER_PROGRESS: &str = ".transfer-progress";
    /// In a transfer: what is happening ("Sending to Bob", "Cancelled by Ada", why it failed).
    pub const TRANSFER_STATUS: &str = ".transfer-status";
    /// In a transfer under way: cancel it.
    pub const TRANSFER_CANCEL: &str = ".transfer-cancel";
    /// In an offer received and not answered (`data-state="offered"`): receive the file.
    pub const TRANSFER_ACCEPT: &str = ".transfer-accept";
    /// In an offer received and not answered: do not receive the file.
    pub const TRANSFER_DECLINE: &str = ".transfer-decline";
    /// In a finished transfer (done, cancelled, declined, failed): take it off the list (and release its file).
    pub const TRANSFER_DISMISS: &str = ".transfer-dismiss";
    /// Below the transfers: offers from one person declined without a line of their own, counted.
    pub const TRANSFERS_DROPPED: &str = ".transfers-dropped";
    /// In a received transfer, once checked: `<a download=name href=blob:…>`.
    pub const FILE_DOWNLOAD: &str = "a.file-download";

    /// Chat: the panel.
    pub const CHAT: &str = "#chat";
    /// Chat: the message input.
    pub const CHAT_INPUT: &str = "#chat-input";
    /// Chat: send.
    pub const CHAT_SEND: &str = "#chat-send";
    /// Chat: one message, with `.chat-author` and `.chat-text`.
    pub const CHAT_MESSAGE: &str = ".chat-message";
    /// Chat: unread count while the panel is closed.
    pub const CHAT_UNREAD: &str = "#chat-unread";

    /// Refusal or error screen, with `data-code` = the protocol's error code.
    pub const ERROR: &str = "#error";
    /// Error screen: go back.
    pub const BACK: &str = "#back";
    /// After leaving.
    pub const LEFT: &str = "#left";
    /// After leaving: join again.
    pub const REJOIN: &str = "#rejoin";
    /// The notice that the page's wasm stopped (a trap), with its Reload button.
    pub const STOPPED: &str = "#stopped";
    /// The notice's Reload button.
    pub const STOPPED_RELOAD: &str = "#stopped button";
}

use selector as sel;

/// A fresh, valid room id.
pub fn new_room_id() -> RoomId {
    let mut bytes = [0; 16];
    bytes[..8].copy_from_slice(&random_u64().to_le_bytes());
    bytes[8..].copy_from_slice(&random_u64().to_le_bytes());
    RoomId::from_random(bytes)
}

/// The path of a room's page.
pub fn room_path(room: &RoomId) -> String {
    format!("/r/{room}")
}

/// The selector of the remote tile of `peer_id`.
pub fn tile_of(peer_id: &str) -> String {
    format!(".tile[data-peer-id=\"{peer_id}\"]")
}

/// The selector of `peer_id`'s section in the call statistics.
pub fn stats_of(peer_id: &str) -> String {
    format!(".stats-peer[data-peer-id=\"{peer_id}\"]")
}

/// The selector of the transfer with this id.
pub fn transfer_of(id: &str) -> String {
    format!(".transfer[data-transfer-id=\"{id}\"]")
}

/// The selector of the tile showing `peer_id`'s shared screen.
pub fn screen_tile_of(peer_id: &str) -> String {
    format!(".tile.screen[data-screen-of=\"{peer_id}\"]")
}

/// The selector of the video of `peer_id`'s shared screen.
pub fn screen_of(peer_id: &str) -> String {
    format!("{} video", screen_tile_of(peer_id))
}

/// A remote tile as seen in the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tile {
    /// The peer id (`data-peer-id`).
    pub peer_id: String,
    /// The name shown (`.tile-name`).
    pub name: String,
    /// The connection state shown (`data-state`).
    pub state: String,
    /// Whether the muted indicator is shown.
    pub muted: bool,
    /// Whether the camera-off indicator is shown.
    pub camera_off: bool,
}

const REMOTE_TILES: &str = r#"
    return Array.from(document.querySelectorAll('.tile[data-peer-id]')).map((tile) => ({
      peerId: tile.dataset.peerId,
      name: (tile.querySelector('.tile-name')?.textContent ?? '').trim(),
      state: tile.dataset.state ?? '',
      muted: tile.querySelector('.tile-muted') !== null,
      cameraOff: tile.querySelector('.tile-camera-off') !== null,
    }));
"#;

const CHAT_MESSAGES: &str = r#"
    return Array.from(document.querySelectorAll('.chat-message')).map((message) => [
      (message.querySelector('.chat-author')?.textContent ?? '').trim(),
      (message.querySelector('.chat-text')?.textContent ?? '').trim(),
    ]);
"#;

/// Someone using Huddle in a browser of their own. Derefs to their [`Browser`].
pub struct Person {
    browser: Browser,
    name: String,
}

impl Deref for Person {
    type Target = Browser;

    fn deref(&self) -> &Browser {
        &self.browser
    }
}

impl Person {
    /// `name` with a desktop-sized browser of their own.
    pub async fn new(name: &str) -> Result<Person> {
        Ok(Person { browser: Browser::launch(name).await?, name: name.to_owned() })
    }

    /// `name` with a desktop-sized browser of `kind`.
    pub async fn in_browser(name: &str, kind: BrowserKind) -> Result<Person> {
        Ok(Person { browser: Browser::launch_with(BrowserOptions::of_kind(name, kind)).await?, name: name.to_owned() })
    }

    /// `name` using the given browser (e.g. a phone-sized one).
    pub fn with_browser(name: &str, browser: Browser) -> Person {
        Person { browser, name: name.to_owned() }
    }

    /// The display name they type.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Home page: types the name, clicks "Start a call", waits for the lobby; returns the room's URL.
    pub async fn start_call(&self, relay: &Relay) -> Result<String> {
        self.goto(&relay.url("/")).await?;
        self.wait_for(sel::START).await?;
        self.type_into(sel::NAME, &self.name).await?;
        self.click(sel::START).await?;
        self.wait_for(sel::JOIN).await?;
        self.current_url().await
    }

    /// Opens a room link and waits for the lobby.
    pub async fn open_lobby(&self, url: &str) -> Result<()> {
        self.goto(url).await?;
        self.wait_for(sel::JOIN).await
    }

    /// In the lobby: fills in the name unless it is already there, clicks "Join", waits to be in the call.
    pub async fn join(&self) -> Result<()> {
        self.click_join().await?;
        self.wait_for(sel::LOCAL_TILE).await
    }

    /// In the lobby: fills in the name unless it is already there and clicks "Join" (for joins that may be refused).
    pub async fn click_join(&self) -> Result<()> {
        if self.value(sel::NAME).await?.trim() != self.name {
            self.type_into(sel::NAME, &self.name).await?;
        }
        self.click(sel::JOIN).await
    }

    /// Opens `room` on `relay` and joins the call.
    pub async fn join_room(&self, relay: &Relay, room: &RoomId) -> Result<()> {
        self.open_lobby(&relay.url(&room_path(room))).await?;
        self.join().await
    }

    /// The remote tiles shown now.
    pub async fn remote_tiles(&self) -> Result<Vec<Tile>> {
        let reply = self.eval_js(REMOTE_TILES, Vec::new()).await?;
        let tiles = reply.as_array().ok_or_else(|| self.unexpected("remote tiles", &reply))?;
        Ok(tiles
            .iter()
            .map(|tile| Tile {
                peer_id: tile["peerId"].as_str().unwrap_or_default().to_owned(),
                name: tile["name"].as_str().unwrap_or_default().to_owned(),
                state: tile["state"].as_str().unwrap_or_default().to_owned(),
                muted: tile["muted"].as_bool().unwrap_or(false),
                camera_off: tile["cameraOff"].as_bool().unwrap_or(false),
            })
            .collect())
    }

    /// The remote tile of the person named `name`, if shown.
    pub async fn tile_named(&self, name: &str) -> Result<Option<Tile>> {
        Ok(self.remote_tiles().await?.into_iter().find(|tile| tile.name == name))
    }

    /// Waits until a remote tile shows `name`; returns that person's peer id.
    pub async fn wait_tile_named(&self, name: &str) -> Result<String> {
        let what = format!("{} sees a tile for {name}", self.name);
        wait_for(what, TIMEOUT, async || Ok(self.tile_named(name).await?.map(|tile| tile.peer_id))).await
    }

    /// Waits until a remote tile satisfies `condition`, described as `what`.
    pub async fn wait_tile(&self, peer_id: &str, what: &str, condition: impl Fn(&Tile) -> bool) -> Result<()> {
        let what = format!("{}'s tile of {peer_id} {what}", self.name);
        wait_until(what, TIMEOUT, async || {
            Ok(self.remote_tiles().await?.iter().any(|tile| tile.peer_id == peer_id && condition(tile)))
        })
        .await
    }

    /// Waits until there are exactly `count` remote tiles; returns them.
    pub async fn wait_remote_tiles(&self, count: usize) -> Result<Vec<Tile>> {
        let what = format!("{} sees {count} remote tiles", self.name);
        wait_for(what, TIMEOUT, async || Ok(Some(self.remote_tiles().await?).filter(|tiles| tiles.len() == count)))
            .await
    }

    /// Waits until this person really sees and hears `peer_id`: the tile says connected, the peer connection is
    /// connected, the tile's video plays, audio and video bytes keep arriving, and both remote tracks are live.
    pub async fn wait_sees_and_hears(&self, peer_id: &str) -> Result<()> {
        self.wait_tile(peer_id, "shows connected", |tile| tile.state == "connected").await?;
        self.wait_connected(peer_id).await?;
        self.wait_video_playing(&format!("{} video", tile_of(peer_id))).await?;
        self.wait_media_flowing(peer_id).await?;
        let what = format!("{} has live audio and video tracks from {peer_id}", self.name);
        wait_until(what, TIMEOUT, async || {
            Ok(self.live_remote_tracks(peer_id).await?.is_some_and(|live| live.audio >= 1 && live.video >= 1))
        })
        .await
    }

    /// Whether a toggle button (`#toggle-mic`, `#toggle-camera`) says its device is on.
    pub async fn is_on(&self, toggle: &str) -> Result<bool> {
        Ok(self.attr(toggle, "aria-pressed").await?.as_deref() == Some("true"))
    }

    /// Clicks a toggle and waits until it says `on`.
    pub async fn set_toggle(&self, toggle: &str, on: bool) -> Result<()> {
        if self.is_on(toggle).await? != on {
            self.click(toggle).await?;
        }
        let what = format!("{}'s {toggle} is {}", self.name, if on { "on" } else { "off" });
        wait_until(what, TIMEOUT, async || Ok(self.is_on(toggle).await? == on)).await
    }

    /// Sends a chat message, opening the chat panel first if it is closed.
    pub async fn send_chat(&self, text: &str) -> Result<()> {
        if !self.chat_open().await? {
            self.click(sel::TOGGLE_CHAT).await?;
            self.wait_for(sel::CHAT_INPUT).await?;
        }
        self.type_into(sel::CHAT_INPUT, text).await?;
        self.click(sel::CHAT_SEND).await
    }

    /// Whether the chat panel is shown.
    pub async fn chat_open(&self) -> Result<bool> {
        match self.find_all(sel::CHAT_INPUT).await?.first() {
            Some(input) => input.is_displayed().await.map_err(|e| Error::webdriver(format!("{}: chat", self.name), e)),
            None => Ok(false),
        }
    }

    /// The chat messages shown, as `(author, text)`.
    pub async fn chat_messages(&self) -> Result<Vec<(String, String)>> {
        let reply = self.eval_js(CHAT_MESSAGES, Vec::new()).await?;
        serde_json::from_value(reply.clone()).map_err(|_| self.unexpected("chat messages", &reply))
    }

    /// Waits until the chat shows `text` from `author`.
    pub async fn wait_chat(&self, author: &str, text: &str) -> Result<()> {
        let what = format!("{} sees {author}'s chat message {text:?}", self.name);
        wait_until(what, TIMEOUT, async || {
            Ok(self.chat_messages().await?.iter().any(|(a, t)| a == author && t == text))
        })
        .await
    }

    /// Waits until the chat shows `text`, whoever the author is said to be (one's own lines may read "You").
    pub async fn wait_chat_text(&self, text: &str) -> Result<()> {
        let what = format!("{} sees the chat message {text:?}", self.name);
        wait_until(what, TIMEOUT, async || Ok(self.chat_messages().await?.iter().any(|(_, t)| t == text))).await
    }

    /// Waits for the error screen with the given protocol error code, and its "back" button.
    pub async fn wait_error(&self, code: ErrorCode) -> Result<()> {
        let wanted = format!("{}[data-code=\"{}\"]", sel::ERROR, code.as_str());
        let what = format!("{} sees {wanted}", self.name);
        let mut seen = None;
        wait_until(what, TIMEOUT, async || {
            if self.exists(&wanted).await? {
                return Ok(true);
            }
            if self.exists(sel::ERROR).await? {
                seen = self.attr(sel::ERROR, "data-code").await?;
            }
            Err(Error::Check(format!("error screen code: {seen:?}")))
        })
        .await?;
        self.wait_for(sel::BACK).await
    }

    /// Waits until the call screen shows the ICE problem `code` (see [`selector::ICE_PROBLEM`]); returns its text.
    pub async fn wait_ice_problem(&self, code: &str) -> Result<String> {
        let wanted = format!("{}[data-problem=\"{code}\"]", sel::ICE_PROBLEM);
        self.wait_for(&wanted).await?;
        Ok(self.text(&format!("{wanted} .banner-text")).await?.trim().to_owned())
    }

    /// Leaves the call and waits for the "left" screen.
    pub async fn leave(&self) -> Result<()> {
        self.click(sel::LEAVE).await?;
        self.wait_for(sel::LEFT).await?;
        self.wait_for(sel::REJOIN).await
    }

    fn unexpected(&self, what: &str, value: &Value) -> Error {
        Error::Script { what: format!("{}: {what}", self.name), value: value.clone() }
    }
}

/// Ada and Bob in one call, each seeing and hearing the other.
pub struct TwoInACall {
    /// Their room.
    pub room: RoomId,
    /// Ada, who joined first.
    pub ada: Person,
    /// Bob, who joined second.
    pub bob: Person,
    /// Ada's peer id.
    pub ada_id: String,
    /// Bob's peer id.
    pub bob_id: String,
}

/// Puts Ada and Bob in a new room on `relay` and waits until each sees and hears the other.
pub async fn two_in_a_call(relay: &Relay) -> Result<TwoInACall> {
    two_in_a_call_with_bob_on(relay, Browser::launch("Bob").await?).await
}

/// Like [`two_in_a_call`], Ada and Bob in the browsers `browsers` gives them.
pub async fn two_in_a_call_in(relay: &Relay, browsers: Browsers) -> Result<TwoInACall> {
    let ada = Browser::launch_with(BrowserOptions::of_kind("Ada", browsers.of(0))).await?;
    let bob = Browser::launch_with(BrowserOptions::of_kind("Bob", browsers.of(1))).await?;
    two_in_a_call_on(relay, ada, bob).await
}

/// Like [`two_in_a_call`], with Bob in the given browser (a phone-sized one, one with more fake devices…).
pub async fn two_in_a_call_with_bob_on(relay: &Relay, bob: Browser) -> Result<TwoInACall> {
    two_in_a_call_on(relay, Browser::launch("Ada").await?, bob).await
}

/// Like [`two_in_a_call`], with Ada and Bob in the given browsers (e.g. ones already told to record something in
/// every page they load).
pub async fn two_in_a_call_on(relay: &Relay, ada: Browser, bob: Browser) -> Result<TwoInACall> {
    let room = new_room_id();
    let ada = Person::with_browser("Ada", ada);
    let bob = Person::with_browser("Bob", bob);
    ada.join_room(relay, &room).await?;
    bob.join_room(relay, &room).await?;
    let bob_id = ada.wait_tile_named("Bob").await?;
    let ada_id = bob.wait_tile_named("Ada").await?;
    ada.wait_sees_and_hears(&bob_id).await?;
    bob.wait_sees_and_hears(&ada_id).await?;
    Ok(TwoInACall { room, ada, bob, ada_id, bob_id })
}
