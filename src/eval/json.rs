//! A small, strict JSON reader and writer (RFC 8259), enough for the GVTBench annotation
//! files and for metric reports, without serde.
//!
//! Reading: [`parse`] builds a [`Value`] tree. It never panics on any input: malformed text
//! gives [`EvalError::Json`] with the line and column. Numbers keep their literal text, so an
//! integer id such as `58350` survives exactly and a huge number such as `1e400` is only
//! rejected where a caller needs it to fit a type. Rejected, as by a strict parser: trailing
//! commas, comments, `NaN`/`Infinity`, leading zeros, unescaped control characters in
//! strings, and `\u` escapes that are unpaired UTF-16 surrogates (they cannot be held in a
//! Rust string). Accepted: a leading UTF-8 byte order mark. Nesting deeper than
//! [`MAX_DEPTH`] is an error rather than a stack overflow. An object may repeat a key;
//! [`Value::get`] returns the last value, as Python's `json` module does.
//!
//! Writing: [`Value::to_json_pretty`] (two-space indentation) and the [`std::fmt::Display`]
//! implementation (compact). Non-finite numbers are written as `null`.

use std::fmt;

use super::EvalError;

/// Deepest nesting of arrays and objects [`parse`] accepts.
pub const MAX_DEPTH: usize = 128;

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as its literal text (already checked against the JSON grammar).
    Number(String),
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, members in document order (repeated keys are kept).
    Object(Vec<(String, Value)>),
}

impl Value {
    /// A number value from an `f64`; `null` when it is NaN or infinite (JSON has no such
    /// numbers). The text is Rust's shortest representation that reads back to the same
    /// `f64`.
    pub fn from_f64(x: f64) -> Value {
        if x.is_finite() {
            Value::Number(format!("{x}"))
        } else {
            Value::Null
        }
    }

    /// A number value from an unsigned integer.
    pub fn from_u64(x: u64) -> Value {
        Value::Number(x.to_string())
    }

    /// The value of member `key` of an object (the last one if the key is repeated); `None`
    /// for a missing key or a value that is not an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number as an `f64` (may be infinite for huge literals), if this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(raw) => raw.parse().ok(),
            _ => None,
        }
    }

    /// The number as a `u64`, if this is a number written as a plain non-negative integer
    /// (no fraction, no exponent) that fits.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(raw) if raw.bytes().all(|b| b.is_ascii_digit()) => raw.parse().ok(),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// A short description for error messages: the type, and the value for scalars
    /// (strings shortened to 40 characters).
    pub fn describe(&self) -> String {
        match self {
            Value::Null => "null".to_owned(),
            Value::Bool(b) => format!("boolean {b}"),
            Value::Number(raw) if raw.chars().count() > 40 => {
                format!("number {}...", raw.chars().take(40).collect::<String>())
            }
            Value::Number(raw) => format!("number {raw}"),
            Value::String(s) if s.chars().count() > 40 => {
                format!("string {:?}...", s.chars().take(40).collect::<String>())
            }
            Value::String(s) => format!("string {s:?}"),
            Value::Array(items) => format!("array of {} elements", items.len()),
            Value::Object(members) => format!("object with {} members", members.len()),
        }
    }

    /// The value as compact JSON on one line (for JSON Lines files).
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, None);
        out
    }

    /// The value as indented JSON (two spaces per level), ending without a newline.
    pub fn to_json_pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, Some(0));
        out
    }

    /// Appends the value; `indent` is `None` for compact output, else the current level.
    fn write(&self, out: &mut String, indent: Option<usize>) {
        let newline = |out: &mut String, level: usize| {
            out.push('\n');
            for _ in 0..level {
                out.push_str("  ");
            }
        };
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(raw) => out.push_str(raw),
            Value::String(s) => write_string(out, s),
            Value::Array(items) if items.is_empty() => out.push_str("[]"),
            Value::Object(members) if members.is_empty() => out.push_str("{}"),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    if let Some(level) = indent {
                        newline(out, level + 1);
                    }
                    item.write(out, indent.map(|l| l + 1));
                }
                if let Some(level) = indent {
                    newline(out, level);
                }
                out.push(']');
            }
            Value::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    if let Some(level) = indent {
                        newline(out, level + 1);
                    }
                    write_string(out, key);
                    out.push_str(if indent.is_some() { ": " } else { ":" });
                    value.write(out, indent.map(|l| l + 1));
                }
                if let Some(level) = indent {
                    newline(out, level);
                }
                out.push('}');
            }
        }
    }
}

