"""``/api/node`` and ``/api/edge``: Skydive's generic resource handler over the live graph."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from dragonscope.analyzer import bounds
from dragonscope.analyzer.auth import Authenticator
from dragonscope.analyzer.rest.crud import Refused, mount
from dragonscope.analyzer.services import Live
from dragonscope.analyzer.settings import AnalyzerSettings
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

PROTECTED_NODE_KEYS = ("Name", "Type", "TID")


class Elements:
    """Nodes or edges of the live graph as REST resources; what the API adds is
    written under ``origin`` unless the element names its own."""

    updatable = True

    def __init__(self, live: Live, origin: str, edges: bool, settings: AnalyzerSettings) -> None:
        self.live, self.origin, self.edges = live, origin, edges
        self.settings = settings
        self.label = "Edge" if edges else "Node"  # as in Skydive's messages

    def items(self) -> Sequence[Node]:
        graph = self.live.graph
        return list(graph.edges()) if self.edges else list(graph.nodes())

    def find(self, key: str) -> Node | None:
        graph = self.live.graph
        return graph.edge(key) if self.edges else graph.node(key)

    def key(self, item: Node) -> str:
        return item.id

    def to_json(self, item: Node) -> dict[str, Any]:
        return item.to_json()

    def _bounded(self, element: Any) -> None:
        """Refuse an element past the metadata or size bounds."""
        s = self.settings
        try:
            if isinstance(element, dict):
                bounds.check_metadata(
                    element.get("Metadata"), s.max_metadata_key_length, s.max_metadata_depth
                )
            if bounds.size_over(element, s.max_element_bytes):
                raise bounds.InputRefused(
                    bounds.ELEMENT, f"element over {s.max_element_bytes} bytes"
                )
        except bounds.InputRefused as exc:
            raise Refused(str(exc)) from None

    async def create(self, body: Any) -> Node:
        self._bounded(body)
        try:
            element: Node
            if self.edges:
                edge = decode_edge(body)
                check_edge(edge)
                element = edge
            else:
                element = decode_node(body)
                check_node(element)
        except Rejected as exc:
            raise Refused(exc.detail) from None
        except ValidationError as exc:
            raise Refused(exc.detail) from None
        if self.find(element.id) is not None:
            raise Refused(f"{self.label} ID conflict")
        origin = element.origin or self.origin
        try:
            if isinstance(element, Edge):
                self.live.store.add_edge(element, origin, validate=False)
            else:
                self.live.store.add_node(element, origin, validate=False)
        except Rejected as exc:
            raise Refused(exc.detail) from None
        stored = self.find(element.id)
        assert stored is not None
        return stored

    async def patch(self, item: Node, patch: Any) -> Node | None:
        try:
            patched = json_patch(item.to_json(), patch, self.settings.max_element_bytes)
        except OpError as exc:
            raise Refused(f"invalid JSON Patch: {exc}") from None
        self._bounded(patched)
        metadata = patched.get("Metadata") if isinstance(patched, dict) else None
        if not isinstance(metadata, dict):
            raise Refused("Metadata must stay a JSON object")
        metadata = normalize(metadata)
        if not self.edges:
            _restore_protected(item.metadata, metadata)
        try:
            (check_edge_metadata if self.edges else check_node_metadata)(metadata)
        except ValidationError as exc:
            raise Refused(exc.detail) from None
        return self.live.store.set_metadata(item, metadata)

    def delete(self, item: Node) -> None:
        try:
            if self.edges:
                self.live.graph.delete_edge(item.id)
            else:
                self.live.graph.delete_node(item.id)
        except GraphError as exc:
            raise Refused(str(exc)) from None


def _restore_protected(old: dict[str, Any], new: dict[str, Any]) -> None:
    """Name, Type and TID identify a node; Skydive keeps them across a PATCH."""
    for key in PROTECTED_NODE_KEYS:
        if key in old:
            new[key] = old[key]


def mount_elements(
    router: web.UrlDispatcher,
    live: Live,
    origin: str,
    guard: Authenticator,
    settings: AnalyzerSettings,
) -> None:
    mount(router, "/api/node", Elements(live, origin, edges=False, settings=settings), guard)
    mount(router, "/api/edge", Elements(live, origin, edges=True, settings=settings), guard)
