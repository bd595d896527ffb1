//! A hostile peer: not Huddle's SPA but a page of its own JavaScript (`hostile.html`, `hostile.js`) that joins a room
//! through the real relay, connects to the people there as the SPA would (the newcomer offers; three transceivers and
//! the pre-negotiated `huddle` channel), and then does what the test tells it: floods chat, offers files by the
//! hundred, sends messages that are malformed or too large, opens file channels nobody accepted, sends an HTML page
//! as a file. Everything it saw (what each person sent back, which offers were accepted) is kept for the test.
//!
//! The page must come from the same origin as the SPA (the relay checks a WebSocket's `Origin`), so [`Site`] is
//! the built SPA plus the page under [`PAGE_PATH`], for one relay to serve both.

use std::path::Path;

use huddle_common::RoomId;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::scratch::copy_dir;
use crate::wait::{wait_for, wait_until, TIMEOUT};
use crate::{artifacts, Browser, Error, Relay, Result, ScratchDir};

/// Where the hostile page is served, beside the SPA.
pub const PAGE_PATH: &str = "/hostile/index.html";

const PAGE_HTML: &str = include_str!("hostile.html");
const PAGE_JS: &str = include_str!("hostile.js");

/// The built SPA (`dist/`) with the hostile page beside it, for [`Relay::serving`].
pub struct Site {
    dir: ScratchDir,
}

impl Site {
    /// Copies `dist/` into a scratch directory and adds the hostile page.
    pub fn new() -> Result<Site> {
        let dir = ScratchDir::new("hostile-site")?;
        copy_dir(&artifacts::dist_dir()?, dir.path())?;
        let page = dir.path().join("hostile");
        std::fs::create_dir_all(&page).map_err(|e| Error::io(format!("create {}", page.display()), e))?;
        dir.write("hostile/index.html", PAGE_HTML)?;
        dir.write("hostile/hostile.js", PAGE_JS)?;
        Ok(Site { dir })
    }

    /// The directory to serve.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A relay serving this site, with extra flags.
    pub async fn serve(&self, args: &[&str]) -> Result<Relay> {
        Relay::serving(self.path(), args).await
    }
}

/// A file offer the hostile peer makes (`file_offer`), and what it sends if the offer is accepted.
#[derive(Clone, Debug)]
pub struct Offer {
    /// The transfer id.
    pub id: String,
    /// The file's name.
    pub name: String,
    /// The size announced, in bytes.
    pub size: u64,
    /// The media type announced.
    pub mime: String,
    /// Sent on `file:<id>` once accepted (its length should be `size`); `None`: nothing is ever sent.
    pub payload: Option<Payload>,
}

/// The bytes behind an [`Offer`].
#[derive(Clone, Debug)]
pub enum Payload {
    /// This many bytes (all 7).
    Filler(u64),
    /// This text, UTF-8.
    Text(String),
    /// Not the file: `count` binary messages of `bytes` bytes each (0: empty messages), as fast as the channel takes
    /// them and for as long as it stays open, and no `file_end`.
    TinyChunks {
        /// How many messages, at most.
        count: u64,
        /// Bytes in each.
        bytes: u64,
    },
}

impl Offer {
    fn to_json(&self) -> Value {
        let mut offer = json!({ "id": self.id, "name": self.name, "size": self.size, "mime": self.mime });
        match &self.payload {
            Some(Payload::Filler(bytes)) => offer["payload_bytes"] = json!(bytes),
            Some(Payload::Text(text)) => offer["payload_text"] = json!(text),
            Some(Payload::TinyChunks { count, bytes }) => {
                offer["payload_tiny"] = json!({ "count": count, "bytes": bytes });
            }
            None => {}
        }
        offer
    }
}

/// One message the hostile peer sends on the `huddle` channel, made in its page.
#[derive(Clone, Debug)]
pub enum Frame {
    /// This text, as is (malformed JSON, unknown types, wrong field types...).
    Text(String),
    /// A well-formed `chat` message whose text has this many characters.
    ChatOfChars(usize),
    /// A text message of this many bytes that is not JSON at all.
    StringOfBytes(usize),
    /// A binary message of this many bytes.
    Binary(usize),
}

impl Frame {
    fn to_json(&self) -> Value {
        match self {
            Frame::Text(text) => json!({ "kind": "text", "text": text }),
            Frame::ChatOfChars(chars) => json!({ "kind": "chat_of_chars", "chars": chars }),
            Frame::StringOfBytes(bytes) => json!({ "kind": "string_of_bytes", "bytes": bytes }),
            Frame::Binary(bytes) => json!({ "kind": "binary", "bytes": bytes }),
        }
    }

