"""Helpers for the analyzer tests: an in-process analyzer, in a thread when a
blocking client (skydive-client) drives it, and message builders."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from dragonscope.analyzer import Analyzer, AnalyzerSettings


def node(node_id: str, name: str | None = None, type_: str = "fabric", **extra: Any) -> dict:
    metadata = {"Name": name or node_id, "Type": type_, **extra}
    return {"ID": node_id, "Host": "", "Metadata": metadata}


def edge(edge_id: str, parent: str, child: str, relation: str = "layer2", **extra: Any) -> dict:
    return {
        "ID": edge_id,
        "Host": "",
        "Parent": parent,
        "Child": child,
        "Metadata": {"RelationType": relation, **extra},
    }


def msg(type_: str, obj: Any, uuid: str = "") -> str:
    return json.dumps(
        {"Namespace": "Graph", "Type": type_, "UUID": uuid, "Status": 200, "Obj": obj}
    )


def publisher_headers(host: str, client_type: str = "test", persistent: bool = True) -> dict:
    return {
        "X-Host-ID": host,
        "X-Client-Type": client_type,
        "X-Client-Protocol": "json",
        "X-Persistence-Policy": "Persistent" if persistent else "DeleteOnDisconnect",
    }


def settings(**overrides: Any) -> AnalyzerSettings:
    return AnalyzerSettings(host="127.0.0.1", port=0, host_id="analyzer-test", **overrides)


async def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Wait until ``check()`` is truthy (it returns the value) or fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout} s")
        await asyncio.sleep(0.02)


class ThreadedAnalyzer:
    """An analyzer on its own event loop thread, for tests whose client blocks."""

    def __init__(self, **overrides: Any) -> None:
        self.analyzer = Analyzer(settings(**overrides))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> Analyzer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.analyzer.start(), self._loop).result(10)
        return self.analyzer

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the analyzer's loop (safe access to its graph)."""

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.analyzer.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


async def reply_to(ws: Any, uuid: str) -> dict[str, Any]:
    """The next text frame answering ``uuid`` (frames before it are skipped)."""
    while True:
        frame = await ws.receive(timeout=10)
        assert frame.type == aiohttp.WSMsgType.TEXT, frame
        body = json.loads(frame.data)
        if body.get("UUID") == uuid:
            return body
