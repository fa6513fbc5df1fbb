//! HTML and XML to text, and the small XML helpers the zipped formats share.
//!
//! HTML is not XML: real pages have unclosed tags, bare `&` and `<`, uppercase names and
//! attributes without quotes, so a strict parser would reject most of them. The HTML
//! extractor is therefore a forgiving single-pass scanner that keeps no element stack at
//! all (only a few flags and counters), which also makes deep nesting free: a million
//! nested `<div>`s cost a million loop iterations and no memory.
//!
//! XML goes through quick-xml, a pull parser: it never recurses, does not expand
//! entities declared in a DTD (no "billion laughs"), and its only per-depth memory is the
//! stack of open element names, bounded by the input size.

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::events::{BytesRef, BytesStart, Event};

use crate::text::{self, Out};
use crate::{Options, ParseError};

/// The text of an HTML file.
pub(crate) fn html(bytes: &[u8], options: &Options) -> Result<String, ParseError> {
    let src = text::plain(bytes, "HTML", options)?;
    let mut out = Out::new(options.max_text_bytes);
    html_into(src, true, &mut out);
    out.finish("HTML")
}

/// Elements whose start and end break the line.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "caption",
    "center",
    "dd",
    "details",
    "dialog",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "html",
    "legend",
    "li",
    "main",
    "nav",
    "ol",
    "option",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "tfoot",
    "thead",
    "title",
    "tr",
    "ul",
];

/// Elements whose content is never text for a reader: skipped up to their end tag.
const RAW_SKIPPED: &[&str] = &["script", "style", "template"];

/// Appends the text of the HTML document `src` to `out`: markup removed, `script`,
/// `style` and the `head` skipped (except its `title`), block elements and `<br>` as
/// line breaks, table cells tab-separated, whitespace collapsed outside `<pre>`, and
/// character references decoded. Epub chapters pass `keep_title: false`: their titles
/// usually repeat the book's title in every chapter.
pub(crate) fn html_into(src: &str, keep_title: bool, out: &mut Out) {
    let bytes = src.as_bytes();
    let mut pos = 0;
    let mut in_head = false;
    let mut in_title = false;
    let mut pre_depth = 0usize;
    let mut space = false;
    while pos < bytes.len() && !out.is_full() {
        let visible = !in_head || (in_title && keep_title);
        match bytes[pos] {
            b'<' => {
                let Some(tag) = scan_tag(bytes, pos) else {
                    // A `<` that starts no tag is text.
                    if visible {
                        emit(out, "<", pre_depth > 0, &mut space);
                    }
                    pos += 1;
                    continue;
                };
                pos = tag.end;
                let name = tag.name.to_ascii_lowercase();
                let name = name.as_str();
                if !tag.closing && RAW_SKIPPED.contains(&name) {
                    pos = skip_raw_text(bytes, pos, name);
                    continue;
                }
                match (name, tag.closing) {
                    ("head", false) => in_head = true,
                    ("head", true) | ("body", false) => in_head = false,
                    ("title", closing) => in_title = !closing,
                    ("pre", false) => pre_depth += 1,
                    ("pre", true) => pre_depth = pre_depth.saturating_sub(1),
                    ("br", _) if visible => {
                        out.line_break();
                        space = false;
                    }
                    ("td" | "th", false) if visible => {
                        if !out.at_break() {
                            out.push('\t');
                        }
                        space = false;
                    }
                    _ => {}
                }
                if BLOCKS.contains(&name) {
                    out.end_line();
                    space = false;
                }
            }
            b'&' => {
                let (decoded, next) = entity(src, pos);
                if visible && decoded != '\0' {
                    let mut buf = [0; 4];
                    emit(
                        out,
                        decoded.encode_utf8(&mut buf),
                        pre_depth > 0,
                        &mut space,
                    );
                }
                pos = next;
            }
            _ => {
                let end = bytes[pos..]
                    .iter()
                    .position(|&b| b == b'<' || b == b'&')
                    .map_or(bytes.len(), |n| pos + n);
                if visible {
                    emit(out, &src[pos..end], pre_depth > 0, &mut space);
                }
                pos = end;
            }
        }
    }
}

/// Appends `text`, collapsing whitespace runs to one space unless `pre`. `space`
/// carries a pending space across calls ("a <b>b</b>" keeps its space).
fn emit(out: &mut Out, text: &str, pre: bool, space: &mut bool) {
    if pre {
        out.push_str(text);
        return;
    }
    let mut rest = text;
    while !rest.is_empty() {
        let word = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
        if word.len() < rest.len() {
            *space = true;
            rest = word;
            continue;
        }
        let len = rest
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        if *space && !out.at_break() {
            out.push(' ');
        }
        *space = false;
        out.push_str(&rest[..len]);
        rest = &rest[len..];
    }
}

