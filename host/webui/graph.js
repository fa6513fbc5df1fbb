// Knowledge-graph view: load a subgraph (GET /graphs), lay it out with a small
// force simulation on a canvas, inspect nodes and edges, edit an entity's description.

import { api, h, notify, isQuiet, query, fillList, formatTime, session } from "./api.js";

const $ = (id) => document.getElementById(id);

// Layout constants, in world units (1 unit = 1 CSS pixel at zoom 1).
const LINK = 70; // rest length of an edge
const CHARGE = 260; // repulsion between every pair of nodes
const GRAVITY = 0.04; // pull towards the centre, so parts that are not connected stay near
const DECAY = 1 - Math.pow(0.001, 1 / 300); // alpha reaches 0.001 in 300 iterations
const FRICTION = 0.6;
const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
  "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#2f4b7c", "#a05195"];

let nodes = []; // {id, type, props, degree, r, color, x, y, vx, vy, fixed}
let edges = []; // {id, s, t, props}
let byId = new Map();
let selected = null; // {kind: "node"|"edge", item}
let camera = { x: 0, y: 0, k: 1 }; // screen = world * k + (x, y)
let userMoved = false; // the user panned or zoomed: do not re-fit the view
let alpha = 0;
let running = false;
let drawQueued = false;
let loadSeq = 0; // the newest load; older answers are dropped
let loadedFor = null; // workspace the shown graph belongs to
let canvas, ctx;
let dpr = 1;
let searchTimer = 0;

export function init() {
  canvas = $("graph-canvas");
  ctx = canvas.getContext("2d");
  $("graph-form").addEventListener("submit", (e) => {
    e.preventDefault();
    load();
  });
  $("graph-label").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(suggest, 250);
  });
  $("entity-save").addEventListener("click", saveDescription);
  new ResizeObserver(resize).observe(canvas.parentElement);
  wirePointer();
}

export function show() {
  resize();
  if (!userMoved) fit(); // a graph loaded while hidden was laid out without a size
  if (alpha > 0.001) reheat(0); // a layout left half-way when the view was hidden
  if (!$("graph-label-options").children.length) suggest();
  if (loadedFor !== session.workspace) load();
}

export function hide() {
  running = false; // the layout resumes on the next load or drag
}

export function reset() {
  loadSeq += 1; // an answer still on its way belongs to the previous workspace
  running = false;
  [nodes, edges, byId, loadedFor] = [[], [], new Map(), null];
  for (const id of ["graph-label-options", "graph-nodes", "graph-edges", "graph-legend"]) $(id).replaceChildren();
  $("graph-info").textContent = "";
  $("graph-message").textContent = "";
  select(null);
}

// ---------------------------------------------------------------------------
// Data

async function suggest() {
  const q = $("graph-label").value.trim();
  try {
    const labels = q && q !== "*"
      ? await api.get(`/graph/label/search${query({ q, limit: 20 })}`)
      : await api.get(`/graph/label/popular${query({ limit: 20 })}`);
    $("graph-label-options").replaceChildren(...labels.map((label) => h("option", { value: label })));
  } catch (err) {
    if (!isQuiet(err)) notify(`Labels: ${err.message}`, "error");
  }
}

function intInput(id, fallback, max) {
  const value = parseInt($(id).value, 10);
  if (Number.isFinite(value) && value >= 1 && value <= max) return value;
  $(id).value = String(fallback);
  return fallback;
}

