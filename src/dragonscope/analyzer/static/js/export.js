// Export the current view: PNG (Cytoscape's renderer), SVG (written here from positions, so
// it stays a vector image), and JSON in Skydive's graph shape.

import { iconFor, EDGE_STYLES, DEFAULT_EDGE, colourFor } from "./icons.js";

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

export function toSvg(cy) {
  const bb = cy.elements().boundingBox();
  const pad = 40;
  const w = Math.max(1, bb.w + 2 * pad), h = Math.max(1, bb.h + 2 * pad);
  const ox = pad - bb.x1, oy = pad - bb.y1;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`];
  const boxes = cy.nodes(".group").sort((a, b) => a.data("z") - b.data("z"));
  boxes.forEach((n) => {
    const p = n.position(), w = n.data("w"), h = n.data("h");
    const x = p.x - w / 2 + ox, y = p.y - h / 2 + oy;
    const c = colourFor(n.data("type"));
    parts.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="8" fill="${c}" fill-opacity="0.08" stroke="${c}" stroke-opacity="0.5"/>`);
    parts.push(`<text x="${x + w / 2}" y="${y + 14}" font-size="11" font-weight="600" text-anchor="middle" fill="#334155">${esc(n.data("label"))}</text>`);
  });
  cy.edges().forEach((e) => {
    const s = EDGE_STYLES[e.data("relation")] || DEFAULT_EDGE;
    const a = e.source().position(), b = e.target().position();
    const dash = s.style === "dashed" ? ' stroke-dasharray="6 4"' : s.style === "dotted" ? ' stroke-dasharray="2 3"' : "";
    parts.push(`<line x1="${a.x + ox}" y1="${a.y + oy}" x2="${b.x + ox}" y2="${b.y + oy}" stroke="${s.colour}" stroke-width="${s.width}"${dash}/>`);
  });
  cy.nodes('[kind != "group"]').forEach((n) => {
    const p = n.position();
    const size = n.hasClass("collapsed") ? 48 : 34;
    parts.push(`<image href="${esc(iconFor(n.hasClass("collapsed") ? n.data("type") || "group" : n.data("type")))}" x="${p.x + ox - size / 2}" y="${p.y + oy - size / 2}" width="${size}" height="${size}"/>`);
    if (n.hasClass("down")) parts.push(`<circle cx="${p.x + ox}" cy="${p.y + oy}" r="${size / 2 + 2}" fill="none" stroke="#dc2626" stroke-width="3"/>`);
    parts.push(`<text x="${p.x + ox}" y="${p.y + oy + size / 2 + 12}" font-size="10" text-anchor="middle" fill="#1f2933">${esc(n.data("label"))}</text>`);
  });
  parts.push("</svg>");
  return parts.join("\n");
}

export function toJson(model, scene) {
  const nodes = [], edges = [];
  for (const id of scene.nodes.keys()) { const n = model.nodes.get(id); if (n) nodes.push(n); }
  for (const id of scene.edges.keys()) { const e = model.edges.get(id); if (e) edges.push(e); }
  return JSON.stringify({ Nodes: nodes, Edges: edges }, null, 2);
}

export function download(name, content, type) {
  const blob = content instanceof Blob ? content : new Blob([content], { type });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}
