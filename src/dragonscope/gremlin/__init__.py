"""Skydive's Gremlin dialect over any GraphView.

``run(query, view)`` returns what Skydive's ``POST /api/topology`` would;
``run_async`` does the same without holding an event loop for long;
``compile_query`` parses once for repeated use. Every user mistake raises
``GremlinError`` with a message that says where and what.
"""

from dragonscope.gremlin.engine import CompiledQuery, compile_query, run, run_async
from dragonscope.gremlin.errors import GremlinError
from dragonscope.gremlin.render import render
from dragonscope.gremlin.saved import SAVED_QUERIES, expand

__all__ = [
    "SAVED_QUERIES",
    "CompiledQuery",
    "GremlinError",
    "compile_query",
    "expand",
    "render",
    "run",
    "run_async",
]