    /// A short description for reports.
    pub fn describe(&self) -> String {
        match self {
            Frame::Text(text) if text.chars().count() > 60 => {
                format!("{:?}…", text.chars().take(60).collect::<String>())
            }
            Frame::Text(text) => format!("{text:?}"),
            Frame::ChatOfChars(chars) => format!("a chat line of {chars} characters"),
            Frame::StringOfBytes(bytes) => format!("a string of {bytes} bytes"),
            Frame::Binary(bytes) => format!("a binary frame of {bytes} bytes"),
        }
    }
}

/// What one `send` of a [`Frame`] did in the hostile page.
#[derive(Clone, Debug, Deserialize)]
pub struct Sent {
    /// `send` returned (the bytes are on their way).
    pub sent: bool,
    /// The message's size in bytes.
    #[serde(default)]
    pub bytes: u64,
    /// Why `send` threw, if it did.
    #[serde(default)]
    pub error: Option<String>,
}

/// The chat flood's progress, as the hostile page counts it.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Flood {
    /// Lines to send.
    pub lines: u64,
    /// Lines handed to the channel so far.
    pub sent: u64,
    /// All sent and drained from the channel's buffer, or given up (see `error`).
    pub done: bool,
    /// Why it stopped early.
    pub error: Option<String>,
    /// When it started and ended, on the page's clock (ms).
    #[serde(rename = "startedMs")]
    pub started_ms: Option<f64>,
    /// See `started_ms`.
    #[serde(rename = "doneMs")]
    pub done_ms: Option<f64>,
}

/// A file channel the hostile page opened.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct FileChannel {
    /// It opened.
    pub opened: bool,
    /// It closed (the other side closed it, or the connection).
    pub closed: bool,
    /// Bytes handed to it.
    #[serde(rename = "sentBytes")]
    pub sent_bytes: u64,
    /// Binary messages handed to it by [`Payload::TinyChunks`].
    #[serde(default)]
    pub messages: u64,
    /// [`Payload::TinyChunks`] stopped: all sent, or the channel closed.
    #[serde(default, rename = "tinyDone")]
    pub tiny_done: bool,
    /// `file_end` was sent.
    pub ended: bool,
}

/// What the hostile page knows of one person.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Link {
    /// The name from `joined` (empty for people who came later).
    pub name: String,
    /// `RTCPeerConnection.connectionState`.
    pub connection: String,
    /// The `huddle` channel's `readyState`.
    pub channel: String,
    /// Messages received on the `huddle` channel.
    pub received: u64,
    /// Their `type`s, in order (`(binary)`, `(not JSON)` for the others).
    pub types: Vec<Value>,
    /// Transfer ids this person accepted (`file_accept`).
    pub accepts: Vec<String>,
    /// Transfer ids this person cancelled or refused (`file_cancel`).
    pub cancels: Vec<String>,
    /// Channels this person opened towards the page.
    pub incoming: Vec<String>,
    /// The file channels the page opened to this person, by transfer id.
    pub files: std::collections::BTreeMap<String, FileChannel>,
    /// The channels [`HostilePeer::open_channels`] opened.
    #[serde(default)]
    pub spam: Spam,
}

/// The data channels the hostile page opened by the hundred, by state.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Spam {
    /// How many it opened.
    pub asked: u64,
    /// Still connecting.
    pub connecting: u64,
    /// Open (the other side's browser took them; whether its page looks at them is another matter).
    pub open: u64,
    /// Closed, or closing: the other side closed them.
    pub closed: u64,
    /// Why the page stopped opening them, if it did.
    pub error: Option<String>,
}

/// Everything the hostile page knows.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct State {
    /// Its peer id, once joined.
    pub me: Option<String>,
    /// Error codes the relay sent.
    pub errors: Vec<String>,
    /// The chat flood.
    pub flood: Flood,
    /// By peer id.
    pub peers: std::collections::BTreeMap<String, Link>,
}

/// The hostile peer: its own browser, on [`PAGE_PATH`].
pub struct HostilePeer {
    browser: Browser,
    name: String,
}

impl HostilePeer {
    /// Opens the hostile page, served by `relay` (which must serve a [`Site`]), in a browser of its own.
    pub async fn open(relay: &Relay, name: &str) -> Result<HostilePeer> {
        let browser = Browser::launch(name).await?;
        browser.goto(&relay.url(PAGE_PATH)).await?;
        let ready = browser.eval_js("return typeof window.hostile === 'object';", Vec::new()).await?;
        if ready != json!(true) {
            return Err(Error::Check(format!("{name}: the hostile page did not load ({ready})")));
        }
        Ok(HostilePeer { browser, name: name.to_owned() })
    }

    /// The name it joins under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its browser.
    pub fn browser(&self) -> &Browser {
        &self.browser
    }

    /// Joins `room` (offering to everyone there); returns its peer id.
    pub async fn join(&self, room: &RoomId) -> Result<String> {
        const JOIN: &str = r#"
            const [room, name, done] = arguments;
            window.hostile.join(room, name).then((id) => done({ id }), (error) => done({ error: String(error) }));
        "#;
        let reply = self.browser.eval_js_async(JOIN, vec![json!(room.to_string()), json!(self.name)]).await?;
        match reply["id"].as_str() {
            Some(id) => Ok(id.to_owned()),
            None => Err(Error::Check(format!("{} could not join: {reply}", self.name))),
        }
    }

