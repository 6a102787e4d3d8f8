"""Skydive-compatible analyzer: publishers in, one graph, Gremlin, history, subscribers out.

Owns the analyzer service: ``app`` composes the graph engine, the services
(auth, subscribers' hub, rules, alerts, monitor) and mounts ``endpoints/``
(the WebSockets) and ``rest/`` (REST and the web UI under ``static/``), each
given the typed services it needs. It builds on graph, skydive, gremlin and
trace through their surfaces, and must not import collector, demo or cli
(which sit above it), nor any NB reader or writer.
"""

from dragonscope.analyzer.app import Analyzer, AnalyzerError, RouteSetup
from dragonscope.analyzer.settings import (
    DEFAULT_HISTORY_RETENTION,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_TOKEN_TTL,
    LIMITS,
    AnalyzerSettings,
    is_loopback,
)
from dragonscope.analyzer.users import ROLES, UsersFileError, add_user

__all__ = [
    "DEFAULT_HISTORY_RETENTION",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_TOKEN_TTL",
    "LIMITS",
    "ROLES",
    "Analyzer",
    "AnalyzerError",
    "AnalyzerSettings",
    "RouteSetup",
    "UsersFileError",
    "add_user",
    "is_loopback",
]