async function load(keepSelection = false) {
  const seq = ++loadSeq;
  const label = $("graph-label").value.trim() || "*";
  const params = { label, max_depth: intInput("graph-depth", 2, 100), max_nodes: intInput("graph-max-nodes", 200, 1000) };
  $("graph-info").textContent = "Loading…";
  try {
    const data = await api.get(`/graphs${query(params)}`);
    if (seq !== loadSeq) return;
    loadedFor = session.workspace;
    const keep = keepSelection && selected ? { kind: selected.kind, id: selected.item.id } : null;
    build(data);
    const count = `${nodes.length} nodes, ${edges.length} edges${data.is_truncated ? " (truncated)" : ""}`;
    $("graph-info").textContent = nodes.length ? count : `No graph for "${label}" yet.`;
    const again = keep && (keep.kind === "node" ? byId.get(keep.id) : edges.find((e) => e.id === keep.id));
    select(again ? { kind: keep.kind, item: again } : null);
  } catch (err) {
    if (seq !== loadSeq || isQuiet(err)) return;
    $("graph-info").textContent = "";
    notify(`Graph: ${err.message}`, "error");
  }
}

/** Turns the server's graph into simulation nodes, keeping positions of known nodes. */
function build(data) {
  const old = byId;
  byId = new Map();
  nodes = (data.nodes || []).map((n, i) => {
    const prev = old.get(n.id);
    // A spiral start spreads nodes evenly, so the first frames are not an explosion.
    const radius = 12 * Math.sqrt(i + 0.5);
    const angle = i * Math.PI * (3 - Math.sqrt(5));
    const node = {
      id: n.id, props: n.properties || {}, degree: 0, fixed: false,
      type: (n.properties && n.properties.entity_type) || "unknown",
      x: prev ? prev.x : radius * Math.cos(angle), y: prev ? prev.y : radius * Math.sin(angle),
      vx: 0, vy: 0,
    };
    byId.set(n.id, node);
    return node;
  });
  edges = [];
  for (const e of data.edges || []) {
    const s = byId.get(e.source);
    const t = byId.get(e.target);
    if (!s || !t || s === t) continue; // an edge to a node outside the answer cannot be drawn
    s.degree += 1;
    t.degree += 1;
    edges.push({ id: e.id || `${e.source}-${e.target}`, s, t, props: e.properties || {} });
  }
  // Colours by entity type, the commonest types getting the clearest colours.
  const counts = new Map();
  for (const n of nodes) counts.set(n.type, (counts.get(n.type) || 0) + 1);
  const types = [...counts.keys()].sort((a, b) => counts.get(b) - counts.get(a) || a.localeCompare(b));
  const colour = new Map(types.map((t, i) => [t, i < PALETTE.length ? PALETTE[i] : `hsl(${(i * 137.5) % 360} 55% 55%)`]));
  for (const n of nodes) {
    n.color = colour.get(n.type);
    n.r = 5 + Math.min(9, Math.sqrt(n.degree) * 1.6);
  }
  $("graph-legend").replaceChildren(...types.map((t) =>
    h("span", { class: "legend-item" }, h("i", { style: `background:${colour.get(t)}` }), `${t} (${counts.get(t)})`)));
  renderNodeList();
  renderEdgeList();
  if (!old.size) {
    userMoved = false;
    camera = { x: canvas.clientWidth / 2, y: canvas.clientHeight / 2, k: 1 };
  }
  reheat(old.size ? 0.3 : 1);
}

function renderNodeList() {
  const sorted = [...nodes].sort((a, b) => a.id.localeCompare(b.id));
  $("graph-nodes").replaceChildren(...sorted.map((n) => {
    const item = h("li", { tabindex: 0, dataset: { nodeId: n.id }, title: n.type },
      h("i", { class: "swatch", style: `background:${n.color}` }), h("span", { text: n.id }));
    item.addEventListener("click", () => { select({ kind: "node", item: n }); centreOn(n); });
    item.addEventListener("keydown", (e) => { if (e.key === "Enter") item.click(); });
    return item;
  }));
}

// The relations as a list too: an edge is a thin target on the canvas, and a list is
// what keyboards and screen readers can reach.
function renderEdgeList() {
  const named = (e) => `${e.s.id} — ${e.t.id}`;
  const sorted = [...edges].sort((a, b) => named(a).localeCompare(named(b)));
  $("graph-edges").replaceChildren(...sorted.map((e) => {
    const item = h("li", { tabindex: 0, dataset: { edgeId: e.id } }, h("span", { text: named(e) }));
    item.addEventListener("click", () => select({ kind: "edge", item: e }));
    item.addEventListener("keydown", (ev) => { if (ev.key === "Enter") item.click(); });
    return item;
  }));
}

