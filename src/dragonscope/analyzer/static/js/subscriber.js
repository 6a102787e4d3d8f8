// Live connection to the analyzer's /ws/subscriber: sync, events, reconnect with backoff, resync.
// The protocol's names come from wire.js, which the analyzer serves from its own constants.
//
// The whole graph, unfiltered, is read from /api/topology in the UI's projection (a third of
// the bytes; an element's other fields are asked for when it is opened) rather than as a
// SyncReply.
// Events flow from the handshake on and wait until it is read; applied after it, those that it
// already holds change nothing (each event states what an element is, or sets or deletes a key).

import * as wire from "./wire.js";
import { getJson } from "./api.js";

const PROJECTED_GRAPH = "/api/topology?projection=ui";

export class Subscriber {
  constructor({ onSync, onEvent, onStatus, onFilterError, onAuthRequired }) {
    Object.assign(this, { onSync, onEvent, onStatus, onFilterError, onAuthRequired });
    this.filter = "";
    this.ws = null;
    this.delay = 500;
    this.closed = false;
    this.requestSeq = 0;
    this.pending = [];   // events received before the SyncReply, applied after it
    this.synced = false;
  }

  url() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    return `${proto}//${location.host}/ws/subscriber?${wire.HDR_CLIENT_TYPE.toLowerCase()}=webui`;
  }

  start() {
    this.closed = false;
    this.connect();
  }

  stop() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close();
  }

  connect() {
    this.onStatus("connecting");
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch (err) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.synced = false;
    this.pending = [];
    ws.onopen = () => {
      this.delay = 500;
      if (this.filter) this.sync();
      else this.load(ws);
    };
    ws.onmessage = (ev) => this.handle(ev.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.closed) return;
      this.onStatus("offline");
      // A refused handshake looks like a close; ask the REST API whether we must log in.
      fetch("/api/status", { credentials: "same-origin" }).then((r) => {
        if (r.status === 401) this.onAuthRequired();
        else this.scheduleReconnect();
      }, () => this.scheduleReconnect());
    };
  }

  scheduleReconnect() {
    if (this.closed) return;
    clearTimeout(this.timer);
    const jitter = Math.random() * this.delay * 0.3;
    this.timer = setTimeout(() => this.connect(), this.delay + jitter);
    this.delay = Math.min(this.delay * 2, 10000);
  }

  // Ask for the whole view again; with a filter it must yield a graph (we append SubGraph()).
  sync() {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    this.synced = false;
    const uuid = `ui-${++this.requestSeq}`;
    this.lastRequest = uuid;
    const filter = this.filter ? withSubGraph(this.filter) : "";
    this.ws.send(JSON.stringify(encode(wire.SYNC_REQUEST, { [wire.SYNC_FILTER]: filter }, uuid)));
  }

  // The whole graph from REST, as the answer to a request of this connection.
  async load(ws) {
    this.synced = false;
    const uuid = `ui-${++this.requestSeq}`;
    this.lastRequest = uuid;
    let graph;
    try {
      graph = await getJson(PROJECTED_GRAPH);
    } catch (err) {
      if (this.ws === ws && err.status !== 401) ws.close(); // reconnect, and read it again
      return;
    }
    if (this.ws !== ws || this.lastRequest !== uuid || this.synced) return;
    this.synced = true;
    this.onSync(unproject(graph), { projected: true });
    this.onStatus("live");
    const pending = this.pending; this.pending = [];
    for (const m of pending) this.onEvent(m);
  }

  setFilter(filter) {
    this.filter = filter.trim();
    this.sync();
  }

  handle(data) {
    let raw;
    try { raw = JSON.parse(data); } catch { return; }
    const msg = decode(raw);
    if (!msg || msg.namespace !== wire.GRAPH) return;
    if (msg.type === wire.SYNC_REPLY) {
      if (msg.uuid && msg.uuid !== this.lastRequest) return;
      if (msg.status !== 200) {
        this.onFilterError(typeof msg.obj === "string" ? msg.obj : "the analyzer refused the filter");
        return;
      }
      this.synced = true;
      this.onSync(msg.obj || { Nodes: [], Edges: [] });
      this.onStatus("live");
      const pending = this.pending; this.pending = [];
      for (const m of pending) this.onEvent(m);
      return;
    }
    if (msg.type === wire.SYNC) {
      // The analyzer resends the whole view to a subscriber that fell too far behind.
      this.synced = true;
      this.pending = [];
      this.onSync(msg.obj || { Nodes: [], Edges: [] });
      return;
    }
    if (!this.synced) { this.pending.push(msg); return; }
    this.onEvent(msg);
  }
}

// The projection's graph in the shape of a SyncReply's: an edge comes as [ID, parent, child,
// metadata], its ends given by their place in the list of nodes.
function unproject(graph) {
  const nodes = graph.Nodes || [];
  const edges = (graph.Edges || []).map(([ID, p, c, Metadata]) => ({ ID, Parent: nodes[p].ID, Child: nodes[c].ID, Metadata }));
  return { Nodes: nodes, Edges: edges };
}

// A message of the envelope, and back: {namespace, type, uuid, status, obj}.
export function encode(type, obj, uuid = "", namespace = wire.GRAPH, status = 200) {
  return {
    [wire.FIELD_NAMESPACE]: namespace, [wire.FIELD_TYPE]: type, [wire.FIELD_UUID]: uuid,
    [wire.FIELD_STATUS]: status, [wire.FIELD_OBJ]: obj,
  };
}

export function decode(raw) {
  if (!raw || typeof raw !== "object") return null;
  return {
    namespace: raw[wire.FIELD_NAMESPACE], type: raw[wire.FIELD_TYPE], uuid: raw[wire.FIELD_UUID],
    status: raw[wire.FIELD_STATUS] ?? 200, obj: raw[wire.FIELD_OBJ],
  };
}

export function withSubGraph(query) {
  const q = query.trim();
  return /\.subgraph\(\s*\)\s*$/i.test(q) ? q : `${q}.SubGraph()`;
}
