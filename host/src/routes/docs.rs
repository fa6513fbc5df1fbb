//! API documentation: OpenAPI 3 at `/openapi.json` and Swagger UI at `/docs` (its
//! files are compiled in: no network needed), unless `ENABLE_API_DOCS=false`.
//!
//! The document is built from one table of the routes, and the request bodies'
//! schemas are derived from the body types the handlers parse (`utoipa::ToSchema`).
//! A test reads every `.route(...)` of this crate's source and checks that each
//! method and path is in the document, so the table cannot fall behind the router.

use super::documents::{DeleteBody, ForceReset, InsertText, InsertTexts, PageRequest, RepairBody};
use super::query::QueryRequest;
use axum::Router;
use utoipa::PartialSchema;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItemBuilder,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::{
    Content, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, RefOr, Required, ResponseBuilder,
    Schema,
};
use utoipa_swagger_ui::SwaggerUi;

/// What a route takes.
#[derive(Clone, Copy)]
enum Body {
    None,
    Json(fn() -> RefOr<Schema>),
    /// A JSON object not described here.
    AnyJson,
    Form,
    Multipart,
    /// Raw bytes (an archive).
    Binary,
}

/// One documented route.
struct Endpoint {
    method: HttpMethod,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    body: Body,
}

const fn ep(
    method: HttpMethod,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    body: Body,
) -> Endpoint {
    Endpoint {
        method,
        path,
        tag,
        summary,
        body,
    }
}

use Body::{AnyJson, Form, Json, Multipart, None as NoBody};
use HttpMethod::{Delete, Get, Post, Put};