// ---------------------------------------------------------------------------
// Selection and editing

function select(next) {
  selected = next;
  const node = next && next.kind === "node" ? next.item : null;
  const edge = next && next.kind === "edge" ? next.item : null;
  const shown = ([key, value]) => [key, display(key, value)];
  fillList($("graph-properties"), node
    ? [["entity", node.id], ["connections", String(node.degree)],
      ...Object.entries(node.props).filter(([key]) => key !== "entity_id").map(shown)]
    : edge ? [["source", edge.s.id], ["target", edge.t.id], ...Object.entries(edge.props).map(shown)]
    : nodes.length ? [["", "Click a node or an edge."]] : []);
  // The selected entity's or relation's description, prefilled with what is stored.
  const item = node || edge;
  $("entity-description").value = item ? item.props.description || "" : "";
  $("entity-description").disabled = !item;
  $("entity-save").disabled = !item;
  for (const li of $("graph-edges").children) {
    li.classList.toggle("selected", Boolean(edge) && li.dataset.edgeId === edge.id);
  }
  const list = $("graph-nodes");
  for (const li of list.children) {
    const on = Boolean(node) && li.dataset.nodeId === node.id;
    li.classList.toggle("selected", on);
    // Scroll the list only (scrollIntoView could scroll the whole page away from the canvas).
    if (on && (li.offsetTop < list.scrollTop || li.offsetTop + li.offsetHeight > list.scrollTop + list.clientHeight)) {
      list.scrollTop = li.offsetTop - list.clientHeight / 2;
    }
  }
  draw();
}

function display(key, value) {
  if (key === "created_at" && typeof value === "number") return formatTime(value);
  if (value === null || value === undefined || value === "") return "—";
  // Multi-valued fields are joined with <SEP>: one value per line reads better.
  return typeof value === "string" ? value.split("<SEP>").join("\n") : JSON.stringify(value);
}

async function saveDescription() {
  if (!selected) return;
  const { kind, item } = selected;
  const description = $("entity-description").value;
  $("entity-save").disabled = true;
  $("graph-message").textContent = "Saving…";
  try {
    const reply = kind === "node"
      ? await api.post("/graph/entity/edit", { entity_name: item.id, updated_data: { description } })
      : await api.post("/graph/relation/edit",
        { source_id: item.s.id, target_id: item.t.id, updated_data: { description } });
    $("graph-message").textContent = reply.message || "Saved.";
    await load(true);
  } catch (err) {
    if (!isQuiet(err)) $("graph-message").textContent = `Not saved: ${err.message}`;
  } finally {
    $("entity-save").disabled = !selected;
  }
}

// ---------------------------------------------------------------------------
// Layout: repulsion between all pairs, springs along edges, a pull to the centre.

function reheat(value) {
  alpha = Math.max(alpha, value);
  if (!running && nodes.length) {
    running = true;
    requestAnimationFrame(tick);
  }
}

function tick() {
  if (!running) return;
  // As many iterations as fit in ~12 ms, so small graphs settle fast and big ones stay smooth.
  const until = performance.now() + 12;
  let moved = Infinity;
  do {
    moved = iterate();
  } while (alpha > 0.001 && performance.now() < until);
  draw();
  if (alpha <= 0.001 || moved < 0.01) {
    running = false;
    if (!userMoved) fit();
    return;
  }
  requestAnimationFrame(tick);
}

