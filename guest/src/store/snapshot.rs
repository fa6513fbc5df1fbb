//! The snapshot's file format, written and read as a stream.
//!
//! Layout: magic (`LRSNP3` and the state's layout version in two ASCII digits),
//! generation, blob epoch, payload length, XXH3-64 of the payload, postcard payload.
//! Snapshots of the earlier headers are still read: `LRSNP2` (the same fields with a
//! CRC-32) and `LRSNAP` (no epoch, CRC-32).
//!
//! The checksum is XXH3 because opening a large workspace checks every byte of its
//! snapshot: in wasm, without a carry-less multiply, CRC-32 ran at 1.5 GB/s, a fifth
//! of opening a 20,000-chunk workspace, where XXH3 (with SIMD128) runs at 10-16 GB/s.
//!
//! Neither direction holds an encoded copy of the state: writing encodes straight into
//! the file, reading decodes straight from it while the checksum is computed on the
//! way, so opening a workspace needs the memory of its state and little more. A
//! snapshot of an earlier state layout is decoded from the same stream and converted.

use super::journaled::{Journaled, StoreError};
use postcard::de_flavors::Flavor;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Today's header: with the blob epoch and an XXH3-64 checksum.
const PREFIX: &[u8; 6] = b"LRSNP3";
const HEADER: u64 = 40;
/// The header with the blob epoch and a CRC-32.
const PREFIX_V2: &[u8; 6] = b"LRSNP2";
const HEADER_V2: u64 = 36;
/// The first header: magic, generation, length, CRC-32.
const PREFIX_V1: &[u8; 6] = b"LRSNAP";
const HEADER_V1: u64 = 28;

/// A snapshot as read.
pub struct Loaded<S> {
    pub state: S,
    pub generation: u64,
    pub epoch: u64,
    /// Bytes of the file.
    pub len: u64,
    /// Whether it was written in an earlier layout (header or state), so the state
    /// must be written again in today's.
    pub older: bool,
}

/// Writes the snapshot of `state` to `engine.snap.tmp` and renames it over
/// `engine.snap`; returns its size. The caller makes the rename durable.
pub fn write<S: Journaled>(
    dir: &Path,
    generation: u64,
    epoch: u64,
    state: &S,
) -> Result<u64, StoreError> {
    let tmp = dir.join("engine.snap.tmp");
    let mut file = File::create(&tmp)?;
    file.write_all(PREFIX)?;
    file.write_all(format!("{:02}", S::FORMAT).as_bytes())?;
    file.write_all(&generation.to_le_bytes())?;
    file.write_all(&epoch.to_le_bytes())?;
    file.write_all(&[0; 16])?;
    let mut out = BufWriter::with_capacity(
        1 << 16,
        Checksummed {
            file,
            sum: Checksum::Xxh3(Box::default()),
            len: 0,
            failure: None,
        },
    );
    let encoded = postcard::to_io(state, &mut out).map(|_| ());
    let flushed = out.into_inner().map_err(|e| e.into_error());
    let mut payload = match (encoded, flushed) {
        (Ok(()), Ok(payload)) => payload,
        // The encoder reports a failed write only as "buffer full"; the writer kept
        // the real error, which tells a full disk from other failures.
        (_, Err(err)) => return Err(err.into()),
        (Err(err), Ok(payload)) => {
            return Err(match payload.failure {
                Some(kind) => io::Error::from(kind).into(),
                None => StoreError::Io(format!("cannot encode the snapshot: {err}")),
            });
        }
    };
    payload.file.seek(SeekFrom::Start(24))?;
    payload.file.write_all(&payload.len.to_le_bytes())?;
    payload
        .file
        .write_all(&payload.sum.finish().to_le_bytes())?;
    payload.file.sync_all()?;
    drop(payload.file);
    // Nothing after the rename may fail here: once it happened the caller must know.
    fs::rename(&tmp, dir.join("engine.snap"))?;
    Ok(HEADER + payload.len)
}

