//! A content-stream lexer for text extraction: operators and their operands, one
//! operation at a time, in one pass over the bytes.
//!
//! lopdf's content parser builds every operation with parser combinators and an
//! allocated operator name; in the sandbox that was over half of a PDF's parse time.
//! Text extraction needs numbers, strings, names and arrays; dictionaries (marked
//! content) are skipped whole and inline images jumped over. Every loop advances
//! through the input, arrays nest at most `MAX_DEPTH` deep, and an operation keeps
//! at most `MAX_OPERANDS`, so hostile content costs time linear in its size.

use lopdf::{Object, StringFormat};

/// Arrays nested deeper than this are read as null (their bytes are still skipped).
const MAX_DEPTH: usize = 32;
/// Operands kept per operation; real operators take at most six.
const MAX_OPERANDS: usize = 64;

fn is_white(b: u8) -> bool {
    matches!(b, 0 | b'\t' | b'\n' | 0x0c | b'\r' | b' ')
}

fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

/// Operations of one content stream.
pub(super) struct Lexer<'a> {
    data: &'a [u8],
    pos: usize,
    operands: Vec<Object>,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            pos: 0,
            operands: Vec::new(),
        }
    }

    /// The next operator, its operands then in [`Lexer::operands`]; `None` at the end.
    pub(super) fn next_operator(&mut self) -> Option<&'a [u8]> {
        self.operands.clear();
        loop {
            self.skip_white();
            let &b = self.data.get(self.pos)?;
            if is_delimiter(b) || b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.') {
                let operand = self.operand(0);
                if self.operands.len() < MAX_OPERANDS {
                    self.operands.push(operand);
                }
                continue;
            }
            let word = self.word();
            match word {
                b"true" => self.operands.push(Object::Boolean(true)),
                b"false" => self.operands.push(Object::Boolean(false)),
                b"null" => self.operands.push(Object::Null),
                b"BI" => {
                    self.skip_inline_image();
                    self.operands.clear();
                }
                _ => return Some(word),
            }
        }
    }

    /// The operands of the operator last returned.
    pub(super) fn operands(&self) -> &[Object] {
        &self.operands
    }

    fn skip_white(&mut self) {
        while let Some(&b) = self.data.get(self.pos) {
            if is_white(b) {
                self.pos += 1;
            } else if b == b'%' {
                while self
                    .data
                    .get(self.pos)
                    .is_some_and(|&b| b != b'\n' && b != b'\r')
                {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// A run of regular characters (at least one, so the lexer always advances).
    fn word(&mut self) -> &'a [u8] {
        let start = self.pos;
        self.pos += 1;
        while self
            .data
            .get(self.pos)
            .is_some_and(|&b| !is_white(b) && !is_delimiter(b))
        {
            self.pos += 1;
        }
        &self.data[start..self.pos]
    }

    /// One operand starting at `pos` (a delimiter or the start of a number).
    fn operand(&mut self, depth: usize) -> Object {
        let b = self.data[self.pos];
        match b {
            b'(' => self.literal_string(),
            b'/' => self.name(),
            b'[' => self.array(depth),
            b'<' if self.data.get(self.pos + 1) == Some(&b'<') => {
                self.skip_dictionary();
                Object::Null
            }
            b'<' => self.hex_string(),
            b'+' | b'-' | b'.' | b'0'..=b'9' => self.number(),
            _ => {
                // A stray `)`, `>`, `]`, `{` or `}`: skip it.
                self.pos += 1;
                Object::Null
            }
        }
    }

    fn number(&mut self) -> Object {
        let word = self.word();
        let text = std::str::from_utf8(word).unwrap_or("");
        if let Ok(n) = text.parse::<i64>() {
            return Object::Integer(n);
        }
        // PDF writers emit forms Rust does not parse (`-.5`, `4.`, `--2`): be lenient.
        let trimmed = text.trim_start_matches(['+', '-']);
        let negative = text.len() - trimmed.len() == 1 && text.starts_with('-');
        let value: f32 = trimmed.parse().unwrap_or(0.0);
        Object::Real(if negative { -value } else { value })
    }

    fn name(&mut self) -> Object {
        self.pos += 1;
        let start = self.pos;
        while self
            .data
            .get(self.pos)
            .is_some_and(|&b| !is_white(b) && !is_delimiter(b))
        {
            self.pos += 1;
        }
        let raw = &self.data[start..self.pos];
        if !raw.contains(&b'#') {
            return Object::Name(raw.to_vec());
        }
        let mut name = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            let hex = raw
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match (raw[i], hex) {
                (b'#', Some(byte)) => {
                    name.push(byte);
                    i += 3;
                }
                (b, _) => {
                    name.push(b);
                    i += 1;
                }
            }
        }
        Object::Name(name)
    }

    fn literal_string(&mut self) -> Object {
        self.pos += 1;
        let mut out = Vec::new();
        let mut open = 1usize;
        loop {
            // Plain bytes go over in runs: most strings hold no parenthesis or escape.
            let rest = &self.data[self.pos.min(self.data.len())..];
            let run = memchr::memchr3(b'(', b')', b'\\', rest).unwrap_or(rest.len());
            out.extend_from_slice(&rest[..run]);
            self.pos += run;
            let Some(&b) = self.data.get(self.pos) else {
                break;
            };
            self.pos += 1;
            match b {
                b'(' => {
                    open += 1;
                    out.push(b);
                }
                b')' => {
                    open -= 1;
                    if open == 0 {
                        break;
                    }
                    out.push(b);
                }
                b'\\' => self.escape(&mut out),
                _ => out.push(b),
            }
        }
        Object::String(out, StringFormat::Literal)
    }

    /// The escape after a backslash in a literal string.
    fn escape(&mut self, out: &mut Vec<u8>) {
        let Some(&b) = self.data.get(self.pos) else {
            return;
        };
        self.pos += 1;
        match b {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'0'..=b'7' => {
                let mut value = u32::from(b - b'0');
                for _ in 0..2 {
                    match self.data.get(self.pos) {
                        Some(&d @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(d - b'0');
                            self.pos += 1;
                        }
                        _ => break,
                    }
                }
                out.push(value as u8);
            }
            // A backslash before a line end continues the string on the next line.
            b'\r' => {
                if self.data.get(self.pos) == Some(&b'\n') {
                    self.pos += 1;
                }
            }
            b'\n' => {}
            other => out.push(other),
        }
    }

    fn hex_string(&mut self) -> Object {
        self.pos += 1;
        let mut out = Vec::new();
        let mut high: Option<u8> = None;
        while let Some(&b) = self.data.get(self.pos) {
            self.pos += 1;
            let digit = match b {
                b'>' => break,
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                b'A'..=b'F' => b - b'A' + 10,
                _ => continue,
            };
            match high.take() {
                Some(h) => out.push(h << 4 | digit),
                None => high = Some(digit),
            }
        }
        if let Some(h) = high {
            out.push(h << 4);
        }
        Object::String(out, StringFormat::Hexadecimal)
    }

    fn array(&mut self, depth: usize) -> Object {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_white();
            let Some(&b) = self.data.get(self.pos) else {
                break;
            };
            if b == b']' {
                self.pos += 1;
                break;
            }
            if is_delimiter(b) || b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.') {
                let item = if b == b'[' && depth >= MAX_DEPTH {
                    self.skip_balanced(b'[', b']');
                    Object::Null
                } else {
                    self.operand(depth + 1)
                };
                items.push(item);
            } else {
                // A keyword inside an array (`true`, or garbage): keep going past it.
                self.word();
            }
        }
        Object::Array(items)
    }

    fn skip_dictionary(&mut self) {
        self.pos += 2;
        let mut open = 1usize;
        while open > 0 {
            let Some(&b) = self.data.get(self.pos) else {
                return;
            };
            match b {
                b'<' if self.data.get(self.pos + 1) == Some(&b'<') => {
                    open += 1;
                    self.pos += 2;
                }
                b'>' if self.data.get(self.pos + 1) == Some(&b'>') => {
                    open -= 1;
                    self.pos += 2;
                }
                // Strings may hold `>>`.
                b'(' => {
                    self.literal_string();
                }
                _ => self.pos += 1,
            }
        }
    }

    /// Skips from an opening delimiter at `pos` to its matching close.
    fn skip_balanced(&mut self, open: u8, close: u8) {
        let mut depth = 0usize;
        while let Some(&b) = self.data.get(self.pos) {
            self.pos += 1;
            if b == b'(' {
                self.pos -= 1;
                self.literal_string();
            } else if b == open {
                depth += 1;
            } else if b == close {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
        }
    }

    /// After `BI`: the image's parameters, `ID`, one white byte, then binary data up
    /// to an `EI` between white bytes (or the end).
    fn skip_inline_image(&mut self) {
        loop {
            self.skip_white();
            let Some(&b) = self.data.get(self.pos) else {
                return;
            };
            if is_delimiter(b) || b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.') {
                self.operand(MAX_DEPTH);
            } else if self.word() == b"ID" {
                break;
            }
        }
        self.pos += 1;
        let rest = &self.data[self.pos.min(self.data.len())..];
        let end = memchr::memmem::find_iter(rest, b"EI")
            .find(|&i| {
                (i == 0 || is_white(rest[i - 1])) && rest.get(i + 2).is_none_or(|&b| is_white(b))
            })
            .map_or(rest.len(), |i| i + 2);
        self.pos += end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(data: &[u8]) -> Vec<(String, Vec<Object>)> {
        let mut lexer = Lexer::new(data);
        let mut out = Vec::new();
        while let Some(op) = lexer.next_operator() {
            out.push((
                String::from_utf8_lossy(op).into_owned(),
                lexer.operands().to_vec(),
            ));
        }
        out
    }

    #[test]
    fn reads_operators_and_their_operands() {
        let got = ops(b"BT /F1 12 Tf 72 -7.5 Td (Hello \\(world\\)\\101\\\n!) Tj ET");
        let names: Vec<&str> = got.iter().map(|(o, _)| o.as_str()).collect();
        assert_eq!(names, ["BT", "Tf", "Td", "Tj", "ET"]);
        assert_eq!(
            got[1].1,
            vec![Object::Name(b"F1".to_vec()), Object::Integer(12)]
        );
        assert_eq!(got[2].1, vec![Object::Integer(72), Object::Real(-7.5)]);
        assert_eq!(
            got[3].1,
            vec![Object::String(
                b"Hello (world)A!".to_vec(),
                StringFormat::Literal
            )]
        );
    }

    #[test]
    fn reads_arrays_hex_strings_and_escaped_names() {
        let got = ops(b"[<48 65 6c6C 6>-250 (x)] TJ /A#42 gs");
        assert_eq!(
            got[0].1,
            vec![Object::Array(vec![
                Object::String(b"Hell`".to_vec(), StringFormat::Hexadecimal),
                Object::Integer(-250),
                Object::String(b"x".to_vec(), StringFormat::Literal),
            ])]
        );
        assert_eq!(got[1].1, vec![Object::Name(b"AB".to_vec())]);
    }

    #[test]
    fn skips_dictionaries_comments_and_inline_images() {
        let got = ops(
            b"/Span <</ActualText (a >> b) /N <<>> >> BDC % (comment) Tj\n\
              BI /W 2 /H 2 ID \x00EI\xffbinaryEI\nEI Q (after) Tj",
        );
        let names: Vec<&str> = got.iter().map(|(o, _)| o.as_str()).collect();
        assert_eq!(names, ["BDC", "Q", "Tj"]);
        assert_eq!(got[0].1[1], Object::Null);
        assert_eq!(
            got[2].1,
            vec![Object::String(b"after".to_vec(), StringFormat::Literal)]
        );
    }

    #[test]
    fn hostile_content_ends_in_linear_time() {
        // No recursion past MAX_DEPTH: balanced or not, no stack overflow.
        let deep = [b"[".repeat(100_000), b"]".repeat(100_000), b" TJ".to_vec()].concat();
        assert_eq!(ops(&deep).len(), 1);
        let open = [b"[".repeat(100_000), b"] TJ".to_vec()].concat();
        assert!(
            ops(&open).is_empty(),
            "the operator is inside the open array"
        );
        let unclosed = b"(never closed \\".repeat(10_000);
        assert!(ops(&unclosed).is_empty());
        let many = b"1 ".repeat(100_000);
        let mut lexer = Lexer::new(&many);
        assert!(lexer.next_operator().is_none());
        let stray = b")>]}{ Tj".repeat(1000);
        assert_eq!(ops(&stray).len(), 1000);
    }

    #[test]
    fn damaged_content_never_panics_or_stalls() {
        let base: &[u8] = b"BT /F1 12 Tf 14 TL [(Hel\\)lo) -120 <48 65>] TJ T* (a\\101) ' \
            /Span <</ActualText (x)>> BDC EMC 1 0 0 1 5.5 -.5 cm BI /W 1 ID \x00 EI Q ET";
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let mut data = base.to_vec();
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % data.len();
                match next() % 3 {
                    0 => data[at] = next() as u8,
                    1 => {
                        data.remove(at);
                    }
                    _ => data.insert(at, b"()[]<>/\\%"[(next() % 9) as usize]),
                }
            }
            let mut lexer = Lexer::new(&data);
            let mut steps = 0;
            while lexer.next_operator().is_some() {
                steps += 1;
                assert!(steps <= data.len(), "no progress");
            }
        }
    }
}
