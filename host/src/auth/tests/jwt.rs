//! HS256 tokens: format, signature and claim checks.

use super::*;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// An HMAC-SHA256 signer, for tokens forged by hand.
fn signer(secret: &Secret) -> Hmac<Sha256> {
    Hmac::new_from_slice(secret.expose().as_bytes()).unwrap()
}

// --- JWT ---------------------------------------------------------------------

#[test]
fn jwt_round_trip_and_format() {
    let t = user_token("alice");
    let parts: Vec<&str> = t.split('.').collect();
    assert_eq!(parts.len(), 3);
    assert!(
        t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
        "base64url, no padding"
    );
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
    let claims = decode_jwt(&Secret::new(SECRET), &t, now_unix()).unwrap();
    assert_eq!(
        (claims.sub.as_str(), claims.role.as_str()),
        ("alice", "user")
    );
}

#[test]
fn jwt_rejections() {
    let secret = Secret::new(SECRET);
    let now = now_unix();
    let invalid = Err(u(INVALID_TOKEN));
    let check = |t: &str| decode_jwt(&secret, t, now).map(|c| c.sub);

    assert_eq!(
        check(&token("other-secret", "alice", "user", future())),
        invalid,
        "bad signature"
    );
    assert_eq!(check(&unsigned_token("alice", "user")), invalid, "alg none");
    assert_eq!(check("not-a-token"), invalid);
    assert_eq!(check("a.b.c.d"), invalid);
    assert_eq!(
        check(&token(SECRET, "alice", "user", now - 1)),
        Err(u(TOKEN_EXPIRED))
    );
    assert_eq!(
        check(&token(SECRET, "alice", "user", now)),
        Err(u(TOKEN_EXPIRED))
    );
    // Expired and badly signed: the signature is checked first.
    assert_eq!(
        check(&token("other-secret", "alice", "user", now - 10)),
        invalid
    );

    // Tampered payload, original signature.
    let good = user_token("alice");
    let parts: Vec<&str> = good.split('.').collect();
    let forged = URL_SAFE_NO_PAD
        .encode(json!({"sub": "admin", "exp": future(), "role": "user"}).to_string());
    assert_eq!(
        check(&format!("{}.{forged}.{}", parts[0], parts[2])),
        invalid
    );
    // Padding is not base64url-without-padding.
    assert_eq!(
        check(&format!("{}.{}.{}=", parts[0], parts[1], parts[2])),
        invalid
    );
    // Well signed but without the claims.
    assert_eq!(
        check(&encode_jwt(&secret, &json!({"sub": "alice"}))),
        invalid
    );
    assert_eq!(
        check(&encode_jwt(&secret, &json!({"sub": "", "exp": future()}))),
        invalid
    );
    // A header with another algorithm but a valid HS256 signature.
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS512","typ":"JWT"}"#);
    let input = format!("{header}.{}", parts[1]);
    let mut m = signer(&secret);
    m.update(input.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    assert_eq!(check(&format!("{input}.{sig}")), invalid);
    // A missing role defaults to "user".
    let no_role = encode_jwt(&secret, &json!({"sub": "alice", "exp": future()}));
    assert_eq!(decode_jwt(&secret, &no_role, now).unwrap().role, "user");
}
