// The canvas: a Cytoscape.js instance kept equal to the scene by reconciliation (add, remove,
// update in place), so live changes never redraw or re-layout the whole picture.

import cytoscape from "../vendor/cytoscape.esm.min.js";
import { bitmapFor, colourFor, EDGE_STYLES, DEFAULT_EDGE } from "./icons.js";
import { layoutScene, placeNew, fitViewport, growToHold, CELL, PAD } from "./layout.js";

function edgeStyles() {
  const rules = [];
  for (const [rel, s] of Object.entries(EDGE_STYLES)) {
    rules.push({
      selector: `edge[relation = "${rel}"]`,
      // Straight "haystack" edges draw several times faster than curves; only directed
      // relations pay for a curve, which is what carries an arrowhead.
      style: s.arrow
        ? { "line-color": s.colour, "line-style": s.style, width: s.width, "curve-style": "bezier", "target-arrow-color": s.colour, "target-arrow-shape": "triangle" }
        : { "line-color": s.colour, "line-style": s.style, width: s.width },
    });
  }
  return rules;
}

// Level of detail: below this zoom an edge is under a quarter of a pixel wide, so it is not
// drawn at all (stroking thousands of invisible lines was most of a frame's cost); edges that
// carry a highlight (selection, trace path, history diff) stay. No label is legible there either
// (each type's min-zoomed-font-size is above its font size times this zoom), so none is measured.
// An edge first met far out is not even given to Cytoscape (see `pending`): four in five
// elements of a large view are edges, and each costs style, sorting and bounds on every change.
export const EDGE_MIN_ZOOM = 0.2;
const OVERLAY_SETTLE_MS = 2000;
const OVERLAY_MAX = 400;
const MINOR_TYPES = ["lport", "switch_port", "ovsport", "ofrule", "device", "tap", "internal", "dummy", "service", "publisher", "listener", "activeport"];
const BOX_FONT_MAX = Math.floor((PAD - 3) / 1.25); // the title's line fits the padding

