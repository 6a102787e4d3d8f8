// History: show the graph as it was at a past time (Gremlin At on the analyzer's history), or
// the changes between two times, highlighted on the graph and listed in the Changes tab.

import { gremlin, getJson } from "./api.js";
import { labelOf } from "./labels.js";

const toMs = (local) => (local ? new Date(local).getTime() : NaN);
const toLocal = (ms) => {
  const d = new Date(ms - new Date().getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 19);
};

function graphOf(result) {
  const g = Array.isArray(result) ? result[0] : result;
  return { Nodes: (g && g.Nodes) || [], Edges: (g && g.Edges) || [] };
}

// Field-by-field differences of two metadata objects: [{path, before, after}], dotted paths.
export function fieldDiff(before, after, prefix = "") {
  const out = [];
  const keys = new Set([...Object.keys(before || {}), ...Object.keys(after || {})]);
  for (const key of [...keys].sort()) {
    const a = before ? before[key] : undefined, b = after ? after[key] : undefined;
    const path = prefix ? `${prefix}.${key}` : key;
    const objects = a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b);
    if (objects) out.push(...fieldDiff(a, b, path));
    else if (JSON.stringify(a) !== JSON.stringify(b)) out.push({ path, before: a, after: b });
  }
  return out;
}

const shown = (v) => (v === undefined ? "—" : typeof v === "string" ? v : JSON.stringify(v));

// /api/changes lists, per element kind, what was added, removed and changed between two times.
function entries(changes, kind, what) {
  const section = changes[what] || changes[what.toLowerCase()] || {};
  const list = section[kind] || section[kind.toLowerCase()] || [];
  return list.map((x) => (x && x.ID ? x : x?.after || x?.After || x?.before || x?.Before || x));
}

export class HistoryControl {
  constructor({ model, canvas, state, onModeChange, onError, onShown }) {
    Object.assign(this, { model, canvas, state, onModeChange, onError, onShown });
    this.$ = (id) => document.getElementById(id);
    this.$("time-mode").addEventListener("change", () => this.modeChanged());
    this.$("time-apply").addEventListener("click", () => this.apply());
  }

  modeChanged() {
    const mode = this.$("time-mode").value;
    this.$("time-at").hidden = mode !== "at";
    this.$("time-from").hidden = mode !== "diff";
    this.$("time-to").hidden = mode !== "diff";
    this.$("time-apply").hidden = mode === "live";
    const now = Date.now();
    if (mode === "at" && !this.$("time-at").value) this.$("time-at").value = toLocal(now - 5 * 60000);
    if (mode === "diff") {
      if (!this.$("time-from").value) this.$("time-from").value = toLocal(now - 15 * 60000);
      if (!this.$("time-to").value) this.$("time-to").value = toLocal(now);
    }
    // The last diff's highlights belong to that diff only.
    this.clearHighlights();
    if (mode === "live") {
      this.state.at = ""; this.state.from = ""; this.state.to = "";
      this.onModeChange("live");
    }
  }

  clearHighlights() {
    for (const cls of ["diff-added", "diff-removed", "diff-changed"]) this.canvas.setClass(cls, []);
    this.$("changes-list").replaceChildren();
    this.$("changes-summary").textContent = 'Pick "changes between…" in the time menu.';
  }

  // Re-apply a history state read from the URL.
  restore() {
    this.$("time-mode").value = this.state.time;
    if (this.state.at) this.$("time-at").value = toLocal(Number(this.state.at));
    if (this.state.from) this.$("time-from").value = toLocal(Number(this.state.from));
    if (this.state.to) this.$("time-to").value = toLocal(Number(this.state.to));
    this.modeChanged();
    this.apply();
  }

  async apply() {
    const mode = this.$("time-mode").value;
    try {
      if (mode === "at") await this.showAt(toMs(this.$("time-at").value));
      else if (mode === "diff") await this.showDiff(toMs(this.$("time-from").value), toMs(this.$("time-to").value));
    } catch (err) {
      this.onError(`history: ${err.message}`);
      this.$("changes-summary").textContent = err.message;
    }
  }

