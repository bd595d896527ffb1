use huddle_common::{ServerMessage, SignalPayload};

use super::*;

fn code(text: &str) -> ErrorCode {
    decode(text).expect_err(text).code()
}

#[test]
fn each_kind_of_bad_frame_gets_its_own_code() {
    assert_eq!(code("hello"), ErrorCode::InvalidJson);
    assert_eq!(code("{\"type\":\"join\""), ErrorCode::InvalidJson);
    assert_eq!(code("{\"type\":\"dance\"}"), ErrorCode::UnknownType);
    assert_eq!(code("{\"to\":\"x\"}"), ErrorCode::UnknownType);
    assert_eq!(code("[1,2]"), ErrorCode::UnknownType);
    assert_eq!(code("{\"type\":7}"), ErrorCode::UnknownType);
    assert_eq!(code("{\"type\":\"signal\",\"to\":\"x\"}"), ErrorCode::InvalidMessage);
    assert_eq!(
        code("{\"type\":\"join\",\"version\":\"one\",\"room\":\"r\",\"name\":\"n\"}"),
        ErrorCode::InvalidMessage
    );
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(code(&deep), ErrorCode::TooDeep);
}

/// What the relay did before payloads were passed on as text: decode a whole `ClientMessage`.
fn reference(text: &str) -> Result<ClientMessage, ErrorCode> {
    if nesting_depth(text) > MAX_DEPTH {
        return Err(ErrorCode::TooDeep);
    }
    match serde_json::from_str(text) {
        Ok(ClientMessage::Signal { to, .. }) if PeerId::parse(to.as_str()).is_err() => Err(ErrorCode::InvalidMessage),
        Ok(message) => Ok(message),
        Err(source) => Err(classify(text, source).code()),
    }
}

