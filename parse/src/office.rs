//! Word-processing, presentation and spreadsheet files: docx, pptx, xlsx (Office Open
//! XML) and odt (OpenDocument).
//!
//! Each is a zip of XML parts. The parts are streamed through quick-xml event by event
//! straight from the bounded zip reader, and the extractors keep counters and flags
//! rather than an element stack, so neither a huge part nor a deeply nested one costs
//! more than the text it yields. Elements are matched by local name (`t`, not `w:t`):
//! the namespace prefix is the producer's choice.
//!
//! Only the main story is read (document.xml, the slides, the sheets, content.xml):
//! headers, footers, comments and speaker notes are left out, as LightRAG itself does.

use std::collections::HashMap;

use quick_xml::events::Event;

use crate::markup::{attr, char_data};
use crate::text::Out;
use crate::zipped::{Archive, missing, next_event};
use crate::{Options, ParseError};

/// The most shared strings an xlsx may declare (each costs an offset even when empty).
const MAX_SHARED_STRINGS: usize = 4_000_000;

/// The most empty columns padded with tabs between two cells of a row.
const MAX_COLUMN_GAP: usize = 256;

/// The text of a docx: `word/document.xml`, one line per paragraph, `w:tab` as a tab,
/// `w:br`/`w:cr` as line breaks, table cells tab-separated and rows on their own lines.
pub(crate) fn docx(bytes: &[u8], options: &Options) -> Result<String, ParseError> {
    const PART: &str = "word/document.xml";
    let mut archive = Archive::open(bytes, "DOCX", options)?;
    let Some(mut xml) = archive.xml(PART)? else {
        return Err(missing("DOCX", PART));
    };
    let mut out = Out::new(options.max_text_bytes);
    let mut buf = Vec::new();
    let mut in_text = false;
    // Inside tab-stop definitions (`w:tabs`, whose `w:tab`s are not tabs) or the
    // fallback copy of alternate content (the same text a second time).
    let mut hidden = 0usize;
    let mut cells = 0usize;
    let mut cell_paragraph = false;
    while !out.is_full() {
        let event = next_event(&mut xml, &mut buf)?;
        match &event {
            Event::Start(e) => match e.local_name().as_ref() {
                "t" => in_text = true,
                "tabs" | "Fallback" => hidden += 1,
                "tc" => {
                    cells += 1;
                    cell_paragraph = false;
                }
                _ => {}
            },
            Event::Empty(e) if hidden == 0 => match e.local_name().as_ref() {
                "tab" => out.push('\t'),
                "br" | "cr" => out.push('\n'),
                "noBreakHyphen" => out.push('-'),
                _ => {}
            },
            Event::End(e) => match e.local_name().as_ref() {
                "t" => in_text = false,
                "tabs" | "Fallback" => hidden = hidden.saturating_sub(1),
                "p" if cells > 0 => cell_paragraph = true,
                "p" => out.end_line(),
                "tc" => {
                    cells = cells.saturating_sub(1);
                    out.push('\t');
                }
                "tr" => out.end_line(),
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        if in_text
            && hidden == 0
            && let Some(text) = char_data(&event)
        {
            // A second paragraph in the same table cell: keep it on the row's line.
            if cell_paragraph && !out.at_break() {
                out.push(' ');
            }
            cell_paragraph = false;
            out.push_str(&text);
        }
    }
    out.finish("DOCX")
}

/// The text of a pptx: the slides in numeric order (`slide2.xml` before
/// `slide10.xml`), `a:t` runs, one line per paragraph, a blank line between slides.
pub(crate) fn pptx(bytes: &[u8], options: &Options) -> Result<String, ParseError> {
    let mut archive = Archive::open(bytes, "PPTX", options)?;
    let mut slides: Vec<(u64, String)> = archive
        .names()
        .filter_map(|name| {
            let number = name
                .strip_prefix("ppt/slides/slide")?
                .strip_suffix(".xml")?;
            Some((number.parse().ok()?, name.to_owned()))
        })
        .collect();
    if slides.is_empty() {
        return Err(missing("PPTX", "ppt/slides/slide1.xml"));
    }
    slides.sort_unstable();
    let mut out = Out::new(options.max_text_bytes);
    let mut buf = Vec::new();
    for (_, name) in &slides {
        let Some(mut xml) = archive.xml(name)? else {
            continue;
        };
        let mut in_text = false;
        let mut hidden = 0usize;
        while !out.is_full() {
            let event = next_event(&mut xml, &mut buf)?;
            match &event {
                Event::Start(e) => match e.local_name().as_ref() {
                    "t" => in_text = true,
                    "Fallback" => hidden += 1,
                    _ => {}
                },
                Event::Empty(e) if hidden == 0 && e.local_name().as_ref() == "br" => out.push('\n'),
                Event::End(e) => match e.local_name().as_ref() {
                    "t" => in_text = false,
                    "Fallback" => hidden = hidden.saturating_sub(1),
                    "p" => out.end_line(),
                    _ => {}
                },
                Event::Eof => break,
                _ => {}
            }
            if in_text
                && hidden == 0
                && let Some(text) = char_data(&event)
            {
                out.push_str(&text);
            }
        }
        out.blank_line();
    }
    out.finish("PPTX")
}

/// The text of an xlsx: each sheet in workbook order, starting with a line holding its
/// name, then one line per row with the cells tab-separated (gaps between cells kept as
/// empty columns), shared and inline strings resolved, numbers as written.
pub(crate) fn xlsx(bytes: &[u8], options: &Options) -> Result<String, ParseError> {
    let mut archive = Archive::open(bytes, "XLSX", options)?;
    let sheets = workbook_sheets(&mut archive)?;
    let shared = shared_strings(&mut archive, options)?;
    let mut out = Out::new(options.max_text_bytes);
    let mut buf = Vec::new();
    for (name, part) in &sheets {
        let Some(mut xml) = archive.xml(part)? else {
            continue;
        };
        out.push_str(name);
        out.end_line();
        // Per cell: its type, column, and value text; per row: the next column.
        let (mut kind, mut column, mut next_column) = (String::new(), 0usize, 0usize);
        let mut value = String::new();
        let (mut in_value, mut in_phonetic) = (false, 0usize);
        while !out.is_full() {
            let event = next_event(&mut xml, &mut buf)?;
            match &event {
                Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                    "row" => {
                        out.end_line();
                        next_column = 0;
                    }
                    "c" => {
                        kind = attr(e, "t").unwrap_or_default();
                        column = attr(e, "r")
                            .and_then(|r| column_index(&r))
                            .unwrap_or(next_column);
                        value.clear();
                    }
                    "v" | "t" if matches!(event, Event::Start(_)) => in_value = true,
                    "rPh" if matches!(event, Event::Start(_)) => in_phonetic += 1,
                    _ => {}
                },
                Event::End(e) => match e.local_name().as_ref() {
                    "v" | "t" => in_value = false,
                    "rPh" => in_phonetic = in_phonetic.saturating_sub(1),
                    "c" => {
                        let text = match kind.as_str() {
                            "s" => value
                                .trim()
                                .parse::<usize>()
                                .ok()
                                .and_then(|i| shared.get(i))
                                .unwrap_or(""),
                            "b" if value.trim() == "1" => "TRUE",
                            "b" => "FALSE",
                            _ => value.as_str(),
                        };
                        if !text.is_empty() {
                            let gap = column.saturating_sub(next_column).min(MAX_COLUMN_GAP);
                            let tabs = if next_column == 0 { gap } else { gap + 1 };
                            (0..tabs).for_each(|_| out.push('\t'));
                            out.push_str(text);
                            next_column = column + 1;
                        }
                    }
                    "row" => out.end_line(),
                    _ => {}
                },
                Event::Eof => break,
                _ => {}
            }
            if in_value
                && in_phonetic == 0
                && let Some(text) = char_data(&event)
            {
                value.push_str(&text);
            }
        }
        out.blank_line();
    }
    out.finish("XLSX")
}

/// The zero-based column of a cell reference ("C7" → 2), up to Excel's last (XFD).
fn column_index(reference: &str) -> Option<usize> {
    let letters = reference.bytes().take_while(u8::is_ascii_alphabetic);
    let mut index = 0usize;
    for (count, letter) in letters.enumerate() {
        if count >= 3 {
            return None;
        }
        index = index * 26 + usize::from(letter.to_ascii_uppercase() - b'A') + 1;
    }
    index.checked_sub(1)
}

/// The sheets of a workbook in tab order: (name, part path), from `xl/workbook.xml`
/// and the relationships that say which part holds each sheet.
fn workbook_sheets(archive: &mut Archive<'_>) -> Result<Vec<(String, String)>, ParseError> {
    const WORKBOOK: &str = "xl/workbook.xml";
    const RELS: &str = "xl/_rels/workbook.xml.rels";
    let mut buf = Vec::new();
    let mut targets = HashMap::new();
    if let Some(mut xml) = archive.xml(RELS)? {
        loop {
            match next_event(&mut xml, &mut buf)? {
                Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "Relationship" => {
                    if let (Some(id), Some(target)) = (attr(&e, "Id"), attr(&e, "Target")) {
                        targets.insert(id, resolve_part("xl/", &target));
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
    }
    let Some(mut xml) = archive.xml(WORKBOOK)? else {
        return Err(missing("XLSX", WORKBOOK));
    };
    let mut sheets = Vec::new();
    loop {
        match next_event(&mut xml, &mut buf)? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "sheet" => {
                let name = attr(&e, "name").unwrap_or_default();
                let part = attr(&e, "id").and_then(|id| targets.get(&id).cloned());
                // Without relationships, fall back to the conventional part names.
                let part =
                    part.unwrap_or_else(|| format!("xl/worksheets/sheet{}.xml", sheets.len() + 1));
                sheets.push((name, part));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(sheets)
}

/// A relationship target resolved against the folder of the part that names it.
pub(crate) fn resolve_part(folder: &str, target: &str) -> String {
    let joined = match target.strip_prefix('/') {
        Some(absolute) => absolute.to_owned(),
        None => format!("{folder}{target}"),
    };
    let mut parts: Vec<&str> = Vec::new();
    for segment in joined.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

/// Shared strings of a workbook, stored as one string and the end offset of each item
/// (a `Vec<String>` would cost 24 bytes per item even for a flood of empty items).
struct SharedStrings {
    text: String,
    ends: Vec<usize>,
}

impl SharedStrings {
    fn get(&self, index: usize) -> Option<&str> {
        let end = *self.ends.get(index)?;
        let start = index.checked_sub(1).map_or(0, |i| self.ends[i]);
        self.text.get(start..end)
    }
}

/// Reads `xl/sharedStrings.xml`: each `si` is the concatenation of its `t` texts,
/// phonetic guides (`rPh`) excluded.
fn shared_strings(
    archive: &mut Archive<'_>,
    options: &Options,
) -> Result<SharedStrings, ParseError> {
    let mut shared = SharedStrings {
        text: String::new(),
        ends: Vec::new(),
    };
    let Some(mut xml) = archive.xml("xl/sharedStrings.xml")? else {
        return Ok(shared);
    };
    let mut buf = Vec::new();
    let (mut in_text, mut in_phonetic) = (false, 0usize);
    loop {
        let event = next_event(&mut xml, &mut buf)?;
        match &event {
            Event::Start(e) => match e.local_name().as_ref() {
                "t" => in_text = true,
                "rPh" => in_phonetic += 1,
                _ => {}
            },
            Event::End(e) => match e.local_name().as_ref() {
                "t" => in_text = false,
                "rPh" => in_phonetic = in_phonetic.saturating_sub(1),
                "si" => shared.ends.push(shared.text.len()),
                _ => {}
            },
            Event::Empty(e) if e.local_name().as_ref() == "si" => {
                shared.ends.push(shared.text.len())
            }
            Event::Eof => break,
            _ => {}
        }
        if in_text
            && in_phonetic == 0
            && let Some(text) = char_data(&event)
        {
            shared.text.push_str(&text);
        }
        if shared.text.len() > options.max_text_bytes || shared.ends.len() > MAX_SHARED_STRINGS {
            return Err(ParseError::TooLarge(format!(
                "The XLSX file's shared strings are over the limit ({} MiB of text or {MAX_SHARED_STRINGS} strings).",
                crate::mib(options.max_text_bytes as u64)
            )));
        }
    }
    Ok(shared)
}

/// The text of an odt: `content.xml`, one line per `text:p`/`text:h`, `text:s` as
/// spaces, `text:tab` as a tab, `text:line-break` as a line break, spans and links
/// inline, table cells tab-separated; tracked deletions and comments left out.
pub(crate) fn odt(bytes: &[u8], options: &Options) -> Result<String, ParseError> {
    const PART: &str = "content.xml";
    let mut archive = Archive::open(bytes, "ODT", options)?;
    let Some(mut xml) = archive.xml(PART)? else {
        return Err(missing("ODT", PART));
    };
    let mut out = Out::new(options.max_text_bytes);
    let mut buf = Vec::new();
    let (mut paragraphs, mut hidden, mut cells) = (0usize, 0usize, 0usize);
    let mut cell_paragraph = false;
    while !out.is_full() {
        let event = next_event(&mut xml, &mut buf)?;
        match &event {
            Event::Start(e) => match e.local_name().as_ref() {
                "p" | "h" => paragraphs += 1,
                "tracked-changes" | "annotation" => hidden += 1,
                "table-cell" | "covered-table-cell" => {
                    cells += 1;
                    cell_paragraph = false;
                }
                _ => {}
            },
            Event::Empty(e) if paragraphs > 0 && hidden == 0 => match e.local_name().as_ref() {
                "s" => {
                    let count = attr(e, "c")
                        .and_then(|c| c.parse::<usize>().ok())
                        .unwrap_or(1);
                    (0..count.min(1000)).for_each(|_| out.push(' '));
                }
                "tab" => out.push('\t'),
                "line-break" => out.push('\n'),
                _ => {}
            },
            Event::Empty(e)
                if matches!(e.local_name().as_ref(), "table-cell" | "covered-table-cell") =>
            {
                out.push('\t');
            }
            Event::End(e) => match e.local_name().as_ref() {
                "p" | "h" => {
                    paragraphs = paragraphs.saturating_sub(1);
                    if cells > 0 {
                        cell_paragraph = true;
                    } else if hidden == 0 {
                        out.end_line();
                    }
                }
                "tracked-changes" | "annotation" => hidden = hidden.saturating_sub(1),
                "table-cell" | "covered-table-cell" => {
                    cells = cells.saturating_sub(1);
                    out.push('\t');
                }
                "table-row" => out.end_line(),
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        if paragraphs > 0
            && hidden == 0
            && let Some(text) = char_data(&event)
        {
            if cell_paragraph && !out.at_break() {
                out.push(' ');
            }
            cell_paragraph = false;
            out.push_str(&text);
        }
    }
    out.finish("ODT")
}
