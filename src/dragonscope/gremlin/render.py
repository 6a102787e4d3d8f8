"""Gremlin results as text tables for a terminal."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from dragonscope.graph import Json

NODE_COLUMNS = ("ID", "Type", "Name", "Tenant", "Chassis", "IPV4", "MAC", "State")
EDGE_COLUMNS = ("ID", "RelationType", "Parent", "Child")
MAX_CELL = 40


def render(result: Json, max_rows: int = 0) -> str:
    """A readable rendering of any JSON result of ``POST /api/topology``; tables and
    path lists stop after ``max_rows`` rows (0: no limit) and say how many they left out."""
    if result is None:
        return "(no values)"
    if isinstance(result, bool) or not isinstance(result, list):
        return json.dumps(result)
    items: list[Any] = result  # shapes are checked below, element by element
    if not items:
        return "(nothing matched)"
    if all(_is_graph(x) for x in items):
        return "\n\n".join(_graph(g, max_rows) for g in items)
    if all(_is_edge(x) for x in items):
        return _table(
            EDGE_COLUMNS, [_edge_row(e) for e in _head(items, max_rows)], "edge", len(items)
        )
    if all(_is_node(x) for x in items):
        rows = [_node_row(n) for n in _head(items, max_rows)]
        return _table(_node_columns(items), rows, "node", len(items))
    if all(isinstance(x, list) and all(_is_node(n) for n in x) for x in items):
        lines = [_path(p) for p in _head(items, max_rows)]
        return "\n".join(lines) + "\n" + _count(len(lines), len(items), "path")
    return "\n".join(json.dumps(x, sort_keys=True) for x in items)


def _head(items: list[Any], max_rows: int) -> list[Any]:
    return items[:max_rows] if max_rows else items


def _count(shown: int, total: int, what: str) -> str:
    plural = what if total == 1 else what + "s"
    if shown < total:
        return f"({total} {plural}, first {shown} shown; --json prints all)"
    return f"({total} {plural})"


def _is_node(x: Any) -> bool:
    return isinstance(x, dict) and "ID" in x and "Metadata" in x and "Parent" not in x


def _is_edge(x: Any) -> bool:
    return isinstance(x, dict) and "ID" in x and "Parent" in x and "Child" in x


def _is_graph(x: Any) -> bool:
    return isinstance(x, dict) and set(x) == {"Nodes", "Edges"}


def _graph(graph: dict[str, Any], max_rows: int) -> str:
    nodes, edges = graph["Nodes"] or [], graph["Edges"] or []
    names = {n["ID"]: n["Metadata"].get("Name", n["ID"]) for n in nodes}
    node_rows = [_node_row(n) for n in _head(nodes, max_rows)]
    edge_rows = [_edge_row(e, names) for e in _head(edges, max_rows)]
    parts = [
        _table(_node_columns(nodes), node_rows, "node", len(nodes)),
        _table(EDGE_COLUMNS, edge_rows, "edge", len(edges)),
    ]
    return "\n\n".join(parts)


def _node_columns(nodes: Iterable[dict[str, Any]]) -> tuple[str, ...]:
    present = {"ID", "Type", "Name"}
    for n in nodes:
        present.update(k for k in n.get("Metadata", {}) if k in NODE_COLUMNS)
    return tuple(c for c in NODE_COLUMNS if c in present)


def _node_row(node: dict[str, Any]) -> dict[str, str]:
    row = {k: _cell(v) for k, v in node.get("Metadata", {}).items() if k in NODE_COLUMNS}
    row["ID"] = node["ID"]
    return row


def _edge_row(edge: dict[str, Any], names: dict[str, str] | None = None) -> dict[str, str]:
    names = names or {}
    return {
        "ID": edge["ID"],
        "RelationType": _cell(edge.get("Metadata", {}).get("RelationType", "")),
        "Parent": _cell(names.get(edge["Parent"], edge["Parent"])),
        "Child": _cell(names.get(edge["Child"], edge["Child"])),
    }


def _path(path: list[dict[str, Any]]) -> str:
    hops = (
        f"{n['Metadata'].get('Name', n['ID'])} ({n['Metadata'].get('Type', '?')})" for n in path
    )
    return " -> ".join(hops)


def _cell(value: Any) -> str:
    if isinstance(value, list):
        text = ", ".join(_cell(v) for v in value)
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value)
    text = " ".join(text.split())  # no newlines or tabs from metadata in a table
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _table(columns: tuple[str, ...], rows: list[dict[str, str]], what: str, total: int) -> str:
    cells = [list(columns), *[[row.get(c, "") for c in columns] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n" + _count(len(rows), total, what)
