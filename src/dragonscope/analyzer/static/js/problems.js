// Lint in the graph: every problem `nb check` reports (from the analyzer's /api/problems, across
// objects: duplicate addresses, dangling references...) and every object's own problems (its
// node's Problems), as a badge on the node and an "all problems" list grouped by kind.

import { getJson } from "./api.js";

const REFRESH_MS = 5000;

export class Problems {
  constructor({ onChange, onPick, onError }) {
    Object.assign(this, { onChange, onPick, onError });
    this.remote = [];
    this.byNode = new Map();  // node id -> [problem]
    this.timer = null;
    this.fetched = 0;
  }

  // Ask the analyzer again, at most once every REFRESH_MS while the graph moves.
  refreshSoon() {
    if (this.timer) return;
    const wait = Math.max(0, REFRESH_MS - (performance.now() - this.fetched));
    this.timer = setTimeout(() => { this.timer = null; this.fetch(); }, wait);
  }

  async fetch() {
    this.fetched = performance.now();
    let remote;
    try {
      remote = (await getJson("/api/problems")).Problems || [];
    } catch (err) {
      if (err.status !== 404) this.onError(`problems: ${err.message}`);
      remote = [];
    }
    // Redraw only when the list changed: under live churn it mostly does not.
    const key = JSON.stringify(remote);
    if (key === this.remoteKey) return;
    this.remoteKey = key;
    this.remote = remote;
    this.onChange();
  }

  // Merge the analyzer's list with the nodes' own problems; returns the problems by node.
  collect(model) {
    const byNode = new Map();
    const add = (id, p) => { if (!byNode.has(id)) byNode.set(id, []); byNode.get(id).push(p); };
    for (const p of this.remote) if (model.nodes.has(p.node)) add(p.node, p);
    for (const n of model.nodes.values()) {
      const own = n.Metadata && n.Metadata.Problems;
      if (Array.isArray(own)) for (const text of own) add(n.ID, { kind: "schema", message: String(text), node: n.ID });
    }
    this.byNode = byNode;
    return byNode;
  }

  count() { let k = 0; for (const list of this.byNode.values()) k += list.length; return k; }

  render(model, labelOf) {
    const key = `${this.remoteKey}|${[...this.byNode.keys()].join(",")}`;
    if (key === this.renderedKey) return;
    this.renderedKey = key;
    const groups = new Map();
    for (const [id, list] of this.byNode) for (const p of list) {
      if (!groups.has(p.kind)) groups.set(p.kind, []);
      groups.get(p.kind).push({ id, p });
    }
    const out = [];
    for (const kind of [...groups.keys()].sort()) {
      const items = groups.get(kind);
      const section = document.createElement("li");
      const head = document.createElement("div");
      head.className = "problem-kind";
      head.textContent = `${kind} (${items.length})`;
      const ul = document.createElement("ul");
      for (const { id, p } of items) {
        const li = document.createElement("li");
        const node = model.nodes.get(id);
        const a = document.createElement("a");
        a.textContent = node ? labelOf(node) : id;
        a.addEventListener("click", () => this.onPick(id));
        li.append(a, document.createTextNode(` ${p.field ? `(${p.field}) ` : ""}${p.message}`));
        ul.append(li);
      }
      section.append(head, ul);
      out.push(section);
    }
    document.getElementById("problems-list").replaceChildren(...out);
    const n = this.count();
    document.getElementById("problems-count").textContent = n ? `(${n})` : "";
  }
}
