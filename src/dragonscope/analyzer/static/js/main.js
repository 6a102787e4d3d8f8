// The page's composition: model ← subscriber (or history), scene ← model + state, canvas ← scene.
// Every control changes the state, the state is written to the URL, and the scene is rebuilt.

import { GraphModel } from "./model.js";
import { Subscriber } from "./subscriber.js";
import { GraphCanvas } from "./render.js";
import { buildScene, growScene } from "./scene.js";
import { legendEntries, makeBitmaps, EDGE_STYLES } from "./icons.js";
import { Views } from "./views.js";
import { search } from "./search.js";
import { DetailsPanel } from "./details.js";
import { NodeTable } from "./table.js";
import { TracePanel } from "./trace.js";
import { HistoryControl } from "./history.js";
import { toSvg, toJson, download } from "./export.js";
import { readHash, writeHash } from "./state.js";
import { labelOf, setTenantNames } from "./labels.js";
import { Freshness } from "./status.js";
import { Problems } from "./problems.js";
import { ReachPanel } from "./reach.js";
import * as api from "./api.js";

const $ = (id) => document.getElementById(id);
// What the tracer knows a port by: its NB name, else its NB id (labels may be derived).
const portRef = (n) => n.Metadata.Dragonflow?.name || n.Metadata.Dragonflow?.ID || n.ID;
const state = readHash();
// Whether the analyzer wants a login is asked at once, while the page sets itself up.
let statusAnswer = fetch("/api/status", { credentials: "same-origin" });
const model = new GraphModel();
let scene = null;
let selection = state.sel ? { kind: "node", id: state.sel } : null;
let needsLayout = true;
let renderQueued = false;
let graphMoved = false; // since the last render: the view is asked again
let changes = []; // model events since the last render; null: the scene must be built again
const CHANGES_MAX = 1000;
let booted = false; // the views and tenant names are known: the page may draw
let renderWanted = false; // a render was asked for before the page could draw
let searchPending = Boolean(state.q); // a search from a shared link is focused once drawn
const flashes = [];
const errors = [];

const debug = { model, state, ready: false, renders: 0, lastRender: 0, renderMs: 0, liveEvents: 0 };
window.dragonscope = debug;

// ---- canvas, panels ----------------------------------------------------------------------
const canvas = new GraphCanvas($("cy"), {
  onSelect: (sel) => select(sel),
  onExpand: (gid) => { state.collapsed.delete(gid); state.expanded.add(gid); needsLayout = true; queueRender(); },
});
debug.canvas = canvas;
const details = new DetailsPanel({
  onNavigate: (id) => { select({ kind: "node", id }); canvas.focus([id]); },
  onTraceFrom: (node) => { $("trace-from").value = portRef(node); openTab("trace"); $("trace-to").focus(); },
});
const table = new NodeTable({ onPick: (id) => { select({ kind: "node", id }); canvas.focus([id]); } });
// A trace (and a matrix) runs on the graph of the time shown: "at" its time, "diff" its end.
const shownTime = () => (state.time === "at" ? state.at : state.time === "diff" ? state.to : "") || null;
const trace = new TracePanel({ canvas, getModel: () => model, onError: reportError, getAt: shownTime });
trace.onParams = (p) => { state.trace = p; writeHash(state); };
const historyCtl = new HistoryControl({
  model, canvas, state, onModeChange: (mode) => setMode(mode), onError: reportError,
  onShown: () => { needsLayout = true; queueRender(); },
});

const freshness = new Freshness();
const problems = new Problems({
  onChange: () => { changes = null; queueRender(); },
  onPick: (id) => { select({ kind: "node", id }); canvas.focus([id]); },
  onError: reportError,
});
// The views that show what is wrong show every node a problem is about, too.
const PROBLEM_VIEWS = new Set(["broken-references", "problems"]);
const reach = new ReachPanel({
  getModel: () => model, getAt: shownTime, onError: reportError,
  onTrace: (from, to, params) => {
    trace.setParams({ from, to, proto: params.proto, dport: params.dport });
    openTab("trace");
    trace.run();
  },
});

