// The browser's copy of the graph, kept equal to the analyzer's through subscriber events.
// Listeners receive {kind: "reset"|"node"|"edge", op: "added"|"updated"|"deleted", id}.

import * as wire from "./wire.js";

export function getPath(obj, path) {
  let cur = obj;
  for (const part of path.split(".")) {
    if (cur == null || typeof cur !== "object") return undefined;
    cur = cur[part];
  }
  return cur;
}

function setPath(obj, path, value) {
  const parts = path.split(".");
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    if (cur[part] === undefined) cur[part] = {};
    if (cur[part] === null || typeof cur[part] !== "object") return;
    cur = cur[part];
  }
  cur[parts[parts.length - 1]] = value;
}

function deletePath(obj, path) {
  const parts = path.split(".");
  const chain = [obj];
  for (const part of parts.slice(0, -1)) {
    const next = chain[chain.length - 1][part];
    if (next === null || typeof next !== "object") return;
    chain.push(next);
  }
  delete chain[chain.length - 1][parts[parts.length - 1]];
  for (let i = chain.length - 1; i > 0; i--) {
    if (Object.keys(chain[i]).length) break;
    delete chain[i - 1][parts[i - 1]];
  }
}

export class GraphModel {
  constructor() {
    this.nodes = new Map();
    this.edges = new Map();
    this.out = new Map();   // node id -> Set(edge id)
    this.in = new Map();
    this.owners = new Map(); // node id -> id of its ownership edge (asked for every node, every render)
    this.listeners = [];
    this.projected = false; // the elements are the analyzer's projection for the UI (see subscriber.js)
    this.complete = new Set(); // ids known in full anyway: from an event, or asked for
  }

  onChange(fn) { this.listeners.push(fn); }

  emit(event) { for (const fn of this.listeners) fn(event); }

  reset(graph, { projected = false } = {}) {
    this.nodes.clear(); this.edges.clear(); this.out.clear(); this.in.clear(); this.owners.clear();
    this.projected = projected;
    this.complete.clear();
    for (const n of graph.Nodes || []) this._addNode(n);
    for (const e of graph.Edges || []) this._addEdge(e);
    this.emit({ kind: "reset" });
  }

  _addNode(n) {
    if (this.nodes.has(n.ID)) return false;
    n.Metadata = n.Metadata || {};
    this.nodes.set(n.ID, n);
    this.out.set(n.ID, new Set());
    this.in.set(n.ID, new Set());
    return true;
  }

  _addEdge(e) {
    if (this.edges.has(e.ID) || !this.nodes.has(e.Parent) || !this.nodes.has(e.Child)) return false;
    e.Metadata = e.Metadata || {};
    this.edges.set(e.ID, e);
    this.out.get(e.Parent).add(e.ID);
    this.in.get(e.Child).add(e.ID);
    if (e.Metadata.RelationType === "ownership" && !this.owners.has(e.Child)) this.owners.set(e.Child, e.ID);
    return true;
  }

  _deleteEdge(id) {
    const e = this.edges.get(id);
    if (!e) return false;
    this.edges.delete(id);
    this.out.get(e.Parent)?.delete(id);
    this.in.get(e.Child)?.delete(id);
    if (this.owners.get(e.Child) === id) this._findOwner(e.Child);
    return true;
  }

