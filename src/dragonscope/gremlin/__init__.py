"""Skydive's Gremlin dialect over any GraphView.

``run(query, view)`` returns what Skydive's ``POST /api/topology`` would;
``run_async`` does the same without holding an event loop for long;
``compile_query`` parses once for repeated use. Every user mistake raises
``GremlinError`` with a message that says where and what.
"""

from dragonscope.gremlin.engine import CompiledQuery, compile_query, run, run_async
from dragonscope.gremlin.errors import GremlinError

__all__ = ["CompiledQuery", "GremlinError", "compile_query", "run", "run_async"]