const views = new Views({ onChange: () => { needsLayout = true; queueRender(); }, onError: reportError });

function reportError(message) {
  errors.unshift(`${new Date().toLocaleTimeString()}  ${message}`);
  errors.length = Math.min(errors.length, 200);
  const list = $("errors-list");
  list.replaceChildren(...errors.map((e) => { const li = document.createElement("li"); li.textContent = e; return li; }));
  $("errors-count").textContent = errors.length ? `(${errors.length})` : "";
}

// ---- live subscription -----------------------------------------------------------------------
const subscriber = new Subscriber({
  onSync: (graph, how) => {
    model.reset(graph, how);
    $("gremlin-error").textContent = "";
    state.goodGremlin = subscriber.filter;
  },
  onEvent: (msg) => {
    if (state.time !== "live") return;
    model.apply(msg);
    debug.liveEvents += 1;
  },
  onStatus: (status) => setConnection(status),
  onFilterError: (message) => {
    // The canvas still shows the last accepted filter: so do the box and the URL.
    const shown = state.goodGremlin || "";
    $("gremlin-error").textContent = `${message}\nStill showing ${shown ? `the filter ${shown}` : "the whole graph"}.`;
    reportError(`Gremlin filter: ${message}`);
    subscriber.filter = shown;
    state.gremlin = shown; $("gremlin").value = shown; writeHash(state);
  },
  onAuthRequired: () => showLogin(),
});

function setConnection(status) {
  freshness.setConnection(status);
  if (freshness.update(model)) queueRender();
}

model.onChange((ev) => {
  graphMoved = true;
  if (ev.kind === "reset") { needsLayout = true; changes = null; afterPaint(refreshPickers); }
  else {
    flashes.push(ev);
    if (changes && changes.push(ev) > CHANGES_MAX) changes = null; // a backlog: build the scene again
    if (ev.kind === "node" && ev.op !== "updated") refreshPickersSoon();
  }
  if (state.time === "live") problems.refreshSoon();
  queueRender();
});

// ---- rendering ----------------------------------------------------------------------------------
// Work the first picture of a graph need not wait for (the pickers: a pass over every node for
// each, then their options) runs a moment after the frame that draws it.
const AFTER_PAINT_MS = 200;
function afterPaint(fn) { requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(fn, AFTER_PAINT_MS))); }

function queueRender() {
  if (!booted) { renderWanted = true; return; }
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; render(); });
}

function render() {
  const deleted = flashes.filter((f) => f.op === "deleted");
  // Show removals briefly in red before they disappear.
  for (const f of deleted) canvas.flash(f.id, "deleted");
  if (deleted.length && !needsLayout) {
    const pending = flashes.splice(0).filter((f) => f.op !== "deleted");
    setTimeout(() => { flashes.push(...pending); doRender(); }, 450);
    return;
  }
  doRender();
}

function doRender() {
  const t0 = performance.now();
  views.update(state, graphMoved);
  graphMoved = false;
  if (freshness.update(model)) changes = null;
  const byNode = problems.collect(model);
  const marks = { staleOrigins: freshness.staleOrigins, problems: byNode };
  // A live change to the whole graph extends the scene; anything else builds it again.
  const grown = !needsLayout && changes !== null && scene !== null && views.ids === null && !PROBLEM_VIEWS.has(state.view)
    && views.settled(state) && growScene(scene, model, state, changes, marks);
  changes = [];
  if (!grown) {
    let view = views.visible(model);
    if (PROBLEM_VIEWS.has(state.view)) {
      const nodes = new Set(view.nodes);
      for (const id of byNode.keys()) nodes.add(id);
      view = { ...view, nodes };
    }
    scene = buildScene(model, state, view, marks);
  }
  const relayout = needsLayout;
  needsLayout = false;
  const added = canvas.render(scene, { relayout });
  if (!relayout) {
    const addedSet = new Set(added);
    for (const f of flashes) if (f.op === "added" || f.op === "updated") canvas.flash(f.id, addedSet.has(f.id) || f.op === "added" ? "added" : "updated");
  }
  flashes.length = 0;
  applySearch(searchPending && views.settled(state));
  if (searchPending && views.settled(state) && debug.matches?.length) searchPending = false;
  if (selection) canvas.select(selection.id);
  details.show(model, selection, byNode);
  completeSelection();
  problems.render(model, labelOf);
  updateCounts();
  updateTable();
  debug.scene = scene;
  debug.renders += 1;
  debug.lastRender = performance.now();
  debug.renderMs = debug.lastRender - t0; // the page's own share of a frame (the scene, not the paint)
  if (views.settled(state)) debug.ready = true; // what is drawn is the view asked for
}

