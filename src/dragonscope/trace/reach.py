"""Reachability matrix: every port of a tenant or network against every other.

Each cell is one trace without hop recording, on one shared index and security-group
cache, so a 200-port tenant (40,000 cells) stays interactive. A cell carries the
verdict and what decided it (the drop code, table and object, or the delivering table).
"""

from __future__ import annotations

from typing import Any

from dragonscope.nb import ProjectNames
from dragonscope.trace.engine import Tracer
from dragonscope.trace.model import TraceError
from dragonscope.trace.request import TraceRequest


def matrix(
    tracer: Tracer,
    tenant: str | None = None,
    network: str | None = None,
    proto: str = "tcp",
    dport: int | None = 22,
    ct: bool = False,
    projects: ProjectNames | None = None,
) -> dict[str, Any]:
    """``{"ports": [...], "rows": [[cell, ...], ...]}``; ``rows[i][j]`` is i → j. The
    tenant is a project id, or a name ``projects`` knows."""
    if not tenant and not network:
        raise TraceError("give a tenant (project name or id) or a network")
    if proto not in ("tcp", "udp"):
        dport = None
    topic = None
    if tenant:
        known = {p.topic for p in tracer.index.ports.values() if p.topic}
        try:
            topic = (projects or ProjectNames()).resolve(tenant, known)
        except ValueError as exc:
            raise TraceError(str(exc)) from None
    net_id = tracer.resolver.network(network).id if network else None
    ports = tracer.index.tenant_ports(topic, net_id)
    if not ports:
        what = " and ".join(
            f"{kind} {value!r}"
            for kind, value in (("tenant", tenant), ("network", network))
            if value
        )
        raise TraceError(f"no VM port in {what}")
    rows: list[list[dict[str, Any] | None]] = []
    for src in ports:
        row: list[dict[str, Any] | None] = []  # None on the diagonal: no trace to itself
        for dst in ports:
            if src is dst:
                row.append(None)
                continue
            try:
                result = tracer.trace(
                    TraceRequest(
                        source=src.id,
                        destination=dst.id,
                        proto=proto,
                        dport=dport,
                        ct=ct,
                    ),
                    record=False,
                )
            except TraceError as exc:
                row.append({"verdict": "error", "reason": str(exc)})
                continue
            final = result.final.to_json()
            cell = {
                "verdict": final["verdict"],
                "table": final["table"],
                "table_name": final["table_name"],
                "reason": final["reason"],
            }
            for key in ("code", "object"):
                if key in final:
                    cell[key] = final[key]
            row.append(cell)
        rows.append(row)
    return {
        "tenant": topic,
        "tenant_name": projects.name(topic) if projects and topic else None,
        "network": net_id,
        "proto": proto,
        "dport": dport,
        "ports": [
            {
                "id": p.id,
                "name": p.name,
                "network": p.net_id,
                "ips": [str(a) for a in p.ips],
                "chassis": p.chassis,
            }
            for p in ports
        ],
        "rows": rows,
    }
