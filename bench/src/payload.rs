//! The negotiation messages the load generator sends: SDP offers and answers the size of Chromium's for an audio and
//! video call, and trickled ICE candidates, in the mix a call produces. Each carries the time it was scheduled, so the
//! receiver can tell how long the relay took without trusting when it was actually sent.

use std::fmt::Write;

/// Which negotiation message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An SDP offer, the size of Chromium's for an audio and video call.
    Offer,
    /// An SDP answer to it, likewise.
    Answer,
    /// A trickled ICE candidate.
    Candidate,
}

impl Kind {
    /// Every kind, in the order of [`Kind::index`].
    pub const ALL: [Kind; 3] = [Kind::Offer, Kind::Answer, Kind::Candidate];

    /// A stable index, for per-kind tables.
    pub fn index(self) -> usize {
        match self {
            Kind::Offer => 0,
            Kind::Answer => 1,
            Kind::Candidate => 2,
        }
    }

    /// The kind of a sender's `seq`th message. A negotiation is one description and a handful of candidates per
    /// side, so one message in [`MIX_PERIOD`] is a description (offers and answers alternating) and the rest are
    /// candidates.
    pub fn for_sequence(seq: u64) -> Kind {
        if seq % MIX_PERIOD != 0 {
            Kind::Candidate
        } else if (seq / MIX_PERIOD) % 2 == 0 {
            Kind::Offer
        } else {
            Kind::Answer
        }
    }
}

/// One description per this many messages; the others are candidates.
pub const MIX_PERIOD: u64 = 8;

/// Marks the schedule stamp inside a payload: `x-bench` and one separator, then [`STAMP_DIGITS`] digits.
pub const MARKER: &str = "x-bench";

/// The stamp is written with a fixed width so that every message of a kind has the same size.
pub const STAMP_DIGITS: usize = 16;

/// Stands for the stamp's digits in a template until a message is rendered.
pub const STAMP_PLACEHOLDER: &str = "@@STAMP@@";

/// Stands for the recipient's id in a template until a message is rendered.
pub const TO_PLACEHOLDER: &str = "@@TO@@";

