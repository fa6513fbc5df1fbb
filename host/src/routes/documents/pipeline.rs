//! The ingestion pipeline's controls: its status, cancelling it, and lifting a
//! workspace's recovery state.

use super::files::scanning;
use crate::error::AppError;
use crate::routes::body::JsonBody;
use crate::routes::state::AppState;
use crate::workspace::Workspace;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

/// `GET /documents/pipeline_status`: LightRAG's `PipelineStatusResponse`.
pub(super) async fn pipeline_status(
    State(state): State<AppState>,
    workspace: Workspace,
) -> Result<(Workspace, Json<Value>), AppError> {
    let lease = state.workspaces.lease(&workspace).await?;
    let status = lease.pipeline_status().await?;
    let scanning = scanning(&state, &lease).await?;
    let body = json!({
        "busy": status.busy,
        "job_name": status.job_name,
        "job_start": status.job_start,
        "docs": status.docs,
        "batchs": status.batchs,
        "cur_batch": status.cur_batch,
        "request_pending": false,
        "latest_message": status.latest_message,
        "history_messages": status.history_messages,
        // LightRAG's per-namespace "reload needed" flags of its worker processes: one
        // process owns each workspace here, so no storage ever needs reloading.
        "update_status": {},
        // A workspace that needs recovery cannot be leased (503): reaching this point
        // means it needs none.
        "recovery_required": false,
        "recovery_kind": null,
        "recovery_message": null,
        "destructive_busy": false,
        // The start-up scan (`AUTO_SCAN_AT_STARTUP`) covers the default workspace.
        "autoscanned": workspace == state.resolver.default
            && state.autoscanned.load(std::sync::atomic::Ordering::Acquire),
        "scanning": scanning,
        "scanning_exclusive": false,
        "pending_enqueues": 0,
        "cancellation_requested": lease.live().cancellation_requested(),
    });
    Ok((workspace, Json(body)))
}

/// `POST /documents/cancel_pipeline`: the pipeline stops after its current step;
/// documents it had not finished go back to `pending`.
pub(super) async fn cancel_pipeline(
    State(state): State<AppState>,
    workspace: Workspace,
) -> Result<(Workspace, Json<Value>), AppError> {
    let lease = state.workspaces.lease(&workspace).await?;
    let body = if lease.live().cancel_pipeline() {
        lease.audit("pipeline_cancelled", json!({}));
        json!({
            "status": "cancellation_requested",
            "message": "Pipeline cancellation requested; it stops after its current step, and \
                        documents it had not finished go back to pending",
        })
    } else {
        json!({"status": "not_busy", "message": "The pipeline is not running"})
    };
    Ok((workspace, Json(body)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct ForceReset {
    #[serde(default)]
    confirm: bool,
}

/// `POST /documents/recovery/force_reset`: lifts the quarantine of a workspace whose
/// engine faulted repeatedly (or a remembered refusal of its files), so the next
/// request opens it again. Needs `confirm: true` when there is something to reset.
pub(super) async fn force_reset(
    State(state): State<AppState>,
    workspace: Workspace,
    JsonBody(body): JsonBody<ForceReset>,
) -> Result<(Workspace, Json<Value>), AppError> {
    let Some(reason) = state.workspaces.recovery_required(&workspace) else {
        let body = json!({
            "status": "no_recovery_required",
            "message": "The workspace needs no recovery",
            "cancelled_manual_retries": 0,
        });
        return Ok((workspace, Json(body)));
    };
    if !body.confirm {
        return Err(AppError::BadRequest(format!(
            "The workspace needs recovery ({reason}); send {{\"confirm\": true}} to reset it"
        )));
    }
    state.workspaces.force_reset(&workspace);
    state.audit.record(
        workspace.as_str(),
        "recovery_reset",
        json!({ "reason": reason }),
    );
    let body = json!({
        "status": "reset",
        "message": format!("Recovery state cleared ({reason}); the next request opens the workspace"),
        "cancelled_manual_retries": 0,
    });
    Ok((workspace, Json(body)))
}