/// The snapshot file behind its header: checksums and counts what is written, and
/// keeps the kind of the first failed write.
struct Checksummed {
    file: File,
    sum: Checksum,
    len: u64,
    failure: Option<io::ErrorKind>,
}

impl Write for Checksummed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf).inspect_err(|err| {
            self.failure.get_or_insert(err.kind());
        })?;
        self.sum.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Reads the snapshot at `path`; `None` when there is none. A damaged snapshot is an
/// error, not an empty workspace: silently starting empty would look like data loss.
pub fn read<S: Journaled>(path: &Path) -> Result<Option<Loaded<S>>, StoreError> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    let damaged = || StoreError::Io(format!("snapshot {} is damaged", path.display()));
    let mut header = [0u8; HEADER as usize];
    let file_len = file.metadata()?.len();
    file.read_exact(&mut header[..HEADER_V1 as usize])
        .map_err(|_| damaged())?;
    let word = |header: &[u8], at: usize| {
        u64::from_le_bytes(header[at..at + 8].try_into().unwrap_or_default())
    };
    let format = std::str::from_utf8(&header[6..8])
        .ok()
        .and_then(|digits| digits.parse::<u8>().ok())
        .ok_or_else(damaged)?;
    let crc_at = |header: &[u8], at: usize| {
        u64::from(u32::from_le_bytes(
            header[at..at + 4].try_into().unwrap_or_default(),
        ))
    };
    let crc32 = || Checksum::Crc32(crc32fast::Hasher::new());
    let (generation, epoch, len, expected, sum, header_len) = match &header[..6] {
        prefix if prefix == PREFIX => {
            file.read_exact(&mut header[HEADER_V1 as usize..])
                .map_err(|_| damaged())?;
            let (generation, epoch, len) = (word(&header, 8), word(&header, 16), word(&header, 24));
            let sum = Checksum::Xxh3(Box::default());
            (generation, epoch, len, word(&header, 32), sum, HEADER)
        }
        prefix if prefix == PREFIX_V2 => {
            file.read_exact(&mut header[HEADER_V1 as usize..HEADER_V2 as usize])
                .map_err(|_| damaged())?;
            let (generation, epoch, len) = (word(&header, 8), word(&header, 16), word(&header, 24));
            (
                generation,
                epoch,
                len,
                crc_at(&header, 32),
                crc32(),
                HEADER_V2,
            )
        }
        prefix if prefix == PREFIX_V1 => {
            let (generation, len) = (word(&header, 8), word(&header, 16));
            (generation, 0, len, crc_at(&header, 24), crc32(), HEADER_V1)
        }
        _ => return Err(damaged()),
    };
    if format > S::FORMAT {
        return Err(StoreError::Io(format!(
            "snapshot {} was written by a newer server (layout {format}, this one reads up \
             to {}); upgrade the server",
            path.display(),
            S::FORMAT
        )));
    }
    if file_len != header_len + len {
        return Err(damaged());
    }
    // The checksum is computed under the stream's buffer, on whole blocks, so the
    // bytes buffered but not decoded are counted already.
    let mut reader = SumReader { inner: file, sum };
    let state = {
        let flavor = Stream::new(&mut reader, len);
        let mut deserializer = postcard::Deserializer::from_flavor(flavor);
        let state = if format == S::FORMAT {
            S::deserialize(&mut deserializer).ok()
        } else {
            S::decode_older(format, &mut deserializer)
        };
        let left = deserializer.finalize().map_err(|_| damaged())?;
        state.filter(|_| left == 0)
    };
    // Whatever the decoder left unread still counts towards the checksum.
    io::copy(&mut reader, &mut io::sink())?;
    if reader.sum.finish() != expected {
        return Err(damaged());
    }
    Ok(Some(Loaded {
        state: state.ok_or_else(damaged)?,
        generation,
        epoch,
        len: file_len,
        older: header_len != HEADER || format != S::FORMAT,
    }))
}

