"""``/api/noderule`` and ``/api/edgerule``: Skydive's topology rules, applied by the analyzer.

A ``create`` node rule makes a node (ID = UUIDv5(OID, "Type/Name")); an
``update`` node rule adds its metadata to the nodes its query selects; an edge
rule links the first node of ``Src`` to the first node of ``Dst``. Rules are
applied when created and again after graph changes (nodes a rule targets may
appear later); deleting a rule undoes what it did.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dragonscope.analyzer import auth
from dragonscope.analyzer.keys import ANALYZER
from dragonscope.analyzer.query import QueryError, compile_query, run_query
from dragonscope.analyzer.responses import json_response, read_json, text_error
from dragonscope.graph import (
    OP_DELETE,
    OP_SET,
    Edge,
    Node,
    Rejected,
    ValidationError,
    apply_ops,
    check_edge_metadata,
    check_node_metadata,
    normalize,
)
from dragonscope.gremlin import AS_JSON

if TYPE_CHECKING:
    from dragonscope.analyzer.app import Analyzer

log = logging.getLogger(__name__)


class RuleError(ValueError):
    """A rule body that cannot be accepted (HTTP 400)."""


def _str_field(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RuleError(f"{key} must be a string")
    return value


def _metadata(body: dict[str, Any]) -> dict[str, Any]:
    value = body.get("Metadata")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RuleError("Metadata must be a JSON object")
    return normalize(value)


async def _first_node_id(analyzer: Analyzer, compiled: Any) -> str | None:
    result = await run_query(compiled, analyzer.graph, analyzer.history, AS_JSON)
    if isinstance(result, list):
        for item in result:
            if isinstance(item, dict) and isinstance(item.get("ID"), str) and "Parent" not in item:
                return str(item["ID"])
    return None


@dataclass(eq=False)
class NodeRule:
    uuid: str
    name: str
    description: str
    metadata: dict[str, Any]
    action: str
    query: str
    compiled: Any = None
    touched: set[str] = field(default_factory=set)  # nodes this rule created or changed

    def to_json(self) -> dict[str, Any]:
        return {
            "UUID": self.uuid,
            "Name": self.name,
            "Description": self.description,
            "Metadata": self.metadata,
            "Action": self.action,
            "Query": self.query,
        }

    @classmethod
    def from_body(cls, body: Any) -> NodeRule:
        if not isinstance(body, dict):
            raise RuleError("a node rule must be a JSON object")
        action = _str_field(body, "Action")
        metadata = _metadata(body)
        query = _str_field(body, "Query")
        rule = cls(
            str(uuid.uuid4()),
            _str_field(body, "Name"),
            _str_field(body, "Description"),
            metadata,
            action,
            query,
        )
        try:
            if action == "create":
                check_node_metadata(metadata)
            elif action == "update":
                if "Name" in metadata or "Type" in metadata:
                    raise RuleError("an update rule cannot change Name or Type")
                if query:
                    rule.compiled = compile_query(query)
            else:
                raise RuleError(f"Action must be create or update, got {action!r}")
        except (ValidationError, QueryError) as exc:
            raise RuleError(str(exc)) from None
        return rule

    def node_id(self) -> str:
        return str(
            uuid.uuid5(uuid.NAMESPACE_OID, f"{self.metadata['Type']}/{self.metadata['Name']}")
        )


@dataclass(eq=False)
class EdgeRule:
    uuid: str
    name: str
    description: str
    src: str
    dst: str
    metadata: dict[str, Any]
    src_compiled: Any = None
    dst_compiled: Any = None
    edge_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "UUID": self.uuid,
            "Name": self.name,
            "Description": self.description,
            "Src": self.src,
            "Dst": self.dst,
            "Metadata": self.metadata,
        }

    @classmethod
    def from_body(cls, body: Any) -> EdgeRule:
        if not isinstance(body, dict):
            raise RuleError("an edge rule must be a JSON object")
        rule = cls(
            str(uuid.uuid4()),
            _str_field(body, "Name"),
            _str_field(body, "Description"),
            _str_field(body, "Src"),
            _str_field(body, "Dst"),
            _metadata(body),
        )
        try:
            rule.src_compiled = compile_query(rule.src)
            rule.dst_compiled = compile_query(rule.dst)
            check_edge_metadata(rule.metadata)
        except (ValidationError, QueryError) as exc:
            raise RuleError(str(exc)) from None
        return rule


class RuleBook:
    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer
        self.node_rules: dict[str, NodeRule] = {}
        self.edge_rules: dict[str, EdgeRule] = {}

    @property
    def origin(self) -> str:
        return f"analyzer.{self.analyzer.settings.host_id}"

    # -- applying ------------------------------------------------------------------
    async def apply_all(self) -> None:
        """Bring the graph in line with every rule; idempotent, so safe after any change.
        Rule queries run in slices; what they select is re-read from the graph when
        it is written, so changes made meanwhile are respected."""
        for node_rule in list(self.node_rules.values()):
            await self._apply_node_rule(node_rule)
        for edge_rule in list(self.edge_rules.values()):
            await self._apply_edge_rule(edge_rule)

    async def _apply_node_rule(self, rule: NodeRule) -> None:
        store = self.analyzer.store
        if rule.action == "create":
            node_id = rule.node_id()
            if self.analyzer.graph.node(node_id) is None:
                metadata = dict(rule.metadata, TID=node_id)
                if metadata.get("Type") == "fabric":
                    metadata["Probe"] = "fabric"
                store.add_node(Node(node_id, metadata), self.origin, validate=False)
                rule.touched.add(node_id)
            return
        if rule.compiled is None:
            return
        try:
            result = await run_query(
                rule.compiled, self.analyzer.graph, self.analyzer.history, AS_JSON
            )
        except QueryError as exc:
            log.debug("node rule %s: %s", rule.uuid, exc)
            return
        ops = [{"Type": OP_SET, "Key": k, "Value": v} for k, v in rule.metadata.items()]
        for item in result if isinstance(result, list) else []:
            if not isinstance(item, dict) or "Parent" in item:
                continue
            node = self.analyzer.graph.node(str(item.get("ID")))
            if node is not None:
                store.set_metadata(node, apply_ops(node.metadata, ops))
                rule.touched.add(node.id)

    async def _apply_edge_rule(self, rule: EdgeRule) -> None:
        graph = self.analyzer.graph
        if rule.edge_id is not None and graph.edge(rule.edge_id) is not None:
            return
        try:
            src = await _first_node_id(self.analyzer, rule.src_compiled)
            dst = await _first_node_id(self.analyzer, rule.dst_compiled)
        except QueryError as exc:
            log.debug("edge rule %s: %s", rule.uuid, exc)
            return
        if src is None or dst is None or graph.node(src) is None or graph.node(dst) is None:
            return
        relation = rule.metadata["RelationType"]
        if relation not in ("layer2", "ownership") and any(
            e.child == dst and e.metadata.get("RelationType") == relation
            for e in graph.out_edges(src)
        ):
            return
        edge_id = str(uuid.uuid5(uuid.NAMESPACE_OID, src + dst + relation))
        metadata = {"RelationType": "ownership"} if relation == "ownership" else rule.metadata
        if graph.edge(edge_id) is None:
            try:
                self.analyzer.store.add_edge(
                    Edge(edge_id, dict(metadata), parent=src, child=dst),
                    self.origin,
                    validate=False,
                )
            except Rejected as exc:
                log.debug("edge rule %s: %s", rule.uuid, exc.detail)
                return
        rule.edge_id = edge_id

    # -- undoing ---------------------------------------------------------------------
    def remove_node_rule(self, rule: NodeRule) -> None:
        graph, store = self.analyzer.graph, self.analyzer.store
        if rule.action == "create":
            node_id = rule.node_id()
            if graph.node(node_id) is not None:
                store.delete_node(node_id, self.origin)
            return
        ops = [{"Type": OP_DELETE, "Key": k} for k in rule.metadata]
        for node_id in rule.touched:
            node = graph.node(node_id)
            if node is not None:
                store.set_metadata(node, apply_ops(node.metadata, ops))

    def remove_edge_rule(self, rule: EdgeRule) -> None:
        if rule.edge_id is not None and self.analyzer.graph.edge(rule.edge_id) is not None:
            self.analyzer.store.delete_edge(rule.edge_id, self.origin)


def _book(request: web.Request) -> tuple[Analyzer, RuleBook, bool]:
    analyzer: Analyzer = request.app[ANALYZER]
    return analyzer, analyzer.rules, request.match_info["kind"] == "edgerule"


async def list_rules(request: web.Request) -> web.Response:
    analyzer, book, is_edge = _book(request)
    analyzer.authorize(request, auth.READ)
    rules: dict[str, Any] = book.edge_rules if is_edge else book.node_rules
    return json_response({k: r.to_json() for k, r in rules.items()})


async def get_rule(request: web.Request) -> web.Response:
    analyzer, book, is_edge = _book(request)
    analyzer.authorize(request, auth.READ)
    rules: dict[str, Any] = book.edge_rules if is_edge else book.node_rules
    rule = rules.get(request.match_info["id"])
    if rule is None:
        label = "EdgeRule" if is_edge else "NodeRule"
        return text_error(404, f"{label} '{request.match_info['id']}' not found")
    return json_response(rule.to_json())


async def create_rule(request: web.Request) -> web.Response:
    analyzer, book, is_edge = _book(request)
    analyzer.authorize(request, auth.WRITE)
    body = await read_json(request)
    try:
        if is_edge:
            edge_rule = EdgeRule.from_body(body)
            book.edge_rules[edge_rule.uuid] = edge_rule
            await book._apply_edge_rule(edge_rule)
            return json_response(edge_rule.to_json(), status=201)
        node_rule = NodeRule.from_body(body)
    except RuleError as exc:
        return text_error(400, str(exc))
    book.node_rules[node_rule.uuid] = node_rule
    await book._apply_node_rule(node_rule)
    return json_response(node_rule.to_json(), status=201)


async def patch_rule(request: web.Request) -> web.Response:
    analyzer = _book(request)[0]
    analyzer.authorize(request, auth.WRITE)
    return text_error(400, "resource not updatable")


async def delete_rule(request: web.Request) -> web.Response:
    analyzer, book, is_edge = _book(request)
    analyzer.authorize(request, auth.WRITE)
    rule_id = request.match_info["id"]
    if is_edge:
        edge_rule = book.edge_rules.pop(rule_id, None)
        if edge_rule is None:
            return text_error(404, f"EdgeRule '{rule_id}' not found")
        book.remove_edge_rule(edge_rule)
    else:
        node_rule = book.node_rules.pop(rule_id, None)
        if node_rule is None:
            return text_error(404, f"NodeRule '{rule_id}' not found")
        book.remove_node_rule(node_rule)
    return web.Response(status=200, headers={"Content-Type": "text/plain"})


def setup(app: web.Application) -> None:
    path = "/api/{kind:noderule|edgerule}"
    app.router.add_get(path, list_rules)
    app.router.add_post(path, create_rule)
    app.router.add_get(path + "/{id}", get_rule)
    app.router.add_patch(path + "/{id}", patch_rule)
    app.router.add_delete(path + "/{id}", delete_rule)
