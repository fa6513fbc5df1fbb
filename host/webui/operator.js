// Operator view: the admin API (X-Admin-Key). Lists every workspace on the server with
// its size and memory, the engine pool's state, and one workspace's details and audit
// trail. None of this depends on the workspace selected in the header.

import { api, h, fillList, formatBytes, formatTime, formatAgo, isQuiet } from "./api.js";

const $ = (id) => document.getElementById(id);
const KEY = "lightrag.adminKey";
const AUDIT_PAGE = 50;

let chosen = null; // workspace whose details are shown
let loading = false;

// The admin key opens every tenant's data: keep it for this tab only, never on disk.
function adminKey() {
  try {
    return sessionStorage.getItem(KEY) || "";
  } catch {
    return $("admin-key").value;
  }
}

function saveKey(value) {
  try {
    if (value) sessionStorage.setItem(KEY, value);
    else sessionStorage.removeItem(KEY);
  } catch {
    /* the input still holds it */
  }
}

function admin(path) {
  return api.get(path, {
    anyWorkspace: true,
    quietAuth: true, // a refused admin key is not a reason to sign the user out
    headers: { "X-Admin-Key": adminKey() },
  });
}

function say(text, kind = "info") {
  const box = $("operator-message");
  box.textContent = text;
  box.className = `hint ${kind}`;
}

export function init() {
  $("admin-key").value = adminKey();
  $("admin-form").addEventListener("submit", (e) => {
    e.preventDefault();
    saveKey($("admin-key").value.trim());
    loadAll();
  });
}

export function show() {
  if (adminKey()) loadAll();
  else loadPool();
}

export function hide() {}

// The operator's data is server-wide, not the selected workspace's: nothing to forget.
export function reset() {}

// ---------------------------------------------------------------------------

async function loadAll() {
  if (loading) return;
  loading = true;
  say("Loading…");
  try {
    const [list] = await Promise.allSettled([loadList(), loadPool()]);
    if (list.status === "fulfilled") say("");
    if (chosen) await loadDetails(chosen);
  } finally {
    loading = false;
  }
}

async function loadList() {
  if (!adminKey()) {
    say("Enter the admin key (LIGHTRAG_ADMIN_API_KEY).", "error");
    throw new Error("no key");
  }
  let data;
  try {
    data = await admin("/workspaces");
  } catch (err) {
    $("workspaces-table").tBodies[0].replaceChildren();
    say(err.status === 403 || err.status === 401 ? `Refused: ${err.message}` : err.message, "error");
    throw err;
  }
  const rows = (data.workspaces || []).map(workspaceRow);
  $("workspaces-table").tBodies[0].replaceChildren(...rows);
  if (!rows.length) say("No workspaces yet.");
}

// A bar of `used` against `limit`; `format` writes the amounts (bytes by default).
function memoryBar(used, limit, format = formatBytes) {
  if (used === null || used === undefined || !limit) {
    return h("span", { class: "hint", text: used ? format(used) : "not measured yet" });
  }
  const percent = Math.min(100, (used / limit) * 100);
  const level = percent > 75 ? "high" : percent > 50 ? "mid" : "low";
  return h("span", { class: "meter", title: `${format(used)} of ${format(limit)}` },
    h("span", { class: `bar ${level}` }, h("span", { class: "fill", style: `width:${percent.toFixed(1)}%` })),
    h("span", { class: "percent",
      text: `${format(used)} · ${percent.toFixed(percent < 10 ? 1 : 0)}%` }));
}

// A loaded workspace reports the memory its instance holds (what the limit caps);
// an unloaded one what its tables used when it was last unloaded.
function memoryOf(ws) {
  return ws.memory_reserved_bytes ?? ws.memory_bytes;
}

function workspaceRow(ws) {
  const row = h("tr", { tabindex: 0, dataset: { workspace: ws.name } },
    h("td", { class: "name", text: ws.name }),
    // Document counts are recorded when a workspace is unloaded: none before that.
    h("td", { class: "documents num", text: ws.documents ?? "—", title: ws.documents === null ? "known once the workspace has been unloaded" : null }),
    h("td", { class: "disk num", text: formatBytes(ws.bytes), title: `${ws.bytes} bytes` }),
    h("td", { class: "memory" }, memoryBar(memoryOf(ws), ws.memory_limit_bytes)),
    h("td", { class: "loaded", text: ws.loaded ? "yes" : "no" }),
    h("td", { class: "last-used", text: formatAgo(ws.last_used), title: formatTime(ws.last_used) }));
  if (ws.name === chosen) row.classList.add("selected");
  const open = () => {
    for (const other of row.parentElement.querySelectorAll("tr.selected")) other.classList.remove("selected");
    row.classList.add("selected");
    loadDetails(ws.name);
  };
  row.addEventListener("click", open);
  row.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
  return row;
}