    /// What the page knows now.
    pub async fn state(&self) -> Result<State> {
        let reply = self.browser.eval_js("return window.hostile.state();", Vec::new()).await?;
        serde_json::from_value(reply.clone())
            .map_err(|_| Error::Script { what: format!("{}: state", self.name), value: reply })
    }

    /// What the page knows of `peer`.
    pub async fn link(&self, peer: &str) -> Result<Link> {
        self.state()
            .await?
            .peers
            .remove(peer)
            .ok_or_else(|| Error::Check(format!("{} has no connection with {peer}", self.name)))
    }

    /// Waits until the `huddle` channel with `peer` is open.
    pub async fn wait_open(&self, peer: &str) -> Result<()> {
        let what = format!("{}'s huddle channel with {peer} is open", self.name);
        wait_until(what, TIMEOUT, async || Ok(self.link(peer).await?.channel == "open")).await
    }

    /// Starts sending `lines` chat lines of `chars` characters each to `peer`, as fast as the channel takes them;
    /// see [`flood`](Self::flood) for the progress.
    pub async fn flood_chat(&self, peer: &str, lines: u64, chars: usize) -> Result<()> {
        self.call("floodChat", vec![json!(peer), json!(lines), json!(chars)]).await
    }

    /// The chat flood's progress.
    pub async fn flood(&self) -> Result<Flood> {
        Ok(self.state().await?.flood)
    }

    /// Sends these file offers to `peer` (with what to send should one be accepted).
    pub async fn offer_files(&self, peer: &str, offers: &[Offer]) -> Result<()> {
        let offers: Vec<Value> = offers.iter().map(Offer::to_json).collect();
        self.call("offerFiles", vec![json!(peer), json!(offers)]).await
    }

    /// Opens a `file:<id>` channel to `peer` for each of `ids`, none of them accepted, and pushes `bytes` bytes on
    /// each for as long as it stays open.
    pub async fn open_unaccepted_channels(&self, peer: &str, ids: &[&str], bytes: u64) -> Result<()> {
        self.call("openUnacceptedChannels", vec![json!(peer), json!(ids), json!(bytes)]).await
    }

    /// Opens `count` data channels to `peer` at once, for no file anyone accepted (`file:c<n>`), the first
    /// `long_count` with labels of `long_label` characters; see [`Link::spam`].
    pub async fn open_channels(&self, peer: &str, count: u64, long_count: u64, long_label: usize) -> Result<()> {
        self.call("openChannels", vec![json!(peer), json!(count), json!(long_count), json!(long_label)]).await
    }

    /// Sends `count` messages of `text` repeated `times` times to `peer` on the `huddle` channel, all at once; returns
    /// how many the channel took.
    pub async fn send_burst(&self, peer: &str, text: &str, times: usize, count: u64) -> Result<u64> {
        let reply = self
            .browser
            .eval_js(
                "return window.hostile.sendBurst(...arguments);",
                vec![json!(peer), json!(text), json!(times), json!(count)],
            )
            .await?;
        reply.as_u64().ok_or_else(|| Error::Script { what: format!("{}: send a burst", self.name), value: reply })
    }

    /// Sends `frames` to `peer` on the `huddle` channel, one after another; returns what each `send` did.
    pub async fn send_frames(&self, peer: &str, frames: &[Frame]) -> Result<Vec<Sent>> {
        const SEND: &str = r#"
            const [peer, specs, done] = arguments;
            window.hostile.sendFrames(peer, specs).then(done, (error) => done({ error: String(error) }));
        "#;
        let specs: Vec<Value> = frames.iter().map(Frame::to_json).collect();
        let reply = self.browser.eval_js_async(SEND, vec![json!(peer), json!(specs)]).await?;
        serde_json::from_value(reply.clone())
            .map_err(|_| Error::Script { what: format!("{}: send frames", self.name), value: reply })
    }

    /// Waits until `peer` has accepted the offer `id`.
    pub async fn wait_accepted(&self, peer: &str, id: &str) -> Result<()> {
        let what = format!("{peer} accepts {}'s offer {id}", self.name);
        wait_for(what, TIMEOUT, async || {
            let link = self.link(peer).await?;
            if link.accepts.iter().any(|accepted| accepted == id) {
                Ok(Some(()))
            } else {
                Err(Error::Check(format!("accepted so far: {:?}, refused: {:?}", link.accepts, link.cancels)))
            }
        })
        .await
    }

    async fn call(&self, method: &str, args: Vec<Value>) -> Result<()> {
        let script = format!("window.hostile.{method}(...arguments);");
        self.browser.eval_js(&script, args).await.map(drop)
    }
}