const MARK_CLASSES = ["node.down", "node.stale", "node.missing", "node.problem"];
const BASE_STYLE = [
  { selector: "node", style: {
    "z-index-compare": "manual", "z-index": 20,
    "background-color": "#ffffff", "background-image": "data(icon)", "background-fit": "contain", "background-opacity": 0,
    "border-width": 0, width: 34, height: 34, label: "data(label)", "font-size": 10, "text-valign": "bottom", "text-margin-y": 3,
    // One line no wider than a grid cell: labels of neighbours never overlap, at any zoom.
    "text-wrap": "ellipsis", "text-max-width": CELL - 6, color: "#1f2933", "min-zoomed-font-size": 5,
  } },
  // Labels by importance: the many small things (ports, OVS ports and rules, heartbeats) are
  // named only once zoomed in enough to read them; routers, networks, chassis... earlier.
  { selector: MINOR_TYPES.map((t) => `node[type = "${t}"]`).join(", "), style: { "min-zoomed-font-size": 8 } },
  { selector: "node.down", style: { "border-width": 3, "border-color": "#dc2626", "background-opacity": 1, "background-color": "#fee2e2", color: "#b91c1c" } },
  { selector: "node.stale", style: { "border-width": 2, "border-style": "dashed", "border-color": "#94a3b8", opacity: 0.6 } },
  { selector: "node.missing", style: { color: "#b91c1c", "font-style": "italic" } },
  { selector: "node.problem", style: { "border-width": 3, "border-color": "#d97706", "background-opacity": 1, "background-color": "#fffbeb", color: "#92400e" } },
  { selector: "node.group", style: {
    "background-image": "none", "background-color": "data(fill)", "background-opacity": 0.08, "border-width": 1, "border-color": "data(fill)",
    "border-opacity": 0.5, shape: "round-rectangle", width: "data(w)", height: "data(h)", "text-valign": "top", "text-halign": "center",
    // A box's title grows with the box (a tenant reads before its ports do), inside the box's
    // top padding and no wider than the box, so it never covers another label.
    "font-size": `mapData(w, 300, 3000, 11, ${BOX_FONT_MAX})`, "text-margin-y": `mapData(w, 300, 3000, 16, ${PAD - 3})`,
    "text-max-width": "data(w)", "font-weight": 600, color: "#334155", "z-index": "data(z)", "min-zoomed-font-size": 5,
  } },
  { selector: "node.collapsed", style: { width: 48, height: 48, "border-width": 2, "border-color": "data(fill)", "background-opacity": 1, "background-color": "#f1f5f9", shape: "round-rectangle", "font-weight": 600 } },
  { selector: "edge", style: { "z-index-compare": "manual", "z-index": 10, width: 1.2, "line-color": DEFAULT_EDGE.colour, "curve-style": "haystack", "haystack-radius": 0, opacity: 0.85 } },
  ...edgeStyles(),
  // An aggregate (the edges between collapsed groups) is a straight line: a large grouped view
  // has thousands of them, and curves with arrowheads cost several times more to draw.
  { selector: "edge.aggregate", style: {
    width: "mapData(count, 1, 50, 1.5, 8)", label: "data(countLabel)", "font-size": 9, color: "#475569",
    "curve-style": "haystack", "haystack-radius": 0, "target-arrow-shape": "none", "min-zoomed-font-size": 6,
  } },
];
// Far out a node is a few pixels wide: a dot of its type's colour, not an icon drawn from its
// SVG, and no label. The far stylesheet says only that (it replaces the near one rather than
// overriding it): every rule is tried on every element and each property it sets costs every
// element matching it, and the first picture of a large view styles thousands of nodes (at
// 5k nodes, the near rules under the far ones took half of its first frame).
const FAR = [
  { selector: "node", style: {
    "z-index": 20, "background-color": "data(fill)", width: 34, height: 34,
  } },
  ...BASE_STYLE.filter((r) => MARK_CLASSES.includes(r.selector)),
  { selector: "node.group", style: {
    "background-opacity": 0.08, "border-width": 1, "border-color": "data(fill)", "border-opacity": 0.5, shape: "round-rectangle",
    width: "data(w)", height: "data(h)", "z-index": "data(z)",
  } },
  BASE_STYLE.find((r) => r.selector === "node.collapsed"),
  // Edges are not drawn (a highlighted one is, in its highlight's colour).
  { selector: "edge", style: { display: "none", "z-index-compare": "manual", "z-index": 10, width: 1.2, "curve-style": "haystack", "haystack-radius": 0 } },
];
const HIGHLIGHT_STYLE = [
  { selector: ".match", style: { "overlay-color": "#f59e0b", "overlay-opacity": 0.35, "overlay-padding": 8 } },
  { selector: "node:selected", style: { "overlay-color": "#155e75", "overlay-opacity": 0.25, "overlay-padding": 8 } },
  { selector: "edge:selected", style: { display: "element", "line-color": "#155e75", width: 4 } },
  { selector: ".flash-added", style: { "overlay-color": "#16a34a", "overlay-opacity": 0.45, "overlay-padding": 10 } },
  { selector: ".flash-updated", style: { "overlay-color": "#2563eb", "overlay-opacity": 0.35, "overlay-padding": 10 } },
  { selector: ".flash-deleted", style: { "overlay-color": "#dc2626", "overlay-opacity": 0.55, "overlay-padding": 10, opacity: 0.5 } },
  { selector: ".dim", style: { opacity: 0.18 } },
  { selector: "node.on-path", style: { "overlay-color": "#f59e0b", "overlay-opacity": 0.4, "overlay-padding": 9 } },
  { selector: "edge.on-path", style: { display: "element", "line-color": "#f59e0b", width: 5, opacity: 1, "z-index": 9 } },
  { selector: "node.hop-current", style: { "overlay-color": "#7c3aed", "overlay-opacity": 0.5, "overlay-padding": 12 } },
  { selector: "node.drop-point", style: { "overlay-color": "#dc2626", "overlay-opacity": 0.6, "overlay-padding": 12, "border-width": 3, "border-color": "#dc2626" } },
  { selector: "node.diff-added", style: { "overlay-color": "#16a34a", "overlay-opacity": 0.4, "overlay-padding": 8 } },
  { selector: "node.diff-removed", style: { "overlay-color": "#dc2626", "overlay-opacity": 0.4, "overlay-padding": 8, opacity: 0.55 } },
  { selector: "node.diff-changed", style: { "overlay-color": "#d97706", "overlay-opacity": 0.4, "overlay-padding": 8 } },
  { selector: "edge.diff-added", style: { display: "element", "line-color": "#16a34a", width: 3, opacity: 1 } },
  { selector: "edge.diff-removed", style: { display: "element", "line-color": "#dc2626", "line-style": "dashed", width: 3, opacity: 0.8 } },
  { selector: "edge.diff-changed", style: { display: "element", "line-color": "#d97706", width: 3, opacity: 1 } },
];
const styleFor = (far) => [...(far ? FAR : BASE_STYLE), ...HIGHLIGHT_STYLE];