/** One step of the simulation; returns the largest movement of a node. */
function iterate() {
  const n = nodes.length;
  for (let i = 0; i < n; i++) {
    const a = nodes[i];
    for (let j = i + 1; j < n; j++) {
      const b = nodes[j];
      let dx = b.x - a.x;
      let dy = b.y - a.y;
      let d2 = dx * dx + dy * dy;
      if (d2 < 1) { dx = Math.random() - 0.5; dy = Math.random() - 0.5; d2 = 1; }
      const w = (CHARGE * alpha) / d2;
      a.vx -= dx * w; a.vy -= dy * w;
      b.vx += dx * w; b.vy += dy * w;
    }
  }
  for (const e of edges) {
    const dx = e.t.x + e.t.vx - e.s.x - e.s.vx || 0.01;
    const dy = e.t.y + e.t.vy - e.s.y - e.s.vy;
    const d = Math.sqrt(dx * dx + dy * dy);
    // Springs of busy nodes are softer, so hubs do not pull everything into a knot.
    const pull = ((d - LINK) / d) * alpha / Math.min(e.s.degree, e.t.degree);
    const bias = e.s.degree / (e.s.degree + e.t.degree);
    e.t.vx -= dx * pull * bias; e.t.vy -= dy * pull * bias;
    e.s.vx += dx * pull * (1 - bias); e.s.vy += dy * pull * (1 - bias);
  }
  let moved = 0;
  for (const p of nodes) {
    if (p.fixed) { p.vx = p.vy = 0; continue; }
    p.vx -= p.x * GRAVITY * alpha;
    p.vy -= p.y * GRAVITY * alpha;
    p.vx *= FRICTION; p.vy *= FRICTION;
    p.x += p.vx; p.y += p.vy;
    moved = Math.max(moved, Math.abs(p.vx) + Math.abs(p.vy));
  }
  alpha += (0 - alpha) * DECAY;
  return moved;
}

// ---------------------------------------------------------------------------
// Drawing

/** Keeps the canvas's pixels matched to its size on screen (sharp on high-DPI screens). */
function resize() {
  dpr = window.devicePixelRatio || 1;
  const [w, hgt] = [Math.round(canvas.clientWidth * dpr), Math.round(canvas.clientHeight * dpr)];
  if (!w || !hgt) return; // hidden
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== hgt) canvas.height = hgt;
  draw();
}

function fit() {
  if (!nodes.length || !canvas.clientWidth) return;
  const xs = nodes.map((n) => n.x);
  const ys = nodes.map((n) => n.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  // Room on the right for the labels drawn beside the nodes.
  const [left, right] = [x0 - 20, x1 + 140];
  const k = Math.min(2, 0.95 * Math.min(canvas.clientWidth / (right - left), canvas.clientHeight / (y1 - y0 + 40)));
  camera = { k, x: canvas.clientWidth / 2 - ((left + right) / 2) * k, y: canvas.clientHeight / 2 - ((y0 + y1) / 2) * k };
  draw();
}

function centreOn(node) {
  camera.x = canvas.clientWidth / 2 - node.x * camera.k;
  camera.y = canvas.clientHeight / 2 - node.y * camera.k;
  userMoved = true;
  draw();
}

/** A node's radius in world units, never under 3 screen pixels when zoomed out. */
function radius(n) {
  return Math.max(n.r, 3 / camera.k);
}

function draw() {
  if (drawQueued) return;
  drawQueued = true;
  requestAnimationFrame(paint);
}

function paint() {
  drawQueued = false;
  if (!ctx) return;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.setTransform(dpr * camera.k, 0, 0, dpr * camera.k, dpr * camera.x, dpr * camera.y);
  const k = camera.k;
  const focus = selected && selected.kind === "node" ? selected.item : null;
  const near = new Set();
  for (const e of edges) {
    const lit = (selected && selected.item === e) || (focus && (e.s === focus || e.t === focus));
    if (lit) { near.add(e.s); near.add(e.t); }
    ctx.strokeStyle = lit ? "#1f2937" : "rgba(120,130,140,0.45)";
    ctx.lineWidth = (lit ? 2 : 1) / k;
    ctx.beginPath();
    ctx.moveTo(e.s.x, e.s.y);
    ctx.lineTo(e.t.x, e.t.y);
    ctx.stroke();
  }
  const labels = nodes.length <= 80 || k > 1.2;
  ctx.font = `${12 / k}px system-ui, sans-serif`;
  ctx.textBaseline = "middle";
  for (const n of nodes) {
    ctx.beginPath();
    const r = radius(n);
    ctx.arc(n.x, n.y, r, 0, Math.PI * 2);
    ctx.fillStyle = n.color;
    ctx.fill();
    ctx.lineWidth = (n === focus ? 3 : 1) / k;
    ctx.strokeStyle = n === focus ? "#111" : "#fff";
    ctx.stroke();
    if (labels || n === focus || near.has(n)) {
      const name = n.id.length > 28 ? `${n.id.slice(0, 27)}…` : n.id;
      ctx.fillStyle = "#222";
      ctx.fillText(name, n.x + r + 3 / k, n.y);
    }
  }
}

// ---------------------------------------------------------------------------
// Pointer: drag a node, pan the background, wheel to zoom, click to select.

function toWorld(event) {
  const box = canvas.getBoundingClientRect();
  const [sx, sy] = [event.clientX - box.left, event.clientY - box.top];
  return { sx, sy, x: (sx - camera.x) / camera.k, y: (sy - camera.y) / camera.k };
}

function nodeAt(p) {
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    const reach = radius(n) + 3 / camera.k;
    if ((n.x - p.x) ** 2 + (n.y - p.y) ** 2 <= reach * reach) return n;
  }
  return null;
}

