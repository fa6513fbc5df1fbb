// The shell: boot, sign-in, the workspace switcher, tabs and the shared status line.
// Each view (documents, retrieval, graph, operator) is a module with the same small
// interface: init() once, show() when it becomes visible or its workspace changes,
// hide() when it is left, reset() to forget everything it shows.

import { api, events, notify, session, settings, validWorkspaceName, isQuiet } from "./api.js";
import * as documents from "./documents.js";
import * as retrieval from "./retrieval.js";
import * as graph from "./graph.js";
import * as operator from "./operator.js";

const views = { documents, retrieval, graph, operator };
const $ = (id) => document.getElementById(id);

let current = null; // name of the visible view
let authConfigured = false; // accounts exist: a login is needed
let started = false; // views initialised and data loaded once
let reauthAt = 0; // when the last silent re-authentication ran (to avoid loops)

// ---------------------------------------------------------------------------
// Status line

let messageTimer = 0;
events.addEventListener("message", (event) => {
  const { text, kind } = event.detail;
  const box = $("message");
  box.textContent = text;
  box.className = `message ${kind}`;
  box.hidden = !text;
  clearTimeout(messageTimer);
  // Errors stay longer: the user has to be able to read what went wrong.
  messageTimer = setTimeout(() => { box.hidden = true; }, kind === "error" ? 15000 : 5000);
});

// ---------------------------------------------------------------------------
// Authentication

function setTitle(title) {
  const text = title || "LightRAG";
  $("app-title").textContent = text;
  document.title = text;
}

/** Who the token says the user is, for display only (the server decides access). */
function tokenSubject(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part)).sub || "";
  } catch {
    return "";
  }
}

function showSession() {
  const user = session.token ? tokenSubject(session.token) : "";
  $("session-user").textContent = session.apiKey ? "API key" : user;
  // Shown whenever a credential is held, guest tokens included, so it can always be dropped.
  $("logout").hidden = !session.token && !session.apiKey;
}

/**
 * Asks the server how it authenticates. Returns true when requests can go ahead,
 * false when the user must sign in first (the login form is then showing).
 */
async function authenticate() {
  let status = null;
  try {
    status = await api.get("/auth-status", { anyWorkspace: true, quietAuth: true });
  } catch (err) {
    notify(`Cannot read the server's authentication settings: ${err.message}`, "error");
    return true; // try anyway; a 401 later brings the login form
  }
  authConfigured = Boolean(status.auth_configured);
  if (!settings.webuiTitle && status.webui_title) setTitle(status.webui_title);
  if (!authConfigured) {
    // No accounts: the server hands out a guest token, which replaces whatever was
    // stored (a user token from an earlier configuration would be refused).
    if (status.access_token) session.token = status.access_token;
    showSession();
    return true;
  }
  showSession();
  if (!session.token && !session.apiKey) {
    showLogin("");
    return false;
  }
  return true;
}

function showLogin(reason, preferKey = false) {
  document.body.classList.add("locked");
  $("login-panel").hidden = false;
  $("login-error").textContent = reason || "";
  $("login-form").hidden = !authConfigured && preferKey;
  (preferKey ? $("login-api-key") : $("login-username")).focus();
  if (current) views[current].hide();
}

function hideLogin() {
  document.body.classList.remove("locked");
  $("login-panel").hidden = true;
  $("login-error").textContent = "";
}

async function onLogin(event) {
  event.preventDefault();
  const username = $("login-username").value.trim();
  const password = $("login-password").value;
  if (!username || !password) return;
  $("login-submit").disabled = true;
  try {
    const reply = await api.post("/login", undefined, {
      anyWorkspace: true,
      quietAuth: true,
      form: { username, password },
    });
    session.token = reply.access_token || "";
    $("login-password").value = "";
    hideLogin();
    showSession();
    await start();
  } catch (err) {
    $("login-error").textContent = err.message;
  } finally {
    $("login-submit").disabled = false;
  }
}

async function onApiKey(event) {
  event.preventDefault();
  session.apiKey = $("login-api-key").value.trim();
  $("login-api-key").value = "";
  hideLogin();
  showSession();
  await start();
}

async function onLogout() {
  session.token = "";
  session.apiKey = "";
  showSession();
  for (const view of Object.values(views)) view.reset();
  if (authConfigured) {
    showLogin("Signed out.");
    return;
  }
  // Without accounts the server may need nothing at all; if it wants an API key, the
  // refused requests bring the key form.
  notify("Signed out.", "info");
  if (current && started) views[current].show();
}

