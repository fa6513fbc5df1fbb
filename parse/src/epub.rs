//! EPUB books: `META-INF/container.xml` names the OPF package document, whose
//! manifest maps ids to files and whose spine lists them in reading order; each spine
//! document (XHTML) goes through the HTML extractor.
//!
//! The spine, not the archive order or the table of contents, is the reading order a
//! reader app follows, so chapters come out in the order a person reads them. A spine
//! entry whose file is missing or unreadable as UTF-8 is skipped rather than failing
//! the whole book, as readers do; a book with no readable chapter ends up with no text
//! and is reported as such.

use std::collections::HashMap;

use quick_xml::events::Event;

use crate::markup::{attr, html_into};
use crate::office::resolve_part;
use crate::text::Out;
use crate::zipped::{Archive, MAX_ENTRIES, missing, next_event};
use crate::{Options, ParseError};

/// The text of an EPUB, chapter by chapter in spine order, a blank line between them.
pub(crate) fn extract(bytes: &[u8], options: &Options) -> Result<String, ParseError> {
    const CONTAINER: &str = "META-INF/container.xml";
    let mut archive = Archive::open(bytes, "EPUB", options)?;
    let mut buf = Vec::new();

    let Some(mut xml) = archive.xml(CONTAINER)? else {
        return Err(missing("EPUB", CONTAINER));
    };
    let mut package = None;
    loop {
        match next_event(&mut xml, &mut buf)? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "rootfile" => {
                package = attr(&e, "full-path");
                if package.is_some() {
                    break;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    drop(xml);
    let Some(package) = package else {
        return Err(missing("EPUB", "rootfile entry in META-INF/container.xml"));
    };

    let folder = package
        .rsplit_once('/')
        .map_or(String::new(), |(folder, _)| format!("{folder}/"));
    let Some(mut xml) = archive.xml(&package)? else {
        return Err(missing("EPUB", &package));
    };
    let mut manifest = HashMap::new();
    let mut spine = Vec::new();
    loop {
        match next_event(&mut xml, &mut buf)? {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                "item" => {
                    if let (Some(id), Some(href)) = (attr(&e, "id"), attr(&e, "href")) {
                        manifest.insert(id, href);
                    }
                }
                "itemref" => {
                    if let Some(id) = attr(&e, "idref") {
                        spine.push(id);
                    }
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        if manifest.len() > MAX_ENTRIES || spine.len() > MAX_ENTRIES {
            return Err(ParseError::TooLarge(format!(
                "The EPUB file's package lists more than {MAX_ENTRIES} items; it was rejected."
            )));
        }
    }
    drop(xml);

    let mut out = Out::new(options.max_text_bytes);
    for id in &spine {
        let Some(href) = manifest.get(id) else {
            continue;
        };
        let path = resolve_part(&folder, &percent_decode(strip_fragment(href)));
        let Some(content) = archive.read(&path, options.max_text_bytes)? else {
            continue;
        };
        let Ok(chapter) =
            std::str::from_utf8(content.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&content))
        else {
            continue;
        };
        html_into(chapter, false, &mut out);
        out.blank_line();
        if out.is_full() {
            break;
        }
    }
    out.finish("EPUB")
}

/// `href` without its `#fragment`.
fn strip_fragment(href: &str) -> &str {
    href.split_once('#').map_or(href, |(path, _)| path)
}

/// Decodes `%XX` escapes in a URL path ("chapter%201.xhtml" → "chapter 1.xhtml"); a
/// malformed escape stays as written.
fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(decoded).unwrap_or_else(|_| path.to_owned())
}
