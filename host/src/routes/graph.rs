//! Graph reads in LightRAG's shapes: labels, popular labels, search, subgraphs.

use super::state::AppState;
use crate::bindings::types::{GraphEdge, GraphNode};
use crate::error::{AppError, FieldError};
use crate::workspace::Workspace;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

/// Most nodes `/graphs` returns (LightRAG's `MAX_GRAPH_NODES`).
const MAX_GRAPH_NODES: u32 = 1000;

/// The graph routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/graph/label/list", get(labels))
        .route("/graph/label/popular", get(popular))
        .route("/graph/label/search", get(search))
        .route("/graphs", get(graphs))
        .route("/graph/entity/exists", get(exists))
}

/// A query-string error in FastAPI's 422 shape.
fn query_error(field: &str, msg: &str) -> AppError {
    AppError::Validation(vec![FieldError {
        loc: vec!["query".into(), field.into()],
        msg: msg.into(),
        kind: "value_error".into(),
    }])
}

/// Parses an optional integer parameter within `min..=max`.
fn bounded(
    value: Option<&str>,
    field: &str,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, AppError> {
    let Some(raw) = value else { return Ok(default) };
    let parsed: i64 = raw
        .trim()
        .parse()
        .map_err(|_| query_error(field, "Input should be a valid integer"))?;
    if parsed < i64::from(min) || parsed > i64::from(max) {
        return Err(query_error(
            field,
            &format!("Input should be between {min} and {max}"),
        ));
    }
    Ok(parsed as u32)
}

#[derive(Deserialize)]
struct Params {
    limit: Option<String>,
    q: Option<String>,
    label: Option<String>,
    max_depth: Option<String>,
    max_nodes: Option<String>,
    name: Option<String>,
}

async fn labels(
    State(state): State<AppState>,
    workspace: Workspace,
) -> Result<(Workspace, Json<Value>), AppError> {
    let labels = state
        .workspaces
        .lease(&workspace)
        .await?
        .graph_labels()
        .await?;
    Ok((workspace, Json(json!(labels))))
}

async fn popular(
    State(state): State<AppState>,
    workspace: Workspace,
    Query(params): Query<Params>,
) -> Result<(Workspace, Json<Value>), AppError> {
    let limit = bounded(params.limit.as_deref(), "limit", 300, 1, 1000)?;
    let lease = state.workspaces.lease(&workspace).await?;
    let labels = lease.popular_labels(limit).await?;
    Ok((workspace, Json(json!(labels))))
}

async fn search(
    State(state): State<AppState>,
    workspace: Workspace,
    Query(params): Query<Params>,
) -> Result<(Workspace, Json<Value>), AppError> {
    let query = params.q.ok_or_else(|| query_error("q", "Field required"))?;
    let limit = bounded(params.limit.as_deref(), "limit", 50, 1, 100)?;
    let lease = state.workspaces.lease(&workspace).await?;
    let labels = lease.search_labels(query, limit).await?;
    Ok((workspace, Json(json!(labels))))
}

fn node_json(node: GraphNode) -> Value {
    json!({
        "id": node.entity_id,
        "labels": [node.entity_id],
        "properties": {
            "entity_id": node.entity_id,
            "entity_type": node.entity_type,
            "description": node.description,
            "source_id": node.source_id,
            "file_path": node.file_path,
            "created_at": node.created_at,
            "truncate": node.truncate,
        },
    })
}

fn edge_json(edge: GraphEdge) -> Value {
    json!({
        "id": format!("{}-{}", edge.source, edge.target),
        "type": "DIRECTED",
        "source": edge.source,
        "target": edge.target,
        "properties": {
            "weight": edge.weight,
            "description": edge.description,
            "keywords": edge.keywords,
            "source_id": edge.source_id,
            "file_path": edge.file_path,
            "created_at": edge.created_at,
            "truncate": edge.truncate,
        },
    })
}

async fn graphs(
    State(state): State<AppState>,
    workspace: Workspace,
    Query(params): Query<Params>,
) -> Result<(Workspace, Json<Value>), AppError> {
    let label = params
        .label
        .ok_or_else(|| query_error("label", "Field required"))?;
    let max_depth = bounded(params.max_depth.as_deref(), "max_depth", 3, 1, u32::MAX)?;
    let max_nodes = bounded(
        params.max_nodes.as_deref(),
        "max_nodes",
        MAX_GRAPH_NODES,
        1,
        u32::MAX,
    )?
    .min(MAX_GRAPH_NODES);
    let lease = state.workspaces.lease(&workspace).await?;
    let part = lease.subgraph(label, max_depth, max_nodes).await?;
    let body = json!({
        "nodes": part.nodes.into_iter().map(node_json).collect::<Vec<_>>(),
        "edges": part.edges.into_iter().map(edge_json).collect::<Vec<_>>(),
        "is_truncated": part.is_truncated,
    });
    Ok((workspace, Json(body)))
}

async fn exists(
    State(state): State<AppState>,
    workspace: Workspace,
    Query(params): Query<Params>,
) -> Result<(Workspace, Json<Value>), AppError> {
    let name = params
        .name
        .ok_or_else(|| query_error("name", "Field required"))?;
    let lease = state.workspaces.lease(&workspace).await?;
    let exists = lease.entity_exists(name.trim().to_string()).await?;
    Ok((workspace, Json(json!({ "exists": exists }))))
}
