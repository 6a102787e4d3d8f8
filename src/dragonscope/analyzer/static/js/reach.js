// The reachability matrix of a tenant (by name or id) or a network, as a heat map: one cell
// per source → destination port, coloured by verdict, the reason in its tooltip; a click on
// a cell opens that trace. The analyzer computes it (/api/reach) on the graph of the time shown.

import { getJson } from "./api.js";
import { labelOf, tenantName } from "./labels.js";

const OK = new Set(["delivered", "replied", "external"]);

function option(value, label) {
  const o = document.createElement("option");
  o.value = value; o.textContent = label;
  return o;
}

export function cellReason(cell) {
  if (!cell) return "";
  if (OK.has(cell.verdict)) return `${cell.verdict}${cell.table_name ? ` by ${cell.table_name}` : ""}`;
  const obj = cell.object ? ` (${cell.object.table || ""} ${cell.object.name || cell.object.id || ""})` : "";
  return `${cell.verdict}: ${cell.code || ""}${cell.reason ? ` — ${cell.reason}` : ""}${obj}`;
}

export class ReachPanel {
  constructor({ getModel, getAt, onError, onTrace }) {
    Object.assign(this, { getModel, getAt, onError, onTrace });
    this.$ = (id) => document.getElementById(id);
    this.grid = null;
    this.$("reach-form").addEventListener("submit", (ev) => { ev.preventDefault(); this.run(); });
    this.$("reach-tenant").addEventListener("change", () => { if (this.$("reach-tenant").value) this.$("reach-network").value = ""; });
    this.$("reach-network").addEventListener("change", () => { if (this.$("reach-network").value) this.$("reach-tenant").value = ""; });
  }

  // Tenants (by name when known) and networks of the model, for the pickers.
  refreshChoices() {
    const tenants = new Map(), networks = new Map();
    for (const n of this.getModel().nodes.values()) {
      const m = n.Metadata || {};
      if (m.Tenant && m.Type === "lport") tenants.set(m.Tenant, tenantName(m.Tenant) || m.Tenant);
      if (m.Type === "lswitch") networks.set(m.Dragonflow?.ID || n.ID, labelOf(n));
    }
    for (const [id, map] of [["reach-tenant", tenants], ["reach-network", networks]]) {
      const select = this.$(id), keep = select.value;
      const sorted = [...map].sort((a, b) => a[1].localeCompare(b[1]));
      // Under live churn the lists rarely change: rebuild the DOM only when they do.
      const key = JSON.stringify(sorted);
      if (key === this.shownChoices?.[id]) continue;
      this.shownChoices = { ...this.shownChoices, [id]: key };
      select.replaceChildren(option("", "—"), ...sorted.map(([v, l]) => option(v, l)));
      if (map.has(keep)) select.value = keep;
    }
  }

  params() {
    const p = { proto: this.$("reach-proto").value };
    const tenant = this.$("reach-tenant").value, network = this.$("reach-network").value;
    if (tenant) p.tenant = tenant;
    if (network) p.network = network;
    if (p.proto !== "icmp" && this.$("reach-dport").value !== "") p.dport = this.$("reach-dport").value;
    const at = this.getAt();
    if (at) p.at = at;
    return p;
  }

  async run() {
    const params = this.params();
    const note = this.$("reach-note");
    if (!params.tenant && !params.network) { note.textContent = "Pick a tenant or a network."; return; }
    note.textContent = "computing…";
    try {
      this.grid = await getJson(`/api/reach?${new URLSearchParams(params)}`);
    } catch (err) {
      note.textContent = err.message;
      this.onError(`reach: ${err.message}`);
      return;
    }
    this.draw(params);
  }

  draw(params) {
    const { ports, rows } = this.grid;
    const who = this.grid.tenant_name || (this.grid.tenant && tenantName(this.grid.tenant)) || this.grid.tenant || "";
    const what = `${this.grid.proto}${this.grid.dport ? `/${this.grid.dport}` : ""}`;
    let ok = 0, total = 0;
    const table = this.$("reach-matrix");
    const head = document.createElement("tr");
    head.append(document.createElement("th"));
    ports.forEach((p, j) => { const th = document.createElement("th"); th.textContent = String(j); th.title = p.name; head.append(th); });
    const body = rows.map((row, i) => {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.textContent = `${i} ${ports[i].name}`;
      th.className = "reach-src";
      tr.append(th);
      row.forEach((cell, j) => {
        const td = document.createElement("td");
        if (!cell) { td.className = "self"; tr.append(td); return; }
        total += 1;
        const good = OK.has(cell.verdict);
        if (good) ok += 1;
        td.className = good ? "ok" : cell.verdict === "error" ? "error" : "drop";
        td.textContent = good ? "✓" : "✗";
        td.title = `${ports[i].name} → ${ports[j].name}: ${cellReason(cell)}`;
        td.dataset.from = ports[i].id; td.dataset.to = ports[j].id;
        td.addEventListener("click", () => this.onTrace(ports[i].id, ports[j].id, { proto: this.grid.proto, dport: this.grid.dport ?? undefined }));
        tr.append(td);
      });
      return tr;
    });
    table.replaceChildren(head, ...body);
    this.$("reach-note").textContent = `${who ? `tenant ${who}` : "network"} · ${what} · ${ports.length} ports · ${ok}/${total} pairs reach. Hover a cell for the reason; click it to trace.`;
  }
}