/// `decode` accepts what `reference` accepts, refuses the rest with the same code, and the payload text it
/// passes on is a slice of the frame, which the recipient's `signal` reads as the payload `reference` decoded. (Read
/// there, not on its own: serde takes a payload `kind` as its variant's index only inside a message.)
fn assert_agrees(text: &str) {
    match (decode(text), reference(text)) {
        (Ok(Incoming::Signal { to, payload }), Ok(ClientMessage::Signal { to: expected_to, payload: expected })) => {
            assert_eq!(to, expected_to, "{text}");
            assert!(is_slice_of(payload, text), "{text}: {payload}");
            let received = format!(r#"{{"type":"signal","from":"p","payload":{payload}}}"#);
            let ServerMessage::Signal { payload, .. } = serde_json::from_str(&received).unwrap() else { panic!() };
            assert_eq!(payload, expected, "{text}");
        }
        (Ok(Incoming::Join(join)), Ok(ClientMessage::Join(expected))) => assert_eq!(join, expected, "{text}"),
        (Ok(Incoming::Leave), Ok(ClientMessage::Leave)) => {}
        (Err(error), Err(expected)) => assert_eq!(error.code(), expected, "{text}"),
        (got, expected) => panic!("{text}: decoded as {got:?}, before as {expected:?}"),
    }
}

/// Whether `part` is a slice of `whole`, not a copy of some of it.
fn is_slice_of(part: &str, whole: &str) -> bool {
    let whole = whole.as_bytes().as_ptr_range();
    whole.start <= part.as_ptr() && part.as_ptr().wrapping_add(part.len()) <= whole.end
}

/// A small deterministic generator (xorshift), so that failures can be replayed.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

/// Values that each field might hold, valid for some fields and not for others (as JSON text).
const VALUES: &[&str] = &[
    r#""s""#,
    r#""v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n""#,
    r#""\u0041\/\"""#,
    r#""\ud800""#,
    r#""\ud83d\ude00""#,
    "null",
    "0",
    "65535",
    "65536",
    "-1",
    "1.5",
    "1e400",
    "18446744073709551616",
    "true",
    "[]",
    "[1,{\"a\":null}]",
    "{}",
    r#"{"kind":"offer"}"#,
    // Arrays nested 29, 30 and 31 deep (see `message`): at the edge of MAX_DEPTH inside a payload or beside it.
    r#""DEEP29""#,
    r#""DEEP30""#,
    r#""DEEP31""#,
];

fn payload(dice: &mut Dice) -> String {
    const KINDS: &[&str] = &[
        r#""offer""#,
        r#""answer""#,
        r#""candidate""#,
        r#""candidate""#,
        r#""end_of_candidates""#,
        r#""\u006ffer""#,
        r#""dance""#,
        "0",
        "2",
        "null",
    ];
    const FIELDS: &[&str] = &["sdp", "candidate", "sdp_mid", "sdp_m_line_index", "username_fragment", "from", "kind"];
    // Values near the edge of what each field takes.
    const INDEXES: &[&str] = &["0", "65535", "65536", "-1", "1.5", "null", r#""0""#];
    const STRINGS: &[&str] = &[r#""s""#, "null", "5", r#""\ud800""#, r#""\u00e9\r\n""#];
    let mut members = Vec::new();
    let kind = dice.pick(KINDS);
    if dice.below(10) > 0 {
        members.push(format!(r#""kind":{kind}"#));
    }
    // Usually the field the kind needs, so that many payloads are valid.
    if dice.below(4) > 0 {
        match kind {
            r#""candidate""# | "2" => members.push(r#""candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host""#.into()),
            _ => members.push(r#""sdp":"v=0\r\n""#.into()),
        }
    }
    for _ in 0..dice.below(4) {
        let field = dice.pick(FIELDS);
        let value = match (field, dice.below(2)) {
            ("kind", _) => dice.pick(KINDS),
            (_, 0) => dice.pick(VALUES),
            ("sdp_m_line_index", _) => dice.pick(INDEXES),
            _ => dice.pick(STRINGS),
        };
        members.push(format!(r#""{field}":{value}"#));
    }
    let start = dice.below(members.len() + 1).min(members.len());
    members.rotate_left(start);
    match dice.below(20) {
        0 => format!("[{}]", members.join(",")),
        1 => "null".into(),
        _ => format!("{{{}}}", members.join(", ")),
    }
}

fn message(dice: &mut Dice) -> String {
    const TYPES: &[&str] =
        &[r#""signal""#, r#""signal""#, r#""signal""#, r#""\u0073ignal""#, r#""leave""#, "1", r#""sig""#];
    const TOS: &[&str] = &[r#""xoldzqblu3i7g""#, r#""xoldzqblu3i7g""#, r#""xoldzqblu3i7h""#, r#""a\"b""#, "5", "null"];
    let mut members = Vec::new();
    // Each member usually once, sometimes missing or twice.
    let times = |dice: &mut Dice| [1, 1, 1, 1, 1, 1, 0, 2][dice.below(8)];
    for _ in 0..times(dice) {
        members.push(format!(r#""type":{}"#, dice.pick(TYPES)));
    }
    for _ in 0..times(dice) {
        members.push(format!(r#""to":{}"#, dice.pick(TOS)));
    }
    for _ in 0..times(dice) {
        members.push(format!(r#""payload":{}"#, payload(dice)));
    }
    for _ in 0..dice.below(3) * dice.below(2) {
        members.push(format!(r#""{}":{}"#, dice.pick(&["from", "kind", "sdp", "x"]), dice.pick(VALUES)));
    }
    let start = dice.below(members.len() + 1).min(members.len());
    members.rotate_left(start);
    let mut text = format!("{{{}}}", members.join(","));
    for n in [29, 30, 31] {
        text = text.replace(&format!(r#""DEEP{n}""#), &format!("{}{}", "[".repeat(n), "]".repeat(n)));
    }
    match dice.below(30) {
        0 => format!("{text} x"),
        1 => format!(" {text}\n"),
        2 => format!("[{}]", members.join(",")),
        _ => text,
    }
}

#[test]
fn decoding_agrees_with_decoding_a_whole_client_message_on_generated_frames() {
    let mut dice = Dice(0x9e37_79b9_7f4a_7c15);
    let (mut fast, mut valid) = (0, 0);
    for _ in 0..50_000 {
        let text = message(&mut dice);
        assert_agrees(&text);
        fast += usize::from(matches!(fast_signal(&text), Some(Incoming::Signal { to, .. }) if to.validate().is_ok()));
        valid += usize::from(matches!(reference(&text), Ok(ClientMessage::Signal { .. })));
    }
    // The generator reaches both paths often enough for the comparison to mean something.
    assert!(fast > 500 && valid > fast, "{fast} fast of {valid} valid signals");
}

#[test]
fn odd_but_valid_signals_are_decoded_as_before() {
    for text in [
        r#"["signal","xoldzqblu3i7g",{"kind":"end_of_candidates"}]"#,
        r#"{"type":1,"to":"xoldzqblu3i7g","payload":{"kind":"offer","sdp":"x"}}"#,
        r#"{"type":"signal","to":"xoldzqblu3i7g","payload":{"kind":0,"sdp":"x"}}"#,
        r#"{"type":"signal","to":"xoldzqblu3i7g","payload":["answer","x"]}"#,
        r#"{"type":"join","version":1,"room":"r","name":"n"}"#,
        r#"{"type":"leave","to":5}"#,
    ] {
        assert_agrees(text);
        assert!(fast_signal(text).is_none(), "{text}");
    }
}

#[test]
fn the_usual_signals_take_the_fast_path_with_their_payload_as_sent() {
    for payload in [
        r#"{"kind":"offer","sdp":"v=0\r\no=- 46117 2 IN IP4 127.0.0.1\r\n"}"#,
        r#"{"sdp":"v=0\r\n","kind":"answer"}"#,
        r#"{"kind":"candidate","candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdp_mid":"0","sdp_m_line_index":0,"username_fragment":"EsAw"}"#,
        r#"{"kind":"candidate","candidate":"c","sdp_mid":null,"sdp_m_line_index":65535}"#,
        r#"{"kind":"end_of_candidates","from":"someone","extra":[1,{"a":2}]}"#,
        r#"{ "kind" : "offer" , "sdp" : "\u0076=0" , "sdp_mid" : 5 }"#,
    ] {
        let text = format!(r#"{{"to":"xoldzqblu3i7g","type":"signal","from":"forged","payload":{payload}}}"#);
        assert_agrees(&text);
        assert_eq!(fast_signal(&text), Some(Incoming::Signal { to: PeerId::from("xoldzqblu3i7g"), payload }));
    }
}

/// The spellings serde reads besides the usual one take the slow path, and their payload is passed on as written
/// too, not as serde would write it again (which dropped unknown members, reordered them and changed escapes).
#[test]
fn signals_only_the_slow_path_takes_pass_their_payload_on_as_written() {
    let usual = r#"{"sdp":"\u0076=0\r\n\/","kind":"offer","x_codec":{"prefer":["av1",1.5e3]}}"#;
    let by_index = r#"{ "kind" : 0, "sdp":"v=0", "x":[1] }"#;
    let candidate = r#"{"candidate":"c","kind":2,"from":"x"}"#;
    for (text, payload) in [
        // A whole message written as an array (the tag, then the fields in order), its payload as usual.
        (format!(r#"["signal","xoldzqblu3i7g",{usual}]"#), usual),
        (format!(r#" [ "signal" , "xoldzqblu3i7g" , {usual} ] "#), usual),
        // A payload `kind` as its variant's index, among other members, with `payload` elsewhere too.
        (format!(r#"{{"x":{{"payload":{{}}}},"type":"signal","to":"xoldzqblu3i7g","payload":{by_index}}}"#), by_index),
        (format!(r#"{{"type":"signal","to":"xoldzqblu3i7g","p\u0061yload":{candidate}}}"#), candidate),
        // A payload written as an array.
        (r#"{"payload":[ "answer","v=0" ],"to":"xoldzqblu3i7g","type":"signal"}"#.into(), r#"[ "answer","v=0" ]"#),
    ] {
        assert!(fast_signal(&text).is_none(), "{text}");
        assert_eq!(decode(&text).unwrap(), Incoming::Signal { to: PeerId::from("xoldzqblu3i7g"), payload });
        assert_agrees(&text);
    }
}

/// `PayloadVisitor` spells out `SignalPayload`'s fields by hand. This match names every variant and field with no
/// `..`, so a field or kind added to `SignalPayload` stops the build here until the fast path (and the generator
/// above) learn it: otherwise the fast path would pass payloads lacking a new required field.
#[test]
fn the_fast_path_knows_every_payload_field() {
    let known = |payload: &SignalPayload| match payload {
        SignalPayload::Offer { sdp } | SignalPayload::Answer { sdp } => !sdp.is_empty(),
        SignalPayload::Candidate { candidate, sdp_mid, sdp_m_line_index, username_fragment } => {
            !candidate.is_empty() && sdp_mid.is_some() && sdp_m_line_index.is_some() && username_fragment.is_some()
        }
        SignalPayload::EndOfCandidates => true,
    };
    for payload in [
        r#"{"kind":"offer","sdp":"v=0"}"#,
        r#"{"kind":"answer","sdp":"v=0"}"#,
        r#"{"kind":"candidate","candidate":"c","sdp_mid":"0","sdp_m_line_index":0,"username_fragment":"u"}"#,
        r#"{"kind":"end_of_candidates"}"#,
    ] {
        let text = format!(r#"{{"type":"signal","to":"xoldzqblu3i7g","payload":{payload}}}"#);
        let Some(Incoming::Signal { payload: passed, .. }) = fast_signal(&text) else { panic!("{text}") };
        assert!(known(&serde_json::from_str(passed).unwrap()), "{passed}");
    }
}

/// The plain byte-by-byte definition that `nesting_depth` must agree with.
fn reference_depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[test]
fn depth_agrees_with_the_byte_by_byte_definition_on_every_short_input() {
    const ALPHABET: &[u8] = b"[]{}\"\\a";
    let mut text = Vec::new();
    for len in 0..=6u32 {
        for mut index in 0..ALPHABET.len().pow(len) {
            text.clear();
            for _ in 0..len {
                text.push(ALPHABET[index % ALPHABET.len()]);
                index /= ALPHABET.len();
            }
            let text = std::str::from_utf8(&text).unwrap();
            assert_eq!(nesting_depth(text), reference_depth(text), "{text:?}");
        }
    }
}

#[test]
fn brackets_inside_strings_do_not_count_as_nesting() {
    let sdp = format!("v=0 {}", "[{".repeat(1000));
    let text = serde_json::json!({"type": "signal", "to": "xoldzqblu3i7g", "payload": {"kind": "offer", "sdp": sdp}})
        .to_string();
    assert!(matches!(decode(&text), Ok(Incoming::Signal { .. })));
    assert_eq!(nesting_depth(r#"{"a":"\"[[["}"#), 1);
    assert_eq!(nesting_depth(r#"{"a":"\\\\"}"#), 1, "an escaped backslash ends before the quote");
    assert_eq!(nesting_depth(r#"[[],[[]],{"b":[{}]}]"#), 4);
    assert_eq!(nesting_depth(r#"[1,"unterminated [[[["#), 1);
    assert_eq!(nesting_depth("]]]][[["), 3);
    assert_eq!(nesting_depth("[\"\\"), 1, "a backslash at the very end");
}

#[test]
fn a_signal_to_what_cannot_be_a_peer_id_is_an_invalid_message() {
    for to in ["x", "XOLDZQBLU3I7G", "xoldzqblu3i7h", "xoldzqblu3i7", " xoldzqblu3i7g", "xoldzqblu3i1g"] {
        let text = format!(r#"{{"type":"signal","to":"{to}","payload":{{"kind":"end_of_candidates"}}}}"#);
        let error = decode(&text).expect_err(&text);
        assert_eq!(error.code(), ErrorCode::InvalidMessage, "{text}");
        assert!(error.to_string().contains("`to` is not a peer id"), "{error}");
    }
    let to = format!("\"{}\"", "x".repeat(60_000));
    let text = format!(r#"{{"type":"signal","to":{to},"payload":{{"kind":"end_of_candidates"}}}}"#);
    assert!(decode(&text).expect_err("a 60 KB to").to_string().len() < 200);
}

#[test]
fn errors_quote_at_most_a_little_of_what_they_found() {
    let long = "é\"x".repeat(20_000);
    let frames = [
        serde_json::json!({"type": long}).to_string(),
        serde_json::json!({"type": "join", "version": long, "room": "r", "name": "n"}).to_string(),
        serde_json::json!({"type": "signal", "to": "xoldzqblu3i7g", "payload": {"kind": long}}).to_string(),
    ];
    for frame in frames {
        let message = decode(&frame).expect_err("refused").to_string();
        assert!(message.chars().count() <= MAX_ERROR_CHARS + 1, "{} characters: {message}", message.len());
        assert!(message.contains("xé") && message.contains('…'), "{message}");
    }
}

#[test]
fn quoted_parts_are_cut_on_a_character_boundary_with_an_ellipsis() {
    let quoted = "é".repeat(MAX_QUOTED_CHARS + 10);
    let cut = format!("invalid type: string \"{}…\", expected u32", "é".repeat(MAX_QUOTED_CHARS));
    assert_eq!(shorten_quotes(&format!("invalid type: string \"{quoted}\", expected u32")), cut);
    // Escaped quotes do not end a part; a short part and the text around it are kept whole.
    let escaped = format!("`{}\\\"{}` then \"ok\"", "a".repeat(10), "b".repeat(100));
    assert_eq!(shorten_quotes(&escaped), format!("`{}\\\"{}…` then \"ok\"", "a".repeat(10), "b".repeat(52)));
    let plain = "x".repeat(MAX_ERROR_CHARS);
    assert_eq!(shorten_quotes(&plain), plain);
    assert_eq!(shorten_quotes(&format!("{plain}y")), format!("{plain}…"));
}