function nodeData(n) {
  const data = { id: n.id, label: n.label, type: n.type, kind: n.kind, fill: colourFor(n.type) };
  if (n.kind !== "group") data.icon = bitmapFor(n.kind === "collapsed" ? n.type || "group" : n.type);
  if (n.parent) data.box = n.parent;
  if (n.group) data.group = n.group;
  return data;
}

function nodeClasses(n) {
  const kind = n.kind === "group" || n.kind === "collapsed" ? n.kind : "";
  const own = n.classes && n.classes.length ? n.classes.join(" ") : "";
  return kind && own ? `${kind} ${own}` : kind || own;
}

function edgeData(e) {
  return { id: e.id, source: e.source, target: e.target, relation: e.relation, count: e.count, countLabel: e.count > 1 ? String(e.count) : "" };
}

export class GraphCanvas {
  constructor(container, { onSelect, onExpand }) {
    this.cy = cytoscape({
      container, style: styleFor(false), minZoom: 0.02, maxZoom: 4,
      textureOnViewport: true, hideEdgesOnViewport: true, pixelRatio: 1,
      boxSelectionEnabled: false,
    });
    this.cy.on("tap", "node", (ev) => {
      const d = ev.target.data();
      if (d.kind === "collapsed") onExpand(d.group);
      else if (d.kind === "group") onSelect({ kind: "group", id: d.group, owner: d.id });
      else onSelect({ kind: "node", id: d.id });
    });
    this.cy.on("tap", "edge", (ev) => onSelect({ kind: "edge", id: ev.target.id(), real: !ev.target.hasClass("aggregate") }));
    this.cy.on("tap", (ev) => { if (ev.target === this.cy) onSelect(null); });
    this.far = false;
    this.onTop = new Set(); // elements drawn over the cached picture (see overlay)
    this.toHold = new Set(); // new elements whose boxes grow to hold them at settle
    this.settleTimer = null;
    this.shown = { nodes: new Map(), edges: new Map() }; // id -> what it was drawn as
    this.marked = new Map(); // class -> ids that carry it (see setClass)
    this.pending = new Map(); // edge id -> its definition, kept out of Cytoscape while far
    this.cy.on("zoom", () => this.levelOfDetail());
    keepLayersOnTopChanges(this.cy);
  }

  // The stylesheet follows the zoom shown (one restyle when it crosses EDGE_MIN_ZOOM). A render
  // that is about to fit the view passes the zoom it will show, so that the elements it adds are
  // styled once.
  levelOfDetail(zoom = this.cy.zoom()) {
    const far = zoom < EDGE_MIN_ZOOM;
    if (far === this.far) return;
    this.far = far;
    this.cy.style(styleFor(far));
    if (!far) this.materialise([...this.pending.keys()]);
  }

