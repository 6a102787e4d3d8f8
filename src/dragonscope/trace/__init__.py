"""Packet simulation through Dragonflow's pipeline: ``Tracer(snapshot).trace(request)``.

    >>> tracer = Tracer(snapshot)
    >>> result = tracer.trace(TraceRequest(source="web-1", destination="db-1", dport=22))
    >>> result.verdict, result.to_json()["drop"]

``docs/trace.md`` documents the JSON form, every drop code and the assumptions.
"""

from dragonscope.trace.engine import DEFAULT_APPS, Tracer, TraceResult, parse_apps, trace
from dragonscope.trace.model import DROP_CODES, TABLES, TraceError
from dragonscope.trace.request import TraceRequest

__all__ = [
    "DEFAULT_APPS",
    "DROP_CODES",
    "TABLES",
    "TraceError",
    "TraceRequest",
    "TraceResult",
    "Tracer",
    "parse_apps",
    "trace",
]
