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
  const { parentOf, groups } = computeGroups(model, visible, state.group);

  // Members of each group, transitively, to count and to collapse.
  const members = new Map();
  for (const id of groups.keys()) members.set(id, new Set());
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
  for (const [nid, gid] of parentOf) for (const g of chainOf(gid)) members.get(g)?.add(nid);

  // Decide which groups are collapsed: explicit choices win; otherwise collapse the innermost
  // boxes first until the drawing fits under the limit.
  const collapsed = new Set();
  const explicitOpen = state.expanded;
  const explicitClosed = state.collapsed;
  for (const g of explicitClosed) if (groups.has(g)) collapsed.add(g);
  let drawn = visible.size;
  let overLimit = false;
  if (!state.expandAll && drawn > state.limit) {
    const byDepth = [...groups.keys()].sort((a, b) => groupDepth(groups, b) - groupDepth(groups, a));
    const depths = [...new Set(byDepth.map((g) => groupDepth(groups, g)))];
    for (const depth of depths) {
      for (const g of byDepth) {
        if (groupDepth(groups, g) !== depth || explicitOpen.has(g) || collapsed.has(g)) continue;
        collapsed.add(g);
      }
      drawn = countDrawn(visible, parentOf, chainOf, collapsed);
      if (drawn <= state.limit) break;
    }
  }
  drawn = countDrawn(visible, parentOf, chainOf, collapsed);
  overLimit = drawn > state.limit;

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
    if (!members.get(gid).size) continue;
    if (collapsed.has(gid)) {
      if (chainOf(g.parent).some((p) => p && collapsed.has(p))) continue;
      const parent = g.parent && !hiddenGroup(g.parent) ? g.parent : null;
      sceneNodes.set(`collapsed:${gid}`, {
        id: `collapsed:${gid}`, kind: "collapsed", group: gid, parent,
        type: g.type || "group", label: `${shortLabel(g.label)} (${members.get(gid).size})`,
        count: members.get(gid).size,
      });
    } else if (!hiddenGroup(gid)) {
      sceneNodes.set(gid, {
        id: gid, kind: "group", group: gid, owner: g.owner, parent: g.parent && !hiddenGroup(g.parent) ? g.parent : null,
        type: g.type, label: shortLabel(g.label, 40), count: members.get(gid).size,
      });
    }
  }
  for (const id of visible) {
    if (rep.get(id) !== id) continue;
    const n = model.nodes.get(id);
    const m = md(n);
    const gid = parentOf.get(id) || null;
    const classes = [];
    if (m.State === "DOWN") classes.push("down");
    if ((m.Dragonflow && m.Dragonflow.Stale) || (n.Origin && staleOrigins.has(n.Origin))) classes.push("stale");
    if (m.Type === "missing") classes.push("missing");
    const issues = problems.get(id);
    if (issues) classes.push("problem");
    const label = shortLabel(labelOf(n));
    sceneNodes.set(id, { id, kind: "node", parent: gid, type: m.Type || "unknown", label: issues ? `⚠${issues.length} ${label}` : label, classes });
  }

  const sceneEdges = new Map();
  for (const e of model.edges.values()) {
    if (!visible.has(e.Parent) || !visible.has(e.Child) || !edgeOk(e)) continue;
    const rel = md(e).RelationType || "";
    const a = rep.get(e.Parent), b = rep.get(e.Child);
    if (a === b || impliedByNesting(e, rel, parentOf)) continue;
    if (a === e.Parent && b === e.Child) {
      sceneEdges.set(e.ID, { id: e.ID, source: a, target: b, relation: rel, count: 1, real: true });
    } else {
      const key = `agg:${a}|${b}|${rel}`;
      const prev = sceneEdges.get(key);
      if (prev) prev.count += 1;
      else sceneEdges.set(key, { id: key, source: a, target: b, relation: rel, count: 1, real: false });
    }
  }
  const hiddenLinks = keepHeaviestAggregates(sceneEdges);
  return { nodes: sceneNodes, edges: sceneEdges, visible, visibleCount: visible.size, drawn, overLimit, collapsed, groups, hiddenLinks };
}

// Links between collapsed groups, by importance: past AGGREGATE_MAX (a 20k-node cloud grouped
// has thousands, every tenant to every chassis it uses) the picture is a hairball that costs
// most of each frame; only the heaviest are drawn (the details panel still lists every
// neighbour). Returns how many were left out.
const AGGREGATE_MAX = 1500;
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
