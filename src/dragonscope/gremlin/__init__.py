"""Skydive's Gremlin dialect over any GraphView.

``run(query, view)`` returns what Skydive's ``POST /api/topology`` would;
``compile_query`` parses once for repeated use, and the compiled query runs
one way: ``run``/``run_async`` with :class:`RunOptions` (the past for ``At``,
"now") and a :class:`Form` (``AS_JSON`` by default, ``AS_TEXT``, ``AS_BYTES``,
``AS_VIEW``). Every user mistake raises ``GremlinError`` with a message that
says where and what. ``render`` turns a result into a table for a terminal;
``SAVED_QUERIES``/``expand`` are the named, parameterised queries.

Gremlin reads graphs through ``dragonscope.graph`` only: it knows nothing of the
NB, the wire or the services that run it.
"""

from dragonscope.gremlin.engine import (
    AS_BYTES,
    AS_JSON,
    AS_TEXT,
    AS_VIEW,
    CompiledQuery,
    Form,
    RunOptions,
    compile_query,
    run,
)
from dragonscope.gremlin.errors import GremlinError
from dragonscope.gremlin.render import render
from dragonscope.gremlin.saved import SAVED_QUERIES, expand

__all__ = [
    "AS_BYTES",
    "AS_JSON",
    "AS_TEXT",
    "AS_VIEW",
    "SAVED_QUERIES",
    "CompiledQuery",
    "Form",
    "GremlinError",
    "RunOptions",
    "compile_query",
    "expand",
    "render",
    "run",
]
