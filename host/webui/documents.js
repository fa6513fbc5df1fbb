// Documents view: upload files, scan the input directory, retry failures, watch the
// ingestion pipeline, and list the workspace's documents with their status.

import { api, h, notify, isQuiet, formatTime, session, StaleError } from "./api.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 1500;
const PAGE_SIZE = 50;
// The order the status summary lists states in (then any the server adds).
const STATES = ["pending", "parsing", "analyzing", "processing", "preprocessed", "processed", "failed"];

let visible = false;
let timer = 0;
let polling = false; // a poll is in flight: never stack them on a slow server
let unfinished = false; // some document is neither processed nor failed
let wasBusy = false;
let watchUntil = 0; // after an action, keep refreshing the table for a while
let acceptFor = null; // the workspace whose accepted file types are loaded
let lastPollError = "";

// Parts of the pipeline panel, made once so the <details> keeps its open state
// across polls.
const pipe = {};

export function init() {
  const zone = $("dropzone");
  const input = $("upload-input");
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (e) => {
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
      zone.classList.add("over");
    });
  }
  zone.addEventListener("dragleave", (e) => {
    if (!zone.contains(e.relatedTarget)) zone.classList.remove("over");
  });
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    uploadFiles([...e.dataTransfer.files]);
  });
  zone.addEventListener("keydown", (e) => {
    if ((e.key === "Enter" || e.key === " ") && e.target === zone) {
      e.preventDefault();
      input.click();
    }
  });
  input.addEventListener("change", () => {
    const files = [...input.files];
    input.value = ""; // choosing the same file again must fire "change" again
    uploadFiles(files);
  });
  $("scan-button").addEventListener("click", () =>
    action("/documents/scan", "Scan"));
  $("retry-failed-button").addEventListener("click", () =>
    action("/documents/reprocess_failed", "Retry"));
  $("refresh-documents").addEventListener("click", () => refresh());

  pipe.state = h("span", { class: "pipe-state" });
  pipe.job = h("span", { class: "pipe-job" });
  pipe.progress = h("progress", { max: 1, value: 0, hidden: true });
  pipe.counts = h("span", { class: "pipe-counts" });
  pipe.latest = h("div", { class: "pipe-latest" });
  pipe.history = h("pre", { class: "pipe-history" });
  pipe.details = h("details", {}, h("summary", { text: "Pipeline messages" }), pipe.history);
  $("pipeline-status").append(
    h("div", { class: "pipe-line" }, pipe.state, pipe.job, pipe.progress, pipe.counts),
    pipe.latest,
    pipe.details,
  );
  renderPipeline(null);
}

export function show() {
  visible = true;
  loadAccept();
  refresh();
  clearInterval(timer);
  timer = setInterval(poll, POLL_MS);
}

export function hide() {
  visible = false;
  clearInterval(timer);
  timer = 0;
}

export function reset() {
  $("documents-table").tBodies[0].replaceChildren();
  $("status-counts").replaceChildren();
  $("upload-log").replaceChildren();
  $("documents-more").textContent = "";
  renderPipeline(null);
  unfinished = false;
  wasBusy = false;
  watchUntil = 0;
  acceptFor = null;
  lastPollError = "";
}

// ---------------------------------------------------------------------------
// Loading

async function refresh() {
  try {
    await Promise.all([loadDocuments(), loadPipeline()]);
    lastPollError = "";
  } catch (err) {
    if (!isQuiet(err)) notify(`Documents: ${err.message}`, "error");
  }
}

async function poll() {
  if (polling || !visible) return;
  polling = true;
  try {
    const status = await loadPipeline();
    // The table only changes while something is on its way; a finished pipeline
    // gets one last refresh to show the final states.
    const busy = Boolean(status.busy);
    if (busy || unfinished || busy !== wasBusy || Date.now() < watchUntil) await loadDocuments();
    wasBusy = busy;
    lastPollError = "";
  } catch (err) {
    // Report a failing poll once, not every 1.5 s.
    if (!isQuiet(err) && err.message !== lastPollError) {
      lastPollError = err.message;
      notify(`Documents: ${err.message}`, "error");
    }
  } finally {
    polling = false;
  }
}

