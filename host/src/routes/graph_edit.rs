//! Graph editing in LightRAG's shapes: create, edit (with rename and merge), merge
//! and delete entities and relations.

use super::body::JsonBody;
use super::state::AppState;
use crate::bindings::types::{
    EntityEdit, EntityFields, EntityInput, Error as GuestError, GraphEdge, GraphEdit,
    GraphEditResult, GraphNode, RelationFields, RelationInput, Task, TaskOutput,
};
use crate::error::{AppError, FieldError};
use crate::service;
use crate::workspace::Workspace;
use axum::extract::State;
use axum::routing::{delete, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};

/// LightRAG's refusal while the pipeline runs.
const BUSY: &str = "Pipeline is busy with another operation. Wait for the running job to finish before editing the knowledge graph.";

/// The graph editing routes (and LightRAG 1.4's deletion aliases).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/graph/entity/edit", post(edit_entity))
        .route("/graph/relation/edit", post(edit_relation))
        .route("/graph/entity/create", post(create_entity))
        .route("/graph/relation/create", post(create_relation))
        .route("/graph/entities/merge", post(merge_entities))
        .route("/graph/entity/delete", delete(delete_entity))
        .route("/graph/relation/delete", delete(delete_relation))
        .route("/documents/delete_entity", delete(delete_entity))
        .route("/documents/delete_relation", delete(delete_relation))
}

/// Runs an edit on the workspace, refusing while its pipeline runs. The edit runs in
/// a driver of its own: a client that goes away cancels it, releasing the graph.
async fn run_edit(
    state: &AppState,
    workspace: &Workspace,
    edit: GraphEdit,
) -> Result<GraphEditResult, AppError> {
    let lease = state.workspaces.lease(workspace).await?;
    if lease.pipeline_running() {
        return Err(AppError::Conflict(BUSY.into()));
    }
    match lease.start_task(Task::EditGraph(edit), None).await {
        Ok(TaskOutput::GraphEdited(result)) => Ok(result),
        Ok(_) => Err(AppError::internal("a graph edit returned something else")),
        Err(service::Error::Engine(GuestError::Busy(msg))) => Err(AppError::Conflict(msg)),
        Err(err) => Err(err.into()),
    }
}

fn node_props(node: &GraphNode) -> Value {
    json!({
        "entity_id": node.entity_id, "entity_type": node.entity_type,
        "description": node.description, "source_id": node.source_id,
        "file_path": node.file_path, "created_at": node.created_at, "truncate": node.truncate,
    })
}

fn edge_props(edge: &GraphEdge) -> Value {
    json!({
        "src_id": edge.source, "tgt_id": edge.target, "weight": edge.weight,
        "description": edge.description, "keywords": edge.keywords,
        "source_id": edge.source_id, "file_path": edge.file_path,
        "created_at": edge.created_at, "truncate": edge.truncate,
    })
}

fn entity_reply(result: &GraphEditResult) -> Value {
    let node = result.node.as_ref();
    json!({
        "status": "success",
        "message": result.message,
        "data": {
            "entity_name": node.map(|n| n.entity_id.clone()),
            "source_id": node.map(|n| n.source_id.clone()),
            "graph_data": node.map(node_props),
        },
    })
}

fn relation_reply(result: &GraphEditResult) -> Value {
    let edge = result.edge.as_ref();
    json!({
        "status": "success",
        "message": result.message,
        "data": {
            "src_entity": edge.map(|e| e.source.clone()),
            "tgt_entity": edge.map(|e| e.target.clone()),
            "source_id": edge.map(|e| e.source_id.clone()),
            "graph_data": edge.map(edge_props),
        },
    })
}

fn missing(field: &str) -> AppError {
    AppError::Validation(vec![FieldError::body(field, "missing", "Field required")])
}

fn string_field(body: &Value, field: &str) -> Result<String, AppError> {
    match &body[field] {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Err(missing(field)),
        _ => Err(AppError::Validation(vec![FieldError::body(
            field,
            "string_type",
            "Input should be a valid string",
        )])),
    }
}

fn object_field(body: &Value, field: &str) -> Result<Map<String, Value>, AppError> {
    match &body[field] {
        Value::Object(map) => Ok(map.clone()),
        Value::Null => Err(missing(field)),
        _ => Err(AppError::Validation(vec![FieldError::body(
            field,
            "dict_type",
            "Input should be a valid dictionary",
        )])),
    }
}

/// Optional string fields of `updated_data`; any other key or a non-string is a 400.
fn string_updates(
    data: &Map<String, Value>,
    allowed: &[&str],
) -> Result<Map<String, Value>, AppError> {
    for (key, value) in data {
        if !allowed.contains(&key.as_str()) {
            return Err(AppError::BadRequest(format!(
                "Unsupported field in updated_data: '{key}'"
            )));
        }
        if key != "weight" && !value.is_string() {
            return Err(AppError::BadRequest(format!(
                "Field '{key}' of updated_data must be a string"
            )));
        }
    }
    Ok(data.clone())
}

fn opt(data: &Map<String, Value>, key: &str) -> Option<String> {
    data.get(key).and_then(Value::as_str).map(str::to_string)
}

