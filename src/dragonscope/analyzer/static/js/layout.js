// A deterministic, grouped layout: leaves in a grid inside their box, boxes packed in rows.
// It is computed from the scene alone (same scene, same picture), and live additions are placed
// in a free slot of their box without moving anything else.
//
// Boxes are drawn as ordinary rectangles whose size comes from here, not as Cytoscape compound
// nodes: compounds recompute their bounds on every frame, which made large views several times
// slower to draw.

export const CELL = 64;  // grid spacing for leaves
export const PAD = 34;   // inner padding of a box (room for its label)
const GAP = 40;          // space between packed boxes

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
          out.set(it.box.node.id, { x: x0 + it.x + it.w / 2, y: y0 + it.y + it.h / 2, w: it.w, h: it.h });
          it.box.place(x0 + it.x + PAD, y0 + it.y + PAD, out);
        }
      }
    },
  };
}

// Positions of every scene node: leaves get {x, y}, boxes {x, y, w, h} (centre and size).
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

// The viewport that shows all of `positions` in a w×h canvas, computed from the layout rather
// than by asking Cytoscape, which measures every label to find its bounding box.
export function fitViewport(positions, width, height, margin = 30) {
  let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
  for (const p of positions.values()) {
    const hw = (p.w || CELL) / 2, hh = (p.h || CELL) / 2;
    x1 = Math.min(x1, p.x - hw); y1 = Math.min(y1, p.y - hh);
    x2 = Math.max(x2, p.x + hw); y2 = Math.max(y2, p.y + hh);
  }
  if (!Number.isFinite(x1)) return { zoom: 1, pan: { x: width / 2, y: height / 2 } };
  const zoom = Math.min(2, Math.max(0.02, Math.min((width - 2 * margin) / (x2 - x1), (height - 2 * margin) / (y2 - y1))));
  return { zoom, pan: { x: (width - zoom * (x1 + x2)) / 2, y: (height - zoom * (y1 + y2)) / 2 } };
}

// Where to put one new leaf without moving the others: the first free grid slot of its box
// (`siblingIds`: what else the box holds), else next to a neighbour, else to the right of
// everything.
export function placeNew(cy, node, neighbourIds, siblingIds = []) {
  const box = node.parent ? cy.getElementById(node.parent) : null;
  const taken = (x, y, within) => within.some((p) => Math.abs(p.x - x) < CELL * 0.6 && Math.abs(p.y - y) < CELL * 0.6);
  if (box && box.nonempty()) {
    const sibs = siblingIds.filter((id) => id !== node.id).map((id) => cy.getElementById(id)).filter((c) => c.nonempty()).map((c) => c.position());
    if (sibs.length) {
      const minX = Math.min(...sibs.map((p) => p.x)), minY = Math.min(...sibs.map((p) => p.y));
      const cols = Math.max(1, Math.ceil(Math.sqrt((sibs.length + 1) * 1.6)));
      for (let i = 0; i < sibs.length + cols + 1; i++) {
        const x = minX + (i % cols) * CELL, y = minY + Math.floor(i / cols) * CELL;
        if (!taken(x, y, sibs)) return { x, y };
      }
    }
    const p = box.position();
    return { x: p.x - box.data("w") / 2 + PAD + CELL / 2, y: p.y - box.data("h") / 2 + PAD + CELL / 2 };
  }
  const all = cy.nodes('[kind != "group"]').map((n) => n.position());
  for (const id of neighbourIds) {
    const nb = cy.getElementById(id);
    if (nb.nonempty() && nb.data("kind") !== "group") {
      const p = nb.position();
      for (let k = 1; k < 12; k++) {
        const cand = { x: p.x + CELL * Math.cos(k), y: p.y + CELL * Math.sin(k) };
        if (!taken(cand.x, cand.y, all)) return cand;
      }
    }
  }
  let x2 = -Infinity, y1 = Infinity;
  cy.nodes().forEach((n) => { const p = n.position(); x2 = Math.max(x2, p.x + (n.data("w") || CELL) / 2); y1 = Math.min(y1, p.y); });
  return { x: Number.isFinite(x2) ? x2 + CELL : 0, y: Number.isFinite(y1) ? y1 : 0 };
}

// Grow a box, and the boxes around it, so that it holds `rect` ({x1, y1, x2, y2}).
export function growToHold(cy, boxId, rect) {
  let r = rect;
  for (let box = cy.getElementById(boxId); box.nonempty(); box = cy.getElementById(box.data("box") || "")) {
    const c = box.position(), w = box.data("w"), h = box.data("h");
    const cur = { x1: c.x - w / 2, y1: c.y - h / 2, x2: c.x + w / 2, y2: c.y + h / 2 };
    const next = {
      x1: Math.min(cur.x1, r.x1 - PAD / 2), y1: Math.min(cur.y1, r.y1 - PAD),
      x2: Math.max(cur.x2, r.x2 + PAD / 2), y2: Math.max(cur.y2, r.y2 + PAD / 2),
    };
    if (next.x1 === cur.x1 && next.y1 === cur.y1 && next.x2 === cur.x2 && next.y2 === cur.y2) return;
    box.data({ w: next.x2 - next.x1, h: next.y2 - next.y1 });
    box.position({ x: (next.x1 + next.x2) / 2, y: (next.y1 + next.y2) / 2 });
    r = next;
  }
}
