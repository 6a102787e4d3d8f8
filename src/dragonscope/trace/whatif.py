"""What-if patches: NB objects to add, change or remove, applied to a copy of a snapshot.

The operator writes the change they are about to make in Neutron (an extra security
group rule, a port disabled, a route removed) and traces on the patched copy; the real
snapshot is never modified. Patch format (every section optional)::

    {"put":    {"<table>": [<whole stored object, with "id">, ...]},
     "update": {"<table>": [{"id": "...", "<field>": <new value>, ...}]},
     "append": {"<table>": [{"id": "...", "<list field>": [<items to add>]}]},
     "delete": {"<table>": ["<id>", ...]}}
"""

from __future__ import annotations

import copy
from typing import Any

from dragonscope.graph import Json
from dragonscope.nb import NbObject, Snapshot
from dragonscope.trace.model import TraceError

SECTIONS = ("put", "update", "append", "delete")


def _entries(patch: dict[str, Any], section: str) -> list[tuple[str, Any]]:
    body = patch.get(section, {})
    if not isinstance(body, dict):
        raise TraceError(f"patch section {section!r} must map table names to lists")
    out: list[tuple[str, Any]] = []
    for table, items in body.items():
        if not isinstance(items, list):
            raise TraceError(f"patch {section}.{table} must be a list")
        out.extend((table, item) for item in items)
    return out


def _object_id(section: str, table: str, item: Any) -> str:
    obj_id = item.get("id") if isinstance(item, dict) else None
    if not isinstance(obj_id, str) or not obj_id:
        raise TraceError(f'patch {section}.{table}: every entry needs a string "id"')
    return obj_id


def apply_patch(snapshot: Snapshot, patch: Json) -> Snapshot:
    """A patched copy of ``snapshot``; raises TraceError naming the first bad entry."""
    if not isinstance(patch, dict):
        raise TraceError("a patch must be a JSON object")
    unknown = set(patch) - set(SECTIONS)
    if unknown:
        raise TraceError(f"unknown patch section(s) {sorted(unknown)}; use {', '.join(SECTIONS)}")
    out = dict(snapshot)
    for table, item in _entries(patch, "put"):
        obj_id = _object_id("put", table, item)
        out[(table, obj_id)] = NbObject(table, obj_id, copy.deepcopy(item))
    for section in ("update", "append"):
        for table, item in _entries(patch, section):
            obj_id = _object_id(section, table, item)
            current = out.get((table, obj_id))
            if current is None:
                raise TraceError(f"patch {section}: {table}/{obj_id} is not in the snapshot")
            data = copy.deepcopy(current.data)
            for key, value in item.items():
                if key == "id":
                    continue
                if section == "update":
                    data[key] = copy.deepcopy(value)
                elif not isinstance(value, list) or not isinstance(data.get(key, []), list):
                    raise TraceError(f"patch append: {table}/{obj_id}.{key} is not a list")
                else:
                    data[key] = [*data.get(key, []), *copy.deepcopy(value)]
            out[(table, obj_id)] = NbObject(table, obj_id, data)
    for table, obj_id in _entries(patch, "delete"):
        if not isinstance(obj_id, str) or (table, obj_id) not in out:
            raise TraceError(f"patch delete: {table}/{obj_id} is not in the snapshot")
        del out[(table, obj_id)]
    return out
