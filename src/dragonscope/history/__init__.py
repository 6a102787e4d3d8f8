"""Durable history: the graph's changes and checkpoints in SQLite or PostgreSQL.

The in-memory history (``graph.History``) answers the recent past; this package
keeps every change beyond the analyzer's life and memory. ``open_store`` turns
a ``--history`` URL into a store (``sqlite:///path/to/file.db``: the path after
``sqlite://``, so three slashes for an absolute one; ``postgresql://...``);
``Recorder`` writes the live graph's changes to it off the event loop;
``DurableHistory`` rebuilds the past from it. It builds on graph only, and
knows nothing of the analyzer that composes it.
"""

from __future__ import annotations

from pathlib import Path

from dragonscope.history.postgres import PostgresStore
from dragonscope.history.reader import DurableChanges, DurableHistory
from dragonscope.history.recorder import Recorder, RecorderSettings, RecorderStats
from dragonscope.history.sqlite import SqliteStore
from dragonscope.history.store import (
    Checkpoint,
    Gap,
    HistoryStore,
    Row,
    StoreUnavailable,
    Written,
)

__all__ = [
    "Checkpoint",
    "DurableChanges",
    "DurableHistory",
    "Gap",
    "HistoryStore",
    "PostgresStore",
    "Recorder",
    "RecorderSettings",
    "RecorderStats",
    "Row",
    "SqliteStore",
    "StoreUnavailable",
    "Written",
    "check_url",
    "open_store",
]

_SCHEMES = ("sqlite://", "postgresql://", "postgres://")


def check_url(url: str) -> str:
    """The URL if it names a store this package has; ValueError with the forms otherwise."""
    if not url.startswith(_SCHEMES) or url in _SCHEMES:
        raise ValueError(
            f"unknown history store {url!r}: expected sqlite:///path/to/history.db "
            "or postgresql://user@host/db"
        )
    return url


def open_store(url: str) -> HistoryStore:
    check_url(url)
    if url.startswith("sqlite://"):
        return SqliteStore(Path(url.removeprefix("sqlite://")))
    return PostgresStore(url)
