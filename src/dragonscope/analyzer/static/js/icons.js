// One icon per node Type, drawn as small SVGs so the UI ships no image files.
// Each entry: a label for the legend, a fill colour and the glyph's inner SVG (24x24 box).

const GLYPHS = {
  lport: ["port", "#0e7490", '<rect x="5" y="7" width="14" height="10" rx="2"/><rect x="8" y="10" width="8" height="4" fill="#fff"/>'],
  lrouter_port: ["router port", "#c2410c", '<rect x="5" y="7" width="14" height="10" rx="2"/><path d="M8 12h8M13 9l3 3-3 3" stroke="#fff" stroke-width="2" fill="none"/>'],
  lswitch: ["network", "#1d4ed8", '<rect x="3" y="8" width="18" height="8" rx="2"/><path d="M6 12h12" stroke="#fff" stroke-width="2"/><circle cx="7" cy="12" r="1.5" fill="#fff"/><circle cx="12" cy="12" r="1.5" fill="#fff"/><circle cx="17" cy="12" r="1.5" fill="#fff"/>'],
  lsubnet: ["subnet", "#3b82f6", '<path d="M4 6h16v12H4z" fill="none" stroke="currentColor" stroke-width="2"/><path d="M8 10h8M8 14h5" stroke="currentColor" stroke-width="2"/>'],
  lrouter: ["router", "#ea580c", '<circle cx="12" cy="12" r="9"/><path d="M7 10h8l-2-2M17 14H9l2 2" stroke="#fff" stroke-width="2" fill="none"/>'],
  floatingip: ["floating IP", "#7c3aed", '<path d="M12 3l8 5v8l-8 5-8-5V8z"/><text x="12" y="15" font-size="7" text-anchor="middle" fill="#fff" font-family="sans-serif" font-weight="700">FIP</text>'],
  secgroup: ["security group", "#15803d", '<path d="M12 3l8 3v6c0 5-4 8-8 9-4-1-8-4-8-9V6z"/><path d="M8 12l3 3 5-6" stroke="#fff" stroke-width="2" fill="none"/>'],
  chassis: ["chassis", "#334155", '<rect x="4" y="4" width="16" height="16" rx="2"/><path d="M7 8h10M7 12h10M7 16h10" stroke="#fff" stroke-width="1.5"/>'],
  qospolicy: ["QoS policy", "#0891b2", '<path d="M3 18a9 9 0 0118 0z"/><path d="M12 18l4-6" stroke="#fff" stroke-width="2"/>'],
  switch_port: ["switch port", "#475569", '<rect x="6" y="6" width="12" height="12" rx="1"/><circle cx="12" cy="12" r="3" fill="#fff"/>'],
  bgp_speaker: ["BGP speaker", "#a16207", '<circle cx="12" cy="12" r="9"/><text x="12" y="15" font-size="7" text-anchor="middle" fill="#fff" font-family="sans-serif" font-weight="700">BGP</text>'],
  bgp_peer: ["BGP peer", "#ca8a04", '<circle cx="12" cy="12" r="7"/><circle cx="12" cy="12" r="3" fill="#fff"/>'],
  sfc_portchain: ["SFC chain", "#be185d", '<path d="M3 12h4M17 12h4" stroke="currentColor" stroke-width="2"/><rect x="7" y="7" width="10" height="10" rx="5"/><path d="M10 12h4" stroke="#fff" stroke-width="2"/>'],
  sfc_portpairgroup: ["SFC group", "#db2777", '<rect x="4" y="5" width="16" height="14" rx="3"/><path d="M8 10h8M8 14h8" stroke="#fff" stroke-width="2"/>'],
  sfc_portpair: ["SFC pair", "#ec4899", '<circle cx="8" cy="12" r="4"/><circle cx="16" cy="12" r="4"/>'],
  sfc_flowclassifier: ["flow classifier", "#9d174d", '<path d="M4 5h16l-6 7v6l-4 2v-8z"/>'],
  activeport: ["active port", "#0f766e", '<circle cx="12" cy="12" r="8"/><path d="M12 7v5l3 3" stroke="#fff" stroke-width="2" fill="none"/>'],
  migration: ["migration", "#6d28d9", '<path d="M4 12h12l-4-4M16 12l-4 4" stroke="currentColor" stroke-width="3" fill="none"/>'],
  service: ["service", "#64748b", '<circle cx="12" cy="12" r="8"/><path d="M12 7v5h4" stroke="#fff" stroke-width="2" fill="none"/>'],
  publisher: ["publisher", "#64748b", '<path d="M4 18l8-12 8 12z"/>'],
  listener: ["listener", "#64748b", '<path d="M6 6h12v12H6z"/><circle cx="12" cy="12" r="2" fill="#fff"/>'],
  tenant: ["tenant", "#0f172a", '<circle cx="12" cy="8" r="4"/><path d="M4 20c0-4 4-6 8-6s8 2 8 6z"/>'],
  vip: ["virtual IP", "#0d9488", '<circle cx="12" cy="12" r="8" fill="none" stroke="currentColor" stroke-width="2.5"/><circle cx="12" cy="12" r="3.5"/>'],
  "dragonscope-collector": ["collector", "#475569", '<path d="M5 5h14v4H5zM5 11h14v4H5zM5 17h14v2H5z"/>'],
  // Open vSwitch, as a chassis collector publishes it (Skydive's OVS probe conventions).
  ovsbridge: ["OVS bridge", "#1e3a8a", '<rect x="2" y="8" width="20" height="8" rx="4"/><path d="M6 12h12" stroke="#fff" stroke-width="2"/><path d="M8 5v3M16 5v3M8 16v3M16 16v3" stroke="currentColor" stroke-width="2"/>'],
  ovsport: ["OVS port", "#3730a3", '<rect x="6" y="6" width="12" height="12" rx="3"/><path d="M12 6V2M12 22v-4" stroke="currentColor" stroke-width="2"/>'],
  device: ["VM interface", "#0369a1", '<circle cx="12" cy="12" r="7"/><path d="M9 12h6" stroke="#fff" stroke-width="2"/>'],
  tap: ["VM interface (tap)", "#0369a1", '<circle cx="12" cy="12" r="7"/><path d="M9 12h6" stroke="#fff" stroke-width="2"/>'],
  dummy: ["test interface", "#0369a1", '<circle cx="12" cy="12" r="7" fill="none" stroke="currentColor" stroke-width="2.5"/>'],
  internal: ["internal interface", "#475569", '<circle cx="12" cy="12" r="7"/><circle cx="12" cy="12" r="2.5" fill="#fff"/>'],
  vxlan: ["VXLAN tunnel port", "#9333ea", '<path d="M3 9h18v6H3z"/><text x="12" y="14" font-size="5.5" text-anchor="middle" fill="#fff" font-family="sans-serif" font-weight="700">VXLAN</text>'],
  geneve: ["Geneve tunnel port", "#9333ea", '<path d="M3 9h18v6H3z"/><text x="12" y="14" font-size="5.5" text-anchor="middle" fill="#fff" font-family="sans-serif" font-weight="700">GENEVE</text>'],
  gre: ["GRE tunnel port", "#9333ea", '<path d="M3 9h18v6H3z"/><text x="12" y="14" font-size="6" text-anchor="middle" fill="#fff" font-family="sans-serif" font-weight="700">GRE</text>'],
  patch: ["patch port", "#a16207", '<path d="M4 12h6M14 12h6" stroke="currentColor" stroke-width="3"/><circle cx="12" cy="12" r="3"/>'],
  ofrule: ["OpenFlow rule", "#64748b", '<path d="M5 6h14M5 12h14M5 18h9" stroke="currentColor" stroke-width="2.5"/>'],
  missing: ["missing reference", "#b91c1c", '<circle cx="12" cy="12" r="9" fill="none" stroke="currentColor" stroke-width="2" stroke-dasharray="3 2"/><text x="12" y="16" font-size="11" text-anchor="middle" font-family="sans-serif" font-weight="700">?</text>'],
  group: ["collapsed group", "#94a3b8", '<rect x="3" y="5" width="18" height="14" rx="3"/><path d="M7 12h10M12 7v10" stroke="#fff" stroke-width="2"/>'],
};
const DEFAULT = ["other", "#6b7280", '<circle cx="12" cy="12" r="8"/>'];

