"""The WebSocket publisher against the real analyzer: headers, login, re-login, 409, backoff."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dragonscope.analyzer.app import Analyzer
from dragonscope.analyzer.settings import AnalyzerSettings
from dragonscope.analyzer.users import add_user
from dragonscope.config import Secret
from dragonscope.skydive.messages import NODE_ADDED, new_message
from dragonscope.skydive.publisher import Backoff, Publisher, PublisherDisconnected
from dragonscope.skydive.rest import (
    AnalyzerError,
    AnalyzerHttp,
    AuthenticationError,
    Credentials,
    EndpointError,
    analyzer_base_url,
)
from servers import free_port

PASSWORD = "pub-secret-42"


@pytest.fixture
async def analyzer(tmp_path: Path) -> AsyncIterator[Analyzer]:
    users = tmp_path / "users"
    add_user(users, "pub", "publisher", PASSWORD)
    add_user(users, "viewer", "reader", PASSWORD)
    server = Analyzer(AnalyzerSettings(port=0, users_file=users, token_ttl=0.5))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def http(server: Analyzer, user: str = "pub", password: str = PASSWORD) -> AnalyzerHttp:
    return AnalyzerHttp(f"http://127.0.0.1:{server.port}", Credentials(user, Secret(password)))


def node(node_id: str) -> dict[str, object]:
    return {"ID": node_id, "Metadata": {"Name": node_id, "Type": "lport"}, "Host": "h"}


async def until(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def test_publishes_with_origin_and_persistence(analyzer: Analyzer) -> None:
    client = http(analyzer)
    publisher = Publisher(client, "compute-1", persistence="DeleteOnDisconnect")
    try:
        await asyncio.wait_for(publisher.connect(), 5)
        assert publisher.connected and client.logins == 1
        await publisher.send(new_message(NODE_ADDED, node("n1")))
        await until(lambda: analyzer.graph.node("n1") is not None)
        assert analyzer.graph.node("n1").origin == "dragonscope-collector.compute-1"
        # The REST side shares the login.
        found = await client.gremlin("G.V().Has('@Origin', 'dragonscope-collector.compute-1')")
        assert [n["ID"] for n in found] == ["n1"]
    finally:
        await publisher.disconnect()
        await client.close()
    # DeleteOnDisconnect: the analyzer drops what this origin held.
    await until(lambda: analyzer.graph.node("n1") is None)


async def test_expired_token_means_a_new_login(analyzer: Analyzer) -> None:
    client = http(analyzer)
    publisher = Publisher(client, "h1")
    try:
        await asyncio.wait_for(publisher.connect(), 5)
        await publisher.disconnect()
        await asyncio.sleep(0.7)  # token TTL is 0.5 s
        await asyncio.wait_for(publisher.connect(), 5)
        assert client.logins == 2
        # REST too: a 401 on the query leads to one login and a retry.
        await asyncio.sleep(0.7)
        assert await client.gremlin("G.V().Count()") == 0
        assert client.logins == 3
    finally:
        await publisher.disconnect()
        await client.close()


async def test_wrong_password_retries_and_never_logs_it(
    analyzer: Analyzer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = http(analyzer, password="not-the-password-77")
    publisher = Publisher(client, "h2", backoff=Backoff(0.01, 0.05))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(publisher.connect(), 3)
    assert publisher.connect_failures >= 2
    assert "refused" in publisher.last_error
    assert "not-the-password-77" not in caplog.text
    assert PASSWORD not in caplog.text
    try:
        with pytest.raises(AuthenticationError):
            await client.login()
    finally:
        await client.close()


async def test_reader_role_cannot_publish(analyzer: Analyzer) -> None:
    client = http(analyzer, user="viewer")
    publisher = Publisher(client, "h3", backoff=Backoff(0.01, 0.05))
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(publisher.connect(), 2)
        assert "publisher role" in publisher.last_error
    finally:
        await client.close()


async def test_same_host_id_waits_for_the_first(analyzer: Analyzer) -> None:
    first_http, second_http = http(analyzer), http(analyzer)
    first = Publisher(first_http, "same")
    second = Publisher(second_http, "same", backoff=Backoff(0.02, 0.05))
    waiting = None
    try:
        await asyncio.wait_for(first.connect(), 5)
        waiting = asyncio.create_task(second.connect())
        await until(lambda: "still connected" in second.last_error, timeout=20)
        assert not waiting.done()
        await first.disconnect()
        await asyncio.wait_for(waiting, 5)
        assert second.connected
    finally:
        if waiting is not None:
            waiting.cancel()
        await first.disconnect()
        await second.disconnect()
        await first_http.close()
        await second_http.close()


async def test_rejections_are_counted(analyzer: Analyzer) -> None:
    client = http(analyzer)
    publisher = Publisher(client, "h4")
    try:
        await asyncio.wait_for(publisher.connect(), 5)
        bad = {"ID": "bad", "Metadata": {"Name": "no type"}, "Host": ""}
        await publisher.send(new_message(NODE_ADDED, bad))
        await until(lambda: publisher.rejections == 1)
        assert analyzer.graph.node("bad") is None
    finally:
        await publisher.disconnect()
        await client.close()


async def test_analyzer_down_backs_off_then_connects(tmp_path: Path) -> None:
    port = free_port()
    client = AnalyzerHttp(f"http://127.0.0.1:{port}")
    publisher = Publisher(client, "h5", backoff=Backoff(0.05, 0.2))
    connecting = asyncio.create_task(publisher.connect())
    await asyncio.sleep(0.5)
    assert not connecting.done() and publisher.connect_failures >= 2
    assert "cannot reach" in publisher.last_error
    server = Analyzer(AnalyzerSettings(port=port))
    await server.start()
    try:
        await asyncio.wait_for(connecting, 5)
        assert publisher.connected
        await server.stop()
        await asyncio.wait_for(publisher.wait_closed(), 5)
        with pytest.raises(PublisherDisconnected):
            await publisher.send(new_message(NODE_ADDED, node("x")))
    finally:
        await publisher.disconnect()
        await client.close()
        await server.stop()


@pytest.mark.parametrize(
    ("endpoint", "tls", "url"),
    [
        ("10.0.0.9:8082", False, "http://10.0.0.9:8082"),
        ("10.0.0.9:8082", True, "https://10.0.0.9:8082"),
        ("ws://a.example:9/", False, "http://a.example:9"),
        ("wss://a.example", False, "https://a.example:443"),
        ("[::1]:8082", False, "http://[::1]:8082"),
        ("analyzer", False, "http://analyzer:8082"),
    ],
)
def test_endpoint_forms(endpoint: str, tls: bool, url: str) -> None:
    assert analyzer_base_url(endpoint, tls) == url


@pytest.mark.parametrize("endpoint", ["ftp://x:1", "http://u:p@x:1", "x:notaport", "http://:5"])
def test_bad_endpoints(endpoint: str) -> None:
    with pytest.raises(EndpointError):
        analyzer_base_url(endpoint)


async def test_a_refused_connection_is_said_plainly() -> None:
    async with AnalyzerHttp(f"http://127.0.0.1:{free_port()}") as http:
        with pytest.raises(AnalyzerError) as caught:
            await http.topology()
    message = str(caught.value)
    assert message.endswith(": connection refused"), message
    assert "ssl:" not in message and "Connect call" not in message
