"""Packet simulation through Dragonflow's pipeline: ``Tracer(snapshot).trace(request)``.

    >>> tracer = Tracer(snapshot)
    >>> result = tracer.trace(TraceRequest(source="web-1", destination="db-1", dport=22))
    >>> result.verdict, result.to_json()["drop"]

``docs/trace.md`` documents the JSON form, every drop code and the assumptions.
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
