// Group-by: which box (compound) each visible node is drawn in.
//   logical  – nesting on ownership edges (ports in their network), then by tenant
//   physical – ports inside the chassis they are bound to; with a chassis collector reading
//              Open vSwitch, each bridge inside its chassis and each VM interface, with its
//              OVS port, inside a box of the logical port it carries
//   router   – networks (with their ports) around the router they attach to
// Returns {parentOf: Map(nodeId -> groupId), groups: Map(groupId -> {id, label, type, parent, owner}),
// tenantNodes: Map(tenant -> id of its tenant node)}.

import { labelOf as label, tenantName, shortId } from "./labels.js";

const md = (n) => n.Metadata || {};

export function computeGroups(model, visible, mode) {
  const groups = new Map();
  const parentOf = new Map();
  const ensure = (id, props) => {
    if (!groups.has(id)) groups.set(id, { id, parent: null, owner: null, ...props });
    return groups.get(id);
  };
  // Each visible node's visible owner, asked of the model once per node.
  const owners = new Map();
  const owns = new Map(); // owner id -> count of visible owned children
  for (const id of visible) {
    const o = model.owner(id);
    if (o === null || !visible.has(o)) continue;
    owners.set(id, o);
    owns.set(o, (owns.get(o) || 0) + 1);
  }
  const ownerOf = (id) => owners.get(id) || null;
  // Objects with no owner go in their tenant's box: the tenant node's own box when the
  // topology has one, else a box of our own.
  const tenantNodes = new Map();
  for (const id of visible) {
    const n = model.nodes.get(id);
    if (md(n).Type === "tenant") tenantNodes.set(md(n).Tenant || md(n).Name, id);
  }
  const tenantGroup = (n) => {
    const t = md(n).Tenant;
    if (!t || md(n).Type === "tenant") return null;
    if (tenantNodes.has(t)) return boxOf(tenantNodes.get(t));
    const key = `tenant:${t}`;
    return groups.has(key) ? key : ensure(key, { label: `tenant ${tenantName(t) || shortId(t)}`, type: "tenant" }).id;
  };
  // The box a node (or the box it owns) sits in, following ownership upwards.
  const containerOf = (id) => {
    const o = ownerOf(id);
    if (o) return boxOf(o);
    if (mode === "logical") return tenantGroup(model.nodes.get(id));
    return null;
  };
  // Asked for every member of a box: the box's label is made once.
  const boxOf = (id) => {
    const key = `grp:${id}`;
    if (groups.has(key)) return key;
    const n = model.nodes.get(id);
    return ensure(key, { label: label(n), type: md(n).Type, owner: id }).id;
  };

  if (mode === "physical") {
    physicalGroups(model, visible, ensure, parentOf);
    return { parentOf, groups, tenantNodes };
  }

  // logical and router: nesting on ownership.
  for (const id of visible) {
    if (owns.has(id)) {
      const g = groups.get(boxOf(id));
      parentOf.set(id, g.id);
      const up = containerOf(id);
      if (up && up !== g.id) g.parent = up;
    } else {
      const c = containerOf(id);
      if (c) parentOf.set(id, c);
    }
  }

  if (mode === "router") {
    // Attach each top-level network box to the first router (by name) that has an interface on it.
    const routerOf = new Map();
    const routers = [...visible].map((id) => model.nodes.get(id)).filter((n) => md(n).Type === "lrouter")
      .sort((a, b) => label(a).localeCompare(label(b)));
    for (const r of routers) {
      const rg = ensure(`router:${r.ID}`, { label: `router ${label(r)}`, type: "lrouter", owner: r.ID });
      parentOf.set(r.ID, rg.id);
      for (const { node: rp } of model.neighbours(r.ID)) {
        if (!rp || md(rp).Type !== "lrouter_port" || !visible.has(rp.ID)) continue;
        parentOf.set(rp.ID, rg.id);
        for (const { node: net } of model.neighbours(rp.ID)) {
          if (net && md(net).Type === "lswitch" && visible.has(net.ID) && !routerOf.has(net.ID)) routerOf.set(net.ID, rg.id);
        }
      }
    }
    for (const [net, rg] of routerOf) {
      const box = owns.has(net) ? groups.get(`grp:${net}`) : null;
      if (box) box.parent = rg; else parentOf.set(net, rg);
    }
    // Tenant boxes are not used in the router view; lift their members to the top level.
    for (const [id, g] of groups) if (g.type === "tenant") groups.delete(id);
    for (const [id, p] of parentOf) if (p.startsWith("tenant:")) parentOf.delete(id);
    for (const g of groups.values()) if (g.parent && g.parent.startsWith("tenant:")) g.parent = null;
  }
  return { parentOf, groups, tenantNodes };
}

