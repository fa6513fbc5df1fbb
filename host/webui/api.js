// The one client of the server's HTTP API, and the few helpers every view shares.
//
// Every request goes through `request()`, so the workspace header, the credentials,
// token renewal and error messages are handled in exactly one place.

const config = window.__LIGHTRAG_CONFIG__ || {};

/** Settings the server injected into the page (see index.html). */
export const settings = {
  // The API lives beside the UI unless the server says it is under a prefix.
  apiPrefix: String(config.apiPrefix || "").replace(/\/+$/, ""),
  webuiTitle: config.webuiTitle || "",
};

// ---------------------------------------------------------------------------
// Session: what the user chose, kept across reloads.

const KEYS = {
  token: "lightrag.token",
  workspace: "lightrag.workspace",
  apiKey: "lightrag.apiKey",
};

// Storage can be unavailable (private windows, disabled cookies): the UI must still
// work for the life of the page, so values are mirrored in memory.
const memory = {};
function load(key) {
  try {
    return localStorage.getItem(key) || "";
  } catch {
    return memory[key] || "";
  }
}
function save(key, value) {
  memory[key] = value || "";
  try {
    if (value) localStorage.setItem(key, value);
    else localStorage.removeItem(key);
  } catch {
    /* memory copy is enough */
  }
}

// The workspace is held per page: another tab switching must not silently redirect
// this tab's requests. Storage only remembers the last choice for the next visit.
let workspace = load(KEYS.workspace);

export const session = {
  get token() { return load(KEYS.token); },
  set token(value) { save(KEYS.token, value); },
  get apiKey() { return load(KEYS.apiKey); },
  set apiKey(value) { save(KEYS.apiKey, value); },
  get workspace() { return workspace; },
  set workspace(value) {
    workspace = value || "";
    save(KEYS.workspace, workspace);
  },
};

/** Same rule as the server: 1-64 of [A-Za-z0-9_-], starting with a letter or digit. */
export function validWorkspaceName(name) {
  return /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(name);
}

// ---------------------------------------------------------------------------
// Events: views and the API client talk to the shell (app.js) through these, so no
// module needs to import app.js (which imports them).

export const events = new EventTarget();

/** Shows `text` in the shared status line; kind is "error", "ok" or "info". */
export function notify(text, kind = "info") {
  events.dispatchEvent(new CustomEvent("message", { detail: { text: String(text), kind } }));
}

// ---------------------------------------------------------------------------
// Errors

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

/**
 * Thrown when a response arrives for a workspace that is no longer selected. Views
 * drop such results silently: showing them would mix two tenants' data.
 */
export class StaleError extends Error {
  constructor() {
    super("The workspace changed while the request was running");
    this.name = "StaleError";
  }
}

/** Whether an error is one a view should ignore (a stale answer or an abort). */
export function isQuiet(err) {
  return err instanceof StaleError || Boolean(err && (err.name === "AbortError" || err.handled));
}

/** The human message of an error body: `{"detail": "..."}` or a validation list. */
export function detailMessage(body, response) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((item) => {
        const where = (item.loc || []).filter((part) => part !== "body").join(".");
        return where ? `${where}: ${item.msg}` : String(item.msg);
      })
      .join("; ");
  }
  if (body && typeof body.message === "string") return body.message;
  return `${response.status} ${response.statusText || "error"}`.trim();
}

// ---------------------------------------------------------------------------
// Requests

function buildHeaders(extra, useWorkspace, workspace) {
  const headers = new Headers(extra || {});
  if (useWorkspace && workspace) headers.set("LIGHTRAG-WORKSPACE", workspace);
  const token = session.token;
  if (token) headers.set("Authorization", `Bearer ${token}`);
  const key = session.apiKey;
  if (key) headers.set("X-API-Key", key);
  return headers;
}