impl fmt::Display for Value {
    /// Compact JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write(&mut out, None);
        f.write_str(&out)
    }
}

/// Appends `s` as a JSON string literal.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses one JSON document (surrounding whitespace allowed, nothing else after it).
pub fn parse(text: &str) -> Result<Value, EvalError> {
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    if text.starts_with('\u{feff}') {
        parser.pos = '\u{feff}'.len_utf8();
    }
    parser.skip_whitespace();
    let value = parser.value()?;
    parser.skip_whitespace();
    if parser.pos < parser.bytes.len() {
        return Err(parser.error_here("unexpected text after the JSON value"));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    /// Byte offset of the next unread byte; always on a character boundary between tokens.
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn error_at(&self, pos: usize, message: impl Into<String>) -> EvalError {
        let pos = pos.min(self.bytes.len());
        // `pos` may fall inside a multi-byte character only for messages about a string's
        // contents; back up to the character's start so slicing cannot panic.
        let mut start = pos;
        while !self.text.is_char_boundary(start) {
            start -= 1;
        }
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        EvalError::Json {
            line,
            column,
            message: message.into(),
        }
    }

    fn error_here(&self, message: impl Into<String>) -> EvalError {
        self.error_at(self.pos, message)
    }

    /// "unexpected end of input" or "unexpected character 'x'" followed by what was expected.
    fn unexpected(&self, expected: &str) -> EvalError {
        match self
            .text
            .get(self.pos..)
            .and_then(|rest| rest.chars().next())
        {
            None => self.error_here(format!("unexpected end of input, expected {expected}")),
            Some(c) => self.error_here(format!("unexpected character {c:?}, expected {expected}")),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Result<Value, EvalError> {
        match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.unexpected("a JSON value")),
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, EvalError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.unexpected(&format!("`{word}`")))
        }
    }

    fn enter(&mut self) -> Result<(), EvalError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error_here(format!(
                "arrays and objects nested more than {MAX_DEPTH} deep"
            )));
        }
        self.depth += 1;
        Ok(())
    }

    fn array(&mut self) -> Result<Value, EvalError> {
        self.enter()?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_whitespace();
            items.push(self.value()?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.unexpected("',' or ']' in an array")),
            }
        }
    }

    fn object(&mut self) -> Result<Value, EvalError> {
        self.enter()?;
        self.pos += 1; // '{'
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.unexpected("a string key in an object"));
            }
            let key = self.string()?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return Err(self.unexpected("':' after an object key"));
            }
            self.pos += 1;
            self.skip_whitespace();
            let value = self.value()?;
            members.push((key, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err(self.unexpected("',' or '}' in an object")),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Value, EvalError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.error_here("leading zeros are not allowed in numbers"));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.unexpected("a digit")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.unexpected("a digit after the decimal point"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.unexpected("a digit in the exponent"));
            }
        }
        Ok(Value::Number(self.text[start..self.pos].to_owned()))
    }

    /// Four hex digits of a `\u` escape, starting at `self.pos`.
    fn hex4(&mut self) -> Result<u32, EvalError> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = self
                .peek()
                .and_then(|b| (b as char).to_digit(16))
                .ok_or_else(|| self.unexpected("a hexadecimal digit in a \\u escape"))?;
            code = code * 16 + digit;
            self.pos += 1;
        }
        Ok(code)
    }

    fn string(&mut self) -> Result<String, EvalError> {
        let open = self.pos;
        self.pos += 1; // '"'
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // The run ends at an ASCII byte or at the end, so it is whole characters.
            out.push_str(&self.text[run_start..self.pos]);
            match self.peek() {
                None => return Err(self.error_at(open, "unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let escape_start = self.pos;
                    self.pos += 1;
                    let Some(kind) = self.peek() else {
                        return Err(self.error_at(open, "unterminated string"));
                    };
                    self.pos += 1;
                    match kind {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => out.push(self.unicode_escape(escape_start)?),
                        _ => {
                            return Err(self.error_at(
                                escape_start,
                                "invalid escape in a string (allowed: \\\" \\\\ \\/ \\b \\f \\n \\r \\t, \\u and 4 hex digits)",
                            ));
                        }
                    }
                }
                Some(b) => {
                    return Err(self.error_here(format!(
                        "control character U+{b:04X} inside a string must be escaped"
                    )));
                }
            }
        }
    }

    /// The character of a `\u` escape with its 4 hex digits (the `\u` already read), joining a surrogate pair.
    fn unicode_escape(&mut self, escape_start: usize) -> Result<char, EvalError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if !self.bytes[self.pos..].starts_with(b"\\u") {
                    return Err(self.error_at(
                        escape_start,
                        format!("unpaired UTF-16 surrogate \\u{first:04X}"),
                    ));
                }
                self.pos += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.error_at(
                        escape_start,
                        format!("unpaired UTF-16 surrogate \\u{first:04X}"),
                    ));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => {
                return Err(self.error_at(
                    escape_start,
                    format!("unpaired UTF-16 surrogate \\u{first:04X}"),
                ));
            }
            other => other,
        };
        char::from_u32(code).ok_or_else(|| self.error_at(escape_start, "invalid \\u escape"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> (usize, usize, String) {
        match parse(text) {
            Err(EvalError::Json {
                line,
                column,
                message,
            }) => (line, column, message),
            other => panic!("{text:?} should fail, got {other:?}"),
        }
    }

    #[test]
    fn parses_scalars_and_structures() {
        assert_eq!(parse(" null ").unwrap(), Value::Null);
        assert_eq!(parse("true").unwrap(), Value::Bool(true));
        assert_eq!(parse("false").unwrap(), Value::Bool(false));
        assert_eq!(parse("-0.5e+3").unwrap(), Value::Number("-0.5e+3".into()));
        assert_eq!(parse("[]").unwrap(), Value::Array(vec![]));
        assert_eq!(parse("{}").unwrap(), Value::Object(vec![]));
        let v = parse(r#"[{"a": 1, "b": "x"}, [true, null]]"#).unwrap();
        let items = v.as_array().unwrap();
        assert_eq!(items[0].get("a").unwrap().as_u64(), Some(1));
        assert_eq!(items[0].get("b").unwrap().as_str(), Some("x"));
        assert_eq!(items[1], Value::Array(vec![Value::Bool(true), Value::Null]));
    }

    #[test]
    fn string_escapes() {
        let v = parse(r#""a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00é""#).unwrap();
        assert_eq!(v.as_str(), Some("a\"b\\c/d\u{8}\u{c}\n\r\té😀é"));
    }

    #[test]
    fn repeated_key_last_wins_and_bom_is_accepted() {
        let v = parse("\u{feff}{\"k\": 1, \"k\": 2}").unwrap();
        assert_eq!(v.get("k").unwrap().as_u64(), Some(2));
    }

    #[test]
    fn number_accessors() {
        assert_eq!(parse("12").unwrap().as_u64(), Some(12));
        assert_eq!(parse("1.0").unwrap().as_u64(), None);
        assert_eq!(parse("-1").unwrap().as_u64(), None);
        assert_eq!(parse("99999999999999999999999").unwrap().as_u64(), None);
        assert_eq!(parse("1e400").unwrap().as_f64(), Some(f64::INFINITY));
        assert_eq!(parse("0.25").unwrap().as_f64(), Some(0.25));
    }

    #[test]
    fn malformed_documents_are_errors_with_positions() {
        let cases = [
            "",
            "   ",
            "[",
            "[1,",
            "[1 2]",
            "[1,]",
            "{\"a\" 1}",
            "{\"a\": 1,}",
            "{a: 1}",
            "{\"a\": }",
            "\"abc",
            "\"a\\",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\ud800\"",
            "\"\\ud800\\u0041\"",
            "\"\\udc00\"",
            "\"tab\tinside\"",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "1e+",
            "+1",
            "0x10",
            "NaN",
            "Infinity",
            "tru",
            "nul",
            "[] []",
            "// comment\n[]",
        ];
        for case in cases {
            let (line, column, message) = err(case);
            assert!(line >= 1 && column >= 1 && !message.is_empty(), "{case:?}");
        }
        assert_eq!(
            err("[1,\n  2,\n  x]"),
            (
                3,
                3,
                "unexpected character 'x', expected a JSON value".into()
            )
        );
        assert_eq!(err("\"é\u{1}\"").1, 3);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        let (_, _, message) = err(&deep);
        assert!(message.contains("nested"), "{message}");
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn random_mutations_never_panic() {
        let doc = r#"[{"image_id": 58350, "text_in": "Does cell phone exist in the image?", "text_out": "No.", "n_obj_exist": 6}, {"image_id": "a/b@1.jpg", "text_in": "How many \"cups\" are there\u0021", "text_out": "3", "n_obj_exist": 1e2}]"#;
        let alphabet = b"[]{}\",:\\ u0123456789.eE+-tfnalsx\n";
        let mut rng = crate::rng::Rng::new(0x9E37_79B9_7F4A_7C15);
        let mut next = || rng.next_u64();
        for _ in 0..20_000 {
            let mut bytes = doc.as_bytes().to_vec();
            for _ in 0..(next() % 4 + 1) {
                let at = (next() as usize) % bytes.len();
                match next() % 3 {
                    0 => bytes[at] = alphabet[(next() as usize) % alphabet.len()],
                    1 => {
                        bytes.remove(at);
                    }
                    _ => bytes.truncate(at),
                }
                if bytes.is_empty() {
                    bytes.push(b'[');
                }
            }
            let text = String::from_utf8(bytes).expect("ASCII mutations of an ASCII document");
            let _ = parse(&text);
        }
    }

    #[test]
    fn writer_escapes_and_round_trips() {
        let v = Value::Object(vec![
            ("s".into(), Value::String("q\"b\\n\n\t\u{1}é😀".into())),
            ("x".into(), Value::from_f64(0.1)),
            ("big".into(), Value::from_f64(1e300)),
            ("tiny".into(), Value::from_f64(5e-324)),
            ("nan".into(), Value::from_f64(f64::NAN)),
            ("n".into(), Value::from_u64(u64::MAX)),
            ("empty".into(), Value::Array(vec![])),
            ("nested".into(), Value::Array(vec![Value::Object(vec![])])),
        ]);
        for text in [v.to_json_pretty(), v.to_string()] {
            let back = parse(&text).unwrap();
            let expected = Value::Object(vec![
                ("s".into(), Value::String("q\"b\\n\n\t\u{1}é😀".into())),
                ("x".into(), Value::from_f64(0.1)),
                ("big".into(), Value::from_f64(1e300)),
                ("tiny".into(), Value::from_f64(5e-324)),
                ("nan".into(), Value::Null),
                ("n".into(), Value::from_u64(u64::MAX)),
                ("empty".into(), Value::Array(vec![])),
                ("nested".into(), Value::Array(vec![Value::Object(vec![])])),
            ]);
            assert_eq!(back, expected, "{text}");
            assert_eq!(back.get("x").unwrap().as_f64(), Some(0.1));
            assert_eq!(back.get("tiny").unwrap().as_f64(), Some(5e-324));
        }
        assert_eq!(
            Value::Array(vec![Value::from_u64(1), Value::Null]).to_string(),
            "[1,null]"
        );
        assert_eq!(
            Value::Object(vec![("a".into(), Value::Array(vec![Value::from_u64(1)]))])
                .to_json_pretty(),
            "{\n  \"a\": [\n    1\n  ]\n}"
        );
    }
}