async fn edit_entity(
    State(state): State<AppState>,
    workspace: Workspace,
    JsonBody(body): JsonBody<Value>,
) -> Result<(Workspace, Json<Value>), AppError> {
    let name = string_field(&body, "entity_name")?;
    let data = object_field(&body, "updated_data")?;
    let data = string_updates(
        &data,
        &[
            "entity_name",
            "entity_type",
            "description",
            "source_id",
            "file_path",
        ],
    )?;
    let edit = EntityEdit {
        name: name.clone(),
        new_name: opt(&data, "entity_name"),
        fields: EntityFields {
            entity_type: opt(&data, "entity_type"),
            description: opt(&data, "description"),
            source_id: opt(&data, "source_id"),
            file_path: opt(&data, "file_path"),
        },
        allow_rename: body["allow_rename"].as_bool().unwrap_or(false),
        allow_merge: body["allow_merge"].as_bool().unwrap_or(false),
    };
    let result = run_edit(&state, &workspace, GraphEdit::EditEntity(edit)).await?;
    let final_entity = result.node.as_ref().map(|n| n.entity_id.clone());
    let mut reply = entity_reply(&result);
    reply["operation_summary"] = json!({
        "merged": result.merged,
        "merge_status": if result.merged { "success" } else { "not_attempted" },
        "merge_error": null,
        "operation_status": "success",
        "target_entity": if result.renamed { final_entity.clone() } else { None },
        "final_entity": final_entity,
        "renamed": result.renamed,
    });
    Ok((workspace, Json(reply)))
}

async fn edit_relation(
    State(state): State<AppState>,
    workspace: Workspace,
    JsonBody(body): JsonBody<Value>,
) -> Result<(Workspace, Json<Value>), AppError> {
    let source = string_field(&body, "source_id")?;
    let target = string_field(&body, "target_id")?;
    let data = object_field(&body, "updated_data")?;
    let data = string_updates(
        &data,
        &[
            "description",
            "keywords",
            "source_id",
            "file_path",
            "weight",
        ],
    )?;
    let weight = match data.get("weight") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_f64(),
        Some(_) => {
            return Err(AppError::BadRequest(
                "Field 'weight' of updated_data must be a number".into(),
            ));
        }
    };
    let fields = RelationFields {
        description: opt(&data, "description"),
        keywords: opt(&data, "keywords"),
        source_id: opt(&data, "source_id"),
        file_path: opt(&data, "file_path"),
        weight,
    };
    let result = run_edit(
        &state,
        &workspace,
        GraphEdit::EditRelation((source, target, fields)),
    )
    .await?;
    Ok((workspace, Json(relation_reply(&result))))
}

async fn create_entity(
    State(state): State<AppState>,
    workspace: Workspace,
    JsonBody(body): JsonBody<Value>,
) -> Result<(Workspace, Json<Value>), AppError> {
    let name = string_field(&body, "entity_name")?;
    let data = object_field(&body, "entity_data")?;
    let input = EntityInput {
        name,
        entity_type: opt(&data, "entity_type").unwrap_or_default(),
        description: opt(&data, "description").unwrap_or_default(),
        source_id: opt(&data, "source_id").unwrap_or_default(),
        file_path: opt(&data, "file_path").unwrap_or_default(),
    };
    let result = run_edit(&state, &workspace, GraphEdit::CreateEntity(input)).await?;
    Ok((workspace, Json(entity_reply(&result))))
}

async fn create_relation(
    State(state): State<AppState>,
    workspace: Workspace,
    JsonBody(body): JsonBody<Value>,
) -> Result<(Workspace, Json<Value>), AppError> {
    let source = string_field(&body, "source_entity")?;
    let target = string_field(&body, "target_entity")?;
    let data = object_field(&body, "relation_data")?;
    let input = RelationInput {
        source,
        target,
        description: opt(&data, "description").unwrap_or_default(),
        keywords: opt(&data, "keywords").unwrap_or_default(),
        source_id: opt(&data, "source_id").unwrap_or_default(),
        weight: data.get("weight").and_then(Value::as_f64).unwrap_or(1.0),
        file_path: opt(&data, "file_path").unwrap_or_default(),
    };
    let result = run_edit(&state, &workspace, GraphEdit::CreateRelation(input)).await?;
    Ok((workspace, Json(relation_reply(&result))))
}

async fn merge_entities(
    State(state): State<AppState>,
    workspace: Workspace,
    JsonBody(body): JsonBody<Value>,
) -> Result<(Workspace, Json<Value>), AppError> {
    let sources: Vec<String> = body["entities_to_change"]
        .as_array()
        .ok_or_else(|| missing("entities_to_change"))?
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect::<Option<_>>()
        .ok_or_else(|| AppError::BadRequest("entities_to_change must be a list of names".into()))?;
    if sources.is_empty() {
        return Err(AppError::Validation(vec![FieldError::body(
            "entities_to_change",
            "too_short",
            "List should have at least 1 item after validation, not 0",
        )]));
    }
    let target = string_field(&body, "entity_to_change_into")?;
    let result = run_edit(
        &state,
        &workspace,
        GraphEdit::MergeEntities((sources, target)),
    )
    .await?;
    Ok((workspace, Json(entity_reply(&result))))
}

fn deletion_reply(message: &str) -> Value {
    json!({"status": "success", "doc_id": "", "message": message, "status_code": 200, "file_path": null})
}

async fn delete_entity(
    State(state): State<AppState>,
    workspace: Workspace,
    JsonBody(body): JsonBody<Value>,
) -> Result<(Workspace, Json<Value>), AppError> {
    let name = string_field(&body, "entity_name")?;
    let result = run_edit(&state, &workspace, GraphEdit::DeleteEntity(name)).await?;
    Ok((workspace, Json(deletion_reply(&result.message))))
}

async fn delete_relation(
    State(state): State<AppState>,
    workspace: Workspace,
    JsonBody(body): JsonBody<Value>,
) -> Result<(Workspace, Json<Value>), AppError> {
    let source = string_field(&body, "source_entity")?;
    let target = string_field(&body, "target_entity")?;
    let result = run_edit(
        &state,
        &workspace,
        GraphEdit::DeleteRelation((source, target)),
    )
    .await?;
    Ok((workspace, Json(deletion_reply(&result.message))))
}