  // Give Cytoscape the pending edges among `ids` (they are about to be drawn or exported).
  materialise(ids) {
    const defs = [];
    for (const id of ids) {
      const def = this.pending.get(id);
      if (def) { defs.push({ ...def, classes: this.withMarks(id, def.classes) }); this.pending.delete(id); }
    }
    if (defs.length) this.cy.add(defs);
  }

  // What a test asks of the level of detail: how many edges are drawn at the zoom shown (read
  // from each edge's style: Cytoscape's visible() may answer from before a restyle).
  drawnEdgeCount() {
    return this.cy.edges().filter((e) => e.pstyle("display").value !== "none" && e.pstyle("visibility").value === "visible").length;
  }

  // Make the canvas show exactly `scene`. With relayout, every leaf gets a fresh position;
  // otherwise only new leaves are placed. Returns the ids of nodes added.
  // What is on the canvas is remembered by signature (`this.shown`), so a live change costs
  // work for the elements it touches, not a walk over every element Cytoscape holds.
  render(scene, { relayout = false } = {}) {
    const cy = this.cy;
    const added = [];
    const positions = relayout ? layoutScene(scene) : null;
    // The style for the zoom about to be shown is set before the elements go in: swapping it
    // afterwards would restyle every one of them again.
    const viewport = relayout ? fitViewport(positions, cy.width(), cy.height()) : null;
    if (viewport) this.levelOfDetail(viewport.zoom);
    const shown = this.shown;
    const depth = depthsOf(scene);
    cy.batch(() => {
      const pending = this.pending;
      for (const id of shown.edges.keys()) {
        if (scene.edges.has(id)) continue;
        if (!pending.delete(id)) cy.getElementById(id).remove();
        shown.edges.delete(id);
      }
      const gone = new Set();
      for (const [id, sig] of shown.nodes) {
        const s = scene.nodes.get(id);
        if (s && sig.place === placeOf(s)) continue;
        const el = cy.getElementById(id);
        el.connectedEdges().forEach((e) => shown.edges.delete(e.id()));
        el.remove();
        shown.nodes.delete(id);
        gone.add(id);
      }
      if (gone.size) {
        for (const [id, def] of pending) {
          if (gone.has(def.data.source) || gone.has(def.data.target)) { pending.delete(id); shown.edges.delete(id); }
        }
      }
      // New elements go in with one add() call, parents before children and with their
      // positions; existing ones are touched only when they changed, since every data() call
      // makes Cytoscape restyle the element.
      const fresh = [];
      for (const n of scene.nodes.values()) {
        const classes = nodeClasses(n);
        const z = n.kind === "group" ? depth.get(n.id) : undefined; // inner boxes over outer ones
        const look = `${n.label}|${n.type}|${classes}|${z}`;
        const p = positions && positions.get(n.id);
        const was = shown.nodes.get(n.id);
        if (was && was.look === look && !p) continue;
        const data = nodeData(n);
        if (z !== undefined) data.z = z;
        if (was) {
          const el = cy.getElementById(n.id);
          if (was.look !== look) { el.data(data); el.classes(this.withMarks(n.id, classes)); was.look = look; }
          if (p) { el.position({ x: p.x, y: p.y }); if (p.w) el.data({ w: p.w, h: p.h }); }
        } else {
          if (n.kind === "group") Object.assign(data, p ? { w: p.w, h: p.h } : { w: CELL * 2, h: CELL * 2 });
          const def = { group: "nodes", data, classes: this.withMarks(n.id, classes) };
          if (p) def.position = { x: p.x, y: p.y };
          fresh.push(def);
          added.push(n.id);
          shown.nodes.set(n.id, { place: placeOf(n), look });
        }
      }
      fresh.sort((a, b) => (depth.get(a.data.id) || 0) - (depth.get(b.data.id) || 0));
      for (const e of scene.edges.values()) {
        const look = `${e.relation}|${e.count}`;
        const was = shown.edges.get(e.id);
        if (was === undefined) {
          const def = { group: "edges", data: edgeData(e), classes: e.real ? "" : "aggregate" };
          if (this.far && !this.isMarked(e.id)) pending.set(e.id, def);
          else fresh.push({ ...def, classes: this.withMarks(e.id, def.classes) });
        } else if (was !== look) {
          if (pending.has(e.id)) pending.get(e.id).data = edgeData(e);
          else cy.getElementById(e.id).data(edgeData(e));
        }
        shown.edges.set(e.id, look);
      }
      if (fresh.length) {
        const els = cy.add(fresh);
        if (!relayout) this.overlay(els);
      }
    });
    if (viewport) {
      cy.viewport(viewport);
    } else if (added.length) {
      const siblings = siblingsOf(scene, added);
      cy.batch(() => {
        for (const id of added) {
          const el = cy.getElementById(id);
          const neighbours = el.connectedEdges().map((e) => (e.source().id() === id ? e.target().id() : e.source().id()));
          const p = placeNew(cy, scene.nodes.get(id), neighbours, siblings.get(id));
          el.position(p);
          if (el.data("box")) this.toHold.add(el);
        }
        if (!this.onTop.size) this.growBoxes(); // they joined the picture at once (see overlay)
      });
    }
    return added;
  }