/// A tag found at `<`: its name, whether it is an end tag, and where it ends.
struct Tag<'a> {
    name: &'a str,
    closing: bool,
    end: usize,
}

/// Reads the tag, comment or declaration starting at `bytes[start] == b'<'`. Comments
/// and declarations come back with an empty name. `None` means the `<` is plain text.
fn scan_tag(bytes: &[u8], start: usize) -> Option<Tag<'_>> {
    let rest = &bytes[start + 1..];
    let until = |from: usize, pattern: &[u8]| {
        bytes[from..]
            .windows(pattern.len())
            .position(|w| w == pattern)
            .map_or(bytes.len(), |n| from + n + pattern.len())
    };
    if rest.starts_with(b"!--") {
        return Some(Tag {
            name: "",
            closing: false,
            end: until(start + 4, b"-->"),
        });
    }
    if rest.starts_with(b"!") || rest.starts_with(b"?") {
        return Some(Tag {
            name: "",
            closing: false,
            end: until(start + 1, b">"),
        });
    }
    let closing = rest.starts_with(b"/");
    let name_start = start + 1 + usize::from(closing);
    if !bytes.get(name_start).is_some_and(u8::is_ascii_alphabetic) {
        return None;
    }
    let name_end = bytes[name_start..]
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b':' | b'_')))
        .map_or(bytes.len(), |n| name_start + n);
    // Skip attributes up to the closing `>`, honouring quoted values.
    let mut pos = name_end;
    let mut quote = None;
    while pos < bytes.len() {
        match (quote, bytes[pos]) {
            (None, b'>') => break,
            (None, q @ (b'"' | b'\'')) => quote = Some(q),
            (Some(q), b) if b == q => quote = None,
            _ => {}
        }
        pos += 1;
    }
    let name = std::str::from_utf8(&bytes[name_start..name_end]).unwrap_or("");
    Some(Tag {
        name,
        closing,
        end: (pos + 1).min(bytes.len()),
    })
}

/// The position after the end tag `</name …>` that closes a raw-text element.
fn skip_raw_text(bytes: &[u8], from: usize, name: &str) -> usize {
    let mut pos = from;
    while let Some(offset) = bytes[pos..].iter().position(|&b| b == b'<') {
        let at = pos + offset;
        let after = at + 2;
        if bytes.get(at + 1) == Some(&b'/')
            && bytes.len() >= after + name.len()
            && bytes[after..after + name.len()].eq_ignore_ascii_case(name.as_bytes())
        {
            return scan_tag(bytes, at).map_or(bytes.len(), |tag| tag.end);
        }
        pos = at + 1;
    }
    bytes.len()
}

/// Decodes the character reference at `src[pos] == '&'`: the character (NUL for one that
/// stands for nothing visible, such as `&shy;`) and the position after the reference.
/// An unknown or malformed reference is a literal `&`.
fn entity(src: &str, pos: usize) -> (char, usize) {
    let bytes = src.as_bytes();
    let end = bytes[pos + 1..]
        .iter()
        .take(32)
        .position(|&b| b == b';')
        .map(|n| pos + 1 + n);
    let Some(end) = end else {
        return ('&', pos + 1);
    };
    let name = &src[pos + 1..end];
    match named_or_numeric(name) {
        Some(c) => (c, end + 1),
        None => ('&', pos + 1),
    }
}