const cache = new Map();

export function iconFor(type) {
  if (cache.has(type)) return cache.get(type);
  const [, colour, glyph] = GLYPHS[type] || DEFAULT;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="48" height="48" fill="${colour}" color="${colour}">${glyph}</svg>`;
  const uri = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svg);
  cache.set(type, uri);
  return uri;
}

// The canvas draws each icon from a bitmap made once from its SVG: Chrome rasterises an SVG
// image again at every draw, and the first picture of a grouped 20k-node view spent a fifth of
// its time there. Until the bitmaps are made (while the page waits for the graph), the SVG.
const BITMAP_PX = 96; // an icon is 34 px at zoom 1, so as sharp up to nearly 3x
const bitmaps = new Map();

export async function makeBitmaps() {
  await Promise.all([...Object.keys(GLYPHS), null].map(async (type) => {
    const img = new Image();
    img.src = iconFor(type);
    await img.decode();
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = BITMAP_PX;
    canvas.getContext("2d").drawImage(img, 0, 0, BITMAP_PX, BITMAP_PX);
    // A blob URL, not a data URI: the style of every node hashes its icon's URL.
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    if (!bitmaps.has(type)) bitmaps.set(type, URL.createObjectURL(blob));
  }));
}

export function bitmapFor(type) {
  return bitmaps.get(type in GLYPHS ? type : null) || iconFor(type);
}

export function legendEntries() {
  return Object.entries(GLYPHS).map(([type, [label]]) => ({ type, label, icon: iconFor(type) }));
}

export function colourFor(type) {
  return (GLYPHS[type] || DEFAULT)[1];
}

// Edge styles per RelationType: colour, line style, width, arrow.
export const EDGE_STYLES = {
  layer2: { colour: "#2563eb", style: "solid", width: 2, label: "L2 attachment" },
  ownership: { colour: "#cbd5e1", style: "solid", width: 1, label: "ownership" },
  subnet: { colour: "#60a5fa", style: "dotted", width: 1.5, label: "subnet" },
  binding: { colour: "#64748b", style: "dashed", width: 1.5, label: "binding" },
  "router-interface": { colour: "#ea580c", style: "solid", width: 2.5, label: "router interface" },
  gateway: { colour: "#dc2626", style: "solid", width: 3, label: "router gateway" },
  floatingip: { colour: "#7c3aed", style: "dashed", width: 2, label: "floating IP" },
  secgroup: { colour: "#16a34a", style: "dotted", width: 1.5, label: "security group" },
  "remote-group": { colour: "#166534", style: "dashed", width: 1.5, arrow: true, label: "remote group" },
  qos: { colour: "#0891b2", style: "dotted", width: 1.5, label: "QoS" },
  "trunk-child": { colour: "#0d9488", style: "solid", width: 2, arrow: true, label: "trunk child" },
  sfc: { colour: "#db2777", style: "solid", width: 2, arrow: true, label: "SFC" },
  "allowed-address-pair": { colour: "#0d9488", style: "dashed", width: 1.5, label: "allowed address pair" },
  "active-port": { colour: "#0f766e", style: "solid", width: 1.5, arrow: true, label: "active port" },
  network: { colour: "#93c5fd", style: "dashed", width: 1.2, label: "network of" },
  "bgp-peer": { colour: "#ca8a04", style: "dashed", width: 1.5, label: "BGP peer" },
  missing: { colour: "#b91c1c", style: "dashed", width: 1.5, label: "broken reference" },
  tunnel: { colour: "#9333ea", style: "dashed", width: 2.5, arrow: true, label: "tunnel (installed flows)" },
  patch: { colour: "#a16207", style: "solid", width: 2, label: "patch ports" },
};
export const DEFAULT_EDGE = { colour: "#94a3b8", style: "solid", width: 1.2, label: "other" };
