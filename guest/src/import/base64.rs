//! Standard base64 (RFC 4648, `+/`, `=` padding), decoding only: the matrix of a
//! NanoVectorDB file is base64 of its float32 rows.
//!
//! The matrix is read a row at a time from the middle of a long string, so decoding
//! works on any whole number of 4-character groups, and [`group_span`] says which
//! groups hold a given byte range. A dozen lines of our own instead of a dependency.

/// The value of a base64 digit, or `None` for any other byte (padding included).
fn digit(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Whether `byte` may appear in base64 text (a digit or padding).
pub fn is_base64(byte: u8) -> bool {
    byte == b'=' || digit(byte).is_some()
}

/// Decodes whole 4-character groups. Padding may only end the text (one or two `=`).
pub fn decode(text: &[u8]) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(4) {
        return Err(format!(
            "base64 text of {} characters is not whole groups of four",
            text.len()
        ));
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let groups = text.len() / 4;
    for (index, group) in text.chunks_exact(4).enumerate() {
        let last = index + 1 == groups;
        let pad = group.iter().rev().take_while(|&&b| b == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return Err(format!("misplaced '=' in base64 group {index}"));
        }
        let mut bits: u32 = 0;
        for &byte in &group[..4 - pad] {
            let value =
                digit(byte).ok_or_else(|| format!("byte 0x{byte:02x} is not a base64 digit"))?;
            bits = bits << 6 | u32::from(value);
        }
        bits <<= 6 * pad as u32;
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - pad]);
    }
    Ok(out)
}

/// The characters of a base64 text of `total_chars` that encode bytes
/// `start..start + len` of the decoded data, as whole groups: `(first char, end
/// char, bytes to drop from the front of the decoded groups)`.
pub fn group_span(start: u64, len: u64, total_chars: u64) -> (u64, u64, usize) {
    let first_group = start / 3;
    let end_group = (start + len).div_ceil(3);
    let from = first_group * 4;
    let to = (end_group * 4).min(total_chars);
    (from, to, (start - first_group * 3) as usize)
}

/// The number of bytes a padded base64 text of `chars` characters, ending with
/// `padding` `=` signs, decodes to.
pub fn decoded_len(chars: u64, padding: u64) -> u64 {
    (chars / 4 * 3).saturating_sub(padding)
}

/// An encoder for the tests only: the engine never writes base64.
#[cfg(test)]
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for group in bytes.chunks(3) {
        let mut bits = [0u8; 3];
        bits[..group.len()].copy_from_slice(group);
        let n = u32::from(bits[0]) << 16 | u32::from(bits[1]) << 8 | u32::from(bits[2]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(DIGITS[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4648_vectors_decode() {
        for (text, plain) in [
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
        ] {
            assert_eq!(decode(text.as_bytes()).unwrap(), plain.as_bytes(), "{text}");
            assert_eq!(encode(plain.as_bytes()), text);
            let padding = text.bytes().rev().take_while(|&b| b == b'=').count() as u64;
            assert_eq!(decoded_len(text.len() as u64, padding), plain.len() as u64);
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(encode(&all).as_bytes()).unwrap(), all);
    }

    #[test]
    fn malformed_text_is_refused() {
        assert!(decode(b"Zm9").is_err(), "not whole groups");
        assert!(decode(b"Zm9v!A==").is_err(), "not a digit");
        assert!(decode(b"Zg==Zm9v").is_err(), "padding in the middle");
        assert!(decode(b"Z===").is_err(), "three padding signs");
        assert!(decode(b"Zm\n9v").is_err(), "whitespace");
        assert!(is_base64(b'=') && is_base64(b'/') && !is_base64(b'\\'));
    }

    #[test]
    fn any_byte_range_decodes_from_its_groups_alone() {
        let data: Vec<u8> = (0..100u8).map(|b| b.wrapping_mul(37)).collect();
        let text = encode(&data);
        let total = text.len() as u64;
        for start in 0..data.len() {
            for len in [1, 4, 7, data.len() - start] {
                let len = len.min(data.len() - start);
                let (from, to, skip) = group_span(start as u64, len as u64, total);
                let decoded = decode(&text.as_bytes()[from as usize..to as usize]).unwrap();
                assert_eq!(&decoded[skip..skip + len], &data[start..start + len]);
            }
        }
    }
}
