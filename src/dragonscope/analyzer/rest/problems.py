"""``GET /api/problems``: every problem ``nb check`` finds in the NB behind the graph.

Per-object problems travel on their node (``Problems``), but problems across objects
(duplicate addresses, dangling references, inconsistent copies) belong to no single
object; the analyzer finds them on the NB objects its graph carries, the snapshot the
tracer uses, and names the node each one is about, so a client can badge it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from dragonscope.analyzer.auth import READ, Authenticator
from dragonscope.analyzer.responses import json_response
from dragonscope.analyzer.rest.trace import TraceService
from dragonscope.nb import Problem, Snapshot, check
from dragonscope.topology import node_id


def problems_of(snapshot: Snapshot) -> list[dict[str, Any]]:
    """Each problem of each object, then those across objects, with the node it is about."""
    found: list[Problem] = [p for obj in snapshot.values() for p in obj.problems]
    found += check(snapshot)
    return [
        {
            "kind": p.kind,
            "table": p.table,
            "id": p.id,
            "field": p.field,
            "message": p.message,
            "node": node_id(p.table, p.id),
        }
        for p in found
    ]


def mount_problems(router: web.UrlDispatcher, service: TraceService, guard: Authenticator) -> None:
    cache: dict[str, Any] = {"snapshot": None, "answer": []}

    async def get_problems(request: web.Request) -> web.Response:
        guard.require(request, READ)
        snapshot = await service.snapshot()
        if cache["snapshot"] is not snapshot:
            cache["answer"] = await asyncio.to_thread(problems_of, snapshot)
            cache["snapshot"] = snapshot
        return json_response({"Problems": cache["answer"]})

    router.add_get("/api/problems", get_problems)