/// Every route, in LightRAG's groups.
const ENDPOINTS: &[Endpoint] = &[
    ep(
        Get,
        "/health",
        "system",
        "Server health, configuration and pool state",
        NoBody,
    ),
    ep(Get, "/metrics", "system", "Prometheus metrics", NoBody),
    ep(
        Post,
        "/login",
        "auth",
        "Log in (OAuth2 password form) for a token",
        Form,
    ),
    ep(
        Get,
        "/auth-status",
        "auth",
        "Whether login is configured; a guest token if not",
        NoBody,
    ),
    ep(
        Get,
        "/auth/verify",
        "auth",
        "Check the request's credentials",
        NoBody,
    ),
    ep(
        Get,
        "/auth/workspaces",
        "auth",
        "The workspaces the caller may use",
        NoBody,
    ),
    ep(Get, "/", "webui", "Redirects to the web UI", NoBody),
    ep(Get, "/webui", "webui", "Redirects to the web UI", NoBody),
    ep(Get, "/webui/", "webui", "The web UI", NoBody),
    ep(
        Get,
        "/webui/{file}",
        "webui",
        "A file of the web UI",
        NoBody,
    ),
    ep(
        Post,
        "/documents/text",
        "documents",
        "Insert one text",
        Json(InsertText::schema),
    ),
    ep(
        Post,
        "/documents/texts",
        "documents",
        "Insert several texts",
        Json(InsertTexts::schema),
    ),
    ep(
        Post,
        "/documents/upload",
        "documents",
        "Upload a file (parsed in the workspace's sandbox)",
        Multipart,
    ),
    ep(
        Post,
        "/documents/scan",
        "documents",
        "Scan the workspace's input directory",
        NoBody,
    ),
    ep(
        Get,
        "/documents/scan/status/{track_id}",
        "documents",
        "Progress of a scan",
        NoBody,
    ),
    ep(
        Get,
        "/documents/supported_file_types",
        "documents",
        "File types uploads may have",
        NoBody,
    ),
    ep(
        Get,
        "/documents/pipeline_status",
        "documents",
        "The ingestion pipeline's progress",
        NoBody,
    ),
    ep(
        Get,
        "/documents/track_status/{track_id}",
        "documents",
        "Documents added by one request",
        NoBody,
    ),
    ep(
        Post,
        "/documents/paginated",
        "documents",
        "A page of documents, filtered and sorted",
        Json(PageRequest::schema),
    ),
    ep(
        Get,
        "/documents/status_counts",
        "documents",
        "Documents per state",
        NoBody,
    ),
    ep(
        Post,
        "/documents/reprocess_failed",
        "documents",
        "Retry failed documents",
        NoBody,
    ),
    ep(
        Post,
        "/documents/cancel_pipeline",
        "documents",
        "Stop the pipeline after its current step",
        NoBody,
    ),
    ep(
        Post,
        "/documents/recovery/force_reset",
        "documents",
        "Lift a quarantine",
        Json(ForceReset::schema),
    ),
    ep(
        Get,
        "/documents/source_conflicts",
        "documents",
        "File names with several records",
        NoBody,
    ),
    ep(
        Post,
        "/documents/source_conflicts/repair",
        "documents",
        "Remove conflicting failed records",
        Json(RepairBody::schema),
    ),
    ep(
        Delete,
        "/documents/delete_document",
        "documents",
        "Delete documents and what only they support",
        Json(DeleteBody::schema),
    ),
    ep(
        Delete,
        "/documents",
        "documents",
        "Delete every document of the workspace",
        NoBody,
    ),
    ep(
        Post,
        "/documents/clear_cache",
        "documents",
        "Drop the cached model answers",
        AnyJson,
    ),
    ep(
        Delete,
        "/documents/delete_entity",
        "documents",
        "Delete an entity (1.4 alias)",
        AnyJson,
    ),
    ep(
        Delete,
        "/documents/delete_relation",
        "documents",
        "Delete a relation (1.4 alias)",
        AnyJson,
    ),
    ep(
        Post,
        "/query",
        "query",
        "Answer a query",
        Json(QueryRequest::schema),
    ),
    ep(
        Post,
        "/query/stream",
        "query",
        "Answer a query as NDJSON, streamed",
        Json(QueryRequest::schema),
    ),
    ep(
        Post,
        "/query/data",
        "query",
        "What a query retrieves, without an answer",
        Json(QueryRequest::schema),
    ),
    ep(
        Get,
        "/graph/label/list",
        "graph",
        "Every entity name",
        NoBody,
    ),
    ep(
        Get,
        "/graph/label/popular",
        "graph",
        "Entity names by degree",
        NoBody,
    ),
    ep(
        Get,
        "/graph/label/search",
        "graph",
        "Entity names matching a query",
        NoBody,
    ),
    ep(
        Get,
        "/graphs",
        "graph",
        "The neighbourhood of an entity",
        NoBody,
    ),
    ep(
        Get,
        "/graph/entity/exists",
        "graph",
        "Whether an entity exists",
        NoBody,
    ),
    ep(
        Post,
        "/graph/entity/edit",
        "graph",
        "Edit or rename an entity",
        AnyJson,
    ),
    ep(
        Post,
        "/graph/relation/edit",
        "graph",
        "Edit a relation",
        AnyJson,
    ),
    ep(
        Post,
        "/graph/entity/create",
        "graph",
        "Create an entity",
        AnyJson,
    ),
    ep(
        Post,
        "/graph/relation/create",
        "graph",
        "Create a relation",
        AnyJson,
    ),
    ep(
        Post,
        "/graph/entities/merge",
        "graph",
        "Merge entities into one",
        AnyJson,
    ),
    ep(
        Delete,
        "/graph/entity/delete",
        "graph",
        "Delete an entity and its relations",
        AnyJson,
    ),
    ep(
        Delete,
        "/graph/relation/delete",
        "graph",
        "Delete a relation",
        AnyJson,
    ),
    ep(Get, "/api/version", "ollama", "Ollama: version", NoBody),
    ep(Get, "/api/tags", "ollama", "Ollama: models", NoBody),
    ep(Get, "/api/ps", "ollama", "Ollama: running models", NoBody),
    ep(Post, "/api/generate", "ollama", "Ollama: generate", AnyJson),
    ep(
        Post,
        "/api/chat",
        "ollama",
        "Ollama: chat (with /local, /mix... prefixes)",
        AnyJson,
    ),
    ep(
        Get,
        "/workspaces",
        "workspaces",
        "List workspaces (X-Admin-Key)",
        NoBody,
    ),
    ep(
        Post,
        "/workspaces",
        "workspaces",
        "Create a workspace (X-Admin-Key)",
        AnyJson,
    ),
    ep(
        Get,
        "/workspaces/{name}",
        "workspaces",
        "One workspace's sizes and state (X-Admin-Key)",
        NoBody,
    ),
    ep(
        Delete,
        "/workspaces/{name}",
        "workspaces",
        "Delete a workspace and its data (X-Admin-Key)",
        NoBody,
    ),
    ep(
        Put,
        "/workspaces/{name}/limits",
        "workspaces",
        "Set a workspace's limits (X-Admin-Key)",
        AnyJson,
    ),
    ep(
        Get,
        "/workspaces/{name}/export",
        "workspaces",
        "The workspace as one archive, written while it serves (X-Admin-Key)",
        NoBody,
    ),
    ep(
        Post,
        "/workspaces/{name}/import",
        "workspaces",
        "Install an exported archive as an empty workspace (X-Admin-Key)",
        Body::Binary,
    ),
    ep(
        Post,
        "/workspaces/{name}/import-lightrag",
        "workspaces",
        "Import a Python LightRAG directory from LIGHTRAG_IMPORT_DIR into an empty workspace (X-Admin-Key)",
        AnyJson,
    ),
    ep(
        Get,
        "/workspaces/{name}/audit",
        "workspaces",
        "A workspace's audit trail (X-Admin-Key)",
        NoBody,
    ),
];

