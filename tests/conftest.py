"""Fixtures shared by the whole suite: real servers, started by the tests themselves."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from postgres_server import PostgresServer
from servers import EtcdServer, RedisServer

# An analyzer the tests start without --history keeps its history in memory, never in the
# machine's data directory (the tests that are about durable history name their own file).
os.environ.setdefault("DRAGONSCOPE_HISTORY", "memory")


@pytest.fixture
def etcd_server() -> Iterator[EtcdServer]:
    server = EtcdServer()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server for one test module (each module gets its own)."""
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()
