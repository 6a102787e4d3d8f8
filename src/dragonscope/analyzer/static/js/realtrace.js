// The real trace beside the simulated one: one row per Dragonflow table the packet crosses on
// each chassis, the simulated decision on the left and the switch's own rule on the right, the
// first row where they part marked, with the expected and the installed rule, and the verdict
// of the comparison (docs/trace.md, "Real traces").

function el(tag, value, cls) {
  const e = document.createElement(tag);
  if (value !== undefined && value !== null) e.textContent = value;
  if (cls) e.className = cls;
  return e;
}

function simulated(hop) {
  return hop ? `${hop.decision || ""}: ${hop.why || ""}` : "—";
}

function real(hop) {
  if (!hop) return "—";
  const meaning = (hop.meaning || []).slice(0, 3).join("; ");
  return `[${hop.app || "?"}] ${hop.rule || ""}${meaning ? ` (${meaning})` : ""}`;
}

// Fill ``box`` with the side by side of a ``POST /api/trace/real`` answer.
export function showReal(box, out) {
  box.replaceChildren();
  box.hidden = false;
  const agreement = out.agreement || {};
  box.append(el("div", `real: ${out.real?.verdict || "?"} — agreement: ${agreement.status || "?"}: ${agreement.why || ""}`,
    `real-agreement ${agreement.status || ""}`));
  const steps = (out.real?.chassis || []).map((c) => `${c.chassis}: ${c.hops.length} steps`).join(", ");
  if (steps) box.append(el("div", `traced by the switches of ${steps}`, "muted small real-chassis"));
  const table = el("table", null, "real-side");
  const head = el("tr");
  for (const title of ["chassis", "table", "simulated", "installed rule"]) head.append(el("th", title));
  table.append(head);
  for (const row of out.side_by_side || []) {
    const tr = el("tr", null, row.differs ? "differs" : "");
    const name = row.simulated?.table_name || row.real?.table_name || "";
    tr.append(el("td", row.chassis || "—"), el("td", row.table === null || row.table === undefined ? "—" : `${row.table} ${name}`),
      el("td", simulated(row.simulated)), el("td", real(row.real)));
    table.append(tr);
  }
  box.append(table);
  const first = out.first_difference;
  if (first) {
    const diff = el("div", null, "real-first");
    diff.append(el("div", `first difference on ${first.chassis}, table ${first.table} (${first.table_name}): ${first.why}`));
    diff.append(el("div", `expected:  ${first.expected_rule?.rule || "(no rule of the objects named)"}`, "rule expected"));
    diff.append(el("div", `installed: ${first.installed_rule || "(none)"}`, "rule installed"));
    box.append(diff);
  }
  for (const note of out.real?.notes || []) box.append(el("div", `note: ${note}`, "muted small"));
}

export function clearReal(box) {
  box.replaceChildren();
  box.hidden = true;
}
