// A deterministic, grouped layout: leaves in a grid inside their box, boxes packed in rows.
// It is computed from the scene alone (same scene, same picture), and live additions are placed
// in a free slot of their box without moving anything else.

const CELL = 64;      // grid spacing for leaves
const PAD = 34;       // inner padding of a box (room for its label)
const GAP = 40;       // space between packed boxes

// Order leaves so that related objects sit together: by type, then by label.
const TYPE_ORDER = ["tenant", "chassis", "lrouter", "lrouter_port", "lswitch", "lsubnet", "lport", "switch_port", "floatingip",
  "secgroup", "qospolicy", "sfc_portchain", "sfc_portpairgroup", "sfc_portpair", "sfc_flowclassifier", "bgp_speaker", "bgp_peer",
  "activeport", "migration", "service", "publisher", "listener", "missing"];
const rank = (t) => { const i = TYPE_ORDER.indexOf(t); return i < 0 ? TYPE_ORDER.length : i; };
const byTypeThenLabel = (a, b) => rank(a.type) - rank(b.type) || String(a.label).localeCompare(String(b.label)) || a.id.localeCompare(b.id);

// Layout of one container: returns {w, h, place(x0, y0, out)}.
function layoutBox(children, childrenOf, owner = null) {
  const head = children.filter((c) => c.id === owner);
  const leaves = children.filter((c) => c.kind !== "group" && c.id !== owner).sort(byTypeThenLabel);
  const boxes = children.filter((c) => c.kind === "group").sort(byTypeThenLabel)
    .map((g) => ({ node: g, ...layoutBox(childrenOf.get(g.id) || [], childrenOf, g.owner) }));
  const cols = Math.max(1, Math.ceil(Math.sqrt(leaves.length * 1.6)));
  const rows = Math.ceil(leaves.length / cols);
  const items = [];
  // The box's owner (the network, the tenant) leads; then the boxes it holds, then the rest.
  if (head.length) items.push({ w: CELL, h: CELL, leaves: head, cols: 1 });
  // Boxes first (tenants, networks, chassis: what the eye looks for), loose objects after.
  for (const b of boxes) items.push({ w: b.w + 2 * PAD, h: b.h + 2 * PAD, box: b });
  if (leaves.length) items.push({ w: cols * CELL, h: rows * CELL, leaves, cols });
  // Shelf packing into a roughly square area.
  const area = items.reduce((s, it) => s + (it.w + GAP) * (it.h + GAP), 0);
  const maxW = Math.max(Math.sqrt(area) * 1.3, ...items.map((it) => it.w));
  let x = 0, y = 0, shelfH = 0, w = 0;
  for (const it of items) {
    if (x > 0 && x + it.w > maxW) { x = 0; y += shelfH + GAP; shelfH = 0; }
    it.x = x; it.y = y;
    x += it.w + GAP; shelfH = Math.max(shelfH, it.h); w = Math.max(w, x - GAP);
  }
  const h = y + shelfH;
  return {
    w: Math.max(w, CELL), h: Math.max(h, CELL),
    place(x0, y0, out) {
      for (const it of items) {
        if (it.leaves) {
          it.leaves.forEach((leaf, i) => {
            out.set(leaf.id, { x: x0 + it.x + (i % it.cols) * CELL + CELL / 2, y: y0 + it.y + Math.floor(i / it.cols) * CELL + CELL / 2 });
          });
        } else {
          it.box.place(x0 + it.x + PAD, y0 + it.y + PAD, out);
        }
      }
    },
  };
}

export function layoutScene(scene) {
  const childrenOf = new Map();
  const top = [];
  for (const n of scene.nodes.values()) {
    if (n.parent && scene.nodes.has(n.parent)) {
      if (!childrenOf.has(n.parent)) childrenOf.set(n.parent, []);
      childrenOf.get(n.parent).push(n);
    } else top.push(n);
  }
  const root = layoutBox(top, childrenOf);
  const positions = new Map();
  root.place(0, 0, positions);
  return positions;
}

// Where to put one new leaf without moving the others: the first free grid slot of its box,
// else next to a neighbour, else to the right of everything.
export function placeNew(cy, node, neighbourIds) {
  const parent = node.parent ? cy.getElementById(node.parent) : null;
  const taken = (x, y, within) => within.some((p) => Math.abs(p.x - x) < CELL * 0.6 && Math.abs(p.y - y) < CELL * 0.6);
  if (parent && parent.nonempty() && parent.children().length) {
    const sibs = parent.children().filter((c) => !c.isParent()).map((c) => c.position());
    if (sibs.length) {
      const minX = Math.min(...sibs.map((p) => p.x)), minY = Math.min(...sibs.map((p) => p.y));
      const cols = Math.max(1, Math.ceil(Math.sqrt((sibs.length + 1) * 1.6)));
      for (let i = 0; i < sibs.length + cols + 1; i++) {
        const x = minX + (i % cols) * CELL, y = minY + Math.floor(i / cols) * CELL;
        if (!taken(x, y, sibs)) return { x, y };
      }
    }
    const bb = parent.boundingBox();
    return { x: bb.x1 + PAD + CELL / 2, y: bb.y2 + CELL / 2 };
  }
  for (const id of neighbourIds) {
    const nb = cy.getElementById(id);
    if (nb.nonempty() && !nb.isParent()) {
      const p = nb.position();
      for (let k = 1; k < 12; k++) {
        const cand = { x: p.x + CELL * Math.cos(k), y: p.y + CELL * Math.sin(k) };
        if (!taken(cand.x, cand.y, cy.nodes().map((n) => n.position()))) return cand;
      }
    }
  }
  const bb = cy.elements().boundingBox();
  return { x: (isFinite(bb.x2) ? bb.x2 : 0) + CELL, y: isFinite(bb.y1) ? bb.y1 + CELL : 0 };
}
