"""The whole answer of a real trace: the simulation, the real steps of every chassis, the
side-by-side rows, the first difference and the agreement (``docs/trace.md``)."""

from __future__ import annotations

from typing import Any

from dragonscope.trace.real.compare import agreement, side_by_side
from dragonscope.trace.real.follow import RealRun


def report(run: RealRun) -> dict[str, Any]:
    sim = run.simulated
    real_hops = [hop for trace in run.traces for hop in trace.hops]
    expected = {c: run.real.expected(c) for c in {t.chassis for t in run.traces}}
    missing: set[str] = set()
    for chassis in {h.chassis for h in sim.hops if h.chassis} & set(run.real.switches):
        missing |= run.real.expected(chassis).missing_apps
    if not missing:
        missing = (
            set(run.real.expected(next(iter(run.real.switches))).missing_apps)
            if run.real.switches
            else set()
        )
    rows, first = side_by_side(sim.hops, real_hops, expected)
    verdict = (
        "replied" if any(t.replied for t in run.traces)
        else "delivered" if any(t.delivered for t in run.traces)
        else "external" if any(t.external for t in run.traces)
        else "controller" if any(t.controller for t in run.traces)
        else "dropped" if run.traces
        else "not traced"
    )  # fmt: skip
    delivered = sorted({p for t in run.traces for p in t.delivered})
    return {
        "simulated": sim.to_json(),
        "real": {
            "verdict": verdict,
            "delivered": [
                run.index.port_ref(run.index.ports[p]).to_json()
                for p in delivered
                if p in run.index.ports
            ],
            "chassis": [t.to_json() for t in run.traces],
            "notes": run.notes,
        },
        "agreement": agreement(sim, run.traces, missing, run.notes, run.index),
        "side_by_side": rows,
        "first_difference": first,
    }
