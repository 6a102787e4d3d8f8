"""The simulated and the real trace side by side: aligned by chassis and Dragonflow table,
the first step where they part marked (with the expected and the installed rule), and one
agreement verdict.

Agreement statuses: ``agree`` (the same ports receive the packet, or neither delivers it),
``disagree``, ``controller`` (the answer comes from the local controller, which
``ofproto/trace`` cannot model: DHCP offers, ICMP errors, the route l3_reactive installs) and
``not-comparable`` (the simulated path uses an app whose rules are not generated, or the
trace could not start).
"""

from __future__ import annotations

from typing import Any

from dragonscope.nb.tables import CHILD_PORT_SEGMENTATION, FLOATINGIP
from dragonscope.trace.flows import FlowSet
from dragonscope.trace.model import TABLES, Hop
from dragonscope.trace.real.decode import SNAT, RealHop
from dragonscope.trace.real.follow import ChassisTrace

CONTROLLER_RESPONDERS = frozenset({"dhcp", "icmp-unreachable"})
FLOW_RESPONDERS = frozenset({"arp", "icmp-echo", "nd"})


def apps_on_path(hops: list[Hop]) -> set[str]:
    """The apps whose rules the simulated path relies on."""
    apps = {TABLES[h.table][1] for h in hops if h.table is not None}
    for hop in hops:
        tables = {o.table for o in hop.objects}
        if CHILD_PORT_SEGMENTATION in tables:
            apps.add("trunk")
        if FLOATINGIP in tables:
            apps.add("dnat")
        if hop.decision in ("provider", "external") or hop.table in (2, 80):
            apps.add("provider")
    return apps


def agreement(
    sim: Any, traces: list[ChassisTrace], missing_apps: set[str], notes: list[str], index: Any
) -> dict[str, Any]:
    path = apps_on_path(sim.hops)
    if any(
        o.port is not None
        and getattr(index.ports.get(o.port.id), "runtime_binding", "") == "trunk-child"
        for o in sim.outcomes
    ):
        path.add("trunk")
    unmodelled = sorted(path & missing_apps)
    if unmodelled:
        return {
            "status": "not-comparable",
            "why": f"the simulated path uses {', '.join(unmodelled)}, whose rules dragonscope "
            "does not generate yet, so the installed rules cannot be checked against it",
        }
    final = sim.final
    sim_ports = {
        (o.chassis, o.port.id) for o in sim.outcomes if o.verdict == "delivered" and o.port
    }
    real_ports = {(t.chassis, p) for t in traces for p in t.delivered}
    if not traces:
        if sim.verdict == "dropped" and final.table in (0, None):
            return {"status": "agree", "why": f"neither sends it: {final.reason}"}
        return {"status": "not-comparable", "why": "; ".join(notes) or "no real trace ran"}
    controller = any(t.controller for t in traces)
    replied = any(t.replied for t in traces)
    responder = final.detail.get("responder")
    if (
        sim.verdict == "replied" and responder in CONTROLLER_RESPONDERS
    ) or final.code == "TTL_EXPIRED":
        if controller:
            return {
                "status": "controller",
                "why": "the switch hands the packet to the local controller, whose answer "
                "ofproto/trace cannot model",
            }
        return {
            "status": "disagree",
            "why": "the simulation expects the controller to answer; the switch never asks it",
        }
    if any(
        h.owner is not None and h.owner.app == "l3_reactive" and h.outcome == "controller"
        for t in traces
        for h in t.hops
    ):
        return {
            "status": "controller",
            "why": "the switch hands the routed packet to the local controller (l3_reactive), "
            "which installs the route for it; ofproto/trace cannot model that",
        }
    if sim.verdict == "replied" and responder == "metadata":
        if replied:
            return {"status": "agree", "why": "both hand it to the local metadata proxy"}
        return {
            "status": "disagree",
            "why": "the simulation hands it to the metadata proxy; the switch does not",
        }
    if sim.verdict == "replied" and responder in FLOW_RESPONDERS:
        if replied:
            return {"status": "agree", "why": f"a {responder} responder rule answers the sender"}
        return {
            "status": "disagree",
            "why": f"the simulation answers with the {responder} responder; no installed rule does",
        }
    bridge = final.detail.get("bridge") if sim.verdict == "external" else None
    if bridge:  # chassis SNAT
        if any(f"{SNAT}{bridge}" in t.external for t in traces):
            return {"status": "agree", "why": f"both SNAT it out to {bridge}"}
        return {
            "status": "disagree",
            "why": f"the simulation SNATs it out to {bridge}; the switch does not",
        }
    agent = final.port if sim.verdict == "external" and final.detail.get("l3_agent") else None
    if agent is not None:  # legacy_snat: the Neutron L3 agent's router interface port
        if (final.chassis, agent.id) in real_ports:
            return {"status": "agree", "why": f"both hand it to the L3 agent's {agent.name}"}
        return {
            "status": "disagree",
            "why": f"the simulation hands it to the L3 agent's {agent.name}; the switch does not",
        }
    physnet = final.detail.get("physnet") if sim.verdict == "external" else None
    if physnet:
        if any(physnet in t.external for t in traces):
            return {"status": "agree", "why": f"both send it out to physical network {physnet}"}
        return {
            "status": "disagree",
            "why": f"the simulation sends it out to physical network {physnet}; the switch "
            "does not",
        }
    if sim_ports == real_ports:
        if sim_ports:
            names = ", ".join(sorted(p for _, p in sim_ports))
            return {"status": "agree", "why": f"both deliver to {names}"}
        return {"status": "agree", "why": "neither delivers it"}
    return {
        "status": "disagree",
        "why": f"simulated delivery to {sorted(p for _, p in sim_ports) or 'nobody'}, "
        f"real delivery to {sorted(p for _, p in real_ports) or 'nobody'}",
    }