function updateCounts() {
  const drawn = [...scene.nodes.values()].filter((n) => n.kind !== "group").length;
  $("counts").textContent = `${model.nodes.size} nodes · ${model.edges.size} edges · view ${scene.visibleCount} · drawn ${drawn}`;
  const banner = $("banner"), note = $("limit-note");
  if (scene.overLimit) {
    banner.textContent = `This view has ${scene.visibleCount} nodes, more than the drawing limit of ${state.limit} even with every group collapsed. The Table tab lists them all; narrow the view or raise the limit.`;
    banner.hidden = false;
  } else if (scene.collapsed.size && !state.expandAll) {
    const links = scene.hiddenLinks ? ` The ${scene.hiddenLinks} lightest links between groups are not drawn (the heaviest are).` : "";
    banner.textContent = `${scene.visibleCount} nodes exceed the drawing limit of ${state.limit}: ${scene.collapsed.size} groups are collapsed (click one to expand). The Table tab lists everything.${links}`;
    banner.hidden = false;
  } else banner.hidden = true;
  note.hidden = banner.hidden;
  note.textContent = banner.textContent;
}

let tableDirty = true;
let tableTimer = null;
let tableBuilt = -Infinity;
function updateTable() {
  // Building thousands of rows costs more than the rest of a render: do it only when the
  // table is shown, and at most once a second under a stream of live changes.
  tableDirty = true;
  const shown = !document.querySelector("[data-body=table]").hidden && !$("drawer").classList.contains("collapsed");
  if (!shown || tableTimer) return;
  const wait = 1000 - (performance.now() - tableBuilt);
  if (wait > 0) { tableTimer = setTimeout(() => { tableTimer = null; updateTable(); }, wait); return; }
  tableDirty = false;
  tableBuilt = performance.now();
  // The whole view (drawn or inside collapsed groups), or the search matches while searching.
  const searching = state.q && debug.matches?.length;
  const ids = searching ? debug.matches : [...scene.visible];
  const label = searching ? `matches of "${state.q}"` : `view ${views.title(state.view)}`;
  table.setRows(ids.map((id) => model.nodes.get(id)).filter(Boolean), label);
}

// ---- selection, search ------------------------------------------------------------------------
function select(sel) {
  if (sel && sel.kind === "group") {
    const owner = scene.groups.get(sel.id)?.owner;
    sel = owner ? { kind: "node", id: owner } : null;
  }
  if (sel && sel.kind === "edge" && !sel.real) sel = null;
  selection = sel;
  state.sel = sel && sel.kind === "node" ? sel.id : "";
  writeHash(state);
  canvas.select(sel ? sel.id : null);
  details.show(model, selection, problems.byNode);
  completeSelection();
}

// The model may hold only the projection of what is drawn: the element opened in the details
// panel is asked for whole, once, and shown again when it comes.
const asking = new Set();
function completeSelection() {
  const sel = selection;
  if (!sel || model.isComplete(sel.id) || asking.has(sel.id)) return;
  const isEdge = sel.kind === "edge";
  if (!(isEdge ? model.edges : model.nodes).has(sel.id)) return;
  asking.add(sel.id);
  api.getJson(`/api/${isEdge ? "edge" : "node"}/${encodeURIComponent(sel.id)}`)
    .then((whole) => { if (model.fill(whole, isEdge) && selection?.id === sel.id) details.show(model, selection, problems.byNode); },
      (err) => { if (err.status !== 404) reportError(`details: ${err.message}`); })
    .finally(() => asking.delete(sel.id));
}

