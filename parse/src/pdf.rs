//! The text layer of a PDF, page by page.
//!
//! `lopdf` (pure Rust, no threads with its default features off) parses the file,
//! decrypts it, decodes stream filters and font encodings (including ToUnicode CMaps),
//! and tokenizes content streams. What is ours, and why:
//!
//! * a **nesting pre-scan** of the raw bytes: lopdf caps the nesting of the objects it
//!   parses (and drops deeper ones silently), but a file nested thousands deep is hostile,
//!   not damaged, and is rejected before it is parsed at all; the same pass measures
//!   what the object streams inflate to (lopdf inflates and parses them all while
//!   loading, before any budget of ours could apply) and rejects a file over budget;
//! * the **page walk**: lopdf's own iterator bounds its work but tolerates cycles by
//!   cutting them short; ours visits each page-tree node once, rejects a node reached
//!   twice (a cycle through `Kids`) and caps the depth;
//! * one **decompression budget** (`max_unpacked_bytes`) shared by every content stream,
//!   form XObject and ToUnicode CMap of the document, so a small file cannot make us
//!   inflate the same bomb stream once per page;
//! * the **text interpreter**: lopdf's `extract_text` concatenates strings and breaks
//!   lines only at `ET`/`T*`; ours follows the text and graphics matrices to break lines
//!   where the baseline moves and put spaces where glyph runs leave a gap (estimated
//!   from the font's `/Widths`), and it follows form XObjects, where some producers put
//!   all of a page's text. It lives in `pdf/content.rs`.

mod content;
mod lexer;

use std::collections::HashSet;

use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId};

use crate::text::Out;
use crate::{Options, ParseError, mib};

/// Nesting of arrays and dictionaries beyond any real file (they rarely pass 10).
const MAX_NESTING: usize = 200;
/// Depth of the page tree (balanced trees of millions of pages are 10 deep).
const MAX_TREE_DEPTH: usize = 64;
/// The most one stream may inflate to, within the document's budget.
pub(super) const MAX_STREAM: u64 = 32 << 20;

/// The text of a PDF and its page count.
pub(crate) fn extract(bytes: &[u8], options: &Options) -> Result<(String, u32), ParseError> {
    prescan(bytes, options)?;
    let load = LoadOptions {
        password: options.pdf_password.clone(),
        max_decompressed_size: Some(options.max_unpacked_bytes.min(MAX_STREAM) as usize),
        ..LoadOptions::default()
    };
    let doc = match Document::load_mem_with_options(bytes, load) {
        Ok(doc) => doc,
        Err(lopdf::Error::InvalidPassword) => return Err(encrypted(options)),
        Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. })) => {
            return Err(too_large(options));
        }
        Err(e) => {
            return Err(ParseError::Invalid(format!(
                "The PDF file cannot be read ({e}); it is damaged or not really a PDF."
            )));
        }
    };
    if doc.is_encrypted() && doc.encryption_state.is_none() {
        return Err(encrypted(options));
    }
    let pages = page_ids(&doc)?;
    let mut reader = content::Reader::new(&doc, options);
    let mut inflater = Inflater::new();
    let mut out = Out::new(options.max_text_bytes);
    for &page in &pages {
        let Ok(dict) = doc.get_dictionary(page) else {
            continue;
        };
        let resources = inherited_resources(&doc, dict);
        let content = match inflater.page_content(&doc, page, reader.allowance()) {
            Ok(content) => content,
            Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded {
                ..
            })) => {
                return Err(too_large(options));
            }
            Err(_) => continue,
        };
        reader.charge(content.len())?;
        reader.page(&content, resources, &mut out)?;
        out.blank_line();
        if out.is_full() {
            break;
        }
    }
    let text = out.finish("PDF")?;
    Ok((text, u32::try_from(pages.len()).unwrap_or(u32::MAX)))
}

fn encrypted(options: &Options) -> ParseError {
    ParseError::Encrypted(if options.pdf_password.is_some() {
        "The PDF file is encrypted and PDF_DECRYPT_PASSWORD is not its password; set it to the right password to index this file.".into()
    } else {
        "The PDF file is encrypted; set PDF_DECRYPT_PASSWORD to its password to index this file."
            .into()
    })
}

pub(super) fn too_large(options: &Options) -> ParseError {
    ParseError::TooLarge(format!(
        "The PDF file decompresses to more than its limit ({} MiB in total, {} MiB per stream); \
         it was rejected as a possible decompression bomb.",
        mib(options.max_unpacked_bytes),
        mib(MAX_STREAM)
    ))
}

