//! Plain-text extraction for every file type LightRAG 1.5.7 accepts.
//!
//! The crate runs inside a tenant's wasm sandbox (wasm32-wasip2: one thread, aborting
//! panics, a 256 MiB memory limit) on files uploaded by anyone. A panic, a stack
//! overflow or an allocation failure there does not fail one document: it kills the
//! tenant's engine instance. So the rule throughout is that hostile input must come
//! back as a [`ParseError`], never as a crash: sizes declared by the file are never
//! trusted, every loop is bounded by the input or by an explicit budget, and nothing
//! recurses on nesting the input controls.
//!
//! # Layout
//!
//! | module | concern |
//! | --- | --- |
//! | `lib.rs` | the public API: supported extensions, options, dispatch by extension, the final clean-up shared by all formats |
//! | `text.rs` | plain text and source files (UTF-8 checks and size limits), the bounded output buffer every extractor writes into, control-character clean-up |
//! | `markup.rs` | HTML to text (a forgiving hand-written scanner) and XML to text (quick-xml), plus small XML helpers the zipped formats share |
//! | `zipped.rs` | bounded zip reading: entry-count cap, a counting reader over every entry against one unpacked-bytes budget; also TextBundle (`.textpack`) |
//! | `office.rs` | docx, pptx, xlsx and odt, each streamed from its XML parts |
//! | `epub.rs` | container.xml to the OPF package, the spine in reading order, each chapter through the HTML extractor |
//! | `pdf.rs` | the PDF text layer through `lopdf`: loading and decryption, a nesting pre-scan, a cycle-safe page walk of our own, a shared decompression budget |
//! | `pdf/content.rs` | the content-stream interpreter: text and graphics matrices to lines and word gaps, fonts, form XObjects |
//! | `pdf/lexer.rs` | the content-stream lexer: operators and operands in one bounded pass |
//! | `rtf.rs` | an RTF stripper: groups, control words, skipped destinations, code-page and Unicode escapes |
//!
//! `testfiles` (hidden) builds small documents for the tests and examples.

mod epub;
mod markup;
mod office;
mod pdf;
mod rtf;
mod text;
mod zipped;

#[doc(hidden)]
pub mod testfiles;

use std::borrow::Cow;
use std::fmt;

/// LightRAG 1.5.7's accepted extensions, lower case with the dot.
pub const SUPPORTED_EXTENSIONS: &[&str] = &[
    ".bat",
    ".c",
    ".conf",
    ".cpp",
    ".css",
    ".csv",
    ".docx",
    ".epub",
    ".go",
    ".h",
    ".hpp",
    ".htm",
    ".html",
    ".ini",
    ".java",
    ".js",
    ".json",
    ".less",
    ".log",
    ".md",
    ".mdx",
    ".odt",
    ".pdf",
    ".php",
    ".pptx",
    ".properties",
    ".py",
    ".rb",
    ".rtf",
    ".scss",
    ".sh",
    ".sql",
    ".swift",
    ".tex",
    ".textpack",
    ".ts",
    ".txt",
    ".xlsx",
    ".xml",
    ".yaml",
    ".yml",
];

/// The supported extension `file_name` ends with (compared case-insensitively).
fn extension_of(file_name: &str) -> Option<&'static str> {
    let name = file_name.as_bytes();
    SUPPORTED_EXTENSIONS.iter().copied().find(|ext| {
        name.len() > ext.len()
            && name[name.len() - ext.len()..].eq_ignore_ascii_case(ext.as_bytes())
    })
}

/// Whether `file_name` ends with one of [`SUPPORTED_EXTENSIONS`] (case-insensitive).
pub fn is_supported(file_name: &str) -> bool {
    extension_of(file_name).is_some()
}

/// Limits and secrets for one [`parse`] call.
#[derive(Clone, Debug)]
pub struct Options {
    /// The password tried on encrypted PDFs (the server's `PDF_DECRYPT_PASSWORD`).
    pub pdf_password: Option<String>,
    /// The largest text accepted: the size of a plain-text input, and of the text
    /// extracted from any other format.
    pub max_text_bytes: usize,
    /// The most bytes a container may unpack to in total: all zip entries read from
    /// one office/epub/textpack file, or all PDF streams decompressed from one PDF.
    pub max_unpacked_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            pdf_password: None,
            max_text_bytes: 64 << 20,
            max_unpacked_bytes: 128 << 20,
        }
    }
}

