"""``/api/node`` and ``/api/edge``: Skydive's generic resource handler over the live graph."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from dragonscope.analyzer import auth
from dragonscope.analyzer.chunked import elements_by_id_bytes
from dragonscope.analyzer.keys import ANALYZER
from dragonscope.analyzer.responses import (
    json_response,
    pieces_response,
    read_json,
    text_error,
)
from dragonscope.graph import (
    Edge,
    GraphError,
    Node,
    OpError,
    Rejected,
    ValidationError,
    check_edge,
    check_edge_metadata,
    check_node,
    check_node_metadata,
    decode_edge,
    decode_node,
    json_patch,
    normalize,
)

if TYPE_CHECKING:
    from dragonscope.analyzer.app import Analyzer

PROTECTED_NODE_KEYS = ("Name", "Type", "TID")


class Kind:
    def __init__(self, name: str, is_edge: bool) -> None:
        self.name = name  # "Node" / "Edge", as in Skydive's messages
        self.is_edge = is_edge

    def get(self, analyzer: Analyzer, element_id: str) -> Node | None:
        graph = analyzer.graph
        return graph.edge(element_id) if self.is_edge else graph.node(element_id)

    def all(self, analyzer: Analyzer) -> list[Node]:
        graph = analyzer.graph
        return list(graph.edges()) if self.is_edge else list(graph.nodes())


NODE = Kind("Node", False)
EDGE = Kind("Edge", True)


def _kind(request: web.Request) -> Kind:
    return EDGE if request.match_info["kind"] == "edge" else NODE


def _not_found(kind: Kind, element_id: str) -> web.Response:
    return text_error(404, f"{kind.name} '{element_id}' not found")


async def list_elements(request: web.Request) -> web.Response:
    analyzer: Analyzer = request.app[ANALYZER]
    analyzer.authorize(request, auth.READ)
    return pieces_response([*(await elements_by_id_bytes(_kind(request).all(analyzer))), b"\n"])


async def get_element(request: web.Request) -> web.Response:
    analyzer: Analyzer = request.app[ANALYZER]
    analyzer.authorize(request, auth.READ)
    kind, element_id = _kind(request), request.match_info["id"]
    element = kind.get(analyzer, element_id)
    if element is None:
        return _not_found(kind, element_id)
    return json_response(element.to_json())


async def create_element(request: web.Request) -> web.Response:
    analyzer: Analyzer = request.app[ANALYZER]
    analyzer.authorize(request, auth.WRITE)
    kind = _kind(request)
    body = await read_json(request)
    try:
        element = decode_edge(body) if kind.is_edge else decode_node(body)
        (check_edge if kind.is_edge else check_node)(element)
    except Rejected as exc:
        return text_error(400, exc.detail)
    except ValidationError as exc:
        return text_error(400, exc.detail)
    if kind.get(analyzer, element.id) is not None:
        return text_error(400, f"{kind.name} ID conflict")
    origin = element.origin or analyzer.api_origin
    try:
        if isinstance(element, Edge):
            analyzer.store.add_edge(element, origin, validate=False)
        else:
            analyzer.store.add_node(element, origin, validate=False)
    except Rejected as exc:
        return text_error(400, exc.detail)
    stored = kind.get(analyzer, element.id)
    assert stored is not None
    return json_response(stored.to_json(), status=201)


async def patch_element(request: web.Request) -> web.Response:
    analyzer: Analyzer = request.app[ANALYZER]
    analyzer.authorize(request, auth.WRITE)
    kind, element_id = _kind(request), request.match_info["id"]
    stored = kind.get(analyzer, element_id)
    if stored is None:
        return _not_found(kind, element_id)
    patch = await read_json(request)
    try:
        patched = json_patch(stored.to_json(), patch)
    except OpError as exc:
        return text_error(400, f"invalid JSON Patch: {exc}")
    metadata = patched.get("Metadata") if isinstance(patched, dict) else None
    if not isinstance(metadata, dict):
        return text_error(400, "Metadata must stay a JSON object")
    metadata = normalize(metadata)
    if not kind.is_edge:
        _restore_protected(stored.metadata, metadata)
    try:
        (check_edge_metadata if kind.is_edge else check_node_metadata)(metadata)
    except ValidationError as exc:
        return text_error(400, exc.detail)
    updated = analyzer.store.set_metadata(stored, metadata)
    if updated is None:
        return web.Response(status=304)
    return json_response(updated.to_json())


def _restore_protected(old: dict[str, Any], new: dict[str, Any]) -> None:
    """Name, Type and TID identify a node; Skydive keeps them across a PATCH."""
    for key in PROTECTED_NODE_KEYS:
        if key in old:
            new[key] = old[key]


async def delete_element(request: web.Request) -> web.Response:
    analyzer: Analyzer = request.app[ANALYZER]
    analyzer.authorize(request, auth.WRITE)
    kind, element_id = _kind(request), request.match_info["id"]
    if kind.get(analyzer, element_id) is None:
        return _not_found(kind, element_id)
    try:
        if kind.is_edge:
            analyzer.graph.delete_edge(element_id)
        else:
            analyzer.graph.delete_node(element_id)
    except GraphError as exc:
        return text_error(400, str(exc))
    return web.Response(status=200, headers={"Content-Type": "text/plain"})


def setup(app: web.Application) -> None:
    path = "/api/{kind:node|edge}"
    app.router.add_get(path, list_elements)
    app.router.add_post(path, create_element)
    app.router.add_get(path + "/{id}", get_element)
    app.router.add_patch(path + "/{id}", patch_element)
    app.router.add_delete(path + "/{id}", delete_element)
