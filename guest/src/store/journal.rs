//! The journal's file format: a header (magic with the layout of its operations, and
//! the generation of the snapshot it follows), then records of `length, CRC-32,
//! payload`. Read one record at a time, so replaying a long journal needs memory for
//! one record, not the file.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

/// Journals whose operations have the layout the state writes today.
pub const MAGIC: &[u8; 8] = b"LRJRNL04";
/// The layout of today's operations.
pub const LAYOUT: u8 = 4;
/// Journals of earlier operation layouts, which the state converts on replay.
const OLDER: [(&[u8; 8], u8); 3] = [(b"LRJRNL01", 1), (b"LRJRNL02", 2), (b"LRJRNL03", 3)];
/// Magic + generation.
pub const HEADER: u64 = 16;
/// Length + CRC-32 before each record's payload.
pub const RECORD_HEADER: usize = 8;
/// A record larger than this is treated as corruption rather than allocated.
pub const MAX_RECORD: u32 = 1 << 30;

/// What a journal's header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// [`LAYOUT`] for [`MAGIC`], or an earlier layout's number.
    pub layout: u8,
    pub generation: u64,
}

/// Reads a journal's header; `None` if the file is missing, short or not a journal.
pub fn read_header(path: &Path) -> io::Result<Option<Header>> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    let mut header = [0u8; HEADER as usize];
    if file.read_exact(&mut header).is_err() {
        return Ok(None);
    }
    let layout = if &header[..8] == MAGIC {
        LAYOUT
    } else if let Some((_, layout)) = OLDER.iter().find(|(magic, _)| header[..8] == magic[..]) {
        *layout
    } else {
        return Ok(None);
    };
    let generation = u64::from_le_bytes(header[8..].try_into().unwrap_or_default());
    Ok(Some(Header { layout, generation }))
}

/// Writes an empty journal (current layout) of `generation` at `path`, synced.
pub fn write_header(path: &Path, generation: u64) -> io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(MAGIC)?;
    file.write_all(&generation.to_le_bytes())?;
    file.sync_all()
}

/// One record, framed.
pub fn frame(payload: &[u8]) -> Option<Vec<u8>> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&len| len <= MAX_RECORD)?;
    let mut record = Vec::with_capacity(RECORD_HEADER + payload.len());
    record.extend_from_slice(&len.to_le_bytes());
    record.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    record.extend_from_slice(payload);
    Some(record)
}

/// The intact records of a journal, in order, after its header.
pub struct Records {
    reader: BufReader<File>,
    /// Offset of the next record: after the loop, where the intact part ends.
    pub end: u64,
    payload: Vec<u8>,
}

impl Records {
    pub fn open(path: &Path) -> io::Result<Records> {
        let mut reader = BufReader::with_capacity(1 << 16, File::open(path)?);
        let mut header = [0u8; HEADER as usize];
        reader.read_exact(&mut header)?;
        Ok(Records {
            reader,
            end: HEADER,
            payload: Vec::new(),
        })
    }

    /// The next intact record's payload; `None` at the end or at the first record
    /// whose length or checksum does not check out (a torn write), which ends the
    /// journal.
    pub fn next_payload(&mut self) -> Option<&[u8]> {
        let mut header = [0u8; RECORD_HEADER];
        self.reader.read_exact(&mut header).ok()?;
        let len = u32::from_le_bytes(header[..4].try_into().ok()?);
        let crc = u32::from_le_bytes(header[4..].try_into().ok()?);
        if len > MAX_RECORD {
            return None;
        }
        self.payload.clear();
        // `take` reads at most what is there: a torn record yields fewer bytes, not a
        // huge allocation up front.
        (&mut self.reader)
            .take(u64::from(len))
            .read_to_end(&mut self.payload)
            .ok()?;
        if self.payload.len() != len as usize || crc32fast::hash(&self.payload) != crc {
            return None;
        }
        self.end += (RECORD_HEADER + len as usize) as u64;
        Some(&self.payload)
    }
}
