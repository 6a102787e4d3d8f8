"""The demo generator's cloud as the parsed snapshot a topology loads."""

from __future__ import annotations

from dragonscope.demo import generate
from dragonscope.nb import NbObject
from dragonscope.nb.schema import parse


def demo_snapshot(size: str, seed: int) -> dict[tuple[str, str], NbObject]:
    """Every object of the generated cloud (not its key counters), parsed, by key."""
    dump = generate(size, seed=seed)
    return {
        (table, obj["id"]): parse(table, obj["id"], obj)
        for table, rows in dump.items()
        if table != "unique_key"
        for obj in rows
    }
