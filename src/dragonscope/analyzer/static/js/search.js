// Search by name, IP, MAC or id. A floating IP resolves to the port it is associated with,
// because that is what an operator looking for "the VM behind 172.24.4.10" wants to see.

import { labelOf } from "./labels.js";

const md = (n) => n.Metadata || {};
const stripPrefix = (ip) => String(ip).split("/")[0].toLowerCase();

function addresses(m) {
  const out = [];
  for (const key of ["IPV4", "IPV6"]) for (const ip of [].concat(m[key] || [])) out.push(stripPrefix(ip));
  for (const key of ["IPV4", "IPV6"]) for (const ip of [].concat(m.Neutron?.[key] || [])) out.push(stripPrefix(ip));
  return out;
}

export function search(model, text) {
  const q = text.trim().toLowerCase();
  if (!q) return { ids: [], note: "" };
  const exact = [], partial = [];
  let note = "";
  for (const n of model.nodes.values()) {
    const m = md(n);
    const ids = [n.ID, m.Dragonflow?.ID, m.Neutron?.PortID].filter(Boolean).map((s) => String(s).toLowerCase());
    const mac = String(m.MAC || "").toLowerCase();
    const name = String(labelOf(n)).toLowerCase();
    if (ids.includes(q) || mac === q || name === q || addresses(m).includes(q)) exact.push(n.ID);
    else if (q.length >= 3 && (name.includes(q) || ids.some((i) => i.startsWith(q)) || mac.startsWith(q))) partial.push(n.ID);
  }
  // Floating IP address → the fixed port behind it.
  for (const n of model.nodes.values()) {
    const m = md(n);
    if (m.Type !== "floatingip") continue;
    if (stripPrefix(m.Dragonflow?.floating_ip_address || "") !== q && !addresses(m).includes(q)) continue;
    const fixed = m.Dragonflow?.lport;
    const port = [...model.nodes.values()].find((p) => md(p).Type === "lport" && md(p).Dragonflow?.ID === fixed);
    if (port) {
      exact.unshift(port.ID);
      note = `floating IP ${q} → port ${md(port).Name || port.ID}`;
    } else {
      exact.push(n.ID);
      note = `floating IP ${q} is not associated with a port`;
    }
  }
  const ids = [...new Set(exact.length ? exact : partial)];
  return { ids, note };
}