function applySearch(focus) {
  const { ids, note } = search(model, state.q);
  debug.matches = ids;
  canvas.setClass("match", ids);
  const shown = ids.filter((id) => scene.nodes.has(id));
  $("search-result").textContent = state.q ? `${note ? note + " · " : ""}${ids.length} match${ids.length === 1 ? "" : "es"}${shown.length < ids.length ? ` (${ids.length - shown.length} outside this view)` : ""}` : "";
  if (focus && ids.length) {
    canvas.focus(shown.length ? shown : ids);
    select({ kind: "node", id: ids[0] });
  }
}

$("search-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  state.q = $("search").value.trim();
  writeHash(state);
  applySearch(true);
  updateTable();
});
$("search").addEventListener("search", () => { if (!$("search").value) { state.q = ""; writeHash(state); applySearch(false); updateTable(); } });

// ---- views, grouping, limit ---------------------------------------------------------------------
function setView(view) {
  state.view = view;
  state.expanded.clear(); state.collapsed.clear();
  writeHash(state);
  syncControls();
  needsLayout = true;
  queueRender();
}

// The picker lists the analyzer's views; one with a parameter has a select of its values.
function buildPicker() {
  const items = views.pickable().map((v) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.dataset.view = v.Name; button.textContent = v.Title; button.title = v.Description;
    button.addEventListener("click", () => pickView(v.Name));
    li.append(button);
    if (v.Params.length) {
      const select = document.createElement("select");
      select.dataset.viewArg = v.Name;
      select.setAttribute("aria-label", `${v.Title}: ${v.Params[0]}`);
      select.addEventListener("change", () => { state.arg = select.value; setView(v.Name); });
      li.append(" ", select);
    }
    return li;
  });
  $("views").replaceChildren(...items);
  refreshPickers();
  syncControls();
}

function argSelect(name) { return document.querySelector(`[data-view-arg="${CSS.escape(name)}"]`); }

function pickView(name) {
  state.arg = argSelect(name)?.value || "";
  setView(name);
}

for (const b of document.querySelectorAll("[data-group]")) {
  b.addEventListener("click", () => {
    state.group = b.dataset.group; state.expanded.clear(); state.collapsed.clear();
    writeHash(state); syncControls(); needsLayout = true; queueRender();
  });
}
$("expand-all").addEventListener("change", () => { state.expandAll = $("expand-all").checked; writeHash(state); needsLayout = true; queueRender(); });
$("draw-limit").addEventListener("change", () => {
  const n = Number($("draw-limit").value);
  if (Number.isFinite(n) && n >= 50) { state.limit = n; writeHash(state); needsLayout = true; queueRender(); }
});

function fillSelect(sel, choices, current) {
  const keep = current || sel.value;
  sel.replaceChildren(...choices.map(({ value, label }) => { const o = document.createElement("option"); o.value = value; o.textContent = label; return o; }));
  if (choices.some((c) => c.value === keep)) sel.value = keep;
}

let pickerTimer = null;
let shownPortNames = null;
let portNamesStale = true;
const pickerChoices = new Map(); // view -> Map(value -> choice), kept while a filter hides some
function refreshPickersSoon() { clearTimeout(pickerTimer); pickerTimer = setTimeout(refreshPickers, 500); }
function refreshPickers() {
  for (const select of document.querySelectorAll("[data-view-arg]")) {
    const name = select.dataset.viewArg;
    const seen = pickerChoices.get(name) || new Map();
    if (!state.gremlin) seen.clear();  // the whole graph lists them all
    for (const c of views.choices(model, views.byName(name))) seen.set(c.value, c);
    pickerChoices.set(name, seen);
    const choices = [...seen.values()].sort((a, b) => a.label.localeCompare(b.label));
    fillSelect(select, choices, state.view === name ? state.arg : "");
  }
  const current = argSelect(state.view);
  if (current && !state.arg && current.value) { state.arg = current.value; writeHash(state); queueRender(); }
  reach.refreshChoices();
  portNamesStale = true;
  if ([$("trace-from"), $("trace-to")].includes(document.activeElement)) fillPortNames();
}

