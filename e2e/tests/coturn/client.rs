//! A small TURN client (RFC 5766, over UDP or TCP) for probing coturn: STUN messages from `stun_codec`, the
//! long-term credential exchange (a 401 with realm and nonce, then MESSAGE-INTEGRITY keyed with
//! MD5(username:realm:password)), and TURN REST credentials as the relay hands them out.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use bytecodec::{DecodeExt, EncodeExt};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use stun_codec::rfc5389::attributes::{
    ErrorCode, Fingerprint, MessageIntegrity, Nonce, Realm, Software, UnknownAttributes, Username, XorMappedAddress,
};
use stun_codec::rfc5766::attributes::{
    ChannelNumber, Data, DontFragment, Lifetime, RequestedTransport, XorPeerAddress, XorRelayAddress,
};
use stun_codec::rfc5766::methods::{ALLOCATE, CREATE_PERMISSION, DATA, SEND};
use stun_codec::rfc8656::attributes::{AddressFamily, RequestedAddressFamily};
use stun_codec::{
    define_attribute_enums, Message, MessageClass, MessageDecoder, MessageEncoder, Method, TransactionId,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

define_attribute_enums!(
    Attribute,
    AttributeDecoder,
    AttributeEncoder,
    [
        Username,
        MessageIntegrity,
        ErrorCode,
        Realm,
        Nonce,
        XorMappedAddress,
        Software,
        Fingerprint,
        UnknownAttributes,
        Lifetime,
        XorPeerAddress,
        Data,
        XorRelayAddress,
        RequestedTransport,
        DontFragment,
        ChannelNumber,
        RequestedAddressFamily
    ]
);

/// How long coturn may take to answer one request (it answers on loopback in well under a millisecond).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// IANA protocol numbers for REQUESTED-TRANSPORT.
pub const UDP: u8 = 17;
/// See [`UDP`].
pub const TCP: u8 = 6;

type Outcome<T> = Result<T, String>;

/// A TURN REST username valid for an hour, and its password under `secret` (what the relay's `joined` carries).
pub fn rest_credentials(secret: &str, user: &str) -> (String, String) {
    let expiry = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs() + 3600;
    let username = format!("{expiry}:{user}");
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(username.as_bytes());
    let password = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    (username, password)
}

/// How the client reaches the server.
enum Link {
    Udp(UdpSocket),
    Tcp(TcpStream),
}

/// A TURN client with one allocation at most, as a browser has per TURN URL.
pub struct TurnClient {
    link: Link,
    username: String,
    password: String,
    /// Realm and nonce from the server's last challenge.
    challenge: Option<(Realm, Nonce)>,
    /// Data indications that arrived while waiting for a response.
    data: VecDeque<(SocketAddr, Vec<u8>)>,
    next_transaction: u64,
}

/// The server's answer to a request: success, or its error code and reason.
pub type Answer = Result<Message<Attribute>, (u16, String)>;

impl TurnClient {
    /// A client over UDP to `server`.
    pub async fn udp(server: SocketAddr, username: &str, password: &str) -> Outcome<TurnClient> {
        let local: SocketAddr = if server.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().expect("an address");
        let socket = UdpSocket::bind(local).await.map_err(|e| format!("bind a UDP socket: {e}"))?;
        socket.connect(server).await.map_err(|e| format!("connect to {server}: {e}"))?;
        Ok(TurnClient::new(Link::Udp(socket), username, password))
    }

    /// A client over TCP to `server` (the only way to ask for a TCP relay, RFC 6062).
    pub async fn tcp(server: SocketAddr, username: &str, password: &str) -> Outcome<TurnClient> {
        let stream = TcpStream::connect(server).await.map_err(|e| format!("connect to {server} over TCP: {e}"))?;
        Ok(TurnClient::new(Link::Tcp(stream), username, password))
    }

    fn new(link: Link, username: &str, password: &str) -> TurnClient {
        TurnClient {
            link,
            username: username.to_owned(),
            password: password.to_owned(),
            challenge: None,
            data: VecDeque::new(),
            next_transaction: 1,
        }
    }

    /// Allocate: a relay address for `transport` ([`UDP`] or [`TCP`]), IPv4 unless `family` says otherwise.
    /// `Ok(Ok(relayed address))`, or the server's refusal.
    pub async fn allocate(
        &mut self,
        transport: u8,
        family: Option<AddressFamily>,
    ) -> Outcome<Result<SocketAddr, (u16, String)>> {
        let mut attributes = vec![Attribute::from(RequestedTransport::new(transport))];
        attributes.extend(family.map(|family| Attribute::from(RequestedAddressFamily::new(family))));
        Ok(match self.request(ALLOCATE, attributes).await? {
            Ok(success) => Ok(success
                .get_attribute::<XorRelayAddress>()
                .ok_or("an Allocate success without XOR-RELAYED-ADDRESS")?
                .address()),
            Err(refused) => Err(refused),
        })
    }

    /// CreatePermission for `peer`: `Ok(Ok(()))` if the server installed it, else its refusal.
    pub async fn create_permission(&mut self, peer: SocketAddr) -> Outcome<Result<(), (u16, String)>> {
        Ok(self.request(CREATE_PERMISSION, vec![XorPeerAddress::new(peer).into()]).await?.map(drop))
    }

    /// A Send indication: `payload` to `peer` through the allocation (the server answers nothing, drops it if
    /// no permission allows it).
    pub async fn send(&mut self, peer: SocketAddr, payload: &[u8]) -> Outcome<()> {
        let transaction = self.transaction();
        let mut message = Message::new(MessageClass::Indication, SEND, transaction);
        message.add_attribute(XorPeerAddress::new(peer));
        message.add_attribute(Data::new(payload.to_vec()).map_err(|e| format!("DATA: {e}"))?);
        self.write(message).await
    }

    /// The next Data indication (a peer's datagram relayed to us), waiting at most `timeout`.
    pub async fn receive(&mut self, timeout: Duration) -> Outcome<(SocketAddr, Vec<u8>)> {
        if let Some(data) = self.data.pop_front() {
            return Ok(data);
        }
        tokio::time::timeout(timeout, async {
            loop {
                let message = self.read().await?;
                if let Some(data) = data_of(&message) {
                    return Ok(data);
                }
            }
        })
        .await
        .map_err(|_| format!("no Data indication within {timeout:?}"))?
    }

    /// Sends a request with `attributes`, authenticated once the server has challenged us (the first request gets
    /// 401 with realm and nonce; a stale nonce gets 438 and a new one), and returns the answer to it.
    async fn request(&mut self, method: Method, attributes: Vec<Attribute>) -> Outcome<Answer> {
        for _ in 0..3 {
            let transaction = self.transaction();
            let mut message = Message::new(MessageClass::Request, method, transaction);
            for attribute in attributes.iter().cloned() {
                message.add_attribute(attribute);
            }
            if let Some((realm, nonce)) = &self.challenge {
                let username = Username::new(self.username.clone()).map_err(|e| format!("USERNAME: {e}"))?;
                message.add_attribute(username.clone());
                message.add_attribute(realm.clone());
                message.add_attribute(nonce.clone());
                let integrity = MessageIntegrity::new_long_term_credential(&message, &username, realm, &self.password)
                    .map_err(|e| format!("MESSAGE-INTEGRITY: {e}"))?;
                message.add_attribute(integrity);
            }
            self.write(message).await?;
            let answer = tokio::time::timeout(ANSWER_TIMEOUT, self.answer_to(transaction))
                .await
                .map_err(|_| format!("no answer to {method:?} within {ANSWER_TIMEOUT:?}"))??;
            let error = answer.get_attribute::<ErrorCode>().map(|e| (e.code(), e.reason_phrase().to_owned()));
            match (answer.class(), error) {
                (MessageClass::SuccessResponse, _) => return Ok(Ok(answer)),
                (_, Some((code, reason))) => {
                    let realm = answer.get_attribute::<Realm>().cloned();
                    let nonce = answer.get_attribute::<Nonce>().cloned();
                    let retry = match code {
                        401 => self.challenge.is_none(),
                        438 => true,
                        _ => false,
                    };
                    match (retry, realm, nonce) {
                        (true, Some(realm), Some(nonce)) => self.challenge = Some((realm, nonce)),
                        _ => return Ok(Err((code, reason))),
                    }
                }
                (class, None) => return Err(format!("a {class:?} to {method:?} without ERROR-CODE")),
            }
        }
        Err(format!("{method:?} still challenged after three tries"))
    }

    /// Reads until the response to `transaction`, keeping Data indications for [`TurnClient::receive`].
    async fn answer_to(&mut self, transaction: TransactionId) -> Outcome<Message<Attribute>> {
        loop {
            let message = self.read().await?;
            if let Some(data) = data_of(&message) {
                self.data.push_back(data);
            } else if message.transaction_id() == transaction {
                return Ok(message);
            }
        }
    }

    fn transaction(&mut self) -> TransactionId {
        let mut id = [0; 12];
        id[4..].copy_from_slice(&self.next_transaction.to_be_bytes());
        self.next_transaction += 1;
        TransactionId::new(id)
    }

    async fn write(&mut self, message: Message<Attribute>) -> Outcome<()> {
        let bytes = MessageEncoder::new().encode_into_bytes(message).map_err(|e| format!("encode: {e}"))?;
        match &mut self.link {
            Link::Udp(socket) => socket.send(&bytes).await.map(drop),
            Link::Tcp(stream) => stream.write_all(&bytes).await,
        }
        .map_err(|e| format!("send to the TURN server: {e}"))
    }

    /// One STUN message from the server (TCP: the 20-byte header says how long the rest is).
    async fn read(&mut self) -> Outcome<Message<Attribute>> {
        let bytes = match &mut self.link {
            Link::Udp(socket) => {
                let mut buffer = vec![0; 65536];
                let len = socket.recv(&mut buffer).await.map_err(|e| format!("receive: {e}"))?;
                buffer.truncate(len);
                buffer
            }
            Link::Tcp(stream) => {
                let mut bytes = vec![0; 20];
                stream.read_exact(&mut bytes).await.map_err(|e| format!("receive over TCP: {e}"))?;
                let len = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
                bytes.resize(20 + len, 0);
                stream.read_exact(&mut bytes[20..]).await.map_err(|e| format!("receive over TCP: {e}"))?;
                bytes
            }
        };
        MessageDecoder::<Attribute>::new()
            .decode_from_bytes(&bytes)
            .map_err(|e| format!("decode: {e}"))?
            .map_err(|broken| format!("a broken STUN message: {broken:?}"))
    }
}

/// The peer and payload of a Data indication.
fn data_of(message: &Message<Attribute>) -> Option<(SocketAddr, Vec<u8>)> {
    if message.class() != MessageClass::Indication || message.method() != DATA {
        return None;
    }
    let peer = message.get_attribute::<XorPeerAddress>()?.address();
    Some((peer, message.get_attribute::<Data>()?.data().to_vec()))
}