def _expected_rule(hop: Hop, flows: FlowSet | None) -> dict[str, Any] | None:
    if flows is None or hop.table is None:
        return None
    ids = {o.id for o in hop.objects}
    owned = [
        f for f in flows.flows if f.table == hop.table and f.owner is not None and f.owner.id in ids
    ]
    if not owned:
        return None
    return max(owned, key=lambda f: f.priority).to_json()


def side_by_side(
    hops: list[Hop], real: list[RealHop], expected: dict[str, FlowSet]
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Rows pairing each simulated hop with the real step at the same chassis and table;
    real steps the simulation has no hop for (layout edges, conntrack passes) get their own
    rows. The first difference: a simulated hop the switch never reaches, or reaches and
    drops (no rule matched, or a dropping rule) where the simulation goes on."""
    rows: list[dict[str, Any]] = []
    first: dict[str, Any] | None = None
    cursor = 0
    for hop in hops:
        # The guest's own decisions and a service function's work happen outside the switch.
        if hop.table is None or hop.decision == "service":
            rows.append(
                {
                    "chassis": hop.chassis,
                    "table": hop.table,
                    "simulated": hop.to_json(),
                    "real": None,
                }
            )
            continue
        found = next(
            (
                i
                for i in range(cursor, len(real))
                if real[i].chassis == hop.chassis and real[i].table == hop.table
            ),
            None,
        )
        if found is None:
            row = {
                "chassis": hop.chassis,
                "table": hop.table,
                "simulated": hop.to_json(),
                "real": None,
            }
            if first is None and hop.decision not in ("drop",):
                row["differs"] = True
                first = _difference(hop, None, real[cursor - 1] if cursor else None, expected)
            rows.append(row)
            continue
        for skipped in real[cursor:found]:
            rows.append(
                {
                    "chassis": skipped.chassis,
                    "table": skipped.table,
                    "simulated": None,
                    "real": skipped.to_json(),
                }
            )
        step = real[found]
        cursor = found + 1
        row = {
            "chassis": hop.chassis,
            "table": hop.table,
            "simulated": hop.to_json(),
            "real": step.to_json(),
        }
        stops = step.outcome in ("miss", "drop")
        if first is None and stops != (hop.decision == "drop"):
            row["differs"] = True
            first = _difference(hop, step, step, expected)
        rows.append(row)
    for rest in real[cursor:]:
        rows.append(
            {
                "chassis": rest.chassis,
                "table": rest.table,
                "simulated": None,
                "real": rest.to_json(),
            }
        )
    return rows, first


def _difference(
    hop: Hop, step: RealHop | None, last: RealHop | None, expected: dict[str, FlowSet]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "chassis": hop.chassis,
        "table": hop.table,
        "table_name": TABLES[hop.table][0] if hop.table in TABLES else str(hop.table),
        "simulated": hop.to_json(),
        "expected_rule": _expected_rule(hop, expected.get(hop.chassis or "")),
    }
    if step is not None:
        out["installed_rule"] = None if step.outcome == "miss" else step.rule
        out["real"] = step.to_json()
        out["why"] = (
            (
                "no installed rule matches here"
                if step.outcome == "miss"
                else "the installed rule drops it"
            )
            if hop.decision != "drop"
            else "the simulation drops here; the switch goes on"
        )
    else:
        out["installed_rule"] = None
        out["why"] = f"the switch never reaches table {hop.table} on {hop.chassis}" + (
            f"; its last step was table {last.table}: {last.rule}" if last is not None else ""
        )
    return out