const OVS_TYPES = new Set(["ovsbridge", "ovsport", "ofrule"]);
const isOvs = (n) => OVS_TYPES.has(md(n).Type) || (typeof md(n).UUID === "string" && "OfPort" in md(n));

function physicalGroups(model, visible, ensure, parentOf) {
  const chassisNodes = new Map();
  for (const id of visible) {
    const n = model.nodes.get(id);
    if (md(n).Type === "chassis") chassisNodes.set(md(n).Name, id);
  }
  const chassisBox = (c) => ensure(`chassis:${c}`, { label: `chassis ${c}`, type: "chassis", owner: chassisNodes.get(c) || null }).id;
  for (const id of visible) {
    const m = md(model.nodes.get(id));
    let c = null;
    if (m.Type === "chassis") c = m.Name;
    else if ((m.Type === "lport" || m.Type === "switch_port") && m.Chassis) c = m.Chassis;
    if (c != null) parentOf.set(id, chassisBox(c));
  }
  // Bridges in their chassis (the node owning them); their ports, interfaces and rules in them.
  const bridgeBox = new Map();
  for (const id of visible) {
    const n = model.nodes.get(id);
    if (md(n).Type !== "ovsbridge") continue;
    const owner = model.nodes.get(model.owner(id));
    const c = owner && md(owner).Type === "chassis" ? md(owner).Name : n.Host;
    const box = ensure(`bridge:${id}`, { label: `bridge ${md(n).Name}`, type: "ovsbridge", owner: id, parent: chassisBox(c) }).id;
    bridgeBox.set(id, box);
    parentOf.set(id, box);
  }
  const bridgeOf = (id) => {
    for (let o = model.owner(id), hops = 0; o && hops < 3; o = model.owner(o), hops++) if (bridgeBox.has(o)) return bridgeBox.get(o);
    return null;
  };
  for (const id of visible) {
    if (!isOvs(model.nodes.get(id)) || bridgeBox.has(id)) continue;
    const box = bridgeOf(id);
    if (box) parentOf.set(id, box);
  }
  // A VM interface and its OVS port go in a box of the logical port they carry, in the bridge.
  for (const { Parent: port, Child: iface, Metadata: em } of model.edges.values()) {
    if (em.Join !== "iface-id" || !visible.has(port) || !visible.has(iface) || !parentOf.has(iface)) continue;
    const p = model.nodes.get(port);
    const box = ensure(`carries:${port}`, { label: `port ${md(p).Name || port}`, type: "lport", owner: port, parent: parentOf.get(iface) }).id;
    parentOf.set(port, box);
    parentOf.set(iface, box);
    const ovsPort = model.owner(iface);
    if (ovsPort && visible.has(ovsPort)) parentOf.set(ovsPort, box);
  }
}

// Depth of a group (0 = top level), used to collapse the innermost boxes first.
export function groupDepth(groups, id) {
  let d = 0;
  for (let g = groups.get(id); g && g.parent; g = groups.get(g.parent)) d++;
  return d;
}
