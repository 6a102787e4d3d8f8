// The scene: exactly what is drawn, derived from the model, the view, the grouping and which
// groups are collapsed. Collapsed groups become one node "name (count)" and their edges are
// re-routed to it, so large topologies stay drawable.

import { computeGroups, groupDepth } from "./grouping.js";
import { labelOf } from "./labels.js";

const md = (n) => n.Metadata || {};

function shortLabel(text, max = 28) {
  const s = String(text);
  return s.length > max ? s.slice(0, max - 1) + "…" : s;
}

// `view` is what the view shows of the model: {nodes: Set of IDs, edgeOk(edge)} (see views.js).
// `marks`: {staleOrigins: Set of origins whose collector cannot read the NB, problems: Map of
// node id -> problems}.
export function buildScene(model, state, view, marks = {}) {
  const staleOrigins = marks.staleOrigins || new Set();
  const problems = marks.problems || new Map();
  const { nodes: visible, edgeOk } = view;
  const { parentOf, groups, tenantNodes } = computeGroups(model, visible, state.group);

  // How many members each group has, transitively, to count and to collapse.
  const members = new Map();
  for (const id of groups.keys()) members.set(id, 0);
  // A group and the groups around it, innermost first; computed once per group (20k nodes
  // share a few hundred chains, and this runs on every frame with a change).
  const chains = new Map();
  const chainOf = (gid) => {
    let chain = chains.get(gid);
    if (chain) return chain;
    chain = [];
    for (let g = gid; g; g = groups.get(g)?.parent) chain.push(g);
    chains.set(gid, chain);
    return chain;
  };
  for (const gid of parentOf.values()) for (const g of chainOf(gid)) if (members.has(g)) members.set(g, members.get(g) + 1);

  // Decide which groups are collapsed: explicit choices win; otherwise collapse the innermost
  // boxes first until the drawing fits under the limit.
  const collapsed = new Set();
  const explicitOpen = state.expanded;
  const explicitClosed = state.collapsed;
  for (const g of explicitClosed) if (groups.has(g)) collapsed.add(g);
  let drawn = null;
  if (!state.expandAll && visible.size > state.limit) {
    const depthOf = new Map([...groups.keys()].map((g) => [g, groupDepth(groups, g)]));
    const depths = [...new Set(depthOf.values())].sort((a, b) => b - a);
    for (const depth of depths) {
      for (const [g, d] of depthOf) {
        if (d !== depth || explicitOpen.has(g) || collapsed.has(g)) continue;
        collapsed.add(g);
      }
      drawn = countDrawn(visible, parentOf, chainOf, collapsed);
      if (drawn <= state.limit) break;
    }
  }
  if (drawn === null) drawn = collapsed.size ? countDrawn(visible, parentOf, chainOf, collapsed) : visible.size;
  const overLimit = drawn > state.limit;

  // The representative of a node: itself, or the outermost collapsed group that hides it.
  const rep = new Map();
  const repOfGroup = new Map();
  for (const id of visible) {
    const gid = parentOf.get(id);
    let r = gid ? repOfGroup.get(gid) : null;
    if (r === undefined) {
      r = null;
      for (const g of chainOf(gid)) if (collapsed.has(g)) r = `collapsed:${g}`;
      repOfGroup.set(gid, r);
    }
    rep.set(id, r || id);
  }

  const sceneNodes = new Map();
  const hiddenGroup = (gid) => chainOf(gid).some((g) => collapsed.has(g) && g !== gid) || collapsed.has(gid);
  for (const [gid, g] of groups) {
    if (!members.get(gid)) continue;
    if (collapsed.has(gid)) {
      if (chainOf(g.parent).some((p) => p && collapsed.has(p))) continue;
      const parent = g.parent && !hiddenGroup(g.parent) ? g.parent : null;
      sceneNodes.set(`collapsed:${gid}`, {
        id: `collapsed:${gid}`, kind: "collapsed", group: gid, parent,
        type: g.type || "group", label: `${shortLabel(g.label)} (${members.get(gid)})`,
        count: members.get(gid),
      });
    } else if (!hiddenGroup(gid)) {
      sceneNodes.set(gid, {
        id: gid, kind: "group", group: gid, owner: g.owner, parent: g.parent && !hiddenGroup(g.parent) ? g.parent : null,
        type: g.type, label: shortLabel(g.label, 40), count: members.get(gid),
      });
    }
  }
  for (const id of visible) {
    if (rep.get(id) === id) sceneNodes.set(id, leaf(model.nodes.get(id), parentOf.get(id) || null, staleOrigins, problems));
  }

  const sceneEdges = new Map();
  for (const e of model.edges.values()) addEdge(sceneEdges, e, rep, parentOf, edgeOk);
  const hiddenLinks = keepHeaviestAggregates(sceneEdges);
  return {
    nodes: sceneNodes, edges: sceneEdges, visible, visibleCount: visible.size, drawn, overLimit, collapsed, groups, hiddenLinks,
    // What growScene needs to extend this scene without building it again.
    index: { parentOf, rep, members, chainOf, tenantNodes, group: state.group, limit: state.limit, expandAll: state.expandAll },
  };
}