function edgeAt(p) {
  const reach = 5 / camera.k;
  for (const e of edges) {
    const dx = e.t.x - e.s.x;
    const dy = e.t.y - e.s.y;
    const len2 = dx * dx + dy * dy || 1;
    const u = Math.max(0, Math.min(1, ((p.x - e.s.x) * dx + (p.y - e.s.y) * dy) / len2));
    if (Math.hypot(p.x - (e.s.x + u * dx), p.y - (e.s.y + u * dy)) <= reach) return e;
  }
  return null;
}

function wirePointer() {
  let press = null; // {start, node, camera, moved}
  canvas.addEventListener("pointerdown", (event) => {
    const p = toWorld(event);
    canvas.setPointerCapture(event.pointerId);
    press = { start: p, node: nodeAt(p), camera: { ...camera }, moved: false };
    if (press.node) press.node.fixed = true;
  });
  canvas.addEventListener("pointermove", (event) => {
    const p = toWorld(event);
    if (!press) {
      canvas.style.cursor = nodeAt(p) ? "pointer" : "grab";
      return;
    }
    if (Math.hypot(p.sx - press.start.sx, p.sy - press.start.sy) > 3) press.moved = true;
    if (!press.moved) return;
    userMoved = true; // the user arranges things now: never re-fit under them
    if (press.node) {
      press.node.x = p.x;
      press.node.y = p.y;
      reheat(0.2);
    } else {
      camera.x = press.camera.x + (p.sx - press.start.sx);
      camera.y = press.camera.y + (p.sy - press.start.sy);
    }
    draw();
  });
  const release = (event) => {
    if (!press) return;
    const p = toWorld(event);
    if (press.node) press.node.fixed = false;
    if (!press.moved && event.type === "pointerup") {
      const node = nodeAt(p);
      const edge = node ? null : edgeAt(p);
      select(node ? { kind: "node", item: node } : edge ? { kind: "edge", item: edge } : null);
    }
    press = null;
  };
  canvas.addEventListener("pointerup", release);
  canvas.addEventListener("pointercancel", release);
  canvas.addEventListener("dblclick", () => { userMoved = false; fit(); });
  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    const p = toWorld(event);
    const k = Math.max(0.05, Math.min(8, camera.k * Math.exp(-event.deltaY * 0.0015)));
    camera = { k, x: p.sx - p.x * k, y: p.sy - p.y * k };
    userMoved = true;
    draw();
  }, { passive: false });
}