/// A snapshot's checksum, by the header that names it.
enum Checksum {
    Crc32(crc32fast::Hasher),
    /// Boxed: the streaming state holds a 256-byte buffer and the secret.
    Xxh3(Box<xxhash_rust::xxh3::Xxh3>),
}

impl Checksum {
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Checksum::Crc32(crc) => crc.update(bytes),
            Checksum::Xxh3(sum) => sum.update(bytes),
        }
    }

    /// The checksum of everything given, as the header stores it (a CRC-32 widened).
    fn finish(&self) -> u64 {
        match self {
            Checksum::Crc32(crc) => u64::from(crc.clone().finalize()),
            Checksum::Xxh3(sum) => sum.digest(),
        }
    }
}

/// Computes the checksum of everything read through it.
struct SumReader<R> {
    inner: R,
    sum: Checksum,
}

impl<R: Read> Read for SumReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sum.update(&buf[..n]);
        Ok(n)
    }
}

/// A postcard input that reads the payload as it goes, through its own buffer. Every
/// value the state holds is owned (copied out of the input), so only one value's bytes
/// are held at a time; a length that runs past the payload is an error before anything
/// is allocated. Varints are read a byte at a time, millions of them in a large
/// workspace, so a byte is taken straight from the buffer rather than through a
/// `read` call each.
struct Stream<'r, R> {
    reader: &'r mut R,
    buf: Vec<u8>,
    /// Unread bytes are `buf[pos..end]`.
    pos: usize,
    end: usize,
    /// Payload bytes not yet handed to the decoder.
    remaining: u64,
    temp: Vec<u8>,
}

impl<'r, R: Read> Stream<'r, R> {
    fn new(reader: &'r mut R, len: u64) -> Self {
        Stream {
            reader,
            buf: vec![0; 1 << 16],
            pos: 0,
            end: 0,
            remaining: len,
            temp: Vec::new(),
        }
    }

    /// Refills the empty buffer; false at the end of the file or on an error.
    fn refill(&mut self) -> bool {
        match self.reader.read(&mut self.buf) {
            Ok(n) if n > 0 => {
                (self.pos, self.end) = (0, n);
                true
            }
            _ => false,
        }
    }
}

impl<'de, 'r: 'de, R: Read + 'de> Flavor<'de> for Stream<'r, R> {
    type Remainder = u64;
    type Source = ();

    fn pop(&mut self) -> postcard::Result<u8> {
        if self.remaining == 0 || (self.pos == self.end && !self.refill()) {
            return Err(postcard::Error::DeserializeUnexpectedEnd);
        }
        let byte = self.buf[self.pos];
        self.pos += 1;
        self.remaining -= 1;
        Ok(byte)
    }

    fn size_hint(&self) -> Option<usize> {
        usize::try_from(self.remaining).ok()
    }

    fn try_take_n(&mut self, _: usize) -> postcard::Result<&'de [u8]> {
        // Borrowing from the input is impossible when reading a stream, and the
        // state's types never ask for it.
        Err(postcard::Error::DeserializeBadEncoding)
    }

    fn try_take_n_temp<'a>(&'a mut self, ct: usize) -> postcard::Result<&'a [u8]>
    where
        'de: 'a,
    {
        if ct as u64 > self.remaining {
            return Err(postcard::Error::DeserializeUnexpectedEnd);
        }
        self.remaining -= ct as u64;
        if self.end - self.pos >= ct {
            let at = self.pos;
            self.pos += ct;
            return Ok(&self.buf[at..at + ct]);
        }
        // Longer than what is buffered: what is, then the rest straight from the file.
        self.temp.clear();
        self.temp.extend_from_slice(&self.buf[self.pos..self.end]);
        self.pos = self.end;
        let buffered = self.temp.len();
        self.temp.resize(ct, 0);
        self.reader
            .read_exact(&mut self.temp[buffered..])
            .map_err(|_| postcard::Error::DeserializeUnexpectedEnd)?;
        Ok(&self.temp)
    }

    fn finalize(self) -> postcard::Result<u64> {
        Ok(self.remaining)
    }
}