async function loadPool() {
  try {
    const health = await api.get("/health", { anyWorkspace: true, quietAuth: true });
    const pool = health.pool;
    if (!pool) {
      fillList($("pool-state"), [["pool", "shown to signed-in callers only"]]);
      return;
    }
    // Every field the server reports, in its order, so new ones show up too.
    const pairs = Object.entries(pool).map(([k, v]) => [k.replace(/_/g, " "), typeof v === "object" ? JSON.stringify(v) : String(v)]);
    if (pool.capacity) pairs.unshift(["in use", memoryBar(pool.loaded, pool.capacity, String)]);
    for (const [name, queue] of [["model calls", health.llm_queue_status], ["embedding calls", health.embedding_queue_status]]) {
      if (queue) pairs.push([name, `${queue.in_use}/${queue.capacity} running, ${queue.waiting} waiting`]);
    }
    if (health.uptime_seconds !== undefined) pairs.push(["uptime", `${Math.round(health.uptime_seconds / 60)} min`]);
    fillList($("pool-state"), pairs);
  } catch (err) {
    if (!isQuiet(err)) fillList($("pool-state"), [["pool", err.message]]);
  }
}

function limitsText(limits) {
  if (!limits) return "—";
  const disk = limits.disk_mb ? `${limits.disk_mb} MiB` : "no limit";
  return `memory ${limits.memory_mb} MiB · CPU ${limits.cpu_ms} ms per call · disk ${disk}`;
}

function overridesText(overrides) {
  const set = Object.entries(overrides || {}).filter(([, v]) => v !== null && v !== undefined);
  return set.length ? set.map(([k, v]) => `${k} ${v}`).join(", ") : "none (server defaults)";
}

function usageLines(usage) {
  const roles = Object.entries(usage || {});
  if (!roles.length) return "no model calls since the server started";
  return h("ul", { class: "plain" }, roles.map(([role, u]) => h("li", {
    text: `${role}: ${u.calls} calls, ${u.prompt_tokens} + ${u.completion_tokens} tokens` +
      `${u.errors ? `, ${u.errors} errors` : ""}${u.calls ? `, ${Math.round(u.latency_ms / u.calls)} ms avg` : ""}`,
  })));
}

async function loadDetails(name) {
  chosen = name;
  const details = $("workspace-details");
  fillList(details, [["workspace", name], ["", "Loading…"]]);
  $("audit-list").replaceChildren();
  const path = `/workspaces/${encodeURIComponent(name)}`;
  try {
    const d = await admin(path);
    if (chosen !== name) return;
    fillList(details, [
      ["workspace", d.name],
      ["documents", String(d.documents)],
      ["chunks", String(d.chunks)],
      ["entities", String(d.entities)],
      ["relations", String(d.relations)],
      ["cached answers", String(d.cache_entries)],
      ["memory", memoryBar(memoryOf(d), d.memory_limit_bytes)],
      ["disk", `${formatBytes(d.bytes)} (engine files ${formatBytes(d.engine_bytes)})`],
      ["limits", limitsText(d.limits)],
      ["overrides", overridesText(d.limit_overrides)],
      ["model usage", usageLines(d.usage)],
    ]);
  } catch (err) {
    if (chosen !== name) return;
    fillList(details, [["workspace", name], ["error", err.message]]);
    say(`${name}: ${err.message}`, "error");
  }
  await loadAudit(name, path);
}

/** The newest entries: the trail is read oldest first, so ask for the last page. */
async function loadAudit(name, path) {
  const list = $("audit-list");
  try {
    let page = await admin(`${path}/audit?limit=${AUDIT_PAGE}`);
    if (page.total > AUDIT_PAGE) {
      page = await admin(`${path}/audit?limit=${AUDIT_PAGE}&offset=${page.total - AUDIT_PAGE}`);
    }
    if (chosen !== name) return;
    const entries = [...(page.entries || [])].reverse();
    list.replaceChildren(...entries.map(auditItem));
    if (!entries.length) list.append(h("li", { class: "hint", text: "No audit entries." }));
  } catch (err) {
    if (chosen === name) list.replaceChildren(h("li", { class: "error", text: `Audit trail: ${err.message}` }));
  }
}

function auditItem(entry) {
  const { ts, workspace, event, actor, ...rest } = entry;
  const extra = Object.keys(rest).length ? JSON.stringify(rest) : "";
  return h("li", {},
    h("time", { text: formatTime(ts), title: ts || "" }), " ",
    actor ? h("span", { class: "actor", text: `${actor} ` }) : null,
    h("b", { class: "event", text: event || "event" }), " ",
    extra ? h("code", { text: extra }) : null);
}
