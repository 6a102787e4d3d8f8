// The truth about freshness, from the collectors' own status nodes (Type
// dragonscope-collector, Dragonflow.Stale/StaleSince) and from the connection to the analyzer:
// "live", "NB unreachable since 10:42:07", "analyzer disconnected since ...". A stale
// collector's nodes are marked on the canvas (by their Origin).

export const STATUS_TYPE = "dragonscope-collector";
const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false });

export function collectorStatus(model) {
  const stale = [];
  for (const n of model.nodes.values()) {
    const m = n.Metadata || {};
    if (m.Type !== STATUS_TYPE || !(m.Dragonflow && m.Dragonflow.Stale)) continue;
    stale.push({ name: m.Name || n.ID, origin: n.Origin || "", since: m.Dragonflow.StaleSince || null });
  }
  return stale;
}

export class Freshness {
  constructor() {
    this.$ = (id) => document.getElementById(id);
    this.connection = "connecting";
    this.disconnectedAt = null;
    this.staleOrigins = new Set();
  }

  setConnection(status) {
    if (status === "offline" && this.connection !== "offline") this.disconnectedAt = Date.now();
    if (status === "live" || status === "history") this.disconnectedAt = null;
    this.connection = status;
  }

  // Recompute from the model; returns true when the set of stale origins changed (redraw).
  update(model) {
    const stale = this.connection === "history" ? [] : collectorStatus(model);
    const origins = new Set(stale.map((s) => s.origin).filter(Boolean));
    const changed = origins.size !== this.staleOrigins.size || [...origins].some((o) => !this.staleOrigins.has(o));
    this.staleOrigins = origins;
    let kind = this.connection, text, banner = "";
    if (this.connection === "offline") {
      text = `analyzer disconnected${this.disconnectedAt ? ` since ${clock(this.disconnectedAt)}` : ""}`;
      banner = `The connection to the analyzer is lost${this.disconnectedAt ? ` since ${clock(this.disconnectedAt)}` : ""}; what is drawn may be out of date. Reconnecting…`;
    } else if (this.connection === "live" && stale.length) {
      kind = "stale";
      const since = Math.min(...stale.map((s) => s.since || Date.now()));
      text = `NB unreachable since ${clock(since)}`;
      banner = `${stale.map((s) => s.name).join(", ")} cannot read the NB since ${clock(since)}: the graph shows the last state it read, and the marked nodes may be out of date.`;
    } else {
      text = { live: "live", connecting: "connecting", history: "history (paused)" }[this.connection] || this.connection;
    }
    this.$("conn").className = `conn conn-${kind}`;
    this.$("conn-text").textContent = text;
    const el = this.$("stale-banner");
    el.textContent = banner;
    el.hidden = !banner;
    return changed;
  }
}
