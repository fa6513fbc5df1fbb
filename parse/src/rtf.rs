//! Rich Text Format, stripped to its text by a single-pass tokenizer of our own.
//!
//! RTF is groups (`{…}`), control words (`\par`, `\u8364`), control symbols (`\'e9`,
//! `\{`) and text. Much of a file is not text at all: font and colour tables, style
//! sheets, document info, embedded pictures and objects, field instructions, headers
//! and footers. These are *destinations*: a group opened by one of them is skipped to
//! its end, as is any group marked `\*` (an optional destination a reader may ignore).
//!
//! Group state lives in an explicit stack, so nesting depth costs heap memory only, and
//! is capped anyway; every step advances through the input, so the work is linear.
//! `\'hh` bytes are read as Windows-1252 (the `\ansicpg` of nearly every file in the
//! wild), and `\uN` escapes honour `\ucN`, skipping the fallback characters after them.

use crate::text::Out;
use crate::{Options, ParseError};

/// Deeper group nesting than any editor writes; past it the file is rejected.
const MAX_DEPTH: usize = 10_000;

/// Destination control words whose groups hold no document text.
const SKIPPED: &[&str] = &[
    "author",
    "bkmkend",
    "bkmkstart",
    "blipuid",
    "buptim",
    "category",
    "colorschememapping",
    "colortbl",
    "comment",
    "company",
    "creatim",
    "datafield",
    "datastore",
    "defchp",
    "defpap",
    "do",
    "doccomm",
    "docvar",
    "falt",
    "fchars",
    "ffdeftext",
    "ffentrymcr",
    "ffexitmcr",
    "ffformat",
    "ffhelptext",
    "ffl",
    "ffname",
    "ffstattext",
    "fldinst",
    "fontemb",
    "fontfile",
    "fonttbl",
    "footer",
    "footerf",
    "footerl",
    "footerr",
    "footnote",
    "formfield",
    "generator",
    "header",
    "headerf",
    "headerl",
    "headerr",
    "info",
    "keywords",
    "latentstyles",
    "lchars",
    "levelnumbers",
    "leveltext",
    "lfolevel",
    "listoverridetable",
    "listpicture",
    "liststylename",
    "listtable",
    "listtext",
    "lsdlockedexcept",
    "manager",
    "mmathPr",
    "nonshppict",
    "object",
    "objdata",
    "operator",
    "pgdsctbl",
    "pict",
    "pntext",
    "pntxta",
    "pntxtb",
    "printim",
    "private",
    "revtbl",
    "revtim",
    "rsidtbl",
    "shppict",
    "sp",
    "stylesheet",
    "subject",
    "template",
    "themedata",
    "title",
    "txe",
    "userprops",
    "wgrffmtfilter",
    "windowcaption",
    "writereservation",
    "writereservhash",
    "xe",
    "xmlnstbl",
];

/// Per-group state, saved on `{` and restored on `}`.
#[derive(Clone, Copy)]
struct Group {
    /// The group is (inside) a skipped destination.
    skip: bool,
    /// How many fallback characters follow a `\uN` (`\ucN`, default 1).
    unicode_skip: u32,
}

