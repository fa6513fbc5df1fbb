//! A streaming reader for the JSON files LightRAG writes.
//!
//! Every file LightRAG keeps is one JSON object, and some are large: the full texts
//! of every document, or a vector matrix of hundreds of megabytes in one string.
//! Parsing such a file whole would need several times its size in memory, under a
//! workspace's memory limit. This reader walks the top-level object instead: it
//! hands out one key at a time, and the caller copies the value's bytes (to parse
//! them with `serde_json`), skips the value, steps into an array, or scans a string
//! without keeping it. It also knows each value's byte offset, so a value can be
//! read again later without reading the file again.
//!
//! Scanning is linear and iterative (nesting is a counter, not recursion), so a
//! hostile file costs time proportional to its size and cannot exhaust the stack.
//! Values that are copied are validated by `serde_json` when the caller parses them.

use std::io::Read;

/// Bytes read from the file at a time.
const BUFFER: usize = 64 * 1024;

/// A JSON reader over `R`, positioned between tokens of the top-level object.
pub struct JsonReader<R> {
    input: R,
    buf: Box<[u8]>,
    at: usize,
    len: usize,
    /// File offset of `buf[0]`.
    base: u64,
    /// Per open container: whether its next member is its first (no comma before).
    first: Vec<bool>,
}

/// What a value scan is inside of.
enum Scan {
    /// An object or array: nesting depth, inside a string, after a backslash.
    Container {
        depth: u32,
        string: bool,
        escape: bool,
    },
    /// A string, after its opening quote.
    String { escape: bool },
    /// A number, `true`, `false` or `null`.
    Scalar,
}

impl Scan {
    /// Consumes bytes of `chunk`; returns how many, and whether the value ended.
    fn feed(&mut self, chunk: &[u8]) -> (usize, bool) {
        for (i, &byte) in chunk.iter().enumerate() {
            match self {
                Scan::Container {
                    depth,
                    string,
                    escape,
                } => {
                    if *escape {
                        *escape = false;
                    } else if *string {
                        match byte {
                            b'\\' => *escape = true,
                            b'"' => *string = false,
                            _ => {}
                        }
                    } else {
                        match byte {
                            b'"' => *string = true,
                            b'{' | b'[' => *depth += 1,
                            b'}' | b']' => {
                                *depth -= 1;
                                if *depth == 0 {
                                    return (i + 1, true);
                                }
                            }
                            _ => {}
                        }
                    }
                }
                Scan::String { escape } => {
                    if *escape {
                        *escape = false;
                    } else if byte == b'\\' {
                        *escape = true;
                    } else if byte == b'"' {
                        return (i + 1, true);
                    }
                }
                Scan::Scalar => {
                    if matches!(byte, b',' | b'}' | b']') || byte.is_ascii_whitespace() {
                        return (i, true);
                    }
                }
            }
        }
        (chunk.len(), false)
    }
}

impl<R: Read> JsonReader<R> {
    /// A reader at the start of `input`.
    pub fn new(input: R) -> Self {
        JsonReader {
            input,
            buf: vec![0; BUFFER].into_boxed_slice(),
            at: 0,
            len: 0,
            base: 0,
            first: Vec::new(),
        }
    }

    /// Byte offset of the next unread byte.
    pub fn offset(&self) -> u64 {
        self.base + self.at as u64
    }

    fn error(&self, what: &str) -> String {
        format!("{what} at byte {}", self.offset())
    }

    /// Refills the buffer; `false` at the end of the input.
    fn fill(&mut self) -> Result<bool, String> {
        if self.at < self.len {
            return Ok(true);
        }
        self.base += self.len as u64;
        self.at = 0;
        self.len = 0;
        loop {
            match self.input.read(&mut self.buf) {
                Ok(n) => {
                    self.len = n;
                    return Ok(n > 0);
                }
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(format!("reading failed: {err}")),
            }
        }
    }

