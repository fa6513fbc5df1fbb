//! The journal and snapshot under torn writes, flipped bits, stale journals, quotas,
//! failed compactions and layout changes.

use super::*;
use crate::payload::{Kind, Text};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Default, Serialize, Deserialize, Debug, PartialEq)]
struct Kv(BTreeMap<String, u32>);

#[derive(Serialize, Deserialize)]
enum KvOp {
    Put(String, u32),
    Del(String),
}

impl Journaled for Kv {
    type Op = KvOp;
    fn apply(&mut self, op: KvOp) {
        match op {
            KvOp::Put(k, v) => {
                self.0.insert(k, v);
            }
            KvOp::Del(k) => {
                self.0.remove(&k);
            }
        }
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lr-store-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

#[test]
fn commits_survive_reopen_with_and_without_compaction() {
    let dir = temp_dir("reopen");
    let (mut store, _) = Store::<Kv>::open(&dir).unwrap();
    store
        .commit(vec![KvOp::Put("a".into(), 1), KvOp::Put("b".into(), 2)])
        .unwrap();
    store.commit(vec![KvOp::Del("a".into())]).unwrap();
    drop(store);
    let (mut store, recovery) = Store::<Kv>::open(&dir).unwrap();
    assert_eq!(recovery.replayed, 2);
    assert_eq!(store.state().0.get("b"), Some(&2));
    assert!(!store.state().0.contains_key("a"));
    store.compact().unwrap();
    store.commit(vec![KvOp::Put("c".into(), 3)]).unwrap();
    drop(store);
    let (store, recovery) = Store::<Kv>::open(&dir).unwrap();
    assert_eq!(recovery.replayed, 1);
    assert_eq!(store.state().0.len(), 2);
    fs::remove_dir_all(&dir).unwrap();
}

/// The snapshot is decoded through a 64 KiB buffer: values shorter than what is
/// buffered, longer than the buffer, and straddling refills all come back whole, and
/// a flipped bit anywhere is still caught by the checksum.
#[test]
fn snapshot_values_of_every_size_across_the_read_buffer_round_trip() {
    let dir = temp_dir("stream");
    let (mut store, _) = Store::<Kv>::open(&dir).unwrap();
    let keys: Vec<String> = [0usize, 1, 1000, 65_535, 65_536, 200_000, 7]
        .iter()
        .enumerate()
        .map(|(i, &n)| format!("{i}{}", "k".repeat(n)))
        .collect();
    let ops = keys
        .iter()
        .enumerate()
        .map(|(i, k)| KvOp::Put(k.clone(), i as u32 * 1_000_003))
        .collect();
    store.commit(ops).unwrap();
    store.compact().unwrap();
    let expected = store.state().0.clone();
    drop(store);
    let (store, recovery) = Store::<Kv>::open(&dir).unwrap();
    assert_eq!(recovery.replayed, 0);
    assert_eq!(store.state().0, expected);
    drop(store);
    let path = dir.join("engine.snap");
    let mut bytes = fs::read(&path).unwrap();
    let at = bytes.len() - 70_000;
    bytes[at] ^= 0x10;
    fs::write(&path, &bytes).unwrap();
    assert!(Store::<Kv>::open(&dir).is_err());
    fs::remove_dir_all(&dir).unwrap();
}

/// Every possible torn write of the last record: the earlier records survive and
/// the torn one disappears entirely.
#[test]
fn a_torn_record_is_cut_off_at_every_length() {
    let dir = temp_dir("torn");
    let (mut store, _) = Store::<Kv>::open(&dir).unwrap();
    store.commit(vec![KvOp::Put("kept".into(), 1)]).unwrap();
    let good_len = fs::metadata(dir.join("engine.jrnl")).unwrap().len();
    store
        .commit(vec![KvOp::Put("torn".into(), 2), KvOp::Put("x".into(), 3)])
        .unwrap();
    drop(store);
    let full = fs::read(dir.join("engine.jrnl")).unwrap();
    for cut in good_len as usize..full.len() {
        fs::write(dir.join("engine.jrnl"), &full[..cut]).unwrap();
        let (mut store, recovery) = Store::<Kv>::open(&dir).unwrap();
        assert_eq!(store.state().0.len(), 1, "cut at {cut}");
        assert_eq!(recovery.truncated_bytes, (cut - good_len as usize) as u64);
        // Appending after recovery must be readable again.
        store.commit(vec![KvOp::Put("after".into(), 4)]).unwrap();
        drop(store);
        let (store, _) = Store::<Kv>::open(&dir).unwrap();
        assert_eq!(store.state().0.get("after"), Some(&4), "cut at {cut}");
        fs::write(dir.join("engine.jrnl"), &full).unwrap();
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_flipped_bit_stops_replay_there() {
    let dir = temp_dir("flip");
    let (mut store, _) = Store::<Kv>::open(&dir).unwrap();
    store.commit(vec![KvOp::Put("a".into(), 1)]).unwrap();
    store.commit(vec![KvOp::Put("b".into(), 2)]).unwrap();
    drop(store);
    let mut bytes = fs::read(dir.join("engine.jrnl")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    fs::write(dir.join("engine.jrnl"), &bytes).unwrap();
    let (store, recovery) = Store::<Kv>::open(&dir).unwrap();
    assert_eq!(store.state().0.len(), 1);
    assert!(recovery.truncated_bytes > 0);
    fs::remove_dir_all(&dir).unwrap();
}

/// A crash after the new snapshot is in place but before the journal was replaced:
/// the old journal's records are already in the snapshot and must not apply twice.
#[test]
fn an_old_journal_next_to_a_newer_snapshot_is_ignored() {
    let dir = temp_dir("gen");
    let (mut store, _) = Store::<Kv>::open(&dir).unwrap();
    store.commit(vec![KvOp::Put("a".into(), 1)]).unwrap();
    let old_journal = fs::read(dir.join("engine.jrnl")).unwrap();
    store.commit(vec![KvOp::Del("a".into())]).unwrap();
    // Snapshot holds "a" deleted; put back a journal of the previous generation
    // whose replay would resurrect "a".
    store.compact().unwrap();
    drop(store);
    fs::write(dir.join("engine.jrnl"), &old_journal).unwrap();
    let (store, recovery) = Store::<Kv>::open(&dir).unwrap();
    assert_eq!(recovery.replayed, 0);
    assert!(store.state().0.is_empty());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_quota_refuses_growth_but_keeps_what_is_stored() {
    let dir = temp_dir("quota");
    let (mut store, _) = Store::<Kv>::open(&dir).unwrap();
    store.set_quota(QUOTA_RESERVE + 200);
    store.commit(vec![KvOp::Put("small".into(), 1)]).unwrap();
    let big = "x".repeat(300);
    let err = store.commit(vec![KvOp::Put(big, 2)]).unwrap_err();
    assert!(
        matches!(err, StoreError::Full(ref m) if m.contains("quota")),
        "{err}"
    );
    // The reserve still takes a small bookkeeping write.
    store
        .commit_reserved(vec![KvOp::Put("note".into(), 3)])
        .unwrap();
    drop(store);
    let (store, _) = Store::<Kv>::open(&dir).unwrap();
    assert_eq!(store.state().0.len(), 2);
    fs::remove_dir_all(&dir).unwrap();
}

/// Snapshots written before the XXH3 header (`LRSNP2`, CRC-32) still open, still
/// have their damage caught, and are written again in today's header.
#[test]
fn a_snapshot_with_the_crc32_header_still_opens_and_is_rewritten() {
    let dir = temp_dir("snap-v2");
    let (mut store, _) = Store::<Kv>::open(&dir).unwrap();
    store
        .commit(vec![KvOp::Put("a".into(), 1), KvOp::Put("b".into(), 2)])
        .unwrap();
    store.compact().unwrap();
    let expected = store.state().0.clone();
    drop(store);
    let path = dir.join("engine.snap");
    let today = fs::read(&path).unwrap();
    assert_eq!(&today[..6], b"LRSNP3");
    // The same fields, a 4-byte CRC-32 where the 8-byte XXH3 was.
    let payload = &today[40..];
    let mut v2 = b"LRSNP2".to_vec();
    v2.extend_from_slice(&today[6..32]);
    v2.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    v2.extend_from_slice(payload);
    fs::write(&path, &v2).unwrap();
    let (mut store, _) = Store::<Kv>::open(&dir).unwrap();
    assert_eq!(store.state().0, expected);
    store.commit(vec![KvOp::Put("c".into(), 3)]).unwrap();
    drop(store);
    assert_eq!(&fs::read(&path).unwrap()[..6], b"LRSNP3");
    let (store, _) = Store::<Kv>::open(&dir).unwrap();
    assert_eq!(store.state().0.len(), expected.len() + 1);
    drop(store);
    // A flipped payload bit under the old header is caught by its CRC-32.
    let last = v2.len() - 1;
    v2[last] ^= 1;
    fs::write(&path, &v2).unwrap();
    assert!(Store::<Kv>::open(&dir).is_err());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_damaged_snapshot_is_an_error_not_an_empty_store() {
    let dir = temp_dir("snap");
    let (mut store, _) = Store::<Kv>::open(&dir).unwrap();
    store.commit(vec![KvOp::Put("a".into(), 1)]).unwrap();
    store.compact().unwrap();
    drop(store);
    let mut bytes = fs::read(dir.join("engine.snap")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(dir.join("engine.snap"), &bytes).unwrap();
    assert!(Store::<Kv>::open(&dir).is_err());
    fs::remove_dir_all(&dir).unwrap();
}

/// Regression: once a compaction had renamed its snapshot into place, a failure
/// starting the new journal left commits going to the old generation's journal,
/// which the next open ignores — acknowledged commits vanished.
#[test]
fn a_failed_compaction_never_drops_acknowledged_commits() {
    let dir = temp_dir("failed-compaction");
    let (mut store, _) = Store::<Kv>::open(&dir).unwrap();
    store.commit(vec![KvOp::Put("before".into(), 1)]).unwrap();
    // The new journal is written as engine.jrnl.tmp: a directory there makes that
    // step fail after the snapshot was renamed.
    let obstacle = dir.join("engine.jrnl.tmp");
    fs::create_dir(&obstacle).unwrap();
    assert!(store.compact().is_err());
    let mut acknowledged = vec!["before".to_string()];
    for (i, key) in ["during-1", "during-2"].into_iter().enumerate() {
        if store.commit(vec![KvOp::Put(key.into(), i as u32)]).is_ok() {
            acknowledged.push(key.into());
        }
    }
    fs::remove_dir(&obstacle).unwrap();
    store.commit(vec![KvOp::Put("after".into(), 9)]).unwrap();
    acknowledged.push("after".into());
    drop(store);
    let (store, _) = Store::<Kv>::open(&dir).unwrap();
    for key in &acknowledged {
        assert!(store.state().0.contains_key(key), "{key} was acknowledged");
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn compacting_only_when_worthwhile_leaves_an_unchanged_snapshot_alone() {
    use std::os::unix::fs::MetadataExt;
    let dir = temp_dir("worthwhile");
    let (mut store, _) = Store::<Kv>::open(&dir).unwrap();
    for i in 0..100 {
        store
            .commit(vec![KvOp::Put(format!("key-{i}"), i)])
            .unwrap();
    }
    store.compact_if_worthwhile().unwrap();
    let inode = || fs::metadata(dir.join("engine.snap")).unwrap().ino();
    let first = inode();
    // Nothing changed: no new snapshot.
    store.compact_if_worthwhile().unwrap();
    assert_eq!(inode(), first);
    // One small change against a much larger snapshot: left in the journal.
    store.commit(vec![KvOp::Put("one".into(), 1)]).unwrap();
    store.compact_if_worthwhile().unwrap();
    assert_eq!(inode(), first);
    drop(store);
    let (mut store, recovery) = Store::<Kv>::open(&dir).unwrap();
    assert_eq!(recovery.replayed, 1);
    assert_eq!(store.state().0.len(), 101);
    // Enough changes to matter: compacted.
    for i in 0..50 {
        store.commit(vec![KvOp::Del(format!("key-{i}"))]).unwrap();
    }
    store.compact_if_worthwhile().unwrap();
    assert_ne!(inode(), first);
    fs::remove_dir_all(&dir).unwrap();
}

/// A newer layout of the same data, which still reads the older one.
#[derive(Default, Serialize, Deserialize, Debug, PartialEq)]
struct KvWithCount {
    map: BTreeMap<String, u32>,
    writes: u64,
}

impl Journaled for KvWithCount {
    type Op = KvOp;
    const FORMAT: u8 = 2;
    fn apply(&mut self, op: KvOp) {
        self.writes += 1;
        match op {
            KvOp::Put(k, v) => {
                self.map.insert(k, v);
            }
            KvOp::Del(k) => {
                self.map.remove(&k);
            }
        }
    }
    fn decode_older<'de, F: postcard::de_flavors::Flavor<'de>>(
        format: u8,
        input: &mut postcard::Deserializer<'de, F>,
    ) -> Option<Self> {
        let old: Kv = (format == 1).then(|| Kv::deserialize(input).ok())??;
        Some(KvWithCount {
            map: old.0,
            writes: 0,
        })
    }
}

#[test]
fn a_snapshot_of_an_older_layout_opens_and_a_newer_one_is_refused() {
    let dir = temp_dir("layout");
    let (mut store, _) = Store::<Kv>::open(&dir).unwrap();
    store.commit(vec![KvOp::Put("kept".into(), 7)]).unwrap();
    store.compact().unwrap();
    store
        .commit(vec![KvOp::Put("journaled".into(), 8)])
        .unwrap();
    drop(store);
    let (mut store, _) = Store::<KvWithCount>::open(&dir).unwrap();
    assert_eq!(store.state().map.get("kept"), Some(&7));
    assert_eq!(store.state().map.get("journaled"), Some(&8));
    store.compact().unwrap();
    drop(store);
    let err = Store::<Kv>::open(&dir)
        .err()
        .expect("an older reader refuses");
    assert!(err.to_string().contains("newer server"), "{err}");
    fs::remove_dir_all(&dir).unwrap();
}

/// A state with bulky values, as the engine's tables have.
#[derive(Default, Serialize, Deserialize)]
struct Docs(BTreeMap<String, Text>);

#[derive(Serialize, Deserialize)]
enum DocOp {
    Put(String, Text),
    Del(String),
}

impl Journaled for Docs {
    type Op = DocOp;
    fn apply(&mut self, op: DocOp) {
        match op {
            DocOp::Put(k, v) => {
                self.0.insert(k, v);
            }
            DocOp::Del(k) => {
                self.0.remove(&k);
            }
        }
    }
    fn payloads(&mut self, visit: &mut crate::payload::Visit<'_>) -> io::Result<()> {
        self.0
            .values_mut()
            .try_for_each(|text| visit(Kind::Text, text.payload_mut()))
    }
    fn op_payloads(op: &mut DocOp, visit: &mut crate::payload::Visit<'_>) -> io::Result<()> {
        match op {
            DocOp::Put(_, text) => visit(Kind::Text, text.payload_mut()),
            DocOp::Del(_) => Ok(()),
        }
    }
}

fn text_of(store: &Store<Docs>, key: &str) -> String {
    store.read_text(&store.state().0[key]).unwrap()
}

fn blob_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("engine.blobs."))
        .collect();
    names.sort();
    names
}

#[test]
fn bulky_values_go_to_the_blob_file_and_come_back_after_replay_and_compaction() {
    let dir = temp_dir("blobs");
    let (mut store, _) = Store::<Docs>::open(&dir).unwrap();
    let big = "a long document ".repeat(1000);
    store
        .commit(vec![
            DocOp::Put("big".into(), Text::new(big.clone())),
            DocOp::Put("small".into(), Text::new("tiny")),
        ])
        .unwrap();
    // In memory: a reference for the big value, the small one inline.
    assert_eq!(store.state().0["big"].heap_bytes(), 0);
    assert!(store.state().0["small"].heap_bytes() > 0);
    // The journal holds the reference, not the text.
    assert!(fs::metadata(dir.join("engine.jrnl")).unwrap().len() < 200);
    assert!(store.disk_bytes() > big.len() as u64);
    drop(store);
    let (mut store, recovery) = Store::<Docs>::open(&dir).unwrap();
    assert_eq!(recovery.replayed, 1);
    assert_eq!(text_of(&store, "big"), big);
    assert_eq!(text_of(&store, "small"), "tiny");
    store.compact().unwrap();
    assert!(fs::metadata(dir.join("engine.snap")).unwrap().len() < 200);
    drop(store);
    let (store, _) = Store::<Docs>::open(&dir).unwrap();
    assert_eq!(text_of(&store, "big"), big);
    fs::remove_dir_all(&dir).unwrap();
}

/// Dead values are reclaimed by compaction into the next epoch's file; the old file
/// goes once the snapshot naming the new one is in place.
#[test]
fn compaction_rewrites_a_mostly_dead_blob_file() {
    let dir = temp_dir("blob-gc");
    let (mut store, _) = Store::<Docs>::open(&dir).unwrap();
    let value = |i: usize| format!("{i:08} ").repeat(200_000);
    for i in 0..10 {
        store
            .commit(vec![DocOp::Put(format!("k{i}"), Text::new(value(i)))])
            .unwrap();
    }
    for i in 1..10 {
        store.commit(vec![DocOp::Del(format!("k{i}"))]).unwrap();
    }
    assert_eq!(blob_files(&dir), ["engine.blobs.0"]);
    let before = store.disk_bytes();
    store.compact().unwrap();
    assert_eq!(blob_files(&dir), ["engine.blobs.1"]);
    assert!(
        store.disk_bytes() * 5 < before,
        "{} of {before}",
        store.disk_bytes()
    );
    assert_eq!(text_of(&store, "k0"), value(0));
    // Appends go to the new file and survive a reopen.
    store
        .commit(vec![DocOp::Put("after".into(), Text::new(value(42)))])
        .unwrap();
    drop(store);
    let (store, _) = Store::<Docs>::open(&dir).unwrap();
    assert_eq!(text_of(&store, "k0"), value(0));
    assert_eq!(text_of(&store, "after"), value(42));
    fs::remove_dir_all(&dir).unwrap();
}

/// A compaction whose snapshot cannot be written after the blob file was rewritten
/// leaves the state on the old file, which is complete.
#[test]
fn a_failed_snapshot_after_a_blob_rewrite_keeps_the_old_file() {
    let dir = temp_dir("blob-gc-fail");
    let (mut store, _) = Store::<Docs>::open(&dir).unwrap();
    let value = |i: usize| format!("{i:08} ").repeat(200_000);
    for i in 0..10 {
        store
            .commit(vec![DocOp::Put(format!("k{i}"), Text::new(value(i)))])
            .unwrap();
    }
    for i in 1..10 {
        store.commit(vec![DocOp::Del(format!("k{i}"))]).unwrap();
    }
    let obstacle = dir.join("engine.snap.tmp");
    fs::create_dir(&obstacle).unwrap();
    assert!(store.compact().is_err());
    // The rewritten file was made, then abandoned.
    assert_eq!(blob_files(&dir), ["engine.blobs.0"]);
    assert_eq!(store.blobs().epoch(), 0);
    assert_eq!(text_of(&store, "k0"), value(0));
    store
        .commit(vec![DocOp::Put("during".into(), Text::new(value(7)))])
        .unwrap();
    fs::remove_dir(&obstacle).unwrap();
    drop(store);
    let (mut store, _) = Store::<Docs>::open(&dir).unwrap();
    assert_eq!(text_of(&store, "k0"), value(0));
    assert_eq!(text_of(&store, "during"), value(7));
    store.compact().unwrap();
    assert_eq!(blob_files(&dir), ["engine.blobs.1"]);
    fs::remove_dir_all(&dir).unwrap();
}

/// Values written before a crash that kept their journal record from being written
/// are unreferenced bytes at the end of the blob file: nothing refers to them, and
/// later values go after them.
#[test]
fn values_without_a_record_are_harmless_after_a_crash() {
    let dir = temp_dir("blob-orphans");
    let (mut store, _) = Store::<Docs>::open(&dir).unwrap();
    store
        .commit(vec![DocOp::Put("kept".into(), Text::new("x".repeat(5000)))])
        .unwrap();
    drop(store);
    let blob = dir.join("engine.blobs.0");
    let mut file = OpenOptions::new().append(true).open(&blob).unwrap();
    file.write_all(&[0xAB; 777]).unwrap();
    drop(file);
    let (mut store, _) = Store::<Docs>::open(&dir).unwrap();
    store
        .commit(vec![DocOp::Put("next".into(), Text::new("y".repeat(5000)))])
        .unwrap();
    drop(store);
    let (store, _) = Store::<Docs>::open(&dir).unwrap();
    assert_eq!(text_of(&store, "kept"), "x".repeat(5000));
    assert_eq!(text_of(&store, "next"), "y".repeat(5000));
    fs::remove_dir_all(&dir).unwrap();
}

/// A flipped bit in a stored value is reported when it is read, not returned.
#[test]
fn a_damaged_value_is_an_error_when_read() {
    let dir = temp_dir("blob-damage");
    let (mut store, _) = Store::<Docs>::open(&dir).unwrap();
    store
        .commit(vec![DocOp::Put("v".into(), Text::new("z".repeat(5000)))])
        .unwrap();
    drop(store);
    let blob = dir.join("engine.blobs.0");
    let mut bytes = fs::read(&blob).unwrap();
    let last = bytes.len() - 10;
    bytes[last] ^= 1;
    fs::write(&blob, bytes).unwrap();
    let (store, _) = Store::<Docs>::open(&dir).unwrap();
    let err = store.read_text(&store.state().0["v"]).unwrap_err();
    assert!(err.to_string().contains("damaged"), "{err}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_quota_counts_the_blob_file() {
    let dir = temp_dir("blob-quota");
    let (mut store, _) = Store::<Docs>::open(&dir).unwrap();
    store.set_quota(QUOTA_RESERVE + 20_000);
    store
        .commit(vec![DocOp::Put("a".into(), Text::new("a".repeat(10_000)))])
        .unwrap();
    let err = store
        .commit(vec![DocOp::Put("b".into(), Text::new("b".repeat(10_000)))])
        .unwrap_err();
    assert!(matches!(err, StoreError::Full(_)), "{err}");
    // The refused value's bytes were taken back.
    let blob_len = fs::metadata(dir.join("engine.blobs.0")).unwrap().len();
    assert!(blob_len < 10_100, "{blob_len}");
    drop(store);
    let (store, _) = Store::<Docs>::open(&dir).unwrap();
    assert!(!store.state().0.contains_key("b"));
    fs::remove_dir_all(&dir).unwrap();
}
