//! No secret in `Debug` output; constant-time comparison.

use super::*;

use crate::auth::settings::ct_eq;

// --- secrets ------------------------------------------------------------------

#[test]
fn debug_output_has_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("bcrypt-password", 4).unwrap();
    let raw = format!("admin:plain-password-123,hashed:{{bcrypt}}{hash}");
    let s = settings(&[
        ("LIGHTRAG_WORKSPACE_KEYS_FILE", &team_file(&dir)),
        ("AUTH_ACCOUNTS", &raw),
        ("TOKEN_SECRET", SECRET),
        ("LIGHTRAG_API_KEY", KEY),
    ])
    .unwrap();
    let a = Auth::new(s.clone()).unwrap();
    let team_hash = hash_key(TEAM_KEY);
    for text in [
        format!("{s:?}"),
        format!("{a:?}"),
        format!("{a:#?}"),
        format!("{:?}", s.accounts()),
    ] {
        for secret in [
            KEY,
            SECRET,
            "plain-password-123",
            hash.as_str(),
            &hash[7..],
            TEAM_KEY,
            &team_hash,
        ] {
            assert!(!text.contains(secret), "{secret:?} in {text}");
        }
        assert!(
            text.contains("admin") && text.contains("redacted"),
            "{text}"
        );
    }
    assert!(format!("{a:?}").contains("team-a"));
    assert_eq!(format!("{:?}", Secret::new("x")), "Secret(<redacted>)");
}

#[test]
fn constant_time_helpers() {
    assert!(ct_eq(b"abc", b"abc"));
    assert!(!ct_eq(b"abc", b"abd"));
    assert!(!ct_eq(b"abc", b"abcd"));
    assert!(!ct_eq(b"", b"a"));
    assert!(Secret::new("k").matches(b"k"));
}