/// The text of an RTF file.
pub(crate) fn extract(bytes: &[u8], options: &Options) -> Result<String, ParseError> {
    if !bytes.starts_with(b"{\\rtf") {
        return Err(ParseError::Invalid(
            "The RTF file does not start with {\\rtf; it is damaged or not really an RTF file."
                .into(),
        ));
    }
    let mut out = Out::new(options.max_text_bytes);
    let mut stack: Vec<Group> = Vec::new();
    let mut group = Group {
        skip: false,
        unicode_skip: 1,
    };
    // Fallback characters still to drop after a `\uN`, and a pending high surrogate.
    let mut to_skip = 0u32;
    let mut high_surrogate: Option<u16> = None;
    let mut pos = 0;
    while pos < bytes.len() && !out.is_full() {
        let byte = bytes[pos];
        pos += 1;
        match byte {
            b'{' => {
                if stack.len() >= MAX_DEPTH {
                    return Err(ParseError::Invalid(format!(
                        "The RTF file nests groups more than {MAX_DEPTH} deep; it is damaged or hostile."
                    )));
                }
                stack.push(group);
                to_skip = 0;
            }
            b'}' => {
                group = stack.pop().unwrap_or(group);
                to_skip = 0;
            }
            b'\r' | b'\n' => {}
            b'\\' => {
                let Some(&next) = bytes.get(pos) else { break };
                if next.is_ascii_alphabetic() {
                    let (word, param, end) = control_word(bytes, pos);
                    pos = end;
                    if word == "bin" {
                        // Binary data: skip exactly `param` bytes.
                        let length = usize::try_from(param.unwrap_or(0)).unwrap_or(0);
                        pos = pos.saturating_add(length).min(bytes.len());
                        continue;
                    }
                    if SKIPPED.contains(&word) {
                        group.skip = true;
                        continue;
                    }
                    if word == "uc" {
                        group.unicode_skip = param.unwrap_or(1).clamp(0, 16) as u32;
                        continue;
                    }
                    if group.skip {
                        continue;
                    }
                    if word == "u" {
                        // A signed 16-bit code unit; surrogate pairs come as two `\u`s.
                        let unit = param.unwrap_or(0).rem_euclid(65536) as u16;
                        push_unit(&mut out, unit, &mut high_surrogate);
                        to_skip = group.unicode_skip;
                        continue;
                    }
                    if to_skip > 0 {
                        to_skip -= 1;
                        continue;
                    }
                    if let Some(text) = word_text(word) {
                        out.push_str(text);
                    }
                    continue;
                }
                pos += 1;
                match next {
                    b'*' => group.skip = true,
                    b'\'' => {
                        let hex = bytes
                            .get(pos..pos + 2)
                            .and_then(|h| std::str::from_utf8(h).ok());
                        let value = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
                        if value.is_some() {
                            pos += 2;
                        }
                        if group.skip {
                            continue;
                        }
                        if to_skip > 0 {
                            to_skip -= 1;
                        } else if let Some(value) = value {
                            out.push(windows_1252(value));
                        }
                    }
                    b'\r' | b'\n' if !group.skip => out.push('\n'),
                    _ if group.skip => {}
                    b'\\' | b'{' | b'}' => out.push(char::from(next)),
                    b'~' => out.push(' '),
                    b'_' => out.push('-'),
                    _ => {}
                }
            }
            _ if group.skip => {}
            _ if to_skip > 0 => to_skip -= 1,
            _ => {
                if byte.is_ascii() {
                    out.push(char::from(byte));
                } else {
                    // Raw 8-bit bytes are not valid RTF, but appear: read them as 1252.
                    out.push(windows_1252(byte));
                }
            }
        }
    }
    out.finish("RTF")
}

/// Reads the control word starting at `bytes[start]` (a letter): its name, optional
/// signed numeric parameter, and the position after it (and after the one space that
/// may delimit it).
fn control_word(bytes: &[u8], start: usize) -> (&str, Option<i64>, usize) {
    let mut pos = start;
    while pos < bytes.len() && bytes[pos].is_ascii_alphabetic() && pos - start < 32 {
        pos += 1;
    }
    let word = std::str::from_utf8(&bytes[start..pos]).unwrap_or("");
    let number_start = pos;
    if bytes.get(pos) == Some(&b'-') {
        pos += 1;
    }
    let digits_start = pos;
    while pos < bytes.len() && bytes[pos].is_ascii_digit() && pos - digits_start < 10 {
        pos += 1;
    }
    let param = if pos > digits_start {
        std::str::from_utf8(&bytes[number_start..pos])
            .ok()
            .and_then(|n| n.parse().ok())
    } else {
        pos = number_start;
        None
    };
    if bytes.get(pos) == Some(&b' ') {
        pos += 1;
    }
    (word, param, pos)
}

/// The text a control word stands for, if any.
fn word_text(word: &str) -> Option<&'static str> {
    Some(match word {
        "par" | "line" | "sect" | "page" | "row" => "\n",
        "tab" | "cell" => "\t",
        "emdash" => "—",
        "endash" => "–",
        "emspace" | "enspace" | "qmspace" => " ",
        "bullet" => "•",
        "lquote" => "‘",
        "rquote" => "’",
        "ldblquote" => "“",
        "rdblquote" => "”",
        _ => return None,
    })
}

/// Appends one UTF-16 code unit, pairing surrogates; a lone surrogate becomes U+FFFD.
fn push_unit(out: &mut Out, unit: u16, high: &mut Option<u16>) {
    if (0xD800..0xDC00).contains(&unit) {
        if high.replace(unit).is_some() {
            out.push('\u{FFFD}');
        }
        return;
    }
    let units = match high.take() {
        Some(h) => vec![h, unit],
        None => vec![unit],
    };
    for c in char::decode_utf16(units) {
        out.push(c.unwrap_or('\u{FFFD}'));
    }
}

/// The Windows-1252 character for `byte` (which equals Latin-1 outside 0x80–0x9F).
fn windows_1252(byte: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž',
        '\u{8F}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}',
        'ž', 'Ÿ',
    ];
    match byte {
        0x80..=0x9F => HIGH[usize::from(byte - 0x80)],
        _ => char::from(byte),
    }
}
