// Predefined views: which nodes and edges of the model an operator sees, computed in the browser
// so that switching views is instant. Each returns {nodes: Set, edgeOk(edge) -> bool}.

const PORTS = new Set(["lport", "switch_port"]);
const L2_TYPES = new Set(["lswitch", "lsubnet", "lport", "switch_port", "tenant"]);
const L2_RELATIONS = new Set(["layer2", "subnet", "ownership", "trunk-child"]);
const L3_TYPES = new Set(["lrouter", "lrouter_port", "lswitch", "lsubnet", "floatingip", "tenant"]);
const SECURITY_TYPES = new Set(["secgroup", "tenant"]);
const SECURITY_RELATIONS = new Set(["secgroup", "remote-group", "ownership"]);

export const VIEWS = {
  global: { label: "Global", needs: null },
  tenant: { label: "Tenant", needs: "tenant" },
  chassis: { label: "Chassis", needs: "chassis" },
  l2: { label: "L2 only", needs: null },
  l3: { label: "L3 / routing", needs: null },
  security: { label: "Security groups", needs: null },
  broken: { label: "Broken references", needs: null },
};

const md = (n) => n.Metadata || {};
const all = () => true;

function neighbourIds(model, id, pred = () => true) {
  const out = [];
  for (const { node, edge } of model.neighbours(id)) if (node && pred(node, edge)) out.push(node.ID);
  return out;
}

export function computeView(model, view, params) {
  const nodes = new Set();
  let edgeOk = all;
  switch (view) {
    case "tenant": {
      const tenant = params.tenant;
      for (const n of model.nodes.values()) if (md(n).Tenant === tenant || (md(n).Type === "tenant" && md(n).Name === tenant)) nodes.add(n.ID);
      // Show what the tenant's objects attach to (the external network, its gateway ports), not the rest of the cloud.
      for (const id of [...nodes]) {
        for (const nid of neighbourIds(model, id, (m) => ["lswitch", "lsubnet", "lport", "floatingip", "lrouter"].includes(md(m).Type))) nodes.add(nid);
      }
      break;
    }
    case "chassis": {
      const name = params.chassis;
      const ports = [];
      for (const n of model.nodes.values()) {
        const m = md(n);
        if (m.Type === "chassis" && (m.Name === name || m.Dragonflow?.ID === name)) nodes.add(n.ID);
        else if (PORTS.has(m.Type) && m.Chassis === name) { nodes.add(n.ID); ports.push(n.ID); }
      }
      const networks = [];
      for (const p of ports) {
        for (const nid of neighbourIds(model, p, (m) => ["lswitch", "lsubnet", "secgroup", "qospolicy", "floatingip", "lport"].includes(md(m).Type))) {
          nodes.add(nid);
          if (model.nodes.get(nid).Metadata.Type === "lswitch") networks.push(nid);
        }
      }
      for (const net of networks) {
        for (const rp of neighbourIds(model, net, (m) => md(m).Type === "lrouter_port" || md(m).Type === "lsubnet")) {
          nodes.add(rp);
          for (const r of neighbourIds(model, rp, (m) => md(m).Type === "lrouter")) nodes.add(r);
        }
      }
      break;
    }
    case "l2":
      for (const n of model.nodes.values()) if (L2_TYPES.has(md(n).Type)) nodes.add(n.ID);
      edgeOk = (e) => L2_RELATIONS.has(md(e).RelationType);
      break;
    case "l3":
      for (const n of model.nodes.values()) {
        const m = md(n);
        if (L3_TYPES.has(m.Type) || (m.Type === "lport" && /^network:(router_gateway|floatingip|router_interface)/.test(m.DeviceOwner || ""))) nodes.add(n.ID);
      }
      break;
    case "security":
      for (const n of model.nodes.values()) {
        if (SECURITY_TYPES.has(md(n).Type)) nodes.add(n.ID);
        else if (md(n).Type === "lport" && neighbourIds(model, n.ID, (m) => md(m).Type === "secgroup").length) nodes.add(n.ID);
      }
      edgeOk = (e) => SECURITY_RELATIONS.has(md(e).RelationType);
      break;
    case "broken":
      for (const n of model.nodes.values()) {
        if (md(n).Type !== "missing") continue;
        nodes.add(n.ID);
        for (const nid of neighbourIds(model, n.ID)) nodes.add(nid);
      }
      break;
    default:
      for (const id of model.nodes.keys()) nodes.add(id);
  }
  return { nodes, edgeOk };
}

export function tenantsOf(model) {
  const seen = new Set();
  for (const n of model.nodes.values()) if (md(n).Tenant) seen.add(md(n).Tenant);
  return [...seen].sort();
}

export function chassisOf(model) {
  const seen = new Set();
  for (const n of model.nodes.values()) if (md(n).Type === "chassis") seen.add(md(n).Name);
  return [...seen].sort();
}
