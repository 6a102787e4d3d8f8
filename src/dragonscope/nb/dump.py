"""The ``df-db dump -f json`` format and the bytes Dragonflow stores per object, in one place.

A dump is ``{table: [object, ...]}``, plus the counters table ``unique_key`` as
``[{"id": <table>, "unique_key": <last value>}]``. The dump-file backend reads
it here and the demo writes it here (files, and every object it stores in etcd,
redis or memory through ``encode``), so what one writes the other reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from dragonscope.nb.tables import NON_OBJECT_TABLES, UNIQUE_KEY

Dump = dict[str, list[dict[str, Any]]]
"""A ``df-db dump``: table name -> stored objects (JSON objects)."""

COUNTER_VALUE = "unique_key"
"""The field of a ``unique_key`` row holding the last value allocated for its table."""


class DumpError(ValueError):
    """The text is not a ``df-db dump`` (invalid JSON, or not tables of objects). One line."""


def encode(obj: object) -> bytes:
    """One stored object, byte for byte as Dragonflow serializes it (keys sorted).

    Anything JSON can hold is accepted, so that a bad row of a dump is stored as
    it is and reported by the parser rather than lost here.
    """
    return json.dumps(obj, sort_keys=True).encode()


def dump_json(dump: Dump) -> bytes:
    """The whole dump as ``df-db dump -f json`` prints it (stable bytes)."""
    return json.dumps(dump, sort_keys=True, indent=1).encode() + b"\n"


def read_dump(text: bytes, source: str) -> dict[str, Any]:
    """The JSON object of a dump file; DumpError naming ``source`` when it is not one.

    Tables are not judged here: a table that is not a list, or a row that is not
    an object, is left for the reader to report without losing the rest.
    """
    try:
        dump = json.loads(text)
    except ValueError as exc:
        raise DumpError(f"{source} is not valid JSON: {exc}") from exc
    if not isinstance(dump, dict):
        raise DumpError(
            f"{source} is not a df-db dump: expected a JSON object of "
            f"table -> list of objects, got {type(dump).__name__}"
        )
    return dump


def stored_objects(dump: Dump) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every ``(table, object)`` of a dump, counters and other non-objects left out."""
    for table, rows in dump.items():
        if table not in NON_OBJECT_TABLES:
            for obj in rows:
                yield table, obj


def counters(dump: Dump) -> dict[str, int]:
    """The ``unique_key`` counters of a dump: table -> last value allocated."""
    return {row["id"]: int(row[COUNTER_VALUE]) for row in dump.get(UNIQUE_KEY, [])}


def object_count(dump: Dump) -> int:
    """Stored objects in a dump, not counting the unique-key counters."""
    return sum(len(rows) for table, rows in dump.items() if table not in NON_OBJECT_TABLES)
