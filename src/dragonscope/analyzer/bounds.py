"""The one place the analyzer decodes what clients send.

Every JSON input (REST bodies, both WebSocket endpoints) is decoded by
``loads``: it refuses ``NaN``/``Infinity`` and numbers that overflow to them,
nesting deeper than the configured depth (also what would exhaust the C
decoder's recursion), and says which bound was hit. ``size_over`` and
``check_metadata`` measure what a decoded element would cost, stopping as soon
as the bound is passed, so that measuring a hostile value is as cheap as the
bound. Answers are written with ``skydive.compact_json``, which never writes
non-standard JSON.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterable
from typing import Any

import orjson

from dragonscope.graph import json_size

# Bound names, as clients read them in 4xx texts, WebSocket close reasons and
# rejection rules, and as metrics label them.
BODY = "max-body-bytes"
FRAME = "max-frame-bytes"
DEPTH = "max-json-depth"
NUMBER = "finite-numbers"
ELEMENT = "max-element-bytes"
KEY = "max-metadata-key-length"
METADATA_DEPTH = "max-metadata-depth"
JSON_SYNTAX = "json"


class InputRefused(ValueError):
    """Input past a bound (or not JSON); ``bound`` names which, the text says how."""

    def __init__(self, bound: str, detail: str) -> None:
        super().__init__(f"{detail} ({bound})")
        self.bound = bound
        self.detail = detail


def _constant(name: str) -> Any:
    raise InputRefused(NUMBER, f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InputRefused(NUMBER, f"number {text[:40]} is out of range")
    return value


# An integer orjson would read as a float (past 64 bits) has 20 digits or more: a text
# with such a run goes through ``json``. Found as a run of one byte once every digit is
# mapped to it (a regular expression took several times as long as decoding).
_DIGITS_AS_ZERO = bytes(ord("0") if chr(i).isdigit() and i < 128 else i for i in range(256))
_LONG_RUN = b"0" * 20


def loads(data: str | bytes, max_depth: int) -> Any:
    """Decode one JSON text under the bounds; InputRefused says what is wrong.

    orjson decodes several times faster and refuses what ``json`` is told to refuse
    here (``NaN``, ``Infinity``, numbers that overflow to them); a text it refuses, or
    with an integer it would turn into a float, is decoded again by ``json``, which
    says which bound it breaks."""
    value: Any = _NOT_DECODED
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    if _LONG_RUN not in raw.translate(_DIGITS_AS_ZERO):
        with contextlib.suppress(orjson.JSONDecodeError, UnicodeError):
            value = orjson.loads(data)
    if value is _NOT_DECODED:
        value = _json_loads(data, max_depth)
    # A text with no more brackets than the bound cannot nest deeper (most frames).
    if _openers(data) > max_depth and depth_over(value, max_depth):
        raise InputRefused(DEPTH, f"JSON nested deeper than {max_depth} levels")
    return value


_NOT_DECODED = object()


def _json_loads(data: str | bytes, max_depth: int) -> Any:
    try:
        return json.loads(data, parse_constant=_constant, parse_float=_finite)
    except InputRefused:
        raise
    except RecursionError:
        raise InputRefused(DEPTH, f"JSON nested deeper than {max_depth} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputRefused(JSON_SYNTAX, f"invalid JSON: {exc}") from None


def _openers(data: str | bytes) -> int:
    if isinstance(data, str):
        return data.count("{") + data.count("[")
    return data.count(b"{") + data.count(b"[")


def depth_over(value: Any, limit: int) -> bool:
    """Whether decoded JSON ``value`` nests containers deeper than ``limit`` (the top one
    is level 1). Level by level: a frame is wide and shallow, and a list of the next
    level costs far less per container than a stack of (container, depth) pairs."""
    level = _containers((value,))
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: list[Any] = []
        for item in level:
            below += _containers(item.values() if type(item) is dict else item)
        level = below
    return False


def _containers(values: Iterable[Any]) -> list[Any]:
    return [v for v in values if type(v) is dict or type(v) is list]


def size_over(value: Any, limit: int) -> bool:
    """Whether the compact JSON of ``value`` would take more than about ``limit`` bytes;
    stops counting past the limit (a value sharing one subtree many times is cheap)."""
    return json_size(value, limit) > limit


def stored_size(metadata: Any, limit: int) -> int:
    """The compact JSON size of metadata the graph holds, for a partial update's bound.

    Stored metadata passed the bounds when stored and is plain JSON, so orjson measures
    it exactly in microseconds, where walking it in Python took about a tenth of a
    millisecond per update of a port. An integer past 64 bits (which orjson does not
    write) is measured by ``json_size``."""
    try:
        return len(orjson.dumps(metadata))
    except orjson.JSONEncodeError:
        return json_size(metadata, limit)


def check_metadata(metadata: Any, max_key: int, max_depth: int) -> bool:
    """Refuse metadata keys longer than ``max_key`` or nesting deeper than ``max_depth``.

    Returns whether the metadata hold a float: Skydive stores integral ones as integers,
    and metadata without any (nearly all) need no normalizing pass. Told here, by the walk
    the bounds take anyway, rather than by a second scan of the whole frame. ``metadata``
    is decoded JSON (string keys, plain dicts and lists), walked level by level as in
    ``depth_over``."""
    if type(metadata) is not dict and type(metadata) is not list:
        return type(metadata) is float
    floats = False
    level = [metadata]
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            raise InputRefused(METADATA_DEPTH, f"metadata nested deeper than {max_depth}")
        below: list[Any] = []
        for item in level:
            children: Iterable[Any] = item
            if type(item) is dict:
                if item and max(map(len, item)) > max_key:
                    key = next(k for k in item if len(k) > max_key)
                    raise InputRefused(
                        KEY, f"metadata key {key[:40]!r}... longer than {max_key} characters"
                    )
                children = item.values()
            for child in children:
                kind = type(child)
                if kind is dict or kind is list:
                    below.append(child)
                elif kind is float:
                    floats = True
        level = below
    return floats
