"""Dragonflow's northbound DB: schema, parsing and read-only backends."""

from dragonscope.nb import tables
from dragonscope.nb.fields import Reference
from dragonscope.nb.model import Change, NbObject, Problem, Snapshot
from dragonscope.nb.reader import NbReader, open_reader
from dragonscope.nb.schema import TABLES, redact

__all__ = [
    "TABLES",
    "Change",
    "NbObject",
    "NbReader",
    "Problem",
    "Reference",
    "Snapshot",
    "open_reader",
    "redact",
    "tables",
]