  // Grow the boxes of the elements in `toHold` so that they hold them. It waits for settle:
  // a box is part of the cached picture, and changing it repaints every element.
  growBoxes() {
    for (const el of this.toHold) {
      if (el.removed() || !el.data("box")) continue;
      const p = el.position(), half = el.data("kind") === "group" ? el.data("w") / 2 : CELL / 2;
      growToHold(this.cy, el.data("box"), { x1: p.x - half, y1: p.y - half, x2: p.x + half, y2: p.y + half });
    }
    this.toHold.clear();
  }

  // Live additions go on Cytoscape's top ("drag") layer, over its cached picture of everything
  // else: a NodeAdded then repaints a few elements, not thousands (a change in the cached
  // picture makes the next frames draw every element one by one). They join the picture, and
  // their boxes grow to hold them, when the changes pause or when the top layer gets crowded:
  // one full repaint.
  overlay(els) {
    const r = this.cy.renderer();
    els.forEach((el) => { el._private.rscratch.inDragLayer = true; this.onTop.add(el); });
    r.redrawHint("drag", true);
    clearTimeout(this.settleTimer);
    if (this.onTop.size > OVERLAY_MAX) this.settle();
    else this.settleTimer = setTimeout(() => this.settle(), OVERLAY_SETTLE_MS);
  }

  settle() {
    const r = this.cy.renderer();
    this.cy.batch(() => this.growBoxes());
    for (const el of this.onTop) if (!el.removed()) el._private.rscratch.inDragLayer = false;
    this.onTop.clear();
    r.updateCachedGrabbedEles();
    r.redrawHint("eles", true); r.redrawHint("drag", true); r.redraw();
  }

  flash(id, kind) {
    const el = this.cy.getElementById(id);
    if (el.empty()) return;
    el.addClass(`flash-${kind}`);
    setTimeout(() => el.removeClass(`flash-${kind}`), 1600);
  }

  // `classes` and the marks (setClass) that `id` carries: an element added again keeps them.
  withMarks(id, classes) {
    let out = classes;
    for (const [cls, ids] of this.marked) if (ids.has(id)) out += ` ${cls}`;
    return out.trim();
  }

  isMarked(id) {
    for (const ids of this.marked.values()) if (ids.has(id)) return true;
    return false;
  }

  // Give `cls` to exactly `ids`. The ids that have it are remembered: asking Cytoscape which
  // elements have a class walks every element, on every render.
  setClass(cls, ids) {
    const had = this.marked.get(cls) || new Set(), want = new Set(ids);
    this.materialise(want);
    for (const id of had) if (!want.has(id)) this.cy.getElementById(id).removeClass(cls);
    for (const id of want) if (!had.has(id)) this.cy.getElementById(id).addClass(cls);
    this.marked.set(cls, want);
  }

