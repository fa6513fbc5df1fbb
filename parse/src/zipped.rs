//! Bounded zip reading for the container formats (docx, pptx, xlsx, odt, epub,
//! textpack), and the TextBundle (`.textpack`) extractor, which is nothing more than
//! "find the text entry".
//!
//! A zip's central directory declares each entry's uncompressed size, and a zip bomb
//! lies about it, so declared sizes are never used for anything: every byte an entry
//! inflates to is counted as it is read, against one budget for the whole archive
//! (`max_unpacked_bytes`), and the read fails as soon as the budget is passed. Entries
//! are streamed (the XML parts go straight into the XML reader) rather than unpacked
//! into memory first, so a bomb costs CPU time up to the budget but no memory.
//!
//! The number of entries is capped before the zip crate parses the central directory
//! (it builds a record per entry): we count central-directory signatures in the raw
//! bytes, an upper bound on the entries any parse can produce.

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Cursor, Read};

use quick_xml::Reader;
use quick_xml::events::Event;
use zip::ZipArchive;
use zip::read::ZipFile;
use zip::result::ZipError;

use crate::text::{self, Out};
use crate::{Options, ParseError, mib};

/// The most bytes one XML event (a tag, a text run, a comment) may span. The XML
/// reader buffers a whole event, so without this one giant comment would be buffered
/// up to the archive's whole budget; no real document has a 16 MiB text run.
const MAX_EVENT: u64 = 16 << 20;

/// The most entries an archive may hold. Real documents hold tens to a few thousand
/// (an epub with many images); parsing the central directory costs memory per entry.
pub(crate) const MAX_ENTRIES: usize = 10_000;

/// An opened archive with its unpacked-bytes budget.
pub(crate) struct Archive<'a> {
    zip: ZipArchive<Cursor<&'a [u8]>>,
    used: Cell<u64>,
    limit: u64,
    label: &'static str,
}

impl<'a> Archive<'a> {
    /// Opens `bytes` as the zip container of a `label` file ("DOCX").
    pub(crate) fn open(
        bytes: &'a [u8],
        label: &'static str,
        options: &Options,
    ) -> Result<Self, ParseError> {
        if bytes.starts_with(b"\xD0\xCF\x11\xE0") {
            return Err(ParseError::Encrypted(format!(
                "The {label} file is password-protected (or a legacy binary Office file renamed); \
                 remove the password or save it in the {label} format and upload it again."
            )));
        }
        let entries = memchr::memmem::find_iter(bytes, b"PK\x01\x02")
            .take(MAX_ENTRIES + 1)
            .count();
        if entries > MAX_ENTRIES {
            return Err(ParseError::TooLarge(format!(
                "The {label} file holds more than {MAX_ENTRIES} zip entries; it was rejected as a possible zip bomb."
            )));
        }
        let zip = ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
            ParseError::Invalid(format!(
                "The {label} file is not a readable zip archive ({e}); it may be damaged or not really a {label} file."
            ))
        })?;
        Ok(Self {
            zip,
            used: Cell::new(0),
            limit: options.max_unpacked_bytes,
            label,
        })
    }

    /// The entry names, in archive order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.zip.file_names()
    }

    /// The index of entry `name`: an exact match, else one that differs only in case,
    /// a leading `/` or backslashes (written by some non-conforming tools).
    fn find(&self, name: &str) -> Option<usize> {
        if let Some(index) = self.zip.index_for_name(name) {
            return Some(index);
        }
        let wanted = name.trim_start_matches('/');
        (0..self.zip.len()).find(|&i| {
            self.zip.name_for_index(i).is_some_and(|n| {
                let n = n.trim_start_matches(['/', '\\']);
                n.len() == wanted.len()
                    && n.bytes()
                        .zip(wanted.bytes())
                        .all(|(a, b)| a.eq_ignore_ascii_case(&b) || (a == b'\\' && b == b'/'))
            })
        })
    }

    /// A counted reader over entry `name`, or `None` if the archive has no such entry.
    pub(crate) fn entry(&mut self, name: &str) -> Result<Option<Entry<'_, 'a>>, ParseError> {
        let Some(index) = self.find(name) else {
            return Ok(None);
        };
        let label = self.label;
        let file = self.zip.by_index(index).map_err(|e| match e {
            ZipError::UnsupportedArchive(ZipError::PASSWORD_REQUIRED) | ZipError::InvalidPassword => {
                ParseError::Encrypted(format!(
                    "The {label} file's part {name} is encrypted; remove the password and upload it again."
                ))
            }
            e => ParseError::Invalid(format!("The {label} file is damaged: its part {name} cannot be read ({e}).")),
        })?;
        let counted = Counted {
            file,
            used: &self.used,
            limit: self.limit,
            since_event: 0,
            event_limit: u64::MAX,
        };
        Ok(Some(Entry {
            inner: BufReader::with_capacity(64 << 10, counted),
            part: name.to_owned(),
            label,
        }))
    }

    /// The whole content of entry `name`, for parts parsed as one string, refusing
    /// parts larger than `max` bytes. The buffer grows by doubling but never past
    /// `max`, so a lying entry cannot make it reserve twice the limit.
    pub(crate) fn read(&mut self, name: &str, max: usize) -> Result<Option<Vec<u8>>, ParseError> {
        let label = self.label;
        let Some(mut entry) = self.entry(name)? else {
            return Ok(None);
        };
        let mut content = Vec::new();
        let mut chunk = vec![0; 64 << 10];
        loop {
            let n = match entry.read(&mut chunk) {
                Ok(0) => return Ok(Some(content)),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(entry.failure(&e)),
            };
            let len = content.len() + n;
            if len > max {
                return Err(ParseError::TooLarge(format!(
                    "The {label} file's part {name} is larger than the {} MiB text limit.",
                    mib(max as u64)
                )));
            }
            if len > content.capacity() {
                let target = content.capacity().saturating_mul(2).clamp(len, max);
                content.reserve_exact(target - content.len());
            }
            content.extend_from_slice(&chunk[..n]);
        }
    }

    /// An XML reader streaming entry `name`.
    pub(crate) fn xml(&mut self, name: &str) -> Result<Option<Reader<Entry<'_, 'a>>>, ParseError> {
        Ok(self.entry(name)?.map(|mut entry| {
            entry.inner.get_mut().event_limit = MAX_EVENT;
            let mut reader = Reader::from_reader(entry);
            crate::markup::lenient(reader.config_mut());
            reader
        }))
    }
}

