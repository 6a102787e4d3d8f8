"""Password rotation: the collector reads its password file again when a login is refused,
and logs in with the new password without a restart."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from dragonscope.analyzer.app import Analyzer
from dragonscope.analyzer.settings import AnalyzerSettings
from dragonscope.analyzer.users import add_user
from dragonscope.collector import Collector, CollectorSettings
from dragonscope.demo import sample_backend
from servers import free_port
from stopping import stop_tasks


async def until(predicate: Any, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_a_rotated_password_is_read_again_from_its_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    users, password_file = tmp_path / "users", tmp_path / "password"
    add_user(users, "collector", "publisher", "first-password")
    password_file.write_text("first-password\n")
    port = free_port()
    analyzer = Analyzer(AnalyzerSettings(port=port, users_file=users))
    await analyzer.start()
    collector = Collector(
        CollectorSettings(
            nb=sample_backend("memory://sample"),
            analyzer=f"127.0.0.1:{port}",
            extensions=[],
            user="collector",
            password="first-password",
            password_file=str(password_file),
            backoff_initial=0.05,
            backoff_max=0.2,
        )
    )
    task = asyncio.create_task(collector.run())
    try:
        await until(lambda: collector.synced)
        logins = collector.link.http.logins
        # The analyzer's password changes (and it restarts): the old password is refused.
        await analyzer.stop()
        add_user(users, "collector", "publisher", "second-password")
        analyzer = Analyzer(AnalyzerSettings(port=port, users_file=users))
        await analyzer.start()
        await until(lambda: "refused (HTTP 401)" in caplog.text)
        assert f"password from {password_file}" in caplog.text
        assert not collector.stats["analyzer_connected"]
        # The operator updates the file: the next attempt logs in, no restart needed.
        password_file.write_text("second-password\n")
        await until(lambda: collector.stats["analyzer_connected"])
        await until(lambda: analyzer.graph.node_count() > 0)
        assert collector.link.http.logins > logins
        assert f"password file {password_file} changed" in caplog.text
        assert "second-password" not in caplog.text and "first-password" not in caplog.text
    finally:
        await stop_tasks(task)
        await analyzer.stop()