// The trace's port suggestions (thousands of options) are built when a trace field is entered,
// not on every live change of the ports.
function fillPortNames() {
  if (!portNamesStale) return;
  portNamesStale = false;
  const names = [...model.nodes.values()].filter((n) => n.Metadata.Type === "lport").map(portRef).sort().slice(0, 2000);
  const key = names.join("\n");
  if (key === shownPortNames) return;
  shownPortNames = key;
  $("port-names").replaceChildren(...names.map((v) => { const o = document.createElement("option"); o.value = v; return o; }));
}
for (const id of ["trace-from", "trace-to"]) $(id).addEventListener("focus", fillPortNames);

function syncControls() {
  for (const b of document.querySelectorAll("[data-view]")) b.classList.toggle("active", b.dataset.view === state.view);
  for (const b of document.querySelectorAll("[data-group]")) b.classList.toggle("active", b.dataset.group === state.group);
  $("expand-all").checked = state.expandAll;
  $("draw-limit").value = state.limit;
  $("search").value = state.q;
  $("gremlin").value = state.gremlin;
}

// ---- Gremlin filter -------------------------------------------------------------------------------
$("gremlin-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  state.gremlin = $("gremlin").value.trim();
  writeHash(state);
  $("gremlin-error").textContent = "";
  subscriber.setFilter(state.gremlin);
});
$("gremlin-clear").addEventListener("click", () => {
  $("gremlin").value = ""; state.gremlin = ""; writeHash(state);
  $("gremlin-error").textContent = "";
  subscriber.setFilter("");
});

// ---- drawer, export, legend --------------------------------------------------------------------------
function openTab(name) {
  $("drawer").classList.remove("collapsed");
  for (const b of document.querySelectorAll("[data-tab]")) b.classList.toggle("active", b.dataset.tab === name);
  for (const body of document.querySelectorAll("[data-body]")) body.hidden = body.dataset.body !== name;
  if (name === "table" && tableDirty && scene) updateTable();
}
for (const b of document.querySelectorAll("[data-tab]")) b.addEventListener("click", () => openTab(b.dataset.tab));
$("drawer-toggle").addEventListener("click", () => {
  $("drawer").classList.toggle("collapsed");
  if (tableDirty && scene) updateTable();
});

// The drawer is as tall as the operator drags it (kept for the session).
$("drawer-grip").addEventListener("pointerdown", (down) => {
  down.preventDefault();
  const drawer = $("drawer"), start = drawer.getBoundingClientRect().height, y0 = down.clientY;
  const move = (ev) => drawer.style.setProperty("--drawer-h", `${Math.max(80, Math.min(window.innerHeight * 0.8, start + y0 - ev.clientY))}px`);
  const up = () => { window.removeEventListener("pointermove", move); window.removeEventListener("pointerup", up); canvas.cy.resize(); };
  window.addEventListener("pointermove", move);
  window.addEventListener("pointerup", up);
});

$("export-btn").addEventListener("click", () => { $("export-menu").hidden = !$("export-menu").hidden; });
for (const b of document.querySelectorAll("[data-export]")) {
  b.addEventListener("click", () => {
    $("export-menu").hidden = true;
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    canvas.materialise([...canvas.pending.keys()]); // an image has every edge, at any zoom
    if (b.dataset.export === "png") download(`dragonscope-${stamp}.png`, canvas.cy.png({ full: true, bg: "#ffffff", scale: 2, output: "blob" }));
    else if (b.dataset.export === "svg") download(`dragonscope-${stamp}.svg`, toSvg(canvas.cy), "image/svg+xml");
    else exportJson(`dragonscope-${stamp}.json`);
  });
}

// The JSON export holds each element whole: asked of the analyzer when the model holds only
// the projection drawn.
async function exportJson(name) {
  let source = model;
  if (model.projected) {
    try {
      const whole = await api.getJson("/api/topology");
      source = { nodes: new Map((whole.Nodes || []).map((n) => [n.ID, n])), edges: new Map((whole.Edges || []).map((e) => [e.ID, e])) };
    } catch (err) { reportError(`export: ${err.message}`); return; }
  }
  download(name, toJson(source, scene), "application/json");
}

