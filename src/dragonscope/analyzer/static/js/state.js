// Every state of the page is a URL: the view, its parameter (arg), the grouping, the search, the
// Gremlin filter, the selection, the time and the trace live in the hash, so a link reproduces
// what a colleague saw.

const KEYS = ["view", "arg", "group", "q", "gremlin", "sel", "limit", "expand", "time", "at", "from", "to", "trace"];

export function defaultState() {
  return {
    view: "global", arg: "", group: "logical", q: "", gremlin: "", sel: "",
    limit: 3000, expandAll: false, expanded: new Set(), collapsed: new Set(),
    time: "live", at: "", from: "", to: "", trace: null,
  };
}

export function readHash(hash = location.hash) {
  const state = defaultState();
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  for (const key of KEYS) {
    if (!params.has(key)) continue;
    const value = params.get(key);
    if (key === "limit") { const n = Number(value); if (Number.isFinite(n) && n >= 50) state.limit = n; }
    else if (key === "expand") state.expandAll = value === "all";
    else if (key === "trace") { try { state.trace = JSON.parse(value); } catch { state.trace = null; } }
    else state[key] = value;
  }
  return state;
}

export function writeHash(state) {
  const params = new URLSearchParams();
  const d = defaultState();
  for (const key of ["view", "arg", "group", "q", "gremlin", "sel", "time", "at", "from", "to"]) {
    if (state[key] && state[key] !== d[key]) params.set(key, state[key]);
  }
  if (state.limit !== d.limit) params.set("limit", String(state.limit));
  if (state.expandAll) params.set("expand", "all");
  if (state.trace) params.set("trace", JSON.stringify(state.trace));
  const hash = params.toString();
  if (hash !== location.hash.replace(/^#/, "")) history.replaceState(null, "", hash ? `#${hash}` : location.pathname);
}
