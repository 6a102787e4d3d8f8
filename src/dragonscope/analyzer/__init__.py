"""Skydive-compatible analyzer: publishers in, one graph, Gremlin, history, subscribers out."""

from dragonscope.analyzer.app import Analyzer, AnalyzerError
from dragonscope.analyzer.settings import (
    DEFAULT_HISTORY_RETENTION,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_TOKEN_TTL,
    AnalyzerSettings,
    is_loopback,
)
from dragonscope.analyzer.users import ROLES, UsersFileError, add_user

__all__ = [
    "DEFAULT_HISTORY_RETENTION",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_TOKEN_TTL",
    "ROLES",
    "Analyzer",
    "AnalyzerError",
    "AnalyzerSettings",
    "UsersFileError",
    "add_user",
    "is_loopback",
]
