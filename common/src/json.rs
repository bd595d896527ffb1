//! A small JSON reader and writer, for the SPA: serde's generic code weighs too much in its wasm (see `wire.rs`).
//!
//! It reads exactly what `serde_json` reads as the protocol's messages and writes what it writes; the relay keeps
//! serde, and the tests hold both to the same fixtures and to each other.

/// How deeply arrays and objects may nest: deeper input is refused before it can exhaust the stack (serde_json's
/// limit is the same).
const MAX_DEPTH: usize = 128;

/// A JSON value. Numbers keep their text so that integers are read exactly; objects keep their order.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written (`-12`, `3.5e2`).
    Number(String),
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, its members in order; no key appears twice.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// Parses one JSON text (surrounding white space allowed), or `None` if it is not JSON, nests deeper than
    /// [`MAX_DEPTH`], or repeats a key in an object (as serde refuses a repeated field).
    pub fn parse(text: &str) -> Option<Value> {
        let mut parser = Parser { text, pos: 0 };
        let value = parser.value(0)?;
        parser.skip_white_space();
        (parser.pos == text.len()).then_some(value)
    }

    /// The JSON text, compact, escaped as `serde_json` escapes.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
            Value::Number(number) => out.push_str(number),
            Value::String(text) => write_string(text, out),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Value::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(key, out);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }

    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, value)| value),
            _ => None,
        }
    }

    /// The text of a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    /// A boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(flag) => Some(*flag),
            _ => None,
        }
    }

    /// A number written as a non-negative integer that fits a `u64` (`2.0` and `2e0` are not: serde_json reads them
    /// as floats, which no integer field takes).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(number) if number.bytes().all(|b| b.is_ascii_digit()) => number.parse().ok(),
            _ => None,
        }
    }

    /// The items of an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Value::String(text.to_owned())
    }
}

impl From<bool> for Value {
    fn from(flag: bool) -> Self {
        Value::Bool(flag)
    }
}

impl From<u64> for Value {
    fn from(number: u64) -> Self {
        Value::Number(number.to_string())
    }
}

/// Writes `text` as a JSON string: `"` and `\` escaped, control characters as `\n`-style escapes where JSON has one
/// and `\u00XX` otherwise, everything else (`/`, non-ASCII) as it is.
fn write_string(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut plain = 0;
    for (i, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&text[plain..i]);
        plain = i + 1;
        if escape.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        } else {
            out.push_str(escape);
        }
    }
    out.push_str(&text[plain..]);
    out.push('"');
}