  // Fit `ids` in the view, never closer than `maxZoom`: one small object must not fill the
  // canvas with a giant icon.
  focus(ids, maxZoom = 1.5) {
    const cy = this.cy;
    const els = cy.collection(ids.map((id) => cy.getElementById(id)).filter((e) => e.nonempty()));
    if (els.empty()) return 0;
    const bb = els.boundingBox({ includeLabels: false, includeOverlays: false });
    const pad = 80, w = cy.width(), h = cy.height();
    const fit = Math.min((w - 2 * pad) / Math.max(bb.w, 1), (h - 2 * pad) / Math.max(bb.h, 1));
    const zoom = Math.max(cy.minZoom(), Math.min(maxZoom, fit));
    const cx = bb.x1 + bb.w / 2, cyy = bb.y1 + bb.h / 2;
    cy.animate({ zoom, pan: { x: w / 2 - zoom * cx, y: h / 2 - zoom * cyy }, duration: 300 });
    return els.length;
  }

  // Bring `ids` to the middle of the view at the current zoom (no zooming in or out).
  pan(ids) {
    const els = this.cy.collection(ids.map((id) => this.cy.getElementById(id)).filter((e) => e.nonempty()));
    if (els.nonempty()) this.cy.animate({ center: { eles: els }, duration: 250 });
    return els.length;
  }

  // Every render re-asserts the selection: when it holds already, nothing walks the elements.
  select(id) {
    if (id) this.materialise([id]);
    const el = id ? this.cy.getElementById(id) : null;
    if (el && id === this.selected && el.selected()) return;
    this.cy.elements(":selected").unselect();
    if (el) el.select();
    this.selected = id;
  }

  drawnNodeCount() { return this.cy.nodes('[kind != "group"]').length; }

  png() {
    this.materialise([...this.pending.keys()]);
    return this.cy.png({ full: true, bg: "#ffffff", scale: 2 });
  }
}

// Cytoscape draws the elements from a cached picture in layers; any element change marks that
// picture stale for a quarter second, even a change to an element the picture does not hold (one
// on the top layer, see overlay), and meanwhile every element is drawn one by one: each live
// NodeAdded then cost frames of 100 ms and more at 5k nodes. Changes to elements that are in no
// layer leave the picture as it is. (A renderer internal: see vendor/README.md.)
function keepLayersOnTopChanges(cy) {
  const layers = cy.renderer().data.lyrTxrCache;
  const invalidate = layers.invalidateElements.bind(layers);
  const inLayers = (el) => Object.values(el._private.rscratch.imgLayerCaches || {}).some(Boolean);
  layers.invalidateElements = (eles) => invalidate(Array.from(eles).filter(inLayers));
}

// Where a scene node sits: its kind and its box; a change of either means remove and add again.
const placeOf = (n) => `${n.kind}|${n.parent || ""}`;

// Depth of every scene node in the nesting of boxes (0: top level), computed once per render.
function depthsOf(scene) {
  const depth = new Map();
  const of = (n) => {
    let d = depth.get(n.id);
    if (d !== undefined) return d;
    const parent = n.parent && scene.nodes.get(n.parent);
    d = parent ? of(parent) + 1 : 0;
    depth.set(n.id, d);
    return d;
  };
  for (const n of scene.nodes.values()) of(n);
  return depth;
}

// The ids of the leaves drawn in the same box as each of `ids` (where a new one finds room).
function siblingsOf(scene, ids) {
  const boxes = new Map();
  for (const id of ids) { const box = scene.nodes.get(id)?.parent; if (box) boxes.set(box, []); }
  for (const n of scene.nodes.values()) if (n.parent && boxes.has(n.parent)) boxes.get(n.parent).push(n.id);
  return new Map(ids.map((id) => [id, boxes.get(scene.nodes.get(id)?.parent) || []]));
}
