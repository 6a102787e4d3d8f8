"""The parsed form of a query: steps with their arguments, each with its position."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Word:
    """A bare keyword argument: ASC, DESC, NOW or FOREVER (upper-cased)."""

    name: str


@dataclass(frozen=True, slots=True)
class Call:
    """A predicate or ``Metadata(...)`` call; ``name`` is upper-cased (``NE``, ``METADATA``)."""

    name: str
    args: tuple[Arg, ...]


Value = str | int | float | bool | Word | Call


@dataclass(frozen=True, slots=True)
class Arg:
    value: Value
    pos: int


@dataclass(frozen=True, slots=True)
class Step:
    """One ``.Name(args)``; ``name`` is the canonical spelling (``HasEither``)."""

    name: str
    args: tuple[Arg, ...]
    pos: int


# Step names, keyed by their lower-case form (keywords are case-insensitive).
STEPS = {
    name.lower(): name
    for name in (
        "V", "E", "Context", "At", "Has", "HasEither", "HasKey", "HasNot",
        "Out", "In", "Both", "OutE", "InE", "BothE", "OutV", "InV", "BothV",
        "Dedup", "Count", "Range", "Limit", "Sort", "Values", "ValueMap", "Keys", "Sum",
        "As", "Select", "ShortestPathTo", "SubGraph", "Descendants", "Ascendants",
        "Neighbors", "Metrics", "Flows", "Group", "MoreThan",
    )
}  # fmt: skip

PREDICATES = frozenset(
    {"NE", "NEE", "LT", "GT", "LTE", "GTE", "INSIDE", "BETWEEN", "WITHIN", "WITHOUT",
     "REGEX", "IPV4RANGE", "METADATA"}
)  # fmt: skip

WORDS = frozenset({"ASC", "DESC", "NOW", "FOREVER"})
