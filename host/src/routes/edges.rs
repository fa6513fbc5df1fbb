//! The HTTP edge, from tower-http: request ids (in logs, response headers and error
//! bodies), cross-origin access (`CORS_ORIGINS`), compression.

use crate::config::{CorsOrigins, HttpSettings};
use crate::error::REQUEST_ID;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, Any, CorsLayer};
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps the API in the edge layers. Outermost first: a request gets its id (the
/// client's `X-Request-Id`, else a fresh UUID) and a tracing span carrying it (every
/// log line of the request names it, and one line reports its status and latency);
/// CORS (preflights are answered here, before authentication); compression.
pub fn wrap<S: Clone + Send + Sync + 'static>(router: Router<S>, http: &HttpSettings) -> Router<S> {
    // Streams (NDJSON answers, Ollama chat) are sent as they are made: compressing
    // them would hold pieces back.
    let compress =
        DefaultPredicate::new().and(NotForContentType::const_new("application/x-ndjson"));
    let router = router
        .layer(CompressionLayer::new().gzip(true).compress_when(compress))
        .layer(middleware::from_fn(scope_request_id));
    let router = match cors(&http.cors) {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let id = request
                        .extensions()
                        .get::<RequestId>()
                        .and_then(|id| id.header_value().to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", id = %id, method = %request.method(), path = %request.uri().path())
                })
                // One line per request (an access log), with the request's id.
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(X_REQUEST_ID, MakeRequestUuid))
}

/// Makes the request's id known to the error bodies written while handling it.
async fn scope_request_id(request: Request, next: Next) -> Response {
    let id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default()
        .to_string();
    REQUEST_ID.scope(id, next.run(request)).await
}

/// LightRAG's CORS: any origin by default (no credentials), or a list of origins
/// (with credentials); `X-New-Token` is readable by the page.
fn cors(origins: &CorsOrigins) -> Option<CorsLayer> {
    let expose = [HeaderName::from_static("x-new-token"), X_REQUEST_ID];
    match origins {
        CorsOrigins::None => None,
        CorsOrigins::Any => Some(
            CorsLayer::new()
                .allow_origin(AllowOrigin::any())
                .allow_methods(Any)
                .allow_headers(Any)
                .expose_headers(expose),
        ),
        CorsOrigins::List(list) => {
            let origins: Vec<HeaderValue> = list.iter().filter_map(|o| o.parse().ok()).collect();
            Some(
                CorsLayer::new()
                    .allow_origin(AllowOrigin::list(origins))
                    .allow_methods(AllowMethods::mirror_request())
                    .allow_headers(AllowHeaders::mirror_request())
                    .allow_credentials(true)
                    .expose_headers(expose),
            )
        }
    }
}
