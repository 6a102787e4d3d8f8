// The details panel: every metadata field of the selection as text (never HTML), its
// neighbours as links, and a copy-id button.

import { iconFor } from "./icons.js";
import { labelOf, tenantName } from "./labels.js";
import { renderOvs } from "./ovs.js";

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function renderValue(value) {
  if (value === null || value === undefined) return el("dd", "—");
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== "object")) return el("dd", value.length ? value.join(", ") : "[]");
    const dd = el("dd");
    value.forEach((v, i) => { const dl = el("dl"); dl.append(el("dt", `[${i}]`), renderValue(v)); dd.append(dl); });
    return dd;
  }
  if (typeof value === "object") { const dd = el("dd"); dd.append(renderObject(value)); return dd; }
  return el("dd", String(value));
}

export function renderObject(obj) {
  const dl = el("dl");
  for (const key of Object.keys(obj).sort()) dl.append(el("dt", key), renderValue(obj[key]));
  return dl;
}

export class DetailsPanel {
  constructor({ onNavigate, onTraceFrom }) {
    this.$ = (id) => document.getElementById(id);
    this.current = null;
    this.$("copy-id").addEventListener("click", () => this.copyId());
    this.$("trace-from-here").addEventListener("click", () => this.current && onTraceFrom(this.current));
    this.onNavigate = onNavigate;
  }

  show(model, selection, problems = new Map()) {
    const empty = this.$("details-empty"), body = this.$("details-body");
    const element = selection && (selection.kind === "edge" ? model.edges.get(selection.id) : model.nodes.get(selection.id));
    if (!element) { this.current = null; empty.hidden = false; body.hidden = true; return; }
    this.current = element;
    empty.hidden = true; body.hidden = false;
    const m = element.Metadata || {};
    const isEdge = selection.kind === "edge";
    this.$("details-icon").src = iconFor(isEdge ? "edge" : m.Type);
    this.$("details-name").textContent = isEdge ? (m.RelationType || "edge") : labelOf(element);
    this.$("details-type").textContent = isEdge ? `edge ${m.RelationType || ""}` : `${m.Type || "?"}${m.Tenant ? ` · tenant ${tenantName(m.Tenant) || m.Tenant}` : ""}${m.Chassis ? ` · on ${m.Chassis}` : ""}`;
    const issues = isEdge ? [] : problems.get(element.ID) || [];
    this.$("details-problems-head").hidden = !issues.length;
    this.$("details-problems").replaceChildren(...issues.map((p) => el("li", `${p.kind}: ${p.field ? `(${p.field}) ` : ""}${p.message}`)));
    const state = this.$("details-state");
    state.textContent = m.State || ""; state.className = `state ${m.State || ""}`;
    this.$("details-id").textContent = element.ID;
    this.$("trace-from-here").hidden = isEdge || m.Type !== "lport";
    const list = this.$("details-neighbours");
    list.replaceChildren();
    const links = isEdge
      ? [{ label: "parent", node: model.nodes.get(element.Parent) }, { label: "child", node: model.nodes.get(element.Child) }]
      : model.neighbours(element.ID).map(({ edge, node, outgoing }) => ({ label: `${outgoing ? "→" : "←"} ${edge.Metadata.RelationType || ""}`, node }));
    links.sort((a, b) => a.label.localeCompare(b.label));
    for (const { label, node } of links) {
      if (!node) continue;
      const li = el("li");
      const a = el("a", labelOf(node));
      a.addEventListener("click", () => this.onNavigate(node.ID));
      li.append(el("span", `${label} `, "muted"), a, el("span", ` (${node.Metadata.Type || "?"})`, "muted"));
      list.append(li);
    }
    const ovs = isEdge ? null : renderOvs(model, element);
    this.$("details-ovs").hidden = !ovs;
    this.$("details-ovs").replaceChildren(...(ovs ? [ovs] : []));
    const meta = this.$("details-meta");
    meta.replaceChildren(renderObject({ ...m, "@Host": element.Host, "@Origin": element.Origin, "@Revision": element.Revision }));
  }

  async copyId() {
    if (!this.current) return;
    const id = this.current.ID;
    try { await navigator.clipboard.writeText(id); } catch {
      const t = el("textarea"); t.value = id; document.body.append(t); t.select(); document.execCommand("copy"); t.remove();
    }
    const b = this.$("copy-id"); b.textContent = "copied"; setTimeout(() => { b.textContent = "copy id"; }, 1200);
  }
}