  // Apply one Graph-namespace message ({type, obj}, see subscriber.js); unknown types are
  // ignored, as Skydive's UI does.
  apply({ type, obj: o }) {
    if (this.projected) this._noteWhole(type, o.ID);
    switch (type) {
      case wire.NODE_ADDED:
        if (this._addNode(o)) this.emit({ kind: "node", op: "added", id: o.ID });
        break;
      case wire.NODE_UPDATED: {
        const n = this.nodes.get(o.ID);
        if (!n) { if (this._addNode(o)) this.emit({ kind: "node", op: "added", id: o.ID }); break; }
        Object.assign(n, o, { Metadata: o.Metadata || {} });
        this.emit({ kind: "node", op: "updated", id: o.ID });
        break;
      }
      case wire.NODE_PARTIALLY_UPDATED:
      case wire.EDGE_PARTIALLY_UPDATED: {
        const isNode = type === wire.NODE_PARTIALLY_UPDATED;
        const el = (isNode ? this.nodes : this.edges).get(o.ID);
        if (!el) break;
        for (const op of o.Ops || []) {
          if (op.Type === wire.OP_SET) setPath(el.Metadata, op.Key, op.Value);
          else if (op.Type === wire.OP_DELETE) deletePath(el.Metadata, op.Key);
        }
        el.Revision = o.Revision; el.UpdatedAt = o.UpdatedAt;
        if (!isNode) this._findOwner(el.Child);
        this.emit({ kind: isNode ? "node" : "edge", op: "updated", id: o.ID });
        break;
      }
      case wire.NODE_DELETED: {
        if (!this.nodes.has(o.ID)) break;
        for (const eid of [...this.out.get(o.ID), ...this.in.get(o.ID)]) {
          if (this._deleteEdge(eid)) this.emit({ kind: "edge", op: "deleted", id: eid });
        }
        this.nodes.delete(o.ID); this.out.delete(o.ID); this.in.delete(o.ID);
        this.emit({ kind: "node", op: "deleted", id: o.ID });
        break;
      }
      case wire.EDGE_ADDED:
        if (this._addEdge(o)) this.emit({ kind: "edge", op: "added", id: o.ID });
        break;
      case wire.EDGE_UPDATED: {
        const e = this.edges.get(o.ID);
        if (!e) { if (this._addEdge(o)) this.emit({ kind: "edge", op: "added", id: o.ID }); break; }
        e.Metadata = o.Metadata || {}; e.UpdatedAt = o.UpdatedAt;
        this._findOwner(e.Child);
        this.emit({ kind: "edge", op: "updated", id: o.ID });
        break;
      }
      case wire.EDGE_DELETED:
        if (this._deleteEdge(o.ID)) this.emit({ kind: "edge", op: "deleted", id: o.ID });
        break;
      default:
        break;
    }
  }

  // An event that gives an element whole (added anew, or updated) makes it complete.
  _noteWhole(type, id) {
    if (type === wire.NODE_UPDATED || type === wire.EDGE_UPDATED) this.complete.add(id);
    else if (type === wire.NODE_ADDED && !this.nodes.has(id)) this.complete.add(id);
    else if (type === wire.EDGE_ADDED && !this.edges.has(id)) this.complete.add(id);
    else if (type === wire.NODE_DELETED || type === wire.EDGE_DELETED) this.complete.delete(id);
  }

  // True when every field of element `id` is known (not only the projection's).
  isComplete(id) { return !this.projected || this.complete.has(id); }

  // Take the whole of an element asked for (a node, or an edge when `isEdge`) in place of its
  // projection; false when the model no longer holds it.
  fill(full, isEdge = false) {
    const el = (isEdge ? this.edges : this.nodes).get(full?.ID);
    if (!el) return false;
    Object.assign(el, full, { Metadata: full.Metadata || {} });
    this.complete.add(full.ID);
    return true;
  }

  edgesOf(id) {
    return [...(this.out.get(id) || []), ...(this.in.get(id) || [])].map((eid) => this.edges.get(eid));
  }

  neighbours(id) {
    return this.edgesOf(id).map((e) => ({ edge: e, node: this.nodes.get(e.Parent === id ? e.Child : e.Parent), outgoing: e.Parent === id }));
  }

  // The ownership parent of a node (a node has at most one, as in Skydive).
  owner(id) {
    const eid = this.owners.get(id);
    return eid === undefined ? null : this.edges.get(eid).Parent;
  }

  // Look again for the ownership edge of `id`, after one of its edges went or changed relation.
  _findOwner(id) {
    this.owners.delete(id);
    for (const eid of this.in.get(id) || []) {
      if (this.edges.get(eid).Metadata.RelationType === "ownership") { this.owners.set(id, eid); return; }
    }
  }
}
