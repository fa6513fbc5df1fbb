//! The pipeline report: what the ingestion pipeline is doing, as clients read it
//! (LightRAG's `pipeline_status`), and the progress messages every step adds to it.

use crate::shared::Shared;
use crate::wit::PipelineReport;

/// Most progress messages kept in `history_messages`.
const HISTORY_LIMIT: usize = 1000;

/// The pipeline status of a workspace with nothing running.
pub fn idle_status() -> PipelineReport {
    PipelineReport {
        busy: false,
        job_name: "-".into(),
        job_start: None,
        docs: 0,
        batchs: 0,
        cur_batch: 0,
        latest_message: String::new(),
        history_messages: Vec::new(),
    }
}

/// Records a progress message.
pub fn progress(shared: &Shared, message: String) {
    let mut status = shared.pipeline.borrow_mut();
    status.history_messages.push(message.clone());
    if status.history_messages.len() > HISTORY_LIMIT {
        let excess = status.history_messages.len() - HISTORY_LIMIT;
        status.history_messages.drain(..excess);
    }
    status.latest_message = message;
}