/// Rejects files whose arrays or dictionaries nest deeper than [`MAX_NESTING`]. Walks
/// the raw bytes once, skipping comments, strings and stream data, where brackets are
/// not syntax (objects inside compressed object streams are left to lopdf's own cap).
///
/// It also measures what the object streams (`/Type /ObjStm`) inflate to, without
/// keeping the output: lopdf inflates and parses all of them while loading, before any
/// budget of ours applies, and each can hold millions of tiny objects. Their total must
/// stay within [`MAX_STREAM`] (and `max_unpacked_bytes`).
fn prescan(bytes: &[u8], options: &Options) -> Result<(), ParseError> {
    let mut depth = 0usize;
    let mut pos = 0;
    let mut object_start = 0;
    let mut object_streams = 0u64;
    let cap = options.max_unpacked_bytes.min(MAX_STREAM);
    while pos < bytes.len() {
        match bytes[pos] {
            b'%' => {
                pos += bytes[pos..]
                    .iter()
                    .position(|&b| b == b'\n' || b == b'\r')
                    .unwrap_or(bytes.len() - pos);
            }
            b'(' => {
                // A literal string: balanced parentheses, backslash escapes.
                let mut open = 0usize;
                while pos < bytes.len() {
                    match bytes[pos] {
                        b'\\' => pos += 1,
                        b'(' => open += 1,
                        b')' => {
                            open -= 1;
                            if open == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    pos += 1;
                }
            }
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            b'<' if bytes.get(pos + 1) == Some(&b'<') => {
                depth += 1;
                pos += 1;
            }
            b'<' => {
                pos += bytes[pos..]
                    .iter()
                    .position(|&b| b == b'>')
                    .unwrap_or(bytes.len() - pos)
            }
            b'>' if bytes.get(pos + 1) == Some(&b'>') => {
                depth = depth.saturating_sub(1);
                pos += 1;
            }
            b's' if bytes[pos..].starts_with(b"stream")
                && pos > 0
                && matches!(bytes[pos - 1], b'>' | b' ' | b'\r' | b'\n' | b'\t') =>
            {
                let data = pos + b"stream".len();
                let end = memchr::memmem::find(&bytes[data..], b"endstream")
                    .map_or(bytes.len(), |n| data + n);
                let dict = &bytes[object_start..pos];
                if memchr::memmem::find(dict, b"/ObjStm").is_some() {
                    object_streams =
                        object_streams.saturating_add(inflated_size(&bytes[data..end], cap + 1));
                    if object_streams > cap {
                        return Err(too_large(options));
                    }
                }
                pos = (end + b"endstream".len()).min(bytes.len());
                continue;
            }
            b'e' if bytes[pos..].starts_with(b"endobj") => {
                depth = 0;
                object_start = pos;
            }
            _ => {}
        }
        if depth > MAX_NESTING {
            return Err(ParseError::Invalid(format!(
                "The PDF file nests arrays or dictionaries more than {MAX_NESTING} deep; it is damaged or hostile."
            )));
        }
        pos += 1;
    }
    Ok(())
}

/// How many bytes zlib data inflates to, counting up to `limit` and keeping nothing;
/// data that is not zlib (or is damaged) counts what inflated before the damage.
fn inflated_size(data: &[u8], limit: u64) -> u64 {
    let data = data
        .strip_prefix(b"\r\n")
        .or_else(|| data.strip_prefix(b"\n"))
        .unwrap_or(data);
    let decoder = flate2::read::ZlibDecoder::new(data);
    let mut counted = std::io::Read::take(decoder, limit);
    let mut scratch = [0u8; 8192];
    let mut total = 0u64;
    while let Ok(n @ 1..) = std::io::Read::read(&mut counted, &mut scratch) {
        total += n as u64;
    }
    total
}

/// The pages in document order, from a walk of the page tree that visits each node
/// once and fails on a node reached twice or a tree deeper than [`MAX_TREE_DEPTH`].
fn page_ids(doc: &Document) -> Result<Vec<ObjectId>, ParseError> {
    let cyclic = || {
        ParseError::Invalid(
            "The PDF file's page tree refers back to itself; the file is damaged or hostile."
                .into(),
        )
    };
    let root = doc
        .catalog()
        .ok()
        .and_then(|catalog| catalog.get(b"Pages").ok())
        .and_then(|pages| pages.as_reference().ok())
        .ok_or_else(|| {
            ParseError::Invalid("The PDF file has no page tree; it is damaged.".into())
        })?;
    let mut pages = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![(root, 0usize)];
    while let Some((id, depth)) = stack.pop() {
        let Ok(node) = doc.get_dictionary(id) else {
            continue;
        };
        let kids = node
            .get(b"Kids")
            .ok()
            .and_then(|kids| doc.dereference(kids).ok())
            .and_then(|(_, kids)| kids.as_array().ok());
        let is_tree = node.get_type().map_or(kids.is_some(), |t| t == b"Pages");
        if !seen.insert(id) {
            if is_tree {
                return Err(cyclic());
            }
            continue; // the same page listed twice: keep its first place
        }
        if !is_tree {
            pages.push(id);
            continue;
        }
        if depth >= MAX_TREE_DEPTH {
            return Err(cyclic());
        }
        for kid in kids.into_iter().flatten().rev() {
            if let Ok(kid) = kid.as_reference() {
                stack.push((kid, depth + 1));
            }
        }
    }
    Ok(pages)
}

/// A page's resources: its own or the nearest ancestor's (bounded, cycle-safe walk).
fn inherited_resources<'a>(doc: &'a Document, page: &'a Dictionary) -> Option<&'a Dictionary> {
    let mut node = page;
    for _ in 0..MAX_TREE_DEPTH {
        if let Some(resources) = deref_dict(doc, node.get(b"Resources").ok()) {
            return Some(resources);
        }
        node = deref_dict(doc, node.get(b"Parent").ok())?;
    }
    None
}

pub(super) fn deref_dict<'a>(
    doc: &'a Document,
    object: Option<&'a Object>,
) -> Option<&'a Dictionary> {
    doc.dereference(object?).ok()?.1.as_dict().ok()
}

