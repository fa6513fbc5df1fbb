//! Plain text and source files, and the text plumbing every extractor shares.
//!
//! Text and source files are taken as they are, but only as UTF-8: guessing a legacy
//! code page would silently index mojibake, so a file that is not UTF-8 is rejected with
//! the byte offset of the first bad sequence, which tells the user what to fix. The
//! size limit is checked before anything is copied, so a huge upload costs one length
//! comparison; UTF-8 validation and the clean-up pass are both single linear scans, so
//! even a 100 MB single-line file allowed by a raised limit costs linear time and one
//! copy.
//!
//! [`Out`] is the buffer every structured extractor writes into. It refuses to grow
//! past `max_text_bytes`, so a document whose extracted text is too large is detected
//! while it is being produced instead of after it has filled the sandbox's memory.

use std::borrow::Cow;

use crate::{Options, ParseError, mib};

/// The text of a plain-text or source file, without its byte-order mark.
pub(crate) fn plain<'a>(
    bytes: &'a [u8],
    label: &str,
    options: &Options,
) -> Result<&'a str, ParseError> {
    if bytes.len() > options.max_text_bytes {
        return Err(ParseError::TooLarge(format!(
            "The {label} file is {} MiB, more than the {} MiB limit for text.",
            mib(bytes.len() as u64),
            mib(options.max_text_bytes as u64)
        )));
    }
    utf8(bytes, &format!("The {label} file"))
}

/// `bytes` as UTF-8 without a leading byte-order mark. `what` starts the error message
/// ("The CSV file", "The DOCX part word/document.xml").
pub(crate) fn utf8<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str, ParseError> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    let (skipped, body) = match bytes.strip_prefix(BOM) {
        Some(rest) => (BOM.len(), rest),
        None => (0, bytes),
    };
    std::str::from_utf8(body).map_err(|e| {
        ParseError::Invalid(format!(
            "{what} is not valid UTF-8: the byte at offset {} starts an invalid sequence; save it as UTF-8 and upload it again.",
            skipped + e.valid_up_to()
        ))
    })
}

/// The final form of every extracted text: NULs and control characters other than tab,
/// newline and carriage return removed, surrounding whitespace trimmed. Works in place
/// on an owned text (extracted texts are not copied again).
pub(crate) fn clean(text: Cow<'_, str>) -> String {
    let keep = |c: char| !c.is_control() || matches!(c, '\t' | '\n' | '\r');
    let mut text = match text {
        // Trim before copying a borrowed text: the copy is then as small as it can be.
        Cow::Borrowed(text) => text
            .trim_matches(|c: char| c.is_whitespace() || !keep(c))
            .to_owned(),
        Cow::Owned(text) => text,
    };
    // Most texts have nothing to drop: find out with a byte scan (control characters
    // are C0, DEL, or C1, whose UTF-8 starts with 0xC2) before a char-by-char pass.
    let suspect =
        |b: &u8| (*b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || matches!(b, 0x7f | 0xc2);
    // In blocks, without an early exit inside one, so the scan vectorises.
    let found = text
        .as_bytes()
        .chunks(64)
        .any(|block| block.iter().fold(false, |seen, b| seen | suspect(b)));
    if found {
        text.retain(keep);
    }
    let end = text.trim_end().len();
    text.truncate(end);
    let start = text.len() - text.trim_start().len();
    text.drain(..start);
    text
}

/// A text buffer that stops growing at a byte limit and remembers that it did.
pub(crate) struct Out {
    text: String,
    limit: usize,
    over: bool,
}

impl Out {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            text: String::new(),
            limit,
            over: false,
        }
    }

    /// Whether the limit has been hit (extractors may stop early).
    pub(crate) fn is_full(&self) -> bool {
        self.over
    }

    pub(crate) fn push_str(&mut self, s: &str) {
        if self.over {
            return;
        }
        let len = self.text.len().saturating_add(s.len());
        if len > self.limit {
            self.over = true;
            return;
        }
        if len > self.text.capacity() {
            // Grow by doubling, but never reserve past the limit.
            let target = self
                .text
                .capacity()
                .saturating_mul(2)
                .clamp(len, self.limit);
            self.text.reserve_exact(target - self.text.len());
        }
        self.text.push_str(s);
    }

    pub(crate) fn push(&mut self, c: char) {
        let mut buf = [0; 4];
        self.push_str(c.encode_utf8(&mut buf));
    }

    /// Whether the text is empty or ends with whitespace (so a separator is not needed).
    pub(crate) fn at_break(&self) -> bool {
        self.text
            .chars()
            .next_back()
            .is_none_or(char::is_whitespace)
    }

    /// Ends the current line: trailing spaces and tabs are dropped and one newline is
    /// added, unless the text is empty or already ends a line.
    pub(crate) fn end_line(&mut self) {
        let kept = self.text.trim_end_matches([' ', '\t']).len();
        self.text.truncate(kept);
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.push('\n');
        }
    }

    /// A hard line break (`<br>`): trailing spaces and tabs dropped, then a newline,
    /// even after another one.
    pub(crate) fn line_break(&mut self) {
        let kept = self.text.trim_end_matches([' ', '\t']).len();
        self.text.truncate(kept);
        if !self.text.is_empty() {
            self.push('\n');
        }
    }

    /// Ends the current line and leaves one blank line after it (between pages,
    /// slides, sheets and chapters).
    pub(crate) fn blank_line(&mut self) {
        self.end_line();
        if !self.text.is_empty() && !self.text.ends_with("\n\n") {
            self.push('\n');
        }
    }

    /// The text, or `TooLarge` if the limit was hit.
    pub(crate) fn finish(self, label: &str) -> Result<String, ParseError> {
        if self.over {
            return Err(ParseError::TooLarge(format!(
                "The {label} file's text is larger than the {} MiB limit.",
                mib(self.limit as u64)
            )));
        }
        Ok(self.text)
    }
}
