//! The per-request decision in each profile, and how refusals are rendered.

use super::*;

use axum::http::StatusCode;
use axum::response::IntoResponse;

// --- open profile --------------------------------------------------------------

#[test]
fn open_profile_decisions() {
    let a = open();
    let anonymous = full(Principal::Anonymous);
    assert_eq!(allowed(&a, "/documents", &HeaderMap::new()), anonymous);
    assert_eq!(
        allowed(&a, "/documents", &with_key("whatever")),
        anonymous,
        "any key is fine"
    );
    assert_eq!(
        allowed(&a, "/documents", &bearer(&a.guest_token())),
        full(Principal::Guest)
    );
    assert_eq!(allowed(&a, "/health", &HeaderMap::new()), anonymous);
    // A user token without accounts.
    let user = token(DEFAULT_TOKEN_SECRET, "alice", "user", future());
    assert_eq!(refused(&a, "/documents", &bearer(&user)), u(LOGIN_AGAIN));
    let expired = token(DEFAULT_TOKEN_SECRET, "guest", "guest", now_unix() - 5);
    assert_eq!(
        refused(&a, "/documents", &bearer(&expired)),
        u(TOKEN_EXPIRED)
    );
    let foreign = token("other-secret", "guest", "guest", future());
    assert_eq!(
        refused(&a, "/documents", &bearer(&foreign)),
        u(INVALID_TOKEN)
    );
    assert_eq!(
        refused(&a, "/documents", &bearer(&unsigned_token("guest", "guest"))),
        u(INVALID_TOKEN)
    );
    assert_eq!(
        refused(&a, "/documents", &bearer("garbage")),
        u(INVALID_TOKEN)
    );
    // A bad token on a whitelisted path is ignored.
    assert_eq!(allowed(&a, "/api/tags", &bearer("garbage")), anonymous);
    // Strict mode ignores the whitelist.
    assert_eq!(
        a.authenticate_strict(&bearer("garbage")),
        Err(u(INVALID_TOKEN))
    );
    // Other schemes and empty bearer values are no token at all.
    assert_eq!(
        allowed(
            &a,
            "/documents",
            &headers(&[("authorization", "Basic abc")])
        ),
        anonymous
    );
    assert_eq!(
        allowed(&a, "/documents", &headers(&[("authorization", "Bearer ")])),
        anonymous
    );
    assert_eq!(
        allowed(
            &a,
            "/documents",
            &headers(&[("authorization", &format!("bearer {}", a.guest_token()))])
        ),
        full(Principal::Guest),
        "the scheme is case-insensitive"
    );
}

// --- key-only profile ---------------------------------------------------------

#[test]
fn key_only_profile_decisions() {
    let a = key_only();
    assert_eq!(
        refused(&a, "/documents", &HeaderMap::new()),
        f(API_KEY_REQUIRED)
    );
    assert_eq!(
        refused(&a, "/documents", &with_key("wrong")),
        f(INVALID_API_KEY)
    );
    assert_eq!(
        refused(&a, "/documents", &with_key(&format!("{KEY}x"))),
        f(INVALID_API_KEY)
    );
    assert_eq!(
        allowed(&a, "/documents", &with_key(KEY)),
        full(Principal::ApiKey)
    );
    assert_eq!(
        allowed(&a, "/documents", &headers(&[("X-API-KEY", KEY)])),
        full(Principal::ApiKey),
        "header names are case-insensitive"
    );
    // Guest tokens grant nothing here.
    assert_eq!(
        refused(&a, "/documents", &bearer(&default_guest_token())),
        f(API_KEY_REQUIRED)
    );
    let mut both = bearer(&default_guest_token());
    both.insert(API_KEY_HEADER, HeaderValue::from_static(KEY));
    assert_eq!(allowed(&a, "/documents", &both), full(Principal::ApiKey));
    // User tokens, expired and forged tokens are 401s.
    let user = token(DEFAULT_TOKEN_SECRET, "alice", "user", future());
    assert_eq!(refused(&a, "/documents", &bearer(&user)), u(LOGIN_AGAIN));
    let expired = token(DEFAULT_TOKEN_SECRET, "guest", "guest", now_unix() - 5);
    assert_eq!(
        refused(&a, "/documents", &bearer(&expired)),
        u(TOKEN_EXPIRED)
    );
    let foreign = token("other-secret", "guest", "guest", future());
    assert_eq!(
        refused(&a, "/documents", &bearer(&foreign)),
        u(INVALID_TOKEN)
    );
    assert_eq!(
        refused(&a, "/documents", &bearer(&unsigned_token("guest", "guest"))),
        u(INVALID_TOKEN)
    );
    // Whitelist: public, but not authenticated; segment boundaries hold.
    let public = Access {
        principal: Principal::Anonymous,
        authenticated: false,
    };
    assert_eq!(allowed(&a, "/health", &HeaderMap::new()), public);
    assert_eq!(allowed(&a, "/api/tags", &with_key("wrong")), public);
    assert_eq!(allowed(&a, "/api", &HeaderMap::new()), public);
    assert_eq!(
        allowed(&a, "/api/tags", &with_key(KEY)),
        full(Principal::ApiKey)
    );
    assert_eq!(
        refused(&a, "/apiary", &HeaderMap::new()),
        f(API_KEY_REQUIRED)
    );
    assert_eq!(
        refused(&a, "/healthz", &HeaderMap::new()),
        f(API_KEY_REQUIRED)
    );
    assert_eq!(
        a.authenticate_strict(&HeaderMap::new()),
        Err(f(API_KEY_REQUIRED))
    );
    assert_eq!(
        a.authenticate_strict(&with_key(KEY)),
        Ok(full(Principal::ApiKey))
    );
}