    /// The next byte that is not whitespace, without consuming it.
    fn peek_token(&mut self) -> Result<Option<u8>, String> {
        loop {
            if !self.fill()? {
                return Ok(None);
            }
            while self.at < self.len {
                let byte = self.buf[self.at];
                if !byte.is_ascii_whitespace() {
                    return Ok(Some(byte));
                }
                self.at += 1;
            }
        }
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<(), String> {
        match self.peek_token()? {
            Some(found) if found == byte => {
                self.at += 1;
                Ok(())
            }
            Some(found) => Err(self.error(&format!(
                "expected {what}, found '{}'",
                char::from(found).escape_default()
            ))),
            None => Err(self.error(&format!("expected {what}, found the end of the file"))),
        }
    }

    /// Starts reading the top-level object, after an optional UTF-8 byte order mark.
    /// `false` for an empty file (LightRAG reads one as an empty object).
    pub fn begin_object(&mut self) -> Result<bool, String> {
        if self.fill()? && self.buf[self.at] == 0xEF {
            for expected in [0xEF, 0xBB, 0xBF] {
                if !self.fill()? || self.buf[self.at] != expected {
                    return Err(self.error("a damaged byte order mark"));
                }
                self.at += 1;
            }
        }
        if self.peek_token()?.is_none() {
            return Ok(false);
        }
        self.expect(b'{', "a JSON object '{'")?;
        self.first.push(true);
        Ok(true)
    }

    /// Checks that nothing but whitespace follows the top-level value.
    pub fn end(&mut self) -> Result<(), String> {
        match self.peek_token()? {
            None => Ok(()),
            Some(_) => Err(self.error("unexpected content after the JSON object")),
        }
    }

    /// Moves to the next member of the innermost open container: `false` (and the
    /// container closed) at its end.
    fn next_member(&mut self, close: u8) -> Result<bool, String> {
        let first = *self.first.last().ok_or("no open container")?;
        if self.peek_token()? == Some(close) {
            self.at += 1;
            self.first.pop();
            return Ok(false);
        }
        if !first {
            self.expect(b',', "',' or the end of the container")?;
        }
        if let Some(flag) = self.first.last_mut() {
            *flag = false;
        }
        Ok(true)
    }

    /// The next key of the innermost open object, positioned at its value; `None`
    /// at the object's end.
    pub fn next_key(&mut self) -> Result<Option<String>, String> {
        if !self.next_member(b'}')? {
            return Ok(None);
        }
        if self.peek_token()? != Some(b'"') {
            return Err(self.error("expected a key (a string)"));
        }
        let mut raw = Vec::new();
        self.value_into(&mut raw)?;
        let key: String = serde_json::from_slice(&raw)
            .map_err(|e| self.error(&format!("malformed key ({e})")))?;
        self.expect(b':', "':' after a key")?;
        Ok(Some(key))
    }

    /// Steps into an array value; its elements follow [`JsonReader::next_element`].
    pub fn begin_array(&mut self) -> Result<(), String> {
        self.expect(b'[', "an array '['")?;
        self.first.push(true);
        Ok(())
    }

    /// Whether another element of the innermost open array follows.
    pub fn next_element(&mut self) -> Result<bool, String> {
        self.next_member(b']')
    }

    /// Copies the next value's bytes into `out` (replacing its contents); returns the
    /// value's byte offset.
    pub fn value_into(&mut self, out: &mut Vec<u8>) -> Result<u64, String> {
        out.clear();
        self.walk(Some(out))
    }

    /// Skips the next value; returns its byte offset.
    pub fn skip_value(&mut self) -> Result<u64, String> {
        self.walk(None)
    }

    fn walk(&mut self, mut sink: Option<&mut Vec<u8>>) -> Result<u64, String> {
        let first = self
            .peek_token()?
            .ok_or_else(|| self.error("expected a value, found the end of the file"))?;
        let start = self.offset();
        let mut scan = match first {
            b'{' | b'[' => Scan::Container {
                depth: 1,
                string: false,
                escape: false,
            },
            b'"' => Scan::String { escape: false },
            b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => Scan::Scalar,
            other => {
                return Err(self.error(&format!(
                    "expected a value, found '{}'",
                    char::from(other).escape_default()
                )));
            }
        };
        // The opening byte is consumed here, so the scan starts inside the value.
        if let Some(out) = sink.as_deref_mut() {
            out.push(first);
        }
        self.at += 1;
        loop {
            if !self.fill()? {
                return match scan {
                    Scan::Scalar => Ok(start),
                    _ => Err(self.error("the file ends inside a value")),
                };
            }
            let chunk = &self.buf[self.at..self.len];
            let (used, done) = scan.feed(chunk);
            if let Some(out) = sink.as_deref_mut() {
                out.extend_from_slice(&chunk[..used]);
            }
            self.at += used;
            if done {
                return Ok(start);
            }
        }
    }

    /// Scans a string value without keeping it, handing its raw bytes (between the
    /// quotes, escapes as written) to `each` a piece at a time. Returns the offset of
    /// its first byte and its length.
    pub fn scan_string(
        &mut self,
        mut each: impl FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<(u64, u64), String> {
        self.expect(b'"', "a string")?;
        let start = self.offset();
        loop {
            if !self.fill()? {
                return Err(self.error("the file ends inside a string"));
            }
            let chunk = &self.buf[self.at..self.len];
            match chunk.iter().position(|&b| b == b'"' || b == b'\\') {
                Some(end) if chunk[end] == b'"' => {
                    each(&chunk[..end]).map_err(|e| self.error(&e))?;
                    self.at += end + 1;
                    return Ok((start, self.offset() - start - 1));
                }
                Some(_) => return Err(self.error("an escape sequence inside the string")),
                None => {
                    let len = chunk.len();
                    each(chunk).map_err(|e| self.error(&e))?;
                    self.at += len;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out one byte per read, so every token crosses a refill.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((&byte, rest)), Some(slot)) => {
                    *slot = byte;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    fn entries(text: &[u8]) -> Result<Vec<(String, String, u64)>, String> {
        let mut reader = JsonReader::new(Trickle(text));
        let mut out = Vec::new();
        if !reader.begin_object()? {
            return Ok(out);
        }
        let mut raw = Vec::new();
        while let Some(key) = reader.next_key()? {
            let at = reader.value_into(&mut raw)?;
            out.push((key, String::from_utf8(raw.clone()).unwrap(), at));
        }
        reader.end()?;
        Ok(out)
    }

    #[test]
    fn entries_come_out_one_by_one_with_their_offsets() {
        let text = "\u{feff}{ \"a\": {\"x\": [1, \"}]\\\"\"]}, \"b\\u00e9\":-1.5e3,\"c\" : null ,\"d\":\"s\\\"\"}\n";
        let got = entries(text.as_bytes()).unwrap();
        let keys: Vec<&str> = got.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "bé", "c", "d"]);
        assert_eq!(got[0].1, r#"{"x": [1, "}]\""]}"#);
        assert_eq!(got[1].1, "-1.5e3");
        assert_eq!(got[2].1, "null");
        assert_eq!(got[3].1, r#""s\"""#);
        for (_, raw, at) in &got {
            let at = *at as usize;
            assert_eq!(&text.as_bytes()[at..at + raw.len()], raw.as_bytes());
        }
        assert!(entries(b"").unwrap().is_empty());
        assert!(entries(b" {} ").unwrap().is_empty());
    }

    #[test]
    fn malformed_files_are_errors_with_a_position() {
        for bad in [
            &b"[1]"[..],
            b"{\"a\" 1}",
            b"{\"a\": 1 \"b\": 2}",
            b"{\"a\": 1,}",
            b"{\"a\": {\"b\": 1}",
            b"{\"a\": \"open",
            b"{a: 1}",
            b"{\"a\": 1} x",
            b"{\"a\": }",
        ] {
            let err = entries(bad).unwrap_err();
            assert!(err.contains("at byte"), "{err}");
        }
    }

    #[test]
    fn arrays_and_strings_stream_without_being_kept() {
        let text = br#"{"dim": 2, "data": [{"id": 1}, {"id": 2}], "matrix": "QUJD", "x": "a\"b"}"#;
        let mut reader = JsonReader::new(Trickle(text));
        assert!(reader.begin_object().unwrap());
        assert_eq!(reader.next_key().unwrap().as_deref(), Some("dim"));
        reader.skip_value().unwrap();
        assert_eq!(reader.next_key().unwrap().as_deref(), Some("data"));
        reader.begin_array().unwrap();
        let mut ids = Vec::new();
        let mut raw = Vec::new();
        while reader.next_element().unwrap() {
            reader.value_into(&mut raw).unwrap();
            ids.push(String::from_utf8(raw.clone()).unwrap());
        }
        assert_eq!(ids, [r#"{"id": 1}"#, r#"{"id": 2}"#]);
        assert_eq!(reader.next_key().unwrap().as_deref(), Some("matrix"));
        let mut seen = Vec::new();
        let (at, len) = reader
            .scan_string(|piece| {
                seen.extend_from_slice(piece);
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, b"QUJD");
        assert_eq!(&text[at as usize..(at + len) as usize], b"QUJD");
        assert_eq!(reader.next_key().unwrap().as_deref(), Some("x"));
        assert!(reader.scan_string(|_| Ok(())).is_err(), "escapes refused");
    }
}