  async showAt(ms) {
    if (!Number.isFinite(ms)) throw new Error("pick a time");
    this.state.at = String(ms); this.state.from = ""; this.state.to = "";
    this.onModeChange("at");  // writes the URL: a reload shows this same time
    const graph = graphOf(await gremlin(`G.At(${ms})`));
    this.model.reset(graph);
    this.onShown();
  }

  async showDiff(from, to) {
    if (!Number.isFinite(from) || !Number.isFinite(to) || from >= to) throw new Error("pick two times, the first before the second");
    this.state.at = ""; this.state.from = String(from); this.state.to = String(to);
    this.onModeChange("diff");
    const [graphAtTo, changes] = await Promise.all([gremlin(`G.At(${to})`), getJson(`/api/changes?from=${from}&to=${to}`)]);
    const graph = graphOf(graphAtTo);
    // Removed elements are drawn as ghosts so the operator sees what disappeared.
    const removedNodes = entries(changes, "Nodes", "Removed");
    const removedEdges = entries(changes, "Edges", "Removed");
    graph.Nodes.push(...removedNodes.filter((n) => n && !graph.Nodes.some((m) => m.ID === n.ID)));
    graph.Edges.push(...removedEdges.filter((e) => e && !graph.Edges.some((m) => m.ID === e.ID)));
    this.model.reset(graph);
    this.onShown();
    const ids = (what) => [...entries(changes, "Nodes", what), ...entries(changes, "Edges", what)].filter(Boolean).map((x) => x.ID);
    const pairs = new Map();
    for (const kind of ["Nodes", "Edges"]) {
      for (const c of (changes.Changed || {})[kind] || []) {
        const before = c.Before || c.before, after = c.After || c.after;
        if (after && after.ID) pairs.set(after.ID, { before, after });
      }
    }
    const added = ids("Added"), removed = ids("Removed"), changed = ids("Changed");
    setTimeout(() => {
      this.canvas.setClass("diff-added", added);
      this.canvas.setClass("diff-removed", removed);
      this.canvas.setClass("diff-changed", changed);
    }, 50);
    this.$("changes-summary").textContent = `Between ${new Date(from).toLocaleString()} and ${new Date(to).toLocaleString()}: ${added.length} added, ${removed.length} removed, ${changed.length} changed.`;
    const list = this.$("changes-list");
    list.replaceChildren();
    for (const [what, cls, items] of [["Added", "added", added], ["Removed", "removed", removed], ["Changed", "changed", changed]]) {
      for (const id of items) {
        const el = this.model.nodes.get(id) || this.model.edges.get(id);
        const li = document.createElement("li");
        li.className = cls;
        const m = el?.Metadata || {};
        const a = document.createElement("a");
        a.textContent = `${m.Type || m.RelationType || "element"} ${el && el.Metadata && m.Type ? labelOf(el) : m.Name || id}`;
        a.addEventListener("click", () => this.canvas.focus([id]));
        li.append(`${what}: `, a);
        const pair = pairs.get(id);
        if (pair) {
          const diffs = fieldDiff(pair.before.Metadata, pair.after.Metadata);
          if (pair.before.Host !== pair.after.Host) diffs.push({ path: "@Host", before: pair.before.Host, after: pair.after.Host });
          const dl = document.createElement("div");
          dl.className = "field-diff";
          for (const d of diffs) {
            const row = document.createElement("div");
            const old = document.createElement("span"); old.className = "old"; old.textContent = shown(d.before);
            const neu = document.createElement("span"); neu.className = "new"; neu.textContent = shown(d.after);
            row.append(`${d.path}: `, old, " → ", neu);
            dl.append(row);
          }
          li.append(dl);
        }
        list.append(li);
      }
    }
  }
}