#[test]
fn non_utf8_api_key_is_just_wrong() {
    let a = key_only();
    let mut h = HeaderMap::new();
    h.insert(
        API_KEY_HEADER,
        HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
    );
    assert_eq!(refused(&a, "/documents", &h), f(INVALID_API_KEY));
}

// --- accounts profile ---------------------------------------------------------

#[test]
fn accounts_profile_decisions() {
    let a = accounts();
    assert_eq!(
        refused(&a, "/documents", &HeaderMap::new()),
        u(NO_CREDENTIALS)
    );
    assert_eq!(
        refused(&a, "/documents", &with_key("anything")),
        u(NO_CREDENTIALS)
    );
    assert_eq!(
        refused(
            &a,
            "/documents",
            &headers(&[("authorization", "Basic abc")])
        ),
        u(NO_CREDENTIALS)
    );
    assert_eq!(
        allowed(&a, "/documents", &bearer(&user_token("admin"))),
        full(Principal::User("admin".into()))
    );
    // Any role but guest counts as a user (LightRAG: role != "guest").
    assert_eq!(
        allowed(
            &a,
            "/documents",
            &bearer(&token(SECRET, "bob", "admin", future()))
        ),
        full(Principal::User("bob".into()))
    );
    assert_eq!(
        refused(
            &a,
            "/documents",
            &bearer(&token(SECRET, "guest", "guest", future()))
        ),
        u(LOGIN_AGAIN)
    );
    assert_eq!(
        refused(&a, "/documents", &bearer(&default_guest_token())),
        u(INVALID_TOKEN)
    );
    assert_eq!(
        refused(&a, "/documents", &bearer(&user_token("mallory"))),
        u(LOGIN_AGAIN),
        "unknown account"
    );
    assert_eq!(
        refused(
            &a,
            "/documents",
            &bearer(&token(SECRET, "admin", "user", now_unix() - 1))
        ),
        u(TOKEN_EXPIRED)
    );
    assert_eq!(
        refused(
            &a,
            "/documents",
            &bearer(&token("other-secret", "admin", "user", future()))
        ),
        u(INVALID_TOKEN)
    );
    assert_eq!(
        refused(&a, "/documents", &bearer(&unsigned_token("admin", "user"))),
        u(INVALID_TOKEN)
    );
    // A bad token is a 401 even next to a valid key.
    let a = accounts_and_key();
    let mut h = bearer("garbage");
    h.insert(API_KEY_HEADER, HeaderValue::from_static(KEY));
    assert_eq!(refused(&a, "/documents", &h), u(INVALID_TOKEN));
    assert_eq!(
        allowed(&a, "/documents", &with_key(KEY)),
        full(Principal::ApiKey)
    );
    assert_eq!(
        refused(&a, "/documents", &with_key("wrong")),
        u(NO_CREDENTIALS)
    );
    assert_eq!(
        refused(&a, "/documents", &HeaderMap::new()),
        u(NO_CREDENTIALS)
    );
    // Whitelisted paths.
    let public = Access {
        principal: Principal::Anonymous,
        authenticated: false,
    };
    assert_eq!(allowed(&a, "/health", &HeaderMap::new()), public);
    assert_eq!(allowed(&a, "/api/generate", &bearer("garbage")), public);
    assert_eq!(
        allowed(&a, "/api/generate", &bearer(&user_token("admin"))),
        full(Principal::User("admin".into()))
    );
    assert_eq!(refused(&a, "/apiary", &HeaderMap::new()), u(NO_CREDENTIALS));
    assert_eq!(
        a.authenticate_strict(&HeaderMap::new()),
        Err(u(NO_CREDENTIALS))
    );
}

#[test]
fn auth_errors_render_like_lightrag() {
    let response = AuthError::TooManyAttempts { retry_after: 42 }.into_response();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[header::RETRY_AFTER], "42");
    assert_eq!(u("x").into_response().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(f("x").into_response().status(), StatusCode::FORBIDDEN);
    assert_eq!(
        AuthError::InvalidRequest("x".into()).status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        u(NO_CREDENTIALS).to_string(),
        "401 No credentials provided. Please login."
    );
}
