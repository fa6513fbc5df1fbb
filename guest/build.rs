//! Build script: turns tiktoken's `o200k_base` vocabulary into four static binary
//! tables that `src/tokenizer.rs` embeds with `include_bytes!`.
//!
//! Why tables and not a `HashMap` built at start-up: the engine runs as one wasm
//! instance per workspace. Data embedded with `include_bytes!` lands in the module's
//! data segment, which the host maps copy-on-write and shares between every instance,
//! so the ~4 MB vocabulary costs no start-up time and no per-instance heap. A map
//! built at run time would cost both, in every instance.
//!
//! The script always runs natively (also when the crate targets `wasm32`), and it
//! runs on every clean build, so it only does one pass over the vocabulary.
//!
//! Files written to `OUT_DIR` (all integers are `u32` little-endian):
//!
//! * `o200k_bytes.bin` — every ordinary token's bytes, concatenated in rank order.
//! * `o200k_offsets.bin` — `n + 1` offsets: token `r` is `bytes[off[r]..off[r + 1]]`.
//! * `o200k_hash.bin` — an open-addressing hash table from token bytes to rank. Its
//!   slot count is a power of two at least 2.5 × `n`; a slot holds `rank + 1`, or `0`
//!   when empty. The slot of a byte string is [`slot_hash`] masked to the table size
//!   (FNV-1a 64 over the bytes, its high half xor-folded into its low half), and
//!   collisions probe linearly to the next slot, wrapping at the end.
//! * `o200k_byte_ranks.bin` — 256 entries: the rank of each single byte, where every
//!   byte-pair merge starts (saves a hash lookup per byte).
//!
//! `src/tokenizer.rs` must compute exactly the same hash; its tests check that every
//! token is found at its own rank.

use std::env;
use std::fs;
use std::path::PathBuf;

/// The number of ordinary (non-special) tokens in `o200k_base`: ranks `0..=199_997`.
/// Ranks from 199_998 up are unused or special tokens, which `encode_ordinary` never
/// produces.
const EXPECTED_TOKENS: u32 = 199_998;

/// FNV-1a 64 over `bytes`, xor-folded to mix the high bits into the low ones (the
/// table index uses the low bits). Must match `slot_hash` in `src/tokenizer.rs`.
fn slot_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ (h >> 32)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");

    let bpe = tiktoken_rs::o200k_base().expect("tiktoken-rs failed to load o200k_base");

    // Enumerate ranks 0, 1, 2, … until the first rank that has no token: that is the
    // end of the contiguous ordinary vocabulary. Special tokens sit above it.
    let mut blob: Vec<u8> = Vec::with_capacity(1 << 21);
    let mut offsets: Vec<u32> = Vec::with_capacity(EXPECTED_TOKENS as usize + 1);
    offsets.push(0);
    let mut n: u32 = 0;
    while let Ok(bytes) = bpe.decode_bytes(&[n]) {
        assert!(!bytes.is_empty(), "token {n} is empty");
        blob.extend_from_slice(&bytes);
        offsets.push(u32::try_from(blob.len()).expect("vocabulary larger than 4 GiB"));
        n += 1;
    }
    assert_eq!(
        n, EXPECTED_TOKENS,
        "o200k_base's ordinary vocabulary changed size; check the tokenizer's assumptions"
    );

    // Slot count: the smallest power of two >= 2.5 × n (load factor <= 0.4).
    let min_slots = (n as usize) * 5 / 2;
    let slots = min_slots.next_power_of_two();
    let mask = slots - 1;
    let mut table = vec![0u32; slots];
    let mut longest_probe = 0usize;
    for rank in 0..n {
        let r = rank as usize;
        let bytes = &blob[offsets[r] as usize..offsets[r + 1] as usize];
        let mut i = (slot_hash(bytes) as usize) & mask;
        let mut probe = 0usize;
        while table[i] != 0 {
            let other = (table[i] - 1) as usize;
            assert!(
                &blob[offsets[other] as usize..offsets[other + 1] as usize] != bytes,
                "tokens {other} and {rank} have the same bytes"
            );
            i = (i + 1) & mask;
            probe += 1;
        }
        table[i] = rank + 1;
        longest_probe = longest_probe.max(probe);
    }

    // BPE starts from single bytes, so every byte must be a token (or some inputs could
    // not be encoded); their ranks get a table of their own.
    let mut byte_ranks = [0u32; 256];
    for (b, rank) in (0..=255u8).zip(byte_ranks.iter_mut()) {
        let mut i = (slot_hash(&[b]) as usize) & mask;
        loop {
            let slot = table[i];
            assert!(slot != 0, "byte {b:#04x} is not a token");
            let r = (slot - 1) as usize;
            if blob[offsets[r] as usize..offsets[r + 1] as usize] == [b] {
                *rank = slot - 1;
                break;
            }
            i = (i + 1) & mask;
        }
    }

    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is not set"));
    fs::write(out.join("o200k_bytes.bin"), &blob).expect("write o200k_bytes.bin");
    fs::write(out.join("o200k_offsets.bin"), le_bytes(&offsets)).expect("write offsets");
    fs::write(out.join("o200k_hash.bin"), le_bytes(&table)).expect("write o200k_hash.bin");
    fs::write(out.join("o200k_byte_ranks.bin"), le_bytes(&byte_ranks)).expect("write byte ranks");
    // Visible with `cargo build -vv`; useful when tuning the table.
    println!(
        "o200k tables: {n} tokens, {} token bytes, {slots} hash slots, longest probe {longest_probe}",
        blob.len()
    );
}

fn le_bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}
