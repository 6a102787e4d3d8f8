"""Skydive's topology rules (``/api/noderule``, ``/api/edgerule``), applied by the analyzer.

A ``create`` node rule makes a node (ID = UUIDv5(OID, "Type/Name")); an
``update`` node rule adds its metadata to the nodes its query selects; an edge
rule links the first node of ``Src`` to the first node of ``Dst``. Rules are
applied when created and again after graph changes (nodes a rule targets may
appear later); deleting a rule undoes what it did. Rule queries run under the
analyzer's Gremlin budget; a rule whose query fails (past the budget, say) does
nothing, and says why in its ``Error`` field and once in the log.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from dragonscope.analyzer.query import RULE, QueryBudget, QueryError, compile_query, run_query
from dragonscope.analyzer.services import Live
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
    metadata: dict[str, Any] = normalize(value)
    return metadata


async def _first_node_id(live: Live, compiled: Any, budget: QueryBudget) -> str | None:
    result = await run_query(compiled, live.graph, live.past, AS_JSON, budget, where=RULE)
    if isinstance(result, list):
        for item in result:
            if not isinstance(item, dict):
                continue
            node_id = item.get("ID")
            if isinstance(node_id, str) and "Parent" not in item:
                return node_id
    return None


def _with_error(obj: dict[str, Any], error: str) -> dict[str, Any]:
    """Skydive's shape, with ``Error`` added while the rule's query fails."""
    if error:
        obj["Error"] = error
    return obj


def _failed(rule: NodeRule | EdgeRule, error: str) -> None:
    """Remember why a rule's query failed (or that it works again); log the change once."""
    if error and error != rule.error:
        log.warning("rule %s (%s): %s", rule.uuid, rule.name, error)
    rule.error = error


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
    error: str = ""  # why its query last failed

    def to_json(self) -> dict[str, Any]:
        return _with_error(
            {
                "UUID": self.uuid,
                "Name": self.name,
                "Description": self.description,
                "Metadata": self.metadata,
                "Action": self.action,
                "Query": self.query,
            },
            self.error,
        )

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
    error: str = ""  # why its queries last failed

    def to_json(self) -> dict[str, Any]:
        return _with_error(
            {
                "UUID": self.uuid,
                "Name": self.name,
                "Description": self.description,
                "Src": self.src,
                "Dst": self.dst,
                "Metadata": self.metadata,
            },
            self.error,
        )

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
    """The rules in force; what they make is written under ``origin``."""

    def __init__(self, live: Live, origin: str, budget: QueryBudget) -> None:
        self.live = live
        self.origin = origin
        self.budget = budget
        self.node_rules: dict[str, NodeRule] = {}
        self.edge_rules: dict[str, EdgeRule] = {}

    # -- applying ------------------------------------------------------------------
    async def apply_all(self) -> None:
        """Bring the graph in line with every rule; idempotent, so safe after any change.
        Rule queries run in slices; what they select is re-read from the graph when
        it is written, so changes made meanwhile are respected."""
        for node_rule in list(self.node_rules.values()):
            await self.apply_node_rule(node_rule)
        for edge_rule in list(self.edge_rules.values()):
            await self.apply_edge_rule(edge_rule)

    async def apply_node_rule(self, rule: NodeRule) -> None:
        store = self.live.store
        if rule.action == "create":
            node_id = rule.node_id()
            if self.live.graph.node(node_id) is None:
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
                rule.compiled, self.live.graph, self.live.past, AS_JSON, self.budget, where=RULE
            )
        except QueryError as exc:
            _failed(rule, str(exc))
            return
        _failed(rule, "")
        ops = [{"Type": OP_SET, "Key": k, "Value": v} for k, v in rule.metadata.items()]
        for item in result if isinstance(result, list) else []:
            if not isinstance(item, dict) or "Parent" in item:
                continue
            node = self.live.graph.node(str(item.get("ID")))
            if node is not None:
                store.set_metadata(node, apply_ops(node.metadata, ops))
                rule.touched.add(node.id)

    async def apply_edge_rule(self, rule: EdgeRule) -> None:
        graph = self.live.graph
        if rule.edge_id is not None and graph.edge(rule.edge_id) is not None:
            return
        try:
            src = await _first_node_id(self.live, rule.src_compiled, self.budget)
            dst = await _first_node_id(self.live, rule.dst_compiled, self.budget)
        except QueryError as exc:
            _failed(rule, str(exc))
            return
        _failed(rule, "")
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
                self.live.store.add_edge(
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
        graph, store = self.live.graph, self.live.store
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
        if rule.edge_id is not None and self.live.graph.edge(rule.edge_id) is not None:
            self.live.store.delete_edge(rule.edge_id, self.origin)