/**
 * Sends one request to the API.
 * Options: method, json (a body sent as JSON), form (an object sent url-encoded),
 * body (FormData and the like, sent as is), headers, signal, raw (return the
 * Response itself, for streams), anyWorkspace (the route does not depend on the
 * selected workspace: no header, no staleness check), quietAuth (a 401 is the
 * caller's business, not a reason to show the login form).
 */
export async function request(path, options = {}) {
  const { method = "GET", json, form, headers, signal } = options;
  const useWorkspace = !options.anyWorkspace;
  const workspace = session.workspace;
  const sentHeaders = buildHeaders(headers, useWorkspace, workspace);
  let body = options.body;
  if (json !== undefined) {
    body = JSON.stringify(json);
    sentHeaders.set("Content-Type", "application/json");
  } else if (form) {
    body = new URLSearchParams(form); // fetch labels it x-www-form-urlencoded
  }

  let response;
  try {
    response = await fetch(settings.apiPrefix + path, {
      method,
      headers: sentHeaders,
      body,
      signal,
      cache: "no-store",
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, `Cannot reach the server (${err.message})`, null);
  }

  // The server renews a token nearing its end on any authenticated response.
  const renewed = response.headers.get("X-New-Token");
  if (renewed) session.token = renewed;

  if (useWorkspace && workspace !== session.workspace) {
    if (response.body) response.body.cancel().catch(() => {});
    throw new StaleError();
  }

  if (!response.ok) {
    const text = await response.text().catch(() => "");
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = text ? { detail: text.slice(0, 300) } : null;
    }
    const err = new ApiError(response.status, detailMessage(data, response), data);
    // 401: no or bad credentials; 403: an API key is required or wrong. Either way
    // the shell asks the user for credentials, unless the caller handles it.
    if ((response.status === 401 || response.status === 403) && !options.quietAuth) {
      err.handled = true; // the sign-in form says it; views need not repeat it
      events.dispatchEvent(
        new CustomEvent("unauthorized", { detail: { status: response.status, message: err.message } }),
      );
    }
    throw err;
  }
  if (options.raw) return response;
  const type = response.headers.get("Content-Type") || "";
  const data = await (type.includes("json") ? response.json() : response.text());
  // Reading the body takes time too: the workspace may have changed meanwhile.
  if (useWorkspace && workspace !== session.workspace) throw new StaleError();
  return data;
}

/** Query string from an object, skipping empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export const api = {
  get: (path, options) => request(path, options),
  post: (path, json, options) => request(path, { ...options, method: "POST", json }),
  del: (path, json, options) => request(path, { ...options, method: "DELETE", json }),
  /** One file as multipart field `file` (the browser sets the boundary). */
  upload(path, file, options) {
    const body = new FormData();
    body.append("file", file, file.name);
    return request(path, { ...options, method: "POST", body });
  },
};

// ---------------------------------------------------------------------------
// DOM helpers. Server text only ever reaches the page through textContent and
// attribute setters here, never through HTML parsing.

/**
 * Creates an element. attrs: class, text, title, dataset {…}, on {event: fn},
 * and any other attribute by name. Children: nodes or strings (as text).
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = String(value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
    else if (name in node && typeof value !== "string") node[name] = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** A <dl> filled from [label, value] pairs (values: strings, numbers or nodes). */
export function fillList(dl, pairs) {
  dl.replaceChildren();
  for (const [label, value] of pairs) {
    dl.append(h("dt", { text: label }), h("dd", {}, value === null || value === undefined ? "—" : value));
  }
}

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined || Number.isNaN(Number(bytes))) return "—";
  let value = Number(bytes);
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 || value >= 100 ? 0 : 1)} ${units[unit]}`;
}

/** A time from an ISO string or Unix seconds, in the user's locale; "—" if none. */
export function formatTime(value) {
  if (value === null || value === undefined || value === "") return "—";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString();
}

/** A short "how long ago" for recent times. */
export function formatAgo(value) {
  if (value === null || value === undefined) return "—";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  if (Number.isNaN(seconds)) return String(value);
  if (seconds < 60) return `${Math.max(seconds, 0)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return date.toLocaleString();
}
