"""NB schema: parsing, serializing and cross-checking a large cloud's NB, in one process.

The input is the demo generator's ``large`` cloud (about 100k stored objects),
encoded byte for byte as Dragonflow stores it; no database is involved, so
these figures are the parser's own cost (backend figures include it on top of
the store's).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from bench.report import Figure
from dragonscope.demo.generate import generate
from dragonscope.nb import encode
from dragonscope.nb.schema import check, parse, serialize

ROUNDS = 3


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _best(run: Callable[[], object]) -> float:
    """Best wall time of a few rounds: the least disturbed by the other processes on the box."""
    return min(_timed(run) for _ in range(ROUNDS))


def _best_pair(first: Callable[[], object], second: Callable[[], object]) -> tuple[float, float]:
    """Best times of two runs measured in alternation, for a ratio that load cannot skew."""
    pairs = [(_timed(first), _timed(second)) for _ in range(ROUNDS)]
    return min(p[0] for p in pairs), min(p[1] for p in pairs)


def collect() -> list[Figure]:
    dump = generate("large", seed=1)
    entries = [
        (table, row["id"], encode(row))
        for table, rows in dump.items()
        if table != "unique_key"
        for row in rows
    ]
    count = len(entries)
    size = f"{count:,} objects"

    parsed = [parse(table, id_, raw) for table, id_, raw in entries]
    snapshot = {obj.key: obj for obj in parsed}
    invalid = sum(1 for obj in parsed if obj.problems)

    # Interleaved rounds, so that a burst of load elsewhere hits both sides of the ratio.
    bare, full = _best_pair(
        lambda: [json.loads(raw) for _, _, raw in entries],
        lambda: [parse(table, id_, raw) for table, id_, raw in entries],
    )
    out = _best(lambda: [serialize(obj) for obj in parsed])
    cross = _best(lambda: check(snapshot))
    problems = len(check(snapshot))

    return [
        Figure("parse + validate", count / full, "objects/s", size, f"{invalid} invalid objects"),
        Figure("bare json.loads", count / bare, "objects/s", size, "baseline, no validation"),
        Figure("parse cost vs json.loads", full / bare, "x", size, "lower is better"),
        Figure("serialize", count / out, "objects/s", size, "Dragonflow's byte form"),
        Figure("check (cross-object)", cross * 1000, "ms", size, f"{problems} problems found"),
    ]