// A request was refused for lack of credentials.
events.addEventListener("unauthorized", async (event) => {
  if (!$("login-panel").hidden) return;
  const reason = event.detail.message;
  if (event.detail.status === 403) {
    showLogin(reason, true); // an API key is what is missing
    return;
  }
  // An expired or foreign guest token: fetch a fresh one silently, once in a while.
  if (!authConfigured && Date.now() - reauthAt > 5000) {
    reauthAt = Date.now();
    session.token = "";
    if (await authenticate()) {
      if (current) views[current].show();
      return;
    }
  }
  session.token = "";
  showLogin(reason);
});

// ---------------------------------------------------------------------------
// Workspaces

const typed = new Set(); // names entered by hand during this visit

function setOptions(names, chosen) {
  const select = $("workspace-select");
  select.replaceChildren();
  const all = [...new Set([...names, ...typed, ...(chosen ? [chosen] : [])])];
  if (!all.length) {
    // No list and no choice: requests go without the header, to the server's default.
    select.append(new Option("(server default)", ""));
  }
  for (const name of all) select.append(new Option(name, name));
  select.value = chosen || "";
}

async function loadWorkspaces() {
  let names = [];
  let fallback = null;
  try {
    const data = await api.get("/auth/workspaces", { anyWorkspace: true });
    names = Array.isArray(data.workspaces) ? data.workspaces : [];
    fallback = data.default || null;
  } catch (err) {
    // An older server without the route: work with the remembered choice.
    if (err.status !== 404 && err.status !== 405 && !isQuiet(err)) notify(`Workspaces: ${err.message}`, "error");
  }
  let chosen = session.workspace;
  if (names.length && chosen && !names.includes(chosen)) {
    notify(`Workspace '${chosen}' is not among yours; switched.`, "info");
    chosen = "";
  }
  if (!chosen) chosen = fallback || names[0] || "";
  session.workspace = chosen;
  setOptions(names, chosen);
}

function switchWorkspace(name) {
  if (name === session.workspace) return;
  session.workspace = name;
  const select = $("workspace-select");
  // "(server default)" stands for "no choice yet"; once a name is chosen it goes.
  for (const option of [...select.options]) if (!option.value && name) option.remove();
  if (![...select.options].some((o) => o.value === name)) select.append(new Option(name, name));
  select.value = name;
  // Every view forgets the previous workspace's data before anything new is shown.
  for (const view of Object.values(views)) view.reset();
  if (current) views[current].show();
}

function useTypedWorkspace() {
  const input = $("workspace-new");
  const name = input.value.trim();
  if (!validWorkspaceName(name)) {
    notify("A workspace name is 1-64 letters, digits, '_' or '-', starting with a letter or digit.", "error");
    input.focus();
    return;
  }
  typed.add(name);
  input.value = "";
  switchWorkspace(name);
  notify(`Using workspace '${name}'.`, "ok");
}

// ---------------------------------------------------------------------------
// Tabs

function showView(name) {
  if (!views[name]) name = "documents";
  if (current === name) return;
  if (current) views[current].hide();
  current = name;
  for (const key of Object.keys(views)) {
    const active = key === name;
    $(`view-${key}`).hidden = !active;
    const tab = $(`tab-${key}`);
    tab.classList.toggle("active", active);
    tab.setAttribute("aria-selected", String(active));
  }
  if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
  if (started) views[name].show();
}

// ---------------------------------------------------------------------------
// Boot

async function start() {
  try {
    await loadWorkspaces();
  } catch (err) {
    if (!isQuiet(err)) notify(err.message, "error");
  }
  started = true;
  const name = current || location.hash.slice(1) || "documents";
  current = null; // so showView shows it even when it is already selected
  showView(name);
}

function wire() {
  for (const key of Object.keys(views)) {
    $(`tab-${key}`).addEventListener("click", () => showView(key));
  }
  window.addEventListener("hashchange", () => showView(location.hash.slice(1)));
  $("workspace-select").addEventListener("change", (e) => switchWorkspace(e.target.value));
  $("workspace-use").addEventListener("click", useTypedWorkspace);
  $("workspace-new").addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      useTypedWorkspace();
    }
  });
  $("login-form").addEventListener("submit", onLogin);
  $("apikey-form").addEventListener("submit", onApiKey);
  $("logout").addEventListener("click", onLogout);
  $("message").addEventListener("click", () => { $("message").hidden = true; });
  // Polls stop while the tab is in the background and resume when it returns.
  document.addEventListener("visibilitychange", () => {
    if (!current || !started) return;
    if (document.hidden) views[current].hide();
    else views[current].show();
  });
}

async function boot() {
  setTitle(settings.webuiTitle);
  wire();
  for (const view of Object.values(views)) view.init();
  // Mark the tab before data arrives, so the page never shows no view at all.
  const first = location.hash.slice(1);
  showView(views[first] ? first : "documents");
  if (await authenticate()) await start();
}

boot();