// The scene node of a node drawn for itself, in box `gid`.
function leaf(n, gid, staleOrigins, problems) {
  const m = md(n);
  const classes = [];
  if (m.State === "DOWN") classes.push("down");
  if ((m.Dragonflow && m.Dragonflow.Stale) || (n.Origin && staleOrigins.has(n.Origin))) classes.push("stale");
  if (m.Type === "missing") classes.push("missing");
  const issues = problems.get(n.ID);
  if (issues) classes.push("problem");
  const label = shortLabel(labelOf(n));
  return { id: n.ID, kind: "node", parent: gid, type: m.Type || "unknown", label: issues ? `⚠${issues.length} ${label}` : label, classes };
}

// What edge `e` adds to the scene: itself, a count on the link between the groups that hide
// its ends, or nothing. The cheapest tests first: at 20k nodes grouped, most edges join two
// members of one group.
function addEdge(sceneEdges, e, rep, parentOf, edgeOk) {
  const a = rep.get(e.Parent), b = rep.get(e.Child); // undefined: not visible
  if (a === b || a === undefined || b === undefined || !edgeOk(e)) return;
  const rel = md(e).RelationType || "";
  if (impliedByNesting(e, rel, parentOf)) return;
  if (a === e.Parent && b === e.Child) {
    sceneEdges.set(e.ID, { id: e.ID, source: a, target: b, relation: rel, count: 1, real: true });
  } else {
    const key = `agg:${a}|${b}|${rel}`;
    const prev = sceneEdges.get(key);
    if (prev) prev.count += 1;
    else sceneEdges.set(key, { id: key, source: a, target: b, relation: rel, count: 1, real: false });
  }
}

// Extend `scene` in place with what `changes` (model events) added, when that is all they did
// and it leaves every decision buildScene made as it was: the whole graph in logical boxes,
// each new node a leaf in a box that is drawn already (or in no box), a leaf that gets its
// owner moved into the owner's box, the drawing limit not crossed, the links kept between
// groups the same. A live NodeAdded at 20k nodes then costs work for the few elements it
// touches, not a pass over every node and edge. The caller asks only when the marks (stale
// origins, problems) are as they were. Returns false, with `scene` left as it was, when the
// scene must be built again.
export function growScene(scene, model, state, changes, marks) {
  const ix = scene.index;
  if (!ix || state.group !== "logical" || ix.group !== "logical" || ix.limit !== state.limit || ix.expandAll !== state.expandAll) return false;
  const nodes = [], edges = [];
  for (const c of changes) {
    if (c.op !== "added") return false;
    (c.kind === "node" ? nodes : edges).push(c.id);
  }
  const fresh = new Set(nodes);
  const batch = new Set(edges);
  const drawnBox = (box) => box === null || ix.members.get(box) > 0;
  const ownsSome = (id) => [...model.out.get(id)].some((eid) => md(model.edges.get(eid)).RelationType === "ownership");
  // Where each new node goes, and each leaf whose owner just arrived: id -> [old box, new box].
  const placed = new Map();
  for (const id of nodes) {
    const n = model.nodes.get(id);
    if (!n || scene.visible.has(id) || ownsSome(id)) return false;
    const owner = model.owner(id);
    let box = null;
    if (owner !== null) {
      if (fresh.has(owner) || !scene.visible.has(owner)) return false;
      box = `grp:${owner}`;
    } else if (md(n).Type === "tenant") {
      return false;
    } else if (md(n).Tenant) {
      const t = md(n).Tenant;
      box = ix.tenantNodes.has(t) ? `grp:${ix.tenantNodes.get(t)}` : `tenant:${t}`;
    }
    if (!drawnBox(box)) return false;
    placed.set(id, [undefined, box]);
  }
  for (const id of edges) {
    const e = model.edges.get(id);
    if (!e) return false;
    if (md(e).RelationType !== "ownership" || fresh.has(e.Child)) continue;
    // An owner for a leaf that had none: the leaf moves into its owner's box.
    const c = e.Child, box = `grp:${e.Parent}`;
    if (placed.has(c) || fresh.has(e.Parent) || !scene.visible.has(c) || !scene.visible.has(e.Parent)) return false;
    if (model.owner(c) !== e.Parent || ownsSome(c) || ix.members.has(`grp:${c}`) || !drawnBox(box)) return false;
    placed.set(c, [ix.parentOf.get(c) || null, box]);
  }
  // The drawing limit: what buildScene decided must still hold.
  let drawn = scene.drawn;
  const repOf = new Map();
  for (const [id, [from, box]] of placed) {
    let r = null;
    if (box) for (const g of ix.chainOf(box)) if (scene.collapsed.has(g)) r = `collapsed:${g}`;
    repOf.set(id, r || id);
    if (from !== undefined && ix.rep.get(id) === id) drawn -= 1;
    if (!r) drawn += 1;
  }
  const visibleCount = scene.visible.size + nodes.length;
  if (!state.expandAll && (drawn > state.limit || (scene.visible.size > state.limit) !== (visibleCount > state.limit))) return false;
  // What the edges of moved leaves gave before, and what they and the new edges give now, on
  // scratch maps first.
  const oldEdges = new Set();
  for (const [id, [from]] of placed) if (from !== undefined) for (const e of model.edgesOf(id)) if (!batch.has(e.ID)) oldEdges.add(e);
  const removed = new Map();
  for (const e of oldEdges) addEdge(removed, e, ix.rep, ix.parentOf, () => true);
  const rep = { get: (id) => (repOf.has(id) ? repOf.get(id) : ix.rep.get(id)) };
  const parentOf = {
    get: (id) => (placed.has(id) ? placed.get(id)[1] || undefined : ix.parentOf.get(id)),
    has: (id) => (placed.has(id) ? placed.get(id)[1] !== null : ix.parentOf.has(id)),
  };
  const added = new Map();
  for (const e of oldEdges) addEdge(added, e, rep, parentOf, () => true);
  for (const id of edges) addEdge(added, model.edges.get(id), rep, parentOf, () => true);
  let links = 0;
  for (const e of scene.edges.values()) if (!e.real) links += 1;
  for (const e of removed.values()) if (!e.real) return false; // left to buildScene
  for (const [key, e] of added) {
    if (e.real) continue;
    // Past AGGREGATE_MAX only the heaviest links are kept: a heavier one means choosing again.
    if (scene.hiddenLinks) return false;
    if (!scene.edges.has(key) && ++links > AGGREGATE_MAX) return false;
  }

  const count = (box, delta) => {
    for (const g of box ? ix.chainOf(box) : []) {
      if (!ix.members.has(g)) continue;
      const k = ix.members.get(g) + delta;
      ix.members.set(g, k);
      const shown = scene.nodes.get(scene.collapsed.has(g) ? `collapsed:${g}` : g);
      if (!shown) continue;
      shown.count = k;
      if (shown.kind === "collapsed") shown.label = `${shortLabel(scene.groups.get(g).label)} (${k})`;
    }
  };
  for (const [id, [from, box]] of placed) {
    if (from === undefined) scene.visible.add(id);
    else { count(from, -1); if (ix.rep.get(id) === id) scene.nodes.delete(id); }
    count(box, +1);
    ix.rep.set(id, repOf.get(id));
    if (box) ix.parentOf.set(id, box); else ix.parentOf.delete(id);
    if (repOf.get(id) === id) scene.nodes.set(id, leaf(model.nodes.get(id), box, marks.staleOrigins, marks.problems));
  }
  for (const key of removed.keys()) scene.edges.delete(key);
  for (const [key, e] of added) {
    const prev = scene.edges.get(key);
    if (prev && !e.real) prev.count += e.count;
    else scene.edges.set(key, e);
  }
  scene.visibleCount = visibleCount;
  scene.drawn = drawn;
  scene.overLimit = drawn > state.limit;
  return true;
}