/// A recursive-descent parser over `text`, at byte `pos` (always on a character boundary).
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_white_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Skips white space, then `byte` if it comes next.
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_white_space();
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn keyword(&mut self, word: &str, value: Value) -> Option<Value> {
        self.text[self.pos..].starts_with(word).then(|| {
            self.pos += word.len();
            value
        })
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        self.skip_white_space();
        match self.peek()? {
            b'n' => self.keyword("null", Value::Null),
            b't' => self.keyword("true", Value::Bool(true)),
            b'f' => self.keyword("false", Value::Bool(false)),
            b'"' => self.string().map(Value::String),
            b'-' | b'0'..=b'9' => self.number().map(Value::Number),
            b'[' if depth < MAX_DEPTH => {
                self.pos += 1;
                let mut items = Vec::new();
                if !self.eat(b']') {
                    loop {
                        items.push(self.value(depth + 1)?);
                        if self.eat(b']') {
                            break;
                        }
                        self.eat(b',').then_some(())?;
                    }
                }
                Some(Value::Array(items))
            }
            b'{' if depth < MAX_DEPTH => {
                self.pos += 1;
                let mut members: Vec<(String, Value)> = Vec::new();
                if !self.eat(b'}') {
                    loop {
                        self.skip_white_space();
                        let key = self.string()?;
                        if members.iter().any(|(k, _)| *k == key) || !self.eat(b':') {
                            return None;
                        }
                        members.push((key, self.value(depth + 1)?));
                        if self.eat(b'}') {
                            break;
                        }
                        self.eat(b',').then_some(())?;
                    }
                }
                Some(Value::Object(members))
            }
            _ => None,
        }
    }

    /// Skips the ASCII digits ahead; how many there were.
    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, as written.
    fn number(&mut self) -> Option<String> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let leading_zero = self.peek() == Some(b'0');
        let whole = self.digits();
        if whole == 0 || (leading_zero && whole > 1) {
            return None;
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            (self.digits() > 0).then_some(())?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            (self.digits() > 0).then_some(())?;
        }
        Some(self.text[start..self.pos].to_owned())
    }

    /// A string, from its opening quote.
    fn string(&mut self) -> Option<String> {
        (self.peek() == Some(b'"')).then_some(())?;
        self.pos += 1;
        let mut out = String::new();
        let mut plain = self.pos;
        loop {
            let byte = self.peek()?;
            match byte {
                b'"' | b'\\' => {
                    out.push_str(&self.text[plain..self.pos]);
                    self.pos += 1;
                    if byte == b'"' {
                        return Some(out);
                    }
                    out.push(self.escape()?);
                    plain = self.pos;
                }
                // JSON has no raw control characters in strings.
                0x00..=0x1f => return None,
                _ => self.pos += 1,
            }
        }
    }

    /// The character of an escape, after its backslash.
    fn escape(&mut self) -> Option<char> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                match unit {
                    // A high surrogate must be followed by an escaped low one; lone surrogates are not text.
                    0xd800..=0xdbff => {
                        (self.text[self.pos..].starts_with("\\u")).then_some(())?;
                        self.pos += 2;
                        let low = self.hex4()?;
                        (0xdc00..=0xdfff).contains(&low).then_some(())?;
                        char::from_u32(0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00))?
                    }
                    _ => char::from_u32(unit)?,
                }
            }
            _ => return None,
        })
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.pos..self.pos + 4).filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))?;
        let unit = u32::from_str_radix(digits, 16).ok()?;
        self.pos += 4;
        Some(unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(members: &[(&str, Value)]) -> Value {
        Value::Object(members.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect())
    }

    #[test]
    fn every_kind_of_value_parses() {
        let text = r#" { "a" : [1, -2.5e+3, 0, true, false, null], "b": {}, "c": [], "d": "x" } "#;
        let expected = object(&[
            (
                "a",
                Value::Array(vec![
                    Value::Number("1".into()),
                    Value::Number("-2.5e+3".into()),
                    Value::Number("0".into()),
                    Value::Bool(true),
                    Value::Bool(false),
                    Value::Null,
                ]),
            ),
            ("b", Value::Object(vec![])),
            ("c", Value::Array(vec![])),
            ("d", "x".into()),
        ]);
        assert_eq!(Value::parse(text), Some(expected));
    }

    #[test]
    fn escapes_are_read() {
        let parsed = Value::parse(r#""q\" b\\ s\/ \b\f\n\r\t \u00e9 \ud83d\ude00 é""#);
        assert_eq!(parsed, Some("q\" b\\ s/ \u{8}\u{c}\n\r\t é 😀 é".into()));
    }

    #[test]
    fn what_is_not_json_is_refused() {
        for text in [
            "",
            " ",
            "{",
            "[1,]",
            "[1 2]",
            "{\"a\" 1}",
            "{\"a\":1,}",
            "{a:1}",
            "{\"a\":1}x",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "+1",
            "tru",
            "nul",
            "\"unterminated",
            "\"raw\ncontrol\"",
            r#""\x""#,
            r#""\u12""#,
            r#""\u12g4""#,
            r#""\ud83d""#,
            r#""\ud83d\u0041""#,
            r#""\ude00""#,
            "{\"a\":1,\"a\":2}",
        ] {
            assert_eq!(Value::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(Value::parse(&deep(MAX_DEPTH)).is_some());
        assert_eq!(Value::parse(&deep(MAX_DEPTH + 1)), None);
        assert_eq!(Value::parse(&"[".repeat(100_000)), None);
    }

    #[test]
    fn only_plain_integers_are_u64() {
        let number = |text: &str| Value::Number(text.into()).as_u64();
        assert_eq!(number("0"), Some(0));
        assert_eq!(number("18446744073709551615"), Some(u64::MAX));
        assert_eq!(number("18446744073709551616"), None);
        assert_eq!(number("-1"), None);
        assert_eq!(number("2.0"), None);
        assert_eq!(number("2e0"), None);
        assert_eq!(Value::from("2").as_u64(), None);
    }

    #[test]
    fn strings_are_written_escaped_like_serde_json() {
        let written = Value::from("q\" b\\ s/ \u{8}\u{c}\n\r\t \u{1} \u{1f} \u{7f} é 😀").to_json();
        assert_eq!(written, concat!(r#""q\" b\\ s/ \b\f\n\r\t \u0001 \u001f "#, "\u{7f} é 😀\""));
    }

    #[test]
    fn values_are_written_compact_in_order() {
        let value = object(&[
            ("type", "x".into()),
            ("n", 42u64.into()),
            ("list", Value::Array(vec![true.into(), Value::Null])),
            ("empty", Value::Object(vec![])),
        ]);
        let text = value.to_json();
        assert_eq!(text, r#"{"type":"x","n":42,"list":[true,null],"empty":{}}"#);
        assert_eq!(Value::parse(&text), Some(value));
    }

    #[test]
    fn members_are_found_by_key() {
        let value = Value::parse(r#"{"a":"x","b":true}"#).unwrap();
        assert_eq!(value.get("a").and_then(Value::as_str), Some("x"));
        assert_eq!(value.get("b").and_then(Value::as_bool), Some(true));
        assert_eq!(value.get("c"), None);
        assert_eq!(Value::from("a").get("a"), None);
    }
}
