"""Skydive's node and edge schemas, as plain checks that name the rule that failed.

The real analyzer validates published and REST-created elements against JSON
schemas; these functions apply the same rules and return a precise reason.
"""

from __future__ import annotations

from typing import Any

from dragonscope.graph.model import Edge, Node


class ValidationError(ValueError):
    """An element breaks a schema rule; ``rule`` is a short stable name for metrics."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule
        self.detail = detail


def _non_empty_str(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def check_node_metadata(metadata: dict[str, Any]) -> None:
    node_type = metadata.get("Type")
    if not _non_empty_str(node_type):
        raise ValidationError("schema", "invalid schema: Metadata.Type must be a non-empty string")
    if not _non_empty_str(metadata.get("Name")):
        raise ValidationError("schema", "invalid schema: Metadata.Name must be a non-empty string")
    if node_type == "netns" and not isinstance(metadata.get("Path"), str):
        raise ValidationError("schema", "invalid schema: a netns node needs a string Metadata.Path")
    if node_type == "ovsport" and not isinstance(metadata.get("UUID"), str):
        raise ValidationError(
            "schema", "invalid schema: an ovsport node needs a string Metadata.UUID"
        )


def check_edge_metadata(metadata: dict[str, Any]) -> None:
    if not _non_empty_str(metadata.get("RelationType")):
        raise ValidationError(
            "schema", "invalid schema: Metadata.RelationType must be a non-empty string"
        )


def check_node(node: Node) -> None:
    check_node_metadata(node.metadata)


def check_edge(edge: Edge) -> None:
    check_edge_metadata(edge.metadata)


def normalize(metadata: dict[str, Any]) -> dict[str, Any]:
    """Integral floats become integers, as Skydive stores them (at any depth)."""
    return {key: normalize_value(value) for key, value in metadata.items()}


def normalize_value(value: object) -> object:
    """A copy of a JSON value with integral floats as integers (containers are new)."""
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**63 else value
    if isinstance(value, dict):
        return {k: normalize_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize_value(v) for v in value]
    return value
