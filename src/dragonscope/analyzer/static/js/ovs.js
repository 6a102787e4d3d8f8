// What a chassis's Open vSwitch really has, in the details panel: for a logical port its
// interface, OpenFlow port, counters, flows per Dragonflow table and problems; for an
// interface the port it carries; for a bridge its flows and the tunnel mesh. A chassis
// collector publishes these (docs/ovs-probe.md). Text only, never HTML.

const md = (n) => (n && n.Metadata) || {};

// An OVS interface node: its Type is the OVS interface type, so tell it by its OVS columns.
export function isInterface(node) {
  const m = md(node);
  return typeof m.UUID === "string" && "OfPort" in m;
}

// The interface a logical port is plugged into (its iface-id edge), if published.
export function interfaceOf(model, id) {
  for (const { edge, node } of model.neighbours(id)) {
    if (edge.Metadata.RelationType === "layer2" && edge.Metadata.Join === "iface-id" && isInterface(node)) return node;
  }
  return null;
}

// The logical port an interface carries.
function portOf(model, id) {
  for (const { edge, node } of model.neighbours(id)) {
    if (edge.Metadata.Join === "iface-id" && md(node).Type === "lport") return node;
  }
  return null;
}

// Whether the chassis's own collector reads its switch (it publishes the chassis's bridges).
function probed(model, chassis) {
  if (!chassis) return false;
  for (const n of model.nodes.values()) if (md(n).Type === "ovsbridge" && n.Host === chassis) return true;
  return false;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function table(headers, rows, cls) {
  const t = el("table", undefined, `ovs-table ${cls}`);
  const head = el("tr");
  for (const h of headers) head.append(el("th", h));
  t.append(head);
  for (const row of rows) {
    const tr = el("tr");
    for (const cell of row) tr.append(el("td", String(cell)));
    t.append(tr);
  }
  return t;
}

function facts(pairs) {
  const dl = el("dl", undefined, "ovs-facts");
  for (const [key, value] of pairs) {
    if (value === undefined || value === null || value === "") continue;
    dl.append(el("dt", key), el("dd", String(value)));
  }
  return dl;
}

function counters(metric) {
  const names = Object.keys(metric || {}).sort();
  return names.length ? table(["counter", "value"], names.map((k) => [k, metric[k]]), "ovs-counters") : null;
}

function problems(list) {
  if (!Array.isArray(list) || !list.length) return null;
  const ul = el("ul", undefined, "ovs-problems");
  for (const p of list) ul.append(el("li", String(p)));
  return ul;
}

function portSection(model, node) {
  const m = md(node), ovs = m.OVS || {};
  const iface = interfaceOf(model, node.ID);
  const im = md(iface);
  if (!m.OVS && !iface && !probed(model, m.Chassis)) return null;
  const parts = [facts([
    ["interface", ovs.Interface || im.Name || "none plugged"],
    ["type", im.Type],
    ["OpenFlow port", ovs.OfPort ?? im.OfPort],
    ["MAC", im.MAC],
    ["state", im.State],
    ["on chassis", iface ? iface.Host : m.Chassis],
  ])];
  const flows = ovs.Flows || {};
  const names = ovs.FlowTables || {};
  const tables = Object.keys(flows).sort((a, b) => Number(a) - Number(b));
  parts.push(el("h4", `flows (${ovs.FlowCount ?? 0})`));
  parts.push(tables.length
    ? table(["table", "name", "flows"], tables.map((t) => [t, names[t] || "", flows[t]]), "ovs-flows")
    : el("div", "no flow matches this port", "muted"));
  const c = counters(ovs.Metric || im.Metric);
  if (c) parts.push(el("h4", "counters"), c);
  return parts;
}

function interfaceSection(model, node) {
  const m = md(node), port = portOf(model, node.ID);
  return [facts([
    ["carries port", port ? md(port).Name || port.ID : m["ExtID.iface-id"]],
    ["OpenFlow port", m.OfPort],
    ["admin / link", m.AdminState || m.LinkState ? `${m.AdminState || "?"} / ${m.LinkState || "?"}` : null],
    ["error", m.Error],
  ]), counters(m.Metric)].filter(Boolean);
}

function bridgeSection(node) {
  const m = md(node);
  const parts = [facts([
    ["datapath", m.DatapathType],
    ["integration bridge", m.Integration ? "yes" : null],
    ["flows", m.Flows],
    ["stale flows", m.StaleFlows],
  ])];
  const tunnels = Object.entries(m.Tunnels || {}).sort();
  if (tunnels.length) {
    parts.push(el("h4", "tunnels"),
      table(["to chassis", "remote IP", "ports"], tunnels.map(([c, t]) => [c, t.RemoteIP, t.Ports]), "ovs-tunnels"));
  }
  if (Array.isArray(m.StaleFlowSamples) && m.StaleFlowSamples.length) {
    const ul = el("ul", undefined, "mono small");
    for (const s of m.StaleFlowSamples) ul.append(el("li", s));
    parts.push(el("h4", "stale flows"), ul);
  }
  return parts;
}

// Flow drift, as the chassis collector checks it: the rules the NB asks for against those
// installed (a chassis's totals, or one port's), and the drifting rules themselves.
function driftSection(d) {
  const counts = ["Missing", "Unexpected", "Differ"].map((k) => `${d[k] || 0} ${k.toLowerCase()}`).join(", ");
  const total = "Expected" in d ? `${d.Expected} expected, ${d.Installed} installed; ` : "";
  const out = [el("h4", "flow drift"), el("div", `${total}${counts}`, "ovs-drift-summary")];
  const rules = d.Rules || [];
  if (rules.length) out.push(table(["", "app", "rule"], rules.map((r) => [r.Kind, r.App || "", r.Rule]), "ovs-drift"));
  if ((d.NotChecked || []).length) out.push(el("div", `not checked: ${d.NotChecked.join(", ")}`, "muted small"));
  if (d.Unchecked) {
    out.push(el("div", `${d.Unchecked} rules of ports bound elsewhere not checked (this collector holds only their skeleton)`, "muted small"));
  }
  return out;
}

// The "Open vSwitch" section of a node, or null when the node has no OVS side.
export function renderOvs(model, node) {
  const m = md(node);
  let parts = null;
  if (m.Type === "lport") parts = portSection(model, node);
  else if (m.Type === "ovsbridge") parts = bridgeSection(node);
  else if (isInterface(node)) parts = interfaceSection(model, node);
  if (!parts && !m.Drift) return null;
  const section = el("div");
  section.append(el("h3", "Open vSwitch"), ...(parts || []));
  if (m.Drift) section.append(...driftSection(m.Drift));
  const p = problems(m.Problems);
  if (p) section.append(el("h4", "problems"), p);
  return section;
}