function fillLegend() {
  const items = legendEntries().map(({ label, icon }) => {
    const li = document.createElement("li");
    const img = document.createElement("img"); img.src = icon; img.alt = "";
    li.append(img, document.createTextNode(label));
    return li;
  });
  for (const s of Object.values(EDGE_STYLES)) {
    const li = document.createElement("li");
    const sw = document.createElement("span"); sw.className = "edge-swatch";
    sw.style.borderTopColor = s.colour; sw.style.borderTopStyle = s.style;
    li.append(sw, document.createTextNode(s.label));
    items.push(li);
  }
  $("legend").replaceChildren(...items);
}

// ---- time: live or history -------------------------------------------------------------------------------
function setMode(mode) {
  state.time = mode;
  writeHash(state);
  problems.refreshSoon();
  if (mode === "live") { setConnection("connecting"); subscriber.start(); }
  else { subscriber.stop(); setConnection("history"); }
}

let loggedIn = false; // logged in through this page: a later 401 means the session ended
// ---- login ---------------------------------------------------------------------------------------------------
function showLogin(reason = "") {
  subscriber.stop();
  setConnection("offline");
  $("login-reason").textContent = loggedIn
    ? "Your session has ended (the token expired or was revoked): log in again to continue."
    : reason || "This analyzer requires you to log in.";
  loggedIn = false;
  $("login").hidden = false;
  $("login-user").focus();
}
api.setAuthHandler(showLogin);
$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("login-error").textContent = "";
  try {
    await api.login($("login-user").value, $("login-password").value, (text) => { $("login-error").textContent = text; });
  } catch (err) {
    $("login-error").textContent = err.status === 401 ? "Wrong user name or password." : err.message;
    return;
  }
  $("login-password").value = "";
  $("login-error").textContent = "";
  loggedIn = true;
  $("login").hidden = true;
  $("user").textContent = $("login-user").value;
  $("logout-btn").hidden = false;
  start();
});
$("logout-btn").addEventListener("click", async () => { await api.logout(); loggedIn = false; $("user").textContent = ""; $("logout-btn").hidden = true; showLogin(); });

// ---- start -----------------------------------------------------------------------------------------------------
async function start() {
  let status;
  try { status = await (statusAnswer || fetch("/api/status", { credentials: "same-origin" })); } catch { status = null; }
  statusAnswer = null;
  if (status && status.status === 401) { showLogin(); return; }
  // The graph is asked for first: the analyzer builds its answer (megabytes, at 5k nodes and
  // more) while the page loads the views and the tenant names, which must be known before
  // anything is drawn.
  subscriber.filter = state.gremlin;
  if (state.time === "live") subscriber.start();
  await Promise.all([
    makeBitmaps().catch((err) => reportError(`icons: ${err.message}`)),
    views.load().catch((err) => reportError(`views: ${err.message}`)),
    api.getJson("/api/tenants").then((t) => setTenantNames(t.Tenants), (err) => { if (err.status !== 404) reportError(`tenant names: ${err.message}`); }),
  ]);
  booted = true;
  if (renderWanted) queueRender();
  problems.fetch();
  buildPicker();
  if (state.time !== "live") historyCtl.restore();
  if (state.trace) { trace.setParams(state.trace); openTab("trace"); }
}

syncControls();
fillLegend();
openTab(state.trace ? "trace" : "table");
$("drawer").classList.toggle("collapsed", !state.trace);
if (state.trace) trace.setParams(state.trace);
debug.showTrace = (result) => trace.show(result);
debug.problems = problems;
debug.freshness = freshness;
debug.reach = reach;
// A restored trace runs once the graph is drawn, so its path can be highlighted.
start().then(() => {
  if (state.trace && state.trace.from && state.trace.to) {
    const wait = () => (debug.ready ? trace.run() : setTimeout(wait, 200));
    wait();
  }
});
// A link pasted into this tab (only the hash changed) is applied like a fresh visit; our own URL
// updates use replaceState, which does not fire this event.
window.addEventListener("hashchange", () => location.reload());