/// The error for a `label` file whose required part `name` is missing.
pub(crate) fn missing(label: &str, name: &str) -> ParseError {
    ParseError::Invalid(format!(
        "The {label} file has no {name} part; it is damaged or not really a {label} file."
    ))
}

/// The next XML event from an archive entry, mapping read failures to the right error
/// (a blown unpack budget is `TooLarge`, anything else `Invalid`).
pub(crate) fn next_event<'b>(
    reader: &mut Reader<Entry<'_, '_>>,
    buf: &'b mut Vec<u8>,
) -> Result<Event<'b>, ParseError> {
    buf.clear();
    if buf.capacity() > 1 << 20 {
        buf.shrink_to(64 << 10);
    }
    reader.get_mut().inner.get_mut().since_event = 0;
    match reader.read_event_into(buf) {
        Ok(event) => Ok(event),
        Err(e) => Err(reader.get_ref().failure(&e)),
    }
}

/// One entry being read, counted against its archive's budget.
pub(crate) struct Entry<'z, 'a> {
    inner: BufReader<Counted<'z, 'a>>,
    part: String,
    label: &'static str,
}

impl Entry<'_, '_> {
    /// The error for a failed read of this entry.
    pub(crate) fn failure(&self, error: &dyn std::fmt::Display) -> ParseError {
        let counted = self.inner.get_ref();
        if counted.used.get() > counted.limit {
            return ParseError::TooLarge(format!(
                "The {} file unpacks to more than {} MiB; it was rejected as a possible zip bomb.",
                self.label,
                mib(counted.limit)
            ));
        }
        if counted.since_event > counted.event_limit {
            return ParseError::TooLarge(format!(
                "The {} file's part {} holds a single XML element or text run over {} MiB; it was rejected.",
                self.label,
                self.part,
                mib(MAX_EVENT)
            ));
        }
        ParseError::Invalid(format!(
            "The {} file is damaged: its part {} cannot be read ({error}).",
            self.label, self.part
        ))
    }
}

impl Read for Entry<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl BufRead for Entry<'_, '_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
    }
}

/// Counts the bytes an entry inflates to into the archive's shared total and fails
/// once the total passes the limit, or, for an entry read as XML, once one event has
/// run past `event_limit` ([`MAX_EVENT`]; `since_event` is reset by [`next_event`]).
struct Counted<'z, 'a> {
    file: ZipFile<'z, Cursor<&'a [u8]>>,
    used: &'z Cell<u64>,
    limit: u64,
    since_event: u64,
    event_limit: u64,
}

impl Read for Counted<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        let used = self.used.get().saturating_add(n as u64);
        self.used.set(used);
        self.since_event = self.since_event.saturating_add(n as u64);
        if used > self.limit || self.since_event > self.event_limit {
            return Err(io::Error::other("unpack budget exceeded"));
        }
        Ok(n)
    }
}

/// The text of a TextBundle archive (`.textpack`): its `text.md`, `text.markdown` or
/// `text.txt`, at the top level or inside the one bundle folder.
pub(crate) fn textpack(bytes: &[u8], options: &Options) -> Result<String, ParseError> {
    const NAMES: [&str; 3] = ["text.md", "text.markdown", "text.txt"];
    let mut archive = Archive::open(bytes, "TextPack", options)?;
    let rank = |name: &str| {
        let (folder, file) = name.rsplit_once('/').unwrap_or(("", name));
        let nested = folder.contains('/') || folder.starts_with("__MACOSX");
        NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(file))
            .filter(|_| !nested)
            .map(|position| (position, !folder.is_empty()))
    };
    let best = archive
        .names()
        .filter_map(|name| rank(name).map(|r| (r, name.to_owned())))
        .min()
        .map(|(_, name)| name);
    let Some(name) = best else {
        return Err(missing("TextPack", "text.md (or text.markdown, text.txt)"));
    };
    let content = archive
        .read(&name, options.max_text_bytes)?
        .unwrap_or_default();
    let body = text::utf8(&content, &format!("The TextPack file's {name}"))?;
    let mut out = Out::new(options.max_text_bytes);
    out.push_str(body);
    out.finish("TextPack")
}
