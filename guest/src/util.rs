//! Ids, timestamps and small text helpers shared by the engine's modules.

use md5::{Digest, Md5};
use std::collections::{HashMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

/// The engine's hash maps: foldhash (seeded per instance, like std's hasher) instead
/// of SipHash, which was a tenth of the time of opening a workspace, where every
/// table is rebuilt, and of every lookup after.
pub type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
/// The engine's hash sets, hashed as [`Map`].
pub type Set<T> = HashSet<T, foldhash::fast::RandomState>;

/// Lowercase hex md5 of `text`, LightRAG's `compute_mdhash_id` without a prefix.
pub fn md5_hex(text: &str) -> String {
    let digest = Md5::digest(text.as_bytes());
    let mut out = String::with_capacity(32);
    for byte in digest {
        out.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(byte & 15), 16).unwrap_or('0'));
    }
    out
}

/// LightRAG's id scheme: a prefix followed by the md5 of the text.
pub fn mdhash_id(prefix: &str, text: &str) -> String {
    format!("{prefix}{}", md5_hex(text))
}

/// md5 over several values, each prefixed by its length, so that `("ab", "c")` and
/// `("a", "bc")` never collide. LightRAG hashes its cache keys this way.
pub fn args_hash(parts: &[&str]) -> String {
    let mut joined = String::new();
    for part in parts {
        joined.push_str(&part.chars().count().to_string());
        joined.push(':');
        joined.push_str(part);
    }
    md5_hex(&joined)
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The current time as LightRAG writes document timestamps:
/// `2025-01-01T12:00:00.123456+00:00`.
pub fn iso_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    iso_from_unix(now.as_secs() as i64, now.subsec_micros())
}

/// Formats a Unix time as ISO-8601 UTC with microseconds.
pub fn iso_from_unix(secs: i64, micros: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}+00:00",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm), so the guest needs no date crate.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The first `max` characters of `text`, never splitting a character.
pub fn prefix_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// LightRAG's text sanitising before storage: decode the common HTML character
/// references and drop control characters other than tab, newline and carriage return.
/// (Surrogates cannot occur in a Rust string.)
pub fn sanitize_text(text: &str) -> String {
    // One copy of a (possibly large) document, edited in place.
    let mut clean = html_unescape(text);
    clean.retain(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'));
    clean
}

/// Decodes numeric character references and the named ones that occur in practice.
/// Unknown names are left as they are, as Python's `html.unescape` does.
fn html_unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        match decode_reference(rest) {
            Some((decoded, used)) => {
                out.push(decoded);
                rest = &rest[used..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Decodes one reference at the start of `text` (which begins with `&`).
fn decode_reference(text: &str) -> Option<(char, usize)> {
    let end = text.find(';').filter(|&end| end <= 12)?;
    let body = &text[1..end];
    let decoded = if let Some(num) = body.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        char::from_u32(code).filter(|&c| c != '\0')?
    } else {
        match body {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            "nbsp" => '\u{a0}',
            "ndash" => '\u{2013}',
            "mdash" => '\u{2014}',
            "lsquo" => '\u{2018}',
            "rsquo" => '\u{2019}',
            "ldquo" => '\u{201c}',
            "rdquo" => '\u{201d}',
            "hellip" => '\u{2026}',
            "copy" => '\u{a9}',
            "reg" => '\u{ae}',
            "euro" => '\u{20ac}',
            _ => return None,
        }
    };
    Some((decoded, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_matches_known_vectors() {
        assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            mdhash_id("doc-", "a.txt"),
            format!("doc-{}", md5_hex("a.txt"))
        );
        assert_ne!(args_hash(&["ab", "c"]), args_hash(&["a", "bc"]));
    }

    #[test]
    fn iso_dates_are_correct() {
        assert_eq!(iso_from_unix(0, 0), "1970-01-01T00:00:00.000000+00:00");
        assert_eq!(
            iso_from_unix(1_709_210_096, 42),
            "2024-02-29T12:34:56.000042+00:00"
        );
    }

    #[test]
    fn sanitizing_unescapes_and_drops_controls() {
        assert_eq!(sanitize_text("a &amp; b&#33;&#x41;\u{7}\tc"), "a & b!A\tc");
        assert_eq!(sanitize_text("&unknown; &"), "&unknown; &");
        assert_eq!(prefix_chars("héllo", 2), "hé");
    }
}