/// Reads pages' content streams, inflating Flate streams with one reused state.
///
/// lopdf makes a fresh inflate state per stream, and each brings a zeroed 32 KiB
/// window: in the sandbox, where every fresh allocation is zero-filled by the
/// allocator, that cost more than inflating itself for a page of text.
struct Inflater {
    state: flate2::Decompress,
}

impl Inflater {
    fn new() -> Inflater {
        Inflater {
            state: flate2::Decompress::new(true),
        }
    }

    /// The page's content streams, newline-separated, at most `limit` bytes in all;
    /// as lopdf's `get_page_content_with_limit` (a stream that does not decode falls
    /// back to its raw bytes, within the same budget).
    fn page_content(
        &mut self,
        doc: &Document,
        page: ObjectId,
        limit: usize,
    ) -> Result<Vec<u8>, lopdf::Error> {
        let exceeded =
            || lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { limit });
        let mut content = Vec::new();
        for id in doc.get_page_contents(page) {
            let Ok(stream) = doc.get_object(id).and_then(Object::as_stream) else {
                continue;
            };
            let remaining = limit.saturating_sub(content.len());
            let plain_flate = stream.dict.get(b"DecodeParms").is_err()
                && match stream.dict.get(b"Filter") {
                    Ok(Object::Name(name)) => name == b"FlateDecode",
                    Ok(Object::Array(filters)) => {
                        matches!(filters.as_slice(), [Object::Name(name)] if name == b"FlateDecode")
                    }
                    _ => false,
                };
            let start = content.len();
            let decoded = if plain_flate {
                self.inflate(&stream.content, remaining, &mut content)
            } else {
                match stream.decompressed_content_with_limit(remaining) {
                    Ok(data) => {
                        content.extend_from_slice(&data);
                        Ok(())
                    }
                    Err(lopdf::Error::Decompress(
                        lopdf::DecompressError::MemoryLimitExceeded { .. },
                    )) => Err(Inflate::TooLarge),
                    Err(_) => Err(Inflate::Damaged),
                }
            };
            match decoded {
                Ok(()) => {}
                Err(Inflate::TooLarge) => return Err(exceeded()),
                Err(Inflate::Damaged) => {
                    content.truncate(start);
                    if stream.content.len() > remaining {
                        return Err(exceeded());
                    }
                    content.extend_from_slice(&stream.content);
                }
            }
            content.push(b'\n');
        }
        Ok(content)
    }

    /// Inflates one zlib stream onto `out`, at most `limit` bytes.
    fn inflate(&mut self, input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), Inflate> {
        self.state.reset(true);
        let start = out.len();
        loop {
            let produced = out.len() - start;
            if out.len() == out.capacity() {
                if produced >= limit {
                    return Err(Inflate::TooLarge);
                }
                let room = (produced.max(input.len() * 4)).clamp(4096, limit - produced);
                out.reserve_exact(room);
            }
            let consumed = self.state.total_in() as usize;
            let before = out.len();
            let status = self
                .state
                .decompress_vec(
                    &input[consumed.min(input.len())..],
                    out,
                    flate2::FlushDecompress::None,
                )
                .map_err(|_| Inflate::Damaged)?;
            if out.len() - start > limit {
                return Err(Inflate::TooLarge);
            }
            match status {
                flate2::Status::StreamEnd => return Ok(()),
                // No progress with input left to give: the stream is cut short.
                _ if out.len() == before && self.state.total_in() as usize == consumed => {
                    return if out.len() > start {
                        Ok(())
                    } else {
                        Err(Inflate::Damaged)
                    };
                }
                _ => {}
            }
        }
    }
}

/// Why a stream did not inflate.
enum Inflate {
    TooLarge,
    Damaged,
}