/// Text extracted from one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// The text: no NULs or control characters other than tab, newline and carriage
    /// return, trimmed, never empty.
    pub text: String,
    /// Which extractor produced it: "text", "html", "xml", "pdf", "docx", "pptx",
    /// "xlsx", "odt", "epub", "rtf" or "textpack".
    pub parser: &'static str,
    /// The page count, for formats that have pages (PDF).
    pub pages: Option<u32>,
}

/// Why a file yielded no text. `Display` is one sentence meant for the user: it names
/// the file type and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The extension is not one LightRAG accepts.
    Unsupported(String),
    /// The file is damaged, not what its extension says, or holds no text.
    Invalid(String),
    /// The file, or what it unpacks to, is over a limit in [`Options`].
    TooLarge(String),
    /// The file is encrypted and no (or a wrong) password is configured.
    Encrypted(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsupported(m) | Self::Invalid(m) | Self::TooLarge(m) | Self::Encrypted(m) => {
                f.write_str(m)
            }
        }
    }
}

impl std::error::Error for ParseError {}

/// One mebibyte count for messages ("… more than 128 MiB").
pub(crate) fn mib(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}

/// Extracts the plain text of `bytes`, choosing the extractor by `file_name`'s extension.
pub fn parse(file_name: &str, bytes: &[u8], options: &Options) -> Result<Parsed, ParseError> {
    let Some(ext) = extension_of(file_name) else {
        return Err(ParseError::Unsupported(format!(
            "The file type of \"{}\" is not supported; accepted extensions are {}.",
            short_name(file_name),
            SUPPORTED_EXTENSIONS.join(" ")
        )));
    };
    let (raw, parser, pages): (Cow<str>, _, _) = match ext {
        ".html" | ".htm" => (markup::html(bytes, options)?.into(), "html", None),
        ".xml" => (markup::xml(bytes, options)?.into(), "xml", None),
        ".docx" => (office::docx(bytes, options)?.into(), "docx", None),
        ".pptx" => (office::pptx(bytes, options)?.into(), "pptx", None),
        ".xlsx" => (office::xlsx(bytes, options)?.into(), "xlsx", None),
        ".odt" => (office::odt(bytes, options)?.into(), "odt", None),
        ".epub" => (epub::extract(bytes, options)?.into(), "epub", None),
        ".textpack" => (zipped::textpack(bytes, options)?.into(), "textpack", None),
        ".rtf" => (rtf::extract(bytes, options)?.into(), "rtf", None),
        ".pdf" => {
            let (text, pages) = pdf::extract(bytes, options)?;
            (text.into(), "pdf", Some(pages))
        }
        _ => (
            text::plain(bytes, label(ext), options)?.into(),
            "text",
            None,
        ),
    };
    let text = text::clean(raw);
    if text.is_empty() {
        return Err(ParseError::Invalid(format!(
            "The {} file contains no extractable text.",
            label(ext)
        )));
    }
    Ok(Parsed {
        text,
        parser,
        pages,
    })
}

/// The name users know the format by, for messages.
pub(crate) fn label(ext: &str) -> &'static str {
    match ext {
        ".pdf" => "PDF",
        ".docx" => "DOCX",
        ".pptx" => "PPTX",
        ".xlsx" => "XLSX",
        ".odt" => "ODT",
        ".epub" => "EPUB",
        ".rtf" => "RTF",
        ".textpack" => "TextPack",
        ".html" | ".htm" => "HTML",
        ".xml" => "XML",
        ".csv" => "CSV",
        ".json" => "JSON",
        ".md" | ".mdx" => "Markdown",
        _ => "text",
    }
}

/// The file name cut to a length that reads well in a message.
fn short_name(file_name: &str) -> String {
    let mut name: String = file_name.chars().take(80).collect();
    if name.len() < file_name.len() {
        name.push('…');
    }
    name
}
