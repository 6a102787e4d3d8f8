"""Dragonflow's northbound DB: the ground floor every other package reads the NB through.

It owns the NB's vocabulary and nothing above it: the table names (``tables``,
spelled once), the schema and parser (``parse``, ``check``, ``redact``), the
objects as the rest of dragonscope sees them (``NbObject``, ``Change``,
``Snapshot``), the read-only backends behind one reader (``open_reader``,
``NbReader``; the backends themselves, their URLs and key layouts are the
``nb.backends`` surface), and the ``df-db dump`` format with the bytes
Dragonflow stores per object (``Dump``, ``encode``, ``dump_json``).

It imports nothing of dragonscope but ``config``: named sample stores such as
``memory://sample`` belong to the demo, which opens them on top of this package.
"""

from dragonscope.nb import tables
from dragonscope.nb.checkers import is_canonical_ipv4
from dragonscope.nb.dump import (
    COUNTER_VALUE,
    Dump,
    DumpError,
    counters,
    dump_json,
    encode,
    object_count,
    read_dump,
    stored_objects,
)
from dragonscope.nb.fields import Reference, Table
from dragonscope.nb.model import Change, NbObject, Problem, Snapshot
from dragonscope.nb.projects import (
    ProjectNames,
    ProjectNamesFile,
    keystone_project_names,
    parse_project_names,
    read_project_names,
)
from dragonscope.nb.reader import NbReader, open_reader
from dragonscope.nb.schema import (
    PROBLEM_KINDS,
    TABLES,
    check,
    field_value,
    load_order,
    parse,
    redact,
    redacted_field,
    serialize,
    stored_object,
)
from dragonscope.nb.secrets import scrub

__all__ = [
    "COUNTER_VALUE",
    "PROBLEM_KINDS",
    "TABLES",
    "Change",
    "Dump",
    "DumpError",
    "NbObject",
    "NbReader",
    "Problem",
    "ProjectNames",
    "ProjectNamesFile",
    "Reference",
    "Snapshot",
    "Table",
    "check",
    "counters",
    "dump_json",
    "encode",
    "field_value",
    "is_canonical_ipv4",
    "keystone_project_names",
    "load_order",
    "object_count",
    "open_reader",
    "parse",
    "parse_project_names",
    "read_dump",
    "read_project_names",
    "redact",
    "redacted_field",
    "scrub",
    "serialize",
    "stored_object",
    "stored_objects",
    "tables",
]
