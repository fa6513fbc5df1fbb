//! The workspace archive: one file that moves a workspace between servers.
//!
//! A gzipped tar holding the engine's files under `data/`, the workspace's input
//! files under `input/` (uploads not parsed yet, and the archive of parsed ones), and,
//! last, `manifest.json`: the format and version, the workspace it came from, its limit
//! overrides, and every file with its size and SHA-256. Writing the manifest last lets
//! the archive be written in one pass; reading checks every file against it, so a
//! truncated or altered archive is refused before anything is installed.
//!
//! This module only reads and writes archives; capturing a consistent set of files
//! from a live workspace, and installing an unpacked one, are the service's.

use crate::limits::Overrides;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};

/// The manifest's `format`.
pub const FORMAT: &str = "lightrag-wasm-workspace";
/// The layout version this server writes and reads.
pub const VERSION: u32 = 1;
const MANIFEST: &str = "manifest.json";

/// What an archive holds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    /// The workspace it was exported from.
    pub workspace: String,
    /// RFC 3339.
    pub exported_at: String,
    /// The exporting server's version.
    pub server_version: String,
    #[serde(default)]
    pub limits: Overrides,
    pub files: Vec<FileEntry>,
}

/// One file of the archive.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    /// `data/<name>` or `input/<relative path>`.
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// A file to put in an archive: its archive path, where to read it, and how many
/// bytes of it belong to the capture (files that grow by appending are cut there).
#[derive(Clone, Debug)]
pub struct Captured {
    pub path: String,
    pub source: PathBuf,
    pub bytes: u64,
}

/// Why an archive was refused.
#[derive(Debug)]
pub enum ArchiveError {
    /// Not an archive of ours, or damaged: the message says what.
    Invalid(String),
    Io(io::Error),
}

impl std::fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArchiveError::Invalid(why) => write!(f, "not a valid workspace archive: {why}"),
            ArchiveError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ArchiveError {}

impl From<io::Error> for ArchiveError {
    fn from(e: io::Error) -> Self {
        ArchiveError::Io(e)
    }
}

fn invalid(why: impl Into<String>) -> ArchiveError {
    ArchiveError::Invalid(why.into())
}

/// Writes `files` and then the manifest (with their digests) to `out`. Blocking.
pub fn write(
    out: &Path,
    workspace: &str,
    limits: &Overrides,
    files: &[Captured],
) -> Result<Manifest, ArchiveError> {
    let file = File::create(out)?;
    let mut tar = tar::Builder::new(GzEncoder::new(BufWriter::new(file), Compression::fast()));
    let mut entries = Vec::with_capacity(files.len());
    for captured in files {
        check_path(&captured.path)?;
        let source = File::open(&captured.source)?;
        let mut hashing = HashingReader::new(source.take(captured.bytes));
        let mut header = tar::Header::new_gnu();
        header.set_size(captured.bytes);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, &captured.path, &mut hashing)?;
        if hashing.count != captured.bytes {
            return Err(ArchiveError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} shrank while being archived", captured.path),
            )));
        }
        entries.push(FileEntry {
            path: captured.path.clone(),
            bytes: captured.bytes,
            sha256: hex::encode(hashing.hasher.finalize()),
        });
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        version: VERSION,
        workspace: workspace.into(),
        exported_at: chrono::Utc::now().to_rfc3339(),
        server_version: env!("CARGO_PKG_VERSION").into(),
        limits: *limits,
        files: entries,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(io::Error::other)?;
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, MANIFEST, json.as_slice())?;
    let gz = tar.into_inner()?;
    let mut writer = gz.finish()?;
    writer.flush()?;
    writer
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    Ok(manifest)
}