async function loadAccept() {
  const workspace = session.workspace;
  if (acceptFor === workspace) return;
  try {
    const data = await api.get("/documents/supported_file_types");
    const types = data.supported_extensions || [];
    $("upload-input").accept = types.join(",");
    const shown = types.slice(0, 14).join(" ");
    $("upload-types").textContent = types.length
      ? `Accepted: ${shown}${types.length > 14 ? ` and ${types.length - 14} more` : ""}`
      : "";
    acceptFor = workspace;
  } catch (err) {
    // Not fatal: the server checks every upload anyway.
    if (!isQuiet(err)) $("upload-types").textContent = "";
  }
}

async function loadDocuments() {
  const data = await api.post("/documents/paginated", {
    page: 1,
    page_size: PAGE_SIZE,
    sort_field: "updated_at",
    sort_direction: "desc",
  });
  const docs = data.documents || [];
  const counts = data.status_counts || {};
  renderCounts(counts);
  renderRows(docs);
  const total = (data.pagination && data.pagination.total_count) || docs.length;
  $("documents-more").textContent =
    total > docs.length
      ? `Showing the ${docs.length} most recently updated of ${total} documents.`
      : docs.length === 0 ? "No documents in this workspace yet." : "";
  // Judge by the counts, which cover every page, not only the rows shown.
  const all = counts.all ?? docs.length;
  unfinished = all - (counts.processed || 0) - (counts.failed || 0) > 0;
}

async function loadPipeline() {
  const status = await api.get("/documents/pipeline_status");
  renderPipeline(status);
  return status;
}

// ---------------------------------------------------------------------------
// Rendering

function renderPipeline(status) {
  if (!pipe.state) return;
  if (!status) {
    pipe.state.textContent = "Pipeline: —";
    pipe.state.className = "pipe-state";
    pipe.job.textContent = "";
    pipe.counts.textContent = "";
    pipe.latest.textContent = "";
    pipe.history.textContent = "";
    pipe.progress.hidden = true;
    return;
  }
  const busy = Boolean(status.busy);
  const scanning = Boolean(status.scanning);
  pipe.state.textContent = busy ? "Processing" : scanning ? "Scanning" : "Idle";
  pipe.state.className = `pipe-state ${busy || scanning ? "busy" : "idle"}`;
  const started = status.job_start ? ` since ${formatTime(status.job_start)}` : "";
  pipe.job.textContent = busy && status.job_name ? `${status.job_name}${started}` : "";
  const batches = Number(status.batchs) || 0;
  pipe.progress.hidden = !(busy && batches > 0);
  pipe.progress.max = Math.max(batches, 1);
  pipe.progress.value = Math.min(Number(status.cur_batch) || 0, batches);
  pipe.counts.textContent = busy
    ? `documents ${status.docs ?? 0} · batch ${status.cur_batch ?? 0}/${batches}`
    : "";
  if (status.cancellation_requested) pipe.counts.textContent += " · cancelling";
  pipe.latest.textContent = status.latest_message || "";
  const history = Array.isArray(status.history_messages) ? status.history_messages : [];
  pipe.history.textContent = history.slice(-40).join("\n");
}

function renderCounts(counts) {
  const box = $("status-counts");
  const names = [...STATES, ...Object.keys(counts).filter((k) => k !== "all" && !STATES.includes(k))];
  const items = [h("span", { class: "count all" }, "all ", h("b", { text: counts.all ?? 0 }))];
  for (const name of names) {
    if (!counts[name]) continue;
    items.push(h("span", { class: `count status-${name}`, dataset: { status: name } }, `${name} `, h("b", { text: counts[name] })));
  }
  box.replaceChildren(...items);
}

/** One row per document, updated in place so a click on a row's button is never lost to a redraw. */
function renderRows(docs) {
  const body = $("documents-table").tBodies[0];
  const existing = new Map([...body.rows].map((row) => [row.dataset.docId, row]));
  const rows = docs.map((doc) => {
    const row = existing.get(doc.id) || makeRow(doc.id);
    existing.delete(doc.id);
    fillRow(row, doc);
    return row;
  });
  for (const gone of existing.values()) gone.remove();
  // Reorder only when the order changed (moving a row under the pointer is jarring).
  const same = rows.length === body.rows.length && rows.every((row, i) => body.rows[i] === row);
  if (!same) body.append(...rows);
}