/// The SDP of `kind` (offer or answer), with the stamp placeholder as its last attribute.
pub fn sdp_template(kind: Kind) -> String {
    // Chromium offers every codec it has; the answer keeps the ones both sides chose.
    let (video_codecs, setup, ufrag, pwd, fingerprint, session) = match kind {
        Kind::Answer => (
            3,
            "active",
            "Qm9r",
            "kX3t9VbLhWq2ZcN8yRfJ4pDs",
            "49:69:63:22:DD:27:64:FA:B4:23:89:10:DD:0F:5A:B3:03:22:F0:1B:EA:57:AF:6D:76:4A:17:E7:2D:58:3C:5A",
            "2891367414519380672",
        ),
        _ => (
            9,
            "actpass",
            "EsAw",
            "P2uYro0UCOQ4zxjKXaWCBui1",
            "FF:A5:B5:4F:E3:A4:9D:C2:00:42:DE:79:D6:FC:4D:0C:FE:EF:93:EE:A0:3C:82:25:41:D6:8D:C0:81:3C:67:32",
            "4611731400430051336",
        ),
    };
    let mut sdp = String::with_capacity(6 * 1024);
    let mut line = |text: &str| {
        sdp.push_str(text);
        sdp.push_str("\r\n");
    };
    line("v=0");
    line(&format!("o=- {session} 2 IN IP4 127.0.0.1"));
    line("s=-");
    line("t=0 0");
    line("a=group:BUNDLE 0 1");
    line("a=extmap-allow-mixed");
    line("a=msid-semantic: WMS 5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a");
    let transport = |line: &mut dyn FnMut(&str), mid: u32| {
        line("c=IN IP4 0.0.0.0");
        line("a=rtcp:9 IN IP4 0.0.0.0");
        line(&format!("a=ice-ufrag:{ufrag}"));
        line(&format!("a=ice-pwd:{pwd}"));
        line("a=ice-options:trickle");
        line(&format!("a=fingerprint:sha-256 {fingerprint}"));
        line(&format!("a=setup:{setup}"));
        line(&format!("a=mid:{mid}"));
    };

    line("m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126");
    transport(&mut line, 0);
    for (id, uri) in [
        (1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
        (2, "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"),
        (3, "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"),
        (4, "urn:ietf:params:rtp-hdrext:sdes:mid"),
    ] {
        line(&format!("a=extmap:{id} {uri}"));
    }
    line("a=sendrecv");
    line("a=msid:5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a 0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0");
    line("a=rtcp-mux");
    line("a=rtcp-rsize");
    line("a=rtpmap:111 opus/48000/2");
    line("a=rtcp-fb:111 transport-cc");
    line("a=fmtp:111 minptime=10;useinbandfec=1");
    line("a=rtpmap:63 red/48000/2");
    line("a=fmtp:63 111/111");
    for map in ["9 G722/8000", "0 PCMU/8000", "8 PCMA/8000", "13 CN/8000", "110 telephone-event/48000"] {
        line(&format!("a=rtpmap:{map}"));
    }
    line("a=rtpmap:126 telephone-event/8000");
    line("a=ssrc:3929347512 cname:Jd8sK2mQ9xLp4vTz");
    line("a=ssrc:3929347512 msid:5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a 0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0");

    let codecs = [
        ("VP8/90000", ""),
        ("VP9/90000", "profile-id=0"),
        ("VP9/90000", "profile-id=2"),
        ("H264/90000", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f"),
        ("H264/90000", "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f"),
        ("H264/90000", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"),
        ("H264/90000", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f"),
        ("AV1/90000", "level-idx=5;profile=0;tier=0"),
        ("H264/90000", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f"),
    ];
    let payload_types: Vec<u32> = (0..video_codecs * 2).map(|i| 96 + i as u32).collect();
    let list: Vec<String> = payload_types.iter().map(u32::to_string).collect();
    line(&format!("m=video 9 UDP/TLS/RTP/SAVPF {} 125 124", list.join(" ")));
    transport(&mut line, 1);
    for (id, uri) in [
        (14, "urn:ietf:params:rtp-hdrext:toffset"),
        (2, "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"),
        (13, "urn:3gpp:video-orientation"),
        (3, "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"),
        (5, "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"),
        (6, "http://www.webrtc.org/experiments/rtp-hdrext/video-content-type"),
        (7, "http://www.webrtc.org/experiments/rtp-hdrext/video-timing"),
        (8, "http://www.webrtc.org/experiments/rtp-hdrext/color-space"),
        (4, "urn:ietf:params:rtp-hdrext:sdes:mid"),
    ] {
        line(&format!("a=extmap:{id} {uri}"));
    }
    line("a=sendrecv");
    line("a=msid:5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a 7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d");
    line("a=rtcp-mux");
    line("a=rtcp-rsize");
    for (index, (codec, fmtp)) in codecs.iter().take(video_codecs).enumerate() {
        let (pt, rtx) = (payload_types[index * 2], payload_types[index * 2 + 1]);
        line(&format!("a=rtpmap:{pt} {codec}"));
        for feedback in ["goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"] {
            line(&format!("a=rtcp-fb:{pt} {feedback}"));
        }
        if !fmtp.is_empty() {
            line(&format!("a=fmtp:{pt} {fmtp}"));
        }
        line(&format!("a=rtpmap:{rtx} rtx/90000"));
        line(&format!("a=fmtp:{rtx} apt={pt}"));
    }
    line("a=rtpmap:125 red/90000");
    line("a=rtpmap:124 ulpfec/90000");
    line("a=ssrc-group:FID 2231627014 632943048");
    for ssrc in ["2231627014", "632943048"] {
        line(&format!("a=ssrc:{ssrc} cname:Jd8sK2mQ9xLp4vTz"));
        line(&format!("a=ssrc:{ssrc} msid:5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a 7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"));
    }
    line(&format!("a={MARKER}:{STAMP_PLACEHOLDER}"));
    sdp
}

/// A server-reflexive candidate line as Chromium writes it, with the stamp placeholder as a trailing extension.
pub fn candidate_template() -> String {
    format!(
        "candidate:842163049 1 udp 1677729535 203.0.113.7 61665 typ srflx raddr 192.168.1.23 rport 61665 \
         generation 0 ufrag EsAw network-id 1 network-cost 10 {MARKER} {STAMP_PLACEHOLDER}"
    )
}

/// A message with two holes, the recipient's id and the stamp (in either order), rendered by copying its three
/// fixed parts.
#[derive(Clone, Debug)]
pub struct Template {
    pieces: [String; 3],
    to_first: bool,
}

impl Template {
    /// Splits `text` around exactly one [`TO_PLACEHOLDER`] and exactly one [`STAMP_PLACEHOLDER`].
    pub fn new(text: &str) -> Template {
        let hole = |placeholder: &str| {
            let mut found = text.match_indices(placeholder).map(|(at, _)| at);
            let at = found.next().unwrap_or_else(|| panic!("the template has no {placeholder}: {text}"));
            assert!(found.next().is_none(), "the template has {placeholder} twice");
            (at, placeholder.len())
        };
        let (to, stamp) = (hole(TO_PLACEHOLDER), hole(STAMP_PLACEHOLDER));
        let to_first = to.0 < stamp.0;
        let (first, second) = if to_first { (to, stamp) } else { (stamp, to) };
        Template {
            pieces: [
                text[..first.0].to_owned(),
                text[first.0 + first.1..second.0].to_owned(),
                text[second.0 + second.1..].to_owned(),
            ],
            to_first,
        }
    }

    /// Writes the message for `to` stamped `stamp` into `out` (cleared first).
    pub fn render(&self, out: &mut String, to: &str, stamp: u64) {
        out.clear();
        out.reserve(self.len(to.len()));
        let write_stamp = |out: &mut String| {
            let _ = write!(out, "{stamp:0width$}", width = STAMP_DIGITS);
        };
        out.push_str(&self.pieces[0]);
        if self.to_first {
            out.push_str(to);
            out.push_str(&self.pieces[1]);
            write_stamp(out);
        } else {
            write_stamp(out);
            out.push_str(&self.pieces[1]);
            out.push_str(to);
        }
        out.push_str(&self.pieces[2]);
    }

    /// The length of a rendered message whose recipient id is `to_len` bytes long.
    pub fn len(&self, to_len: usize) -> usize {
        self.pieces.iter().map(String::len).sum::<usize>() + to_len + STAMP_DIGITS
    }
}

/// The stamp in a received message, if it carries one.
pub fn find_stamp(text: &str) -> Option<u64> {
    let at = text.rfind(MARKER)? + MARKER.len() + 1;
    let digits = text.get(at..at + STAMP_DIGITS)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamped(template: &str, stamp: u64) -> String {
        template.replace(STAMP_PLACEHOLDER, &format!("{stamp:016}"))
    }

    #[test]
    fn descriptions_and_candidates_have_realistic_sizes() {
        let offer = sdp_template(Kind::Offer).len();
        let answer = sdp_template(Kind::Answer).len();
        let candidate = candidate_template().len();
        assert!((4_000..=6_000).contains(&offer), "offer {offer} B");
        assert!((3_000..=4_500).contains(&answer), "answer {answer} B");
        assert!((150..=250).contains(&candidate), "candidate {candidate} B");
    }

    #[test]
    fn sdp_lines_end_with_crlf_and_the_stamp_is_the_last_attribute() {
        let sdp = stamped(&sdp_template(Kind::Offer), 42);
        assert!(sdp.starts_with("v=0\r\n"));
        assert!(sdp.ends_with("a=x-bench:0000000000000042\r\n"), "{}", &sdp[sdp.len() - 40..]);
        assert_eq!(sdp.matches('\n').count(), sdp.matches("\r\n").count(), "every line ends with CRLF");
        assert_eq!(find_stamp(&sdp), Some(42));
    }

    #[test]
    fn one_message_in_eight_is_a_description() {
        let kinds: Vec<Kind> = (0..16).map(Kind::for_sequence).collect();
        assert_eq!(kinds[0], Kind::Offer);
        assert_eq!(kinds[8], Kind::Answer);
        assert_eq!(kinds.iter().filter(|k| **k == Kind::Candidate).count(), 14);
    }

    #[test]
    fn templates_render_the_recipient_and_a_fixed_width_stamp() {
        let template = Template::new("{\"to\":\"@@TO@@\",\"x\":\"x-bench @@STAMP@@\"}");
        let mut out = String::new();
        template.render(&mut out, "peer", 1_234_567);
        assert_eq!(out, "{\"to\":\"peer\",\"x\":\"x-bench 0000000001234567\"}");
        assert_eq!(out.len(), template.len(4));
        assert_eq!(find_stamp(&out), Some(1_234_567));

        let stamp_first = Template::new("[\"x-bench @@STAMP@@\",\"@@TO@@\"]");
        stamp_first.render(&mut out, "p", 3);
        assert_eq!(out, "[\"x-bench 0000000000000003\",\"p\"]");
    }

    #[test]
    fn a_message_without_a_whole_stamp_has_none() {
        assert_eq!(find_stamp("{\"type\":\"error\"}"), None);
        assert_eq!(find_stamp("x-bench 12345"), None);
        assert_eq!(find_stamp("x-bench 00000000000000ab"), None);
        assert_eq!(find_stamp(&stamped(&candidate_template(), u64::from(u32::MAX))), Some(u64::from(u32::MAX)));
    }
}
