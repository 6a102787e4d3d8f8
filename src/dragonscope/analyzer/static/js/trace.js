// The trace panel: ask the analyzer to simulate a packet, list the hops, draw the path on the
// graph, and step through it. The drop point is highlighted with its reason.

import { postJson } from "./api.js";

function text(tag, value, cls) {
  const e = document.createElement(tag);
  e.textContent = value;
  if (cls) e.className = cls;
  return e;
}

// Graph node IDs a hop refers to (where it runs, what decided).
function hopNodes(hop) {
  const ids = [];
  for (const key of ["node_id", "port_node_id", "chassis_node_id"]) if (hop[key]) ids.push(hop[key]);
  if (hop.object && hop.object.node_id) ids.push(hop.object.node_id);
  for (const o of hop.objects || []) if (o.node_id) ids.push(o.node_id);
  return ids;
}

export function describeVerdict(result) {
  const v = result.verdict;
  const kind = typeof v === "string" ? v : v?.kind || v?.verdict || "unknown";
  let detail = "";
  if (result.drop) detail = ` at ${result.drop.stage || result.drop.table_name || "?"}: ${result.drop.reason || result.drop.code || ""}${result.drop.message ? ` — ${result.drop.message}` : ""}`;
  else if (v && typeof v === "object" && v.port) detail = ` to ${v.port}${v.chassis ? ` on ${v.chassis}` : ""}`;
  return { kind, text: `${kind}${detail}` };
}

export class TracePanel {
  constructor({ canvas, getModel, onError }) {
    Object.assign(this, { canvas, getModel, onError });
    this.$ = (id) => document.getElementById(id);
    this.hops = [];
    this.current = -1;
    this.$("trace-form").addEventListener("submit", (ev) => { ev.preventDefault(); this.run(); });
    this.$("trace-clear").addEventListener("click", () => this.clear());
    this.$("hop-prev").addEventListener("click", () => this.step(-1));
    this.$("hop-next").addEventListener("click", () => this.step(1));
  }

  params() {
    const p = { from: this.$("trace-from").value.trim(), to: this.$("trace-to").value.trim(), proto: this.$("trace-proto").value };
    const dport = this.$("trace-dport").value;
    if (dport !== "" && ["tcp", "udp"].includes(p.proto)) p.dport = Number(dport);
    if (this.$("trace-reply").checked) p.reply = true;
    return p;
  }

  setParams(p) {
    if (p.from !== undefined) this.$("trace-from").value = p.from;
    if (p.to !== undefined) this.$("trace-to").value = p.to;
    if (p.proto) this.$("trace-proto").value = p.proto;
    if (p.dport !== undefined) this.$("trace-dport").value = p.dport;
    this.$("trace-reply").checked = Boolean(p.reply);
  }

  async run() {
    const params = this.params();
    this.onParams?.(params);
    const verdict = this.$("trace-verdict");
    verdict.textContent = "tracing…"; verdict.className = "verdict";
    let result;
    try {
      result = await postJson("/api/trace", params);
    } catch (err) {
      verdict.textContent = err.message; verdict.className = "verdict error";
      this.onError(`trace: ${err.message}`);
      return;
    }
    this.show(result);
  }

  show(result) {
    const hops = [...(result.hops || [])];
    if (result.reply && result.reply.hops) for (const h of result.reply.hops) hops.push({ ...h, isReply: true });
    this.hops = hops;
    const { kind, text: verdictText } = describeVerdict(result);
    const reply = result.reply ? `; reply: ${describeVerdict(result.reply).text}` : "";
    const v = this.$("trace-verdict");
    v.textContent = verdictText + reply; v.className = `verdict ${kind}`;
    const list = this.$("trace-hops");
    list.replaceChildren();
    const dropIndex = result.drop ? hops.findIndex((h) => h.decision === "drop" || h.dropped) : -1;
    hops.forEach((hop, i) => {
      const li = document.createElement("li");
      const where = [hop.chassis, hop.table !== undefined ? `table ${hop.table}` : null, hop.table_name, hop.app ? `app ${hop.app}` : null].filter((x) => x !== null && x !== undefined && x !== "").join(" · ");
      li.append(text("span", `${hop.isReply ? "[reply] " : ""}${hop.fork ? `[${hop.fork}] ` : ""}${hop.decision || hop.action || ""} `));
      li.append(text("span", hop.reason || hop.why || hop.description || ""));
      li.append(document.createElement("br"), text("span", where, "where"));
      if (hop.changes && Object.keys(hop.changes).length) {
        const ch = Object.entries(hop.changes).map(([k, c]) => `${k}: ${Array.isArray(c) ? c.join(" → ") : typeof c === "object" ? `${c.before} → ${c.after}` : c}`).join(", ");
        li.append(document.createElement("br"), text("span", ch, "where"));
      }
      if (i === dropIndex || hop.decision === "drop") li.classList.add("drop");
      li.addEventListener("click", () => this.goto(i));
      list.append(li);
    });
    const pathNodes = new Set(hops.flatMap(hopNodes));
    if (result.path) for (const id of result.path.nodes || []) pathNodes.add(id);
    const model = this.getModel();
    const pathEdges = [];
    for (const e of model.edges.values()) if (pathNodes.has(e.Parent) && pathNodes.has(e.Child) && e.Metadata.RelationType !== "ownership") pathEdges.push(e.ID);
    this.canvas.setClass("on-path", [...pathNodes, ...pathEdges]);
    const dropNodes = result.drop ? [result.drop.node_id, result.drop.object?.node_id].filter(Boolean) : [];
    this.canvas.setClass("drop-point", dropNodes.length ? dropNodes : dropIndex >= 0 ? hopNodes(hops[dropIndex]) : []);
    this.canvas.focus([...pathNodes]);
    this.current = -1;
  }

  goto(i) {
    if (!this.hops.length) return;
    this.current = Math.max(0, Math.min(i, this.hops.length - 1));
    [...this.$("trace-hops").children].forEach((li, k) => li.classList.toggle("current", k === this.current));
    const ids = hopNodes(this.hops[this.current]);
    this.canvas.setClass("hop-current", ids);
    if (ids.length) this.canvas.focus(ids);
  }

  step(d) { this.goto(this.current + d); }

  clear() {
    this.hops = []; this.current = -1;
    this.$("trace-hops").replaceChildren();
    this.$("trace-verdict").textContent = "";
    for (const cls of ["on-path", "drop-point", "hop-current"]) this.canvas.setClass(cls, []);
    this.onParams?.(null);
  }
}