function makeRow(id) {
  const del = h("button", { type: "button", class: "delete-doc", text: "Delete", title: "Delete this document and its file" });
  del.addEventListener("click", () => deleteDocument(id, del));
  return h(
    "tr",
    { dataset: { docId: id } },
    h("td", { class: "file-path" }),
    h("td", { class: "status" }),
    h("td", { class: "chunks num" }),
    h("td", { class: "updated" }),
    h("td", { class: "error" }),
    h("td", { class: "actions" }, del),
  );
}

function setText(cell, text) {
  if (cell.textContent !== text) cell.textContent = text;
}

function fillRow(row, doc) {
  const [path, status, chunks, updated, error] = row.cells;
  setText(path, doc.file_path || doc.id);
  path.title = doc.content_summary ? `${doc.id}\n${doc.content_summary}` : doc.id;
  setText(status, doc.status || "");
  status.className = `status status-${doc.status}`;
  setText(chunks, doc.chunks_count === null || doc.chunks_count === undefined ? "" : String(doc.chunks_count));
  setText(updated, formatTime(doc.updated_at));
  updated.title = doc.updated_at || "";
  setText(error, doc.status === "failed" ? doc.error_msg || "" : "");
  row.dataset.filePath = doc.file_path || "";
}

// ---------------------------------------------------------------------------
// Actions

async function action(path, label) {
  try {
    const reply = await api.post(path);
    const ok = !/skipped|busy/.test(reply.status || "");
    notify(`${label}: ${reply.message || reply.status}`, ok ? "ok" : "info");
    watchUntil = Date.now() + 20000;
    await refresh();
  } catch (err) {
    if (!isQuiet(err)) notify(`${label}: ${err.message}`, "error");
  }
}

async function deleteDocument(id, button) {
  const row = button.closest("tr");
  const name = (row && row.dataset.filePath) || id;
  if (!confirm(`Delete "${name}" with its chunks, graph entries and uploaded file?`)) return;
  button.disabled = true;
  try {
    const reply = await api.del("/documents/delete_document", { doc_ids: [id], delete_file: true });
    const started = reply.status === "deletion_started";
    notify(reply.message || reply.status, started ? "ok" : "error");
    // The deletion runs in the background: watch the table until it is gone.
    watchUntil = Date.now() + 30000;
    await refresh();
  } catch (err) {
    if (!isQuiet(err)) notify(`Delete: ${err.message}`, "error");
  } finally {
    button.disabled = false;
  }
}

/** Uploads files one after another, each with its own line in the log. */
async function uploadFiles(files) {
  if (!files.length) return;
  const log = $("upload-log");
  const workspace = session.workspace;
  const lines = files.map((file) =>
    h("li", { class: "pending" }, h("b", { text: file.name }), h("span", { text: " waiting…" })));
  log.prepend(...lines); // newest batch on top, its files in the order chosen
  for (const [i, file] of files.entries()) {
    const line = lines[i];
    const note = line.lastChild;
    // A batch belongs to the workspace it was started in.
    if (session.workspace !== workspace) {
      note.textContent = " not sent: the workspace changed";
      line.className = "failed";
      continue;
    }
    note.textContent = " uploading…";
    try {
      const reply = await api.upload("/documents/upload", file);
      note.textContent = ` ${reply.message || "uploaded"}`;
      line.className = "ok";
    } catch (err) {
      if (err instanceof StaleError) {
        note.textContent = " sent; the workspace changed before the answer";
        continue;
      }
      note.textContent = ` failed: ${err.message}`;
      line.className = "failed";
    }
  }
  // Keep the log short; the table is the record.
  while (log.children.length > 50) log.lastChild.remove();
  if (session.workspace === workspace) {
    watchUntil = Date.now() + 20000;
    refresh();
  }
}