/// Unpacks `archive` into `into` (which must be empty): `data/` and `input/` below
/// it. Every file is checked against the manifest; anything else in the archive, a
/// path that would leave `into`, or a missing or altered file refuses the whole
/// archive. Blocking.
pub fn unpack(archive: impl Read, into: &Path) -> Result<Manifest, ArchiveError> {
    let mut tar = tar::Archive::new(GzDecoder::new(archive));
    let mut seen: Vec<FileEntry> = Vec::new();
    let mut manifest: Option<Manifest> = None;
    let entries = tar
        .entries()
        .map_err(|e| invalid(format!("cannot read it as a gzipped tar: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| invalid(format!("damaged or cut short: {e}")))?;
        if manifest.is_some() {
            return Err(invalid("entries after the manifest"));
        }
        let path = entry
            .path()
            .map_err(|e| invalid(format!("bad entry name: {e}")))?
            .to_string_lossy()
            .into_owned();
        if !entry.header().entry_type().is_file() {
            return Err(invalid(format!("{path}: only regular files may be in it")));
        }
        if path == MANIFEST {
            let mut json = Vec::new();
            entry
                .by_ref()
                .take(1 << 20)
                .read_to_end(&mut json)
                .map_err(|e| invalid(format!("damaged manifest: {e}")))?;
            manifest = Some(
                serde_json::from_slice(&json)
                    .map_err(|e| invalid(format!("unreadable manifest: {e}")))?,
            );
            continue;
        }
        let relative = check_path(&path)?;
        let target = into.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut out = File::options()
            .write(true)
            .create_new(true)
            .open(&target)
            .map_err(|e| match e.kind() {
                io::ErrorKind::AlreadyExists => invalid(format!("{path} appears twice")),
                _ => ArchiveError::Io(e),
            })?;
        // A read that fails is a damaged archive; a write that fails, our disk.
        let mut hashing = HashingReader::new(&mut entry);
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = hashing
                .read(&mut buffer)
                .map_err(|e| invalid(format!("{path} is damaged or cut short: {e}")))?;
            if n == 0 {
                break;
            }
            out.write_all(&buffer[..n])?;
        }
        out.sync_all()?;
        seen.push(FileEntry {
            path,
            bytes: hashing.count,
            sha256: hex::encode(hashing.hasher.finalize()),
        });
    }
    let manifest = manifest.ok_or_else(|| invalid("no manifest (is it cut short?)"))?;
    if manifest.format != FORMAT {
        return Err(invalid(format!("format {:?}", manifest.format)));
    }
    if manifest.version != VERSION {
        return Err(invalid(format!(
            "layout version {} (this server reads {VERSION})",
            manifest.version
        )));
    }
    for listed in &manifest.files {
        match seen.iter().find(|f| f.path == listed.path) {
            Some(found) if found == listed => {}
            Some(_) => {
                return Err(invalid(format!(
                    "{} differs from its manifest",
                    listed.path
                )));
            }
            None => return Err(invalid(format!("{} is missing", listed.path))),
        }
    }
    if let Some(extra) = seen
        .iter()
        .find(|f| !manifest.files.iter().any(|l| l.path == f.path))
    {
        return Err(invalid(format!("{} is not in the manifest", extra.path)));
    }
    Ok(manifest)
}

/// `data/<name>` or `input/<relative path>` of plain names only; returns it as a
/// relative path.
fn check_path(path: &str) -> Result<PathBuf, ArchiveError> {
    let relative = Path::new(path);
    let mut components = relative.components();
    let top = components.next();
    let rest: Vec<_> = components.collect();
    let plain = rest.iter().all(|c| matches!(c, Component::Normal(_)));
    let ok = match top {
        Some(Component::Normal(top)) if top == "data" => rest.len() == 1 && plain,
        Some(Component::Normal(top)) if top == "input" => !rest.is_empty() && plain,
        _ => false,
    };
    if ok {
        Ok(relative.to_path_buf())
    } else {
        Err(invalid(format!("{path:?} is not a workspace file")))
    }
}

/// Counts and hashes what passes through.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(dir: &Path, files: &[(&str, &[u8])]) -> Vec<Captured> {
        files
            .iter()
            .map(|(path, contents)| {
                let source = dir.join(path.replace('/', "_"));
                std::fs::write(&source, contents).unwrap();
                Captured {
                    path: path.to_string(),
                    source,
                    bytes: contents.len() as u64,
                }
            })
            .collect()
    }

    #[test]
    fn a_written_archive_unpacks_to_the_same_files() {
        let dir = tempfile::tempdir().unwrap();
        let files = capture(
            dir.path(),
            &[
                ("data/engine.snap", b"snapshot"),
                ("data/engine.jrnl", b"journal"),
                ("input/__parsed__/a.pdf", b"%PDF"),
            ],
        );
        let out = dir.path().join("ws.tar.gz");
        let limits = Overrides::default();
        let written = write(&out, "alpha", &limits, &files).unwrap();
        let into = dir.path().join("unpacked");
        std::fs::create_dir(&into).unwrap();
        let read = unpack(File::open(&out).unwrap(), &into).unwrap();
        assert_eq!(read, written);
        assert_eq!(read.workspace, "alpha");
        assert_eq!(
            std::fs::read(into.join("data/engine.jrnl")).unwrap(),
            b"journal"
        );
        assert_eq!(
            std::fs::read(into.join("input/__parsed__/a.pdf")).unwrap(),
            b"%PDF"
        );
    }

    #[test]
    fn only_the_captured_length_of_a_growing_file_is_archived() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = capture(dir.path(), &[("data/engine.jrnl", b"committed|torn")]);
        files[0].bytes = "committed".len() as u64;
        let out = dir.path().join("ws.tar.gz");
        write(&out, "w", &Overrides::default(), &files).unwrap();
        let into = dir.path().join("unpacked");
        std::fs::create_dir(&into).unwrap();
        unpack(File::open(&out).unwrap(), &into).unwrap();
        assert_eq!(
            std::fs::read(into.join("data/engine.jrnl")).unwrap(),
            b"committed"
        );
    }

    #[test]
    fn a_cut_or_altered_archive_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let files = capture(dir.path(), &[("data/engine.snap", &[7u8; 5000])]);
        let out = dir.path().join("ws.tar.gz");
        write(&out, "w", &Overrides::default(), &files).unwrap();
        let bytes = std::fs::read(&out).unwrap();
        let try_unpack = |bytes: &[u8]| {
            let into = tempfile::tempdir().unwrap();
            unpack(bytes, into.path()).map(|_| ())
        };
        assert!(try_unpack(&bytes).is_ok());
        let cut = try_unpack(&bytes[..bytes.len() / 2]).unwrap_err();
        assert!(matches!(cut, ArchiveError::Invalid(_)), "{cut}");
        assert!(try_unpack(b"not an archive").is_err());

        // A file swapped for another of the same size.
        let tampered = dir.path().join("t.tar.gz");
        let mut tar = tar::Builder::new(GzEncoder::new(
            File::create(&tampered).unwrap(),
            Compression::fast(),
        ));
        let mut header = tar::Header::new_gnu();
        header.set_size(5000);
        header.set_cksum();
        tar.append_data(&mut header, "data/engine.snap", &[8u8; 5000][..])
            .unwrap();
        let manifest = {
            let into = tempfile::tempdir().unwrap();
            unpack(bytes.as_slice(), into.path()).unwrap()
        };
        let json = serde_json::to_vec(&manifest).unwrap();
        let mut header = tar::Header::new_gnu();
        header.set_size(json.len() as u64);
        header.set_cksum();
        tar.append_data(&mut header, MANIFEST, json.as_slice())
            .unwrap();
        tar.into_inner().unwrap().finish().unwrap();
        let err = try_unpack(&std::fs::read(&tampered).unwrap()).unwrap_err();
        assert!(err.to_string().contains("differs"), "{err}");
    }

    #[test]
    fn paths_outside_the_workspace_are_refused() {
        for bad in [
            "../x",
            "data/../../x",
            "/etc/passwd",
            "data/a/b",
            "other/x",
            "data",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        for good in [
            "data/engine.snap",
            "input/a.txt",
            "input/__parsed__/a_001.pdf",
        ] {
            assert!(check_path(good).is_ok(), "{good}");
        }
    }
}
