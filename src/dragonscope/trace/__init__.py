"""Packet simulation through Dragonflow's pipeline: ``Tracer(snapshot).trace(request)``.

    >>> tracer = Tracer(snapshot)
    >>> result = tracer.trace(TraceRequest(source="web-1", destination="db-1", dport=22))
    >>> result.verdict, result.to_json()["drop"]

It owns the simulation: the NB as the pipeline reads it (``objects``, ``index``), the
question and its first packet (``request``, ``resolve``, ``guest``), the walk and its
stages (``walk``, ``pipeline`` and one module per stage), the reachability matrix,
what-if patches and the text forms of a result. ``docs/trace.md`` documents the JSON
form, every drop code and the assumptions.

It reads a snapshot through ``dragonscope.nb`` and names graph nodes through
``dragonscope.topology``; it must not import the wire (``skydive``), the query language
(``gremlin``) or the services and commands above it, which run it on their snapshots.
"""

from dragonscope.trace.engine import DEFAULT_APPS, Tracer, TraceResult, parse_apps, trace
from dragonscope.trace.index import IGNORED_TABLES
from dragonscope.trace.model import DROP_CODES, TABLES, TraceError
from dragonscope.trace.reach import matrix
from dragonscope.trace.render import FORMATS, render, render_matrix
from dragonscope.trace.request import PROTOCOLS, TraceRequest
from dragonscope.trace.whatif import apply_patch

__all__ = [
    "DEFAULT_APPS",
    "DROP_CODES",
    "FORMATS",
    "IGNORED_TABLES",
    "PROTOCOLS",
    "TABLES",
    "TraceError",
    "TraceRequest",
    "TraceResult",
    "Tracer",
    "apply_patch",
    "matrix",
    "parse_apps",
    "render",
    "render_matrix",
    "trace",
]
