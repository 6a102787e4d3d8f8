// Predefined views. The analyzer defines them (its saved queries, listed at /api/views) and runs
// them (/api/views/<name>), so a view means the same here as in `dragonscope query --saved`. The
// page draws the part of its model that the view's answer names.

import { getJson } from "./api.js";
import { getPath } from "./model.js";

const WHOLE_GRAPH = "G";
const REFRESH_MS = 1000; // a view follows live changes at most this often

export class Views {
  constructor({ onChange, onError }) {
    Object.assign(this, { onChange, onError });
    this.catalogue = [];
    this.ids = null; // {nodes: Set, edges: Set} of the shown view; null: the whole graph
    this.shownKey = null; // what `ids` answers
    this.wantedKey = null;
    this.timer = null;
  }

  async load() {
    this.catalogue = await getJson("/api/views");
  }

  byName(name) { return this.catalogue.find((v) => v.Name === name); }

  title(name) { return this.byName(name)?.Title || name; }

  // The views a picker can offer: no parameter, or one whose values the model lists.
  pickable() { return this.catalogue.filter((v) => v.Params.length === 0 || (v.Params.length === 1 && v.Choices)); }

  // [{value, label}] for the parameter of a view, from the nodes of the model.
  choices(model, view) {
    const c = view.Choices;
    const seen = new Map();
    for (const n of model.nodes.values()) {
      const m = n.Metadata || {};
      if (c.Type && m.Type !== c.Type) continue;
      const value = getPath(m, c.Key);
      if (typeof value !== "string" || !value || seen.has(value)) continue;
      seen.set(value, c.Label ? String(getPath(m, c.Label) ?? value) : value);
    }
    return [...seen].map(([value, label]) => ({ value, label })).sort((a, b) => a.label.localeCompare(b.label));
  }

  // True when what is shown answers the state's view (always true for the whole graph).
  settled(state) { return this.shownKey === keyOf(this.byName(state.view), state); }

  // Show the view of the state: at once for the whole graph, else when the analyzer answers.
  // `changed` says that the graph moved: the view is asked again, at most once a REFRESH_MS.
  update(state, changed = false) {
    const view = this.byName(state.view);
    const key = keyOf(view, state);
    if (!view || view.Query === WHOLE_GRAPH || key === null) {
      clearTimeout(this.timer); this.timer = null;
      this.ids = null; this.shownKey = key; this.wantedKey = key;
      return;
    }
    if (key !== this.wantedKey) {
      this.wantedKey = key;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.fetch(view, state, key), 0);
    } else if (changed && !this.timer) {
      this.timer = setTimeout(() => this.fetch(view, state, key), REFRESH_MS);
    }
  }

  async fetch(view, state, key) {
    this.timer = null;
    const query = new URLSearchParams();
    if (view.Params.length) query.set(view.Params[0], state.arg);
    if (state.time === "at") query.set("at", state.at);
    else if (state.time === "diff") query.set("at", state.to);
    try {
      const answer = await getJson(`/api/views/${encodeURIComponent(view.Name)}?${query}`);
      if (key !== this.wantedKey) return; // a newer view was asked for meanwhile
      this.ids = { nodes: new Set(answer.Nodes), edges: new Set(answer.Edges) };
    } catch (err) {
      if (key !== this.wantedKey) return;
      this.onError(`view ${view.Title}: ${err.message}`);
      this.ids = { nodes: new Set(), edges: new Set() };
    }
    this.shownKey = key;
    this.onChange();
  }

  // {nodes: Set of visible node IDs, edgeOk(edge)} for the scene.
  visible(model) {
    if (this.ids === null) return { nodes: new Set(model.nodes.keys()), edgeOk: () => true };
    const nodes = new Set([...this.ids.nodes].filter((id) => model.nodes.has(id)));
    const edges = this.ids.edges;
    return { nodes, edgeOk: (e) => edges.has(e.ID) };
  }
}

// What a view's answer depends on; null when a parameter it needs is not chosen yet.
function keyOf(view, state) {
  if (!view) return WHOLE_GRAPH;
  if (view.Params.length && !state.arg) return null;
  const at = state.time === "at" ? state.at : state.time === "diff" ? state.to : "live";
  return JSON.stringify([view.Name, view.Params.length ? state.arg : "", at]);
}