// Links between collapsed groups, by importance: past AGGREGATE_MAX (a 20k-node cloud grouped
// has thousands, every tenant to every chassis it uses) the picture is a hairball that costs
// most of each frame; only the heaviest are drawn (the details panel still lists every
// neighbour). Returns how many were left out. At 20k nodes grouped, 600 rather than 1500 took a
// third off the CPU each live change costs (a change to a group redraws every element once).
const AGGREGATE_MAX = 600;
function keepHeaviestAggregates(sceneEdges) {
  const aggregates = [...sceneEdges.values()].filter((e) => !e.real);
  if (aggregates.length <= AGGREGATE_MAX) return 0;
  aggregates.sort((a, b) => b.count - a.count || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const e of aggregates.slice(AGGREGATE_MAX)) sceneEdges.delete(e.id);
  return aggregates.length - AGGREGATE_MAX;
}

function countDrawn(visible, parentOf, chainOf, collapsed) {
  let n = 0;
  const counted = new Set();
  const topOf = new Map(); // group -> its outermost collapsed group (or null)
  for (const id of visible) {
    const gid = parentOf.get(id);
    let top = null;
    if (gid) {
      if (topOf.has(gid)) top = topOf.get(gid);
      else { for (const g of chainOf(gid)) if (collapsed.has(g)) top = g; topOf.set(gid, top); }
    }
    if (top === null) n++;
    else if (!counted.has(top)) { counted.add(top); n++; }
  }
  return n;
}

// Edges the boxes already say: a child inside its owner's box, a port inside its network's box,
// a port and its subnet side by side in that box. Drawing them would only add clutter (and
// cost); the details panel still lists every neighbour.
function impliedByNesting(e, rel, parentOf) {
  if (rel === "ownership") return parentOf.has(e.Child);
  if (rel === "layer2") return parentOf.get(e.Child) === `grp:${e.Parent}`;
  if (rel === "subnet") {
    const box = parentOf.get(e.Parent);
    return Boolean(box) && box === parentOf.get(e.Child);
  }
  return false;
}
