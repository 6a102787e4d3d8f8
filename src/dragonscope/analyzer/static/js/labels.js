// What a node is called on screen. The graph's Name is the label every client shows (the
// collector names unnamed objects from the NB); two kinds of node know better here: a tenant,
// whose name the analyzer may know (/api/tenants), and a missing placeholder, which says what
// is missing rather than repeating an id.

const tenantNames = new Map();

export function setTenantNames(names) {
  tenantNames.clear();
  for (const [id, name] of Object.entries(names || {})) tenantNames.set(id, name);
}

export function tenantName(id) { return tenantNames.get(id) || ""; }

export function shortId(id) { return String(id).length > 12 ? `${String(id).slice(0, 8)}…` : String(id); }

export function labelOf(node) {
  const m = node.Metadata || {};
  if (m.Type === "tenant") return tenantNames.get(m.Tenant || m.Name) || m.Name || node.ID;
  if (m.Type === "missing" && m.Missing) return `missing ${m.Missing.Table || "object"} ${shortId(m.Missing.ID || node.ID)}`;
  return m.Name || node.ID;
}