/// The character for an HTML entity name (`amp`) or numeric reference (`#38`, `#x26`);
/// NUL for entities that stand for nothing visible.
pub(crate) fn named_or_numeric(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let (digits, radix) = match number.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16),
            None => (number, 10),
        };
        if digits.is_empty() || digits.len() > 8 {
            return None;
        }
        let code = u32::from_str_radix(digits, radix).ok()?;
        return Some(
            char::from_u32(code)
                .filter(|&c| c != '\0')
                .unwrap_or('\u{FFFD}'),
        );
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" | "ensp" | "emsp" | "thinsp" => ' ',
        "shy" | "zwnj" | "zwj" | "lrm" | "rlm" => '\0',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '‘',
        "rsquo" => '’',
        "sbquo" => '‚',
        "ldquo" => '“',
        "rdquo" => '”',
        "bdquo" => '„',
        "laquo" => '«',
        "raquo" => '»',
        "bull" => '•',
        "middot" => '·',
        "deg" => '°',
        "plusmn" => '±',
        "times" => '×',
        "divide" => '÷',
        "frac12" => '½',
        "frac14" => '¼',
        "frac34" => '¾',
        "sect" => '§',
        "para" => '¶',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "iexcl" => '¡',
        "iquest" => '¿',
        "micro" => 'µ',
        "agrave" => 'à',
        "aacute" => 'á',
        "acirc" => 'â',
        "auml" => 'ä',
        "aring" => 'å',
        "ccedil" => 'ç',
        "egrave" => 'è',
        "eacute" => 'é',
        "ecirc" => 'ê',
        "euml" => 'ë',
        "iacute" => 'í',
        "iuml" => 'ï',
        "ntilde" => 'ñ',
        "oacute" => 'ó',
        "ocirc" => 'ô',
        "ouml" => 'ö',
        "oslash" => 'ø',
        "uacute" => 'ú',
        "uuml" => 'ü',
        "szlig" => 'ß',
        "Auml" => 'Ä',
        "Eacute" => 'É',
        "Ouml" => 'Ö',
        "Uuml" => 'Ü',
        _ => return None,
    })
}

/// The text of an XML file: character data and CDATA, one line per element that holds
/// text, with markup, comments and processing instructions removed.
pub(crate) fn xml(bytes: &[u8], options: &Options) -> Result<String, ParseError> {
    let src = text::plain(bytes, "XML", options)?;
    let mut reader = Reader::from_str(src);
    lenient(reader.config_mut());
    let mut out = Out::new(options.max_text_bytes);
    let mut line_break = false;
    let mut space = false;
    // Each text node is trimmed (indentation is not content); a separator goes before
    // the next text: a line break after markup, a space where the node had whitespace.
    let push = |out: &mut Out, text: &str, line_break: &mut bool, space: &mut bool| {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            *space |= !text.is_empty();
            return;
        }
        if *line_break {
            out.end_line();
        } else if (*space || trimmed.len() < text.trim_end().len()) && !out.at_break() {
            out.push(' ');
        }
        out.push_str(trimmed);
        *line_break = false;
        *space = trimmed.len() < text.trim_start().len();
    };
    loop {
        match reader.read_event() {
            Ok(Event::Text(t)) => push(&mut out, &t.xml10_content(), &mut line_break, &mut space),
            Ok(Event::CData(t)) => push(&mut out, &t.xml10_content(), &mut line_break, &mut space),
            Ok(Event::GeneralRef(r)) => {
                if let Some(c) = reference(&r) {
                    let mut buf = [0; 4];
                    push(
                        &mut out,
                        c.encode_utf8(&mut buf),
                        &mut line_break,
                        &mut space,
                    );
                }
            }
            Ok(Event::Start(_) | Event::End(_) | Event::Empty(_)) => line_break = true,
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => {
                return Err(ParseError::Invalid(format!(
                    "The XML file is malformed near byte {}: {e}.",
                    reader.error_position()
                )));
            }
        }
        if out.is_full() {
            break;
        }
    }
    out.finish("XML")
}

/// Reader settings for extracting text: tolerate mismatched and stray end tags (text
/// is still recoverable from such files) and keep whitespace as written.
pub(crate) fn lenient(config: &mut quick_xml::reader::Config) {
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    config.allow_dangling_amp = true;
    config.trim_text(false);
}

/// The character an entity reference in XML stands for: the five predefined entities
/// and numeric references; anything else (DTD-declared entities) is dropped.
pub(crate) fn reference(r: &BytesRef<'_>) -> Option<char> {
    match r.as_ref() {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        other if other.starts_with('#') => named_or_numeric(other),
        _ => None,
    }
}

/// The value of the attribute whose local name (after any `prefix:`) is `local`, with
/// the predefined entities decoded.
pub(crate) fn attr(e: &BytesStart<'_>, local: &str) -> Option<String> {
    e.attributes().with_checks(false).flatten().find_map(|a| {
        (a.key.local_name().as_ref() == local).then(|| {
            match a.normalized_value(quick_xml::XmlVersion::Implicit1_0) {
                Ok(value) => value.into_owned(),
                Err(_) => a.value.to_string(),
            }
        })
    })
}

/// The character data an event carries (text, CDATA or a resolved reference).
pub(crate) fn char_data<'e>(event: &'e Event<'_>) -> Option<Cow<'e, str>> {
    match event {
        Event::Text(t) => Some(t.xml10_content()),
        Event::CData(t) => Some(t.xml10_content()),
        Event::GeneralRef(r) => reference(r).map(|c| Cow::Owned(c.to_string())),
        _ => None,
    }
}
