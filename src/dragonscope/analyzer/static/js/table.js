// The table of the current selection: sortable, and the way to see everything when a view is too
// large to draw.

import { labelOf, tenantName } from "./labels.js";

const COLUMNS = [
  ["Type", (n) => n.Metadata.Type],
  ["Name", (n) => labelOf(n)],
  ["Tenant", (n) => tenantName(n.Metadata.Tenant) || n.Metadata.Tenant],
  ["Chassis", (n) => n.Metadata.Chassis],
  ["IPs", (n) => [].concat(n.Metadata.IPV4 || [], n.Metadata.IPV6 || []).join(" ")],
  ["MAC", (n) => n.Metadata.MAC],
  ["State", (n) => n.Metadata.State],
  ["ID", (n) => n.ID],
];
const MAX_ROWS = 5000;

export class NodeTable {
  constructor({ onPick }) {
    this.table = document.getElementById("table");
    this.note = document.getElementById("table-note");
    this.sortBy = 0; this.asc = true;
    this.onPick = onPick;
    const tr = document.createElement("tr");
    COLUMNS.forEach(([name], i) => {
      const th = document.createElement("th");
      th.textContent = name;
      th.addEventListener("click", () => { this.asc = this.sortBy === i ? !this.asc : true; this.sortBy = i; this.render(); });
      tr.append(th);
    });
    this.table.tHead.append(tr);
    this.rows = [];
  }

  setRows(nodes, label) {
    this.rows = nodes;
    this.label = label;
    this.render();
  }

  render() {
    const get = COLUMNS[this.sortBy][1];
    const dir = this.asc ? 1 : -1;
    const rows = [...this.rows].sort((a, b) => dir * String(get(a) ?? "").localeCompare(String(get(b) ?? ""), undefined, { numeric: true }));
    const body = this.table.tBodies[0];
    const frag = document.createDocumentFragment();
    for (const n of rows.slice(0, MAX_ROWS)) {
      const tr = document.createElement("tr");
      tr.dataset.id = n.ID;
      for (const [, f] of COLUMNS) { const td = document.createElement("td"); td.textContent = f(n) ?? ""; tr.append(td); }
      tr.addEventListener("click", () => this.onPick(n.ID));
      frag.append(tr);
    }
    body.replaceChildren(frag);
    const cut = rows.length > MAX_ROWS ? ` (first ${MAX_ROWS} shown)` : "";
    this.note.textContent = `${rows.length} nodes: ${this.label}${cut}. Click a column to sort.`;
  }
}