/// The OpenAPI document.
pub fn openapi() -> OpenApi {
    let mut paths = PathsBuilder::new();
    let mut by_path: Vec<(&str, Vec<&Endpoint>)> = Vec::new();
    for endpoint in ENDPOINTS {
        match by_path.iter_mut().find(|(path, _)| *path == endpoint.path) {
            Some((_, list)) => list.push(endpoint),
            None => by_path.push((endpoint.path, vec![endpoint])),
        }
    }
    for (path, endpoints) in by_path {
        let mut item = PathItemBuilder::new();
        for endpoint in endpoints {
            item = item.operation(endpoint.method.clone(), operation(endpoint));
        }
        paths = paths.path(path, item.build());
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("lightrag-wasm")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "LightRAG's API for many isolated workspaces: a request picks its \
                     workspace with the LIGHTRAG-WORKSPACE header.",
                )),
        )
        .paths(paths.build())
        .build()
}

fn operation(endpoint: &Endpoint) -> utoipa::openapi::path::Operation {
    let mut op = OperationBuilder::new()
        .tag(endpoint.tag)
        .summary(Some(endpoint.summary))
        .response("200", ResponseBuilder::new().description("Success"))
        .response(
            "400",
            ResponseBuilder::new().description("Bad input, with a message"),
        );
    for name in path_parameters(endpoint.path) {
        op = op.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(String::schema())),
        );
    }
    if !endpoint.path.starts_with("/workspaces") && !["system", "webui"].contains(&endpoint.tag) {
        op = op.parameter(
            ParameterBuilder::new()
                .name("LIGHTRAG-WORKSPACE")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some("The workspace (default: the server's)"))
                .schema(Some(String::schema())),
        );
    }
    let content = |kind: &str, schema: Option<RefOr<Schema>>| {
        let content = match schema {
            Some(schema) => Content::new(Some(schema)),
            None => Content::new(None::<RefOr<Schema>>),
        };
        RequestBodyBuilder::new()
            .content(kind, content)
            .required(Some(Required::True))
            .build()
    };
    match endpoint.body {
        Body::None => op,
        Body::Json(schema) => op.request_body(Some(content("application/json", Some(schema())))),
        Body::AnyJson => op.request_body(Some(content("application/json", None))),
        Body::Form => op.request_body(Some(content("application/x-www-form-urlencoded", None))),
        Body::Multipart => op.request_body(Some(content("multipart/form-data", None))),
        Body::Binary => op.request_body(Some(content("application/gzip", None))),
    }
    .build()
}

/// The `{name}` segments of a path.
fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

/// `/docs` (Swagger UI) and `/openapi.json`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", openapi()))
}
