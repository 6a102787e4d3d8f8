// Live connection to the analyzer's /ws/subscriber: sync, events, reconnect with backoff, resync.

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
    return `${proto}//${location.host}/ws/subscriber?x-client-type=webui`;
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
      this.sync();
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
    this.ws.send(JSON.stringify({ Namespace: "Graph", Type: "SyncRequest", UUID: uuid, Status: 200, Obj: { GremlinFilter: filter } }));
  }

  setFilter(filter) {
    this.filter = filter.trim();
    this.sync();
  }

  handle(data) {
    let msg;
    try { msg = JSON.parse(data); } catch { return; }
    if (msg.Namespace !== "Graph") return;
    if (msg.Type === "SyncReply") {
      if (msg.UUID && msg.UUID !== this.lastRequest) return;
      if (msg.Status !== 200) {
        this.onFilterError(typeof msg.Obj === "string" ? msg.Obj : "the analyzer refused the filter");
        return;
      }
      this.synced = true;
      this.onSync(msg.Obj || { Nodes: [], Edges: [] });
      this.onStatus("live");
      const pending = this.pending; this.pending = [];
      for (const m of pending) this.onEvent(m);
      return;
    }
    if (msg.Type === "Sync") {
      // The analyzer resends the whole view to a subscriber that fell too far behind.
      this.synced = true;
      this.pending = [];
      this.onSync(msg.Obj || { Nodes: [], Edges: [] });
      return;
    }
    if (!this.synced) { this.pending.push(msg); return; }
    this.onEvent(msg);
  }
}

export function withSubGraph(query) {
  const q = query.trim();
  return /\.subgraph\(\s*\)\s*$/i.test(q) ? q : `${q}.SubGraph()`;
}
