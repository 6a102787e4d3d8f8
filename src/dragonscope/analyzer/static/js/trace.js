// The trace panel: ask the analyzer to simulate a packet, list the hops, draw the path on the
// graph, and step through it. The drop point is highlighted with its reason.

import { postJson } from "./api.js";
import { clearReal, showReal } from "./realtrace.js";

function text(tag, value, cls) {
  const e = document.createElement(tag);
  e.textContent = value;
  if (cls) e.className = cls;
  return e;
}

// Graph node IDs a hop refers to (the objects that decided or carried the packet).
function hopNodes(hop) {
  return (hop.objects || []).map((o) => o.node_id).filter(Boolean);
}

const show = (v) => (v === null || v === undefined ? "∅" : typeof v === "object" ? JSON.stringify(v) : String(v));

export function describeVerdict(result) {
  const kind = result.verdict || "unknown";
  const f = result.final || {};
  let detail = "";
  if (result.drop) {
    const d = result.drop;
    detail = ` at table ${d.table ?? "?"} ${d.table_name || ""}${d.chassis ? ` on ${d.chassis}` : ""}: ${d.code}${d.reason ? ` — ${d.reason}` : ""}`;
  } else if (f.port) {
    detail = ` to ${f.port.name || f.port.id || f.port}${f.chassis ? ` on ${f.chassis}` : ""}`;
  } else if (f.reason) {
    detail = `: ${f.reason}`;
  }
  return { kind, text: `${kind}${detail}` };
}

export class TracePanel {
  constructor({ canvas, getModel, onError, getAt = () => null }) {
    Object.assign(this, { canvas, getModel, onError, getAt });
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
    if (this.$("trace-real").checked) p.real = true;
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
    // A link reproduces the simulated trace; a real one runs on the chassis, only when asked.
    const { real, ...body } = this.params();
    this.onParams?.(body);
    const verdict = this.$("trace-verdict");
    verdict.textContent = "tracing…"; verdict.className = "verdict";
    let result;
    const at = this.getAt();
    clearReal(this.$("trace-real-box"));
    try {
      // A real trace asks the switches as they are now: never at a past time.
      if (real) result = await postJson("/api/trace/real", body);
      else result = await postJson("/api/trace", at ? { ...body, at: Number(at) } : body);
    } catch (err) {
      verdict.textContent = err.message; verdict.className = "verdict error";
      this.onError(`trace: ${err.message}`);
      return;
    }
    if (real) {
      this.show(result.simulated);
      showReal(this.$("trace-real-box"), result);
    } else this.show(result);
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
    const dropIndex = result.drop ? hops.findIndex((h) => !h.isReply && h.seq === result.drop.hop) : -1;
    // One line per hop (where, what was decided); its detail opens under it when selected.
    hops.forEach((hop, i) => {
      const li = document.createElement("li");
      const where = [hop.chassis, hop.table !== null && hop.table !== undefined ? `t${hop.table}` : null, hop.table_name]
        .filter(Boolean).join(" ");
      const tag = `${hop.isReply ? "[reply] " : ""}${hop.fork && hop.fork !== "0" ? `[${hop.fork}] ` : ""}`;
      li.append(text("span", `${tag}${where}`, "hop-where"), text("span", ` ${hop.decision || ""}`, "hop-decision"), text("span", ` ${hop.why || ""}`, "hop-why"));
      const detail = document.createElement("div");
      detail.className = "hop-detail";
      const lines = [];
      if (hop.app) lines.push(`app ${hop.app}`);
      const objects = (hop.objects || []).map((o) => `${o.table} ${o.name || o.id}${o.detail ? ` (${o.detail})` : ""}`).join(", ");
      if (objects) lines.push(`by ${objects}`);
      if (hop.changes && Object.keys(hop.changes).length) {
        lines.push(Object.entries(hop.changes).map(([k, c]) => `${k}: ${Array.isArray(c) ? `${show(c[0])} → ${show(c[1])}` : show(c)}`).join(", "));
      }
      for (const line of lines) detail.append(text("div", line));
      li.append(detail);
      if (hop.decision === "drop") li.classList.add("drop");
      li.addEventListener("click", () => this.goto(i));
      list.append(li);
    });
    const pathNodes = new Set(hops.flatMap(hopNodes));
    const model = this.getModel();
    const pathEdges = [];
    for (const e of model.edges.values()) if (pathNodes.has(e.Parent) && pathNodes.has(e.Child) && e.Metadata.RelationType !== "ownership") pathEdges.push(e.ID);
    this.canvas.setClass("on-path", [...pathNodes, ...pathEdges]);
    const dropNodes = result.drop?.object?.node_id ? [result.drop.object.node_id] : [];
    this.canvas.setClass("drop-point", dropNodes.length ? dropNodes : dropIndex >= 0 ? hopNodes(hops[dropIndex]) : []);
    // Fit the whole path once; stepping then only pans, at this zoom.
    this.canvas.focus([...pathNodes]);
    this.current = -1;
  }

  goto(i) {
    if (!this.hops.length) return;
    this.current = Math.max(0, Math.min(i, this.hops.length - 1));
    [...this.$("trace-hops").children].forEach((li, k) => li.classList.toggle("current", k === this.current));
    const items = [...this.$("trace-hops").children];
    items[this.current]?.scrollIntoView({ block: "nearest" });
    const ids = hopNodes(this.hops[this.current]);
    // A hop without an object of its own (a table that only moves the packet on) stays
    // where the last one was: the highlight follows, the view does not jump.
    this.canvas.setClass("hop-current", ids);
    if (ids.length) this.canvas.pan(ids);
  }

  step(d) { this.goto(this.current + d); }

  clear() {
    this.hops = []; this.current = -1;
    this.$("trace-hops").replaceChildren();
    this.$("trace-verdict").textContent = "";
    clearReal(this.$("trace-real-box"));
    for (const cls of ["on-path", "drop-point", "hop-current"]) this.canvas.setClass(cls, []);
    this.onParams?.(null);
  }
}
