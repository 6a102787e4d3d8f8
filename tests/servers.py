"""Real etcd and redis servers for tests, on free loopback ports.

Each server runs in its own temporary data directory, can be killed and
restarted on the same port (to test outages), and is always stopped by the
fixture that started it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import aetcd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from system_deps import PROGRAMS, which

T = TypeVar("T")


def require(program: str) -> str:
    """The program's path, or one clear failure line naming the Debian package that ships it."""
    path = which(program)
    if path is None:
        package = PROGRAMS.get(program, "?")
        pytest.fail(
            f"{program} is not installed: `make test` installs the Debian package {package!r}",
            pytrace=False,
        )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(
    port: int,
    timeout: float = 15.0,
    host: str = "127.0.0.1",
    server: subprocess.Popen[bytes] | None = None,
) -> None:
    """Until something listens on ``port``; TimeoutError, at once if ``server`` exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (server is None or server.poll() is None):
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


class _Server:
    binary = ""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"dragonscope-{self.binary}-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.dir / "server.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        """Start the server; on its first start, on other ports if one was taken meanwhile
        (the port ``free_port`` found can become a client's ephemeral port before the
        server binds it). A restart keeps its ports: its clients reconnect there."""
        first = self.proc is None and not self.log.exists()
        for attempt in range(3):
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen(
                    self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.dir
                )
            try:
                wait_port(self.port, server=self.proc)
                return
            except TimeoutError:
                self.stop()
                tail = self.log.read_text()[-2000:]
                if not (first and attempt < 2 and "address already in use" in tail.lower()):
                    raise RuntimeError(f"{self.binary} did not start:\n{tail}") from None
                self.log.unlink()
                self.choose_ports()

    def choose_ports(self) -> None:
        self.port = free_port()

    def kill(self) -> None:
        """Simulate a crash: SIGKILL, no clean shutdown."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class EtcdServer(_Server):
    binary = "etcd"

    def __init__(self) -> None:
        super().__init__()
        self.peer_port = free_port()

    def choose_ports(self) -> None:
        super().choose_ports()
        self.peer_port = free_port()

    @property
    def url(self) -> str:
        return f"etcd://127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            "etcd",
            "--name", "test",
            "--data-dir", str(self.dir / "data"),
            "--listen-client-urls", f"http://127.0.0.1:{self.port}",
            "--advertise-client-urls", f"http://127.0.0.1:{self.port}",
            "--listen-peer-urls", f"http://127.0.0.1:{self.peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer_port}",
            "--initial-cluster", f"test=http://127.0.0.1:{self.peer_port}",
            "--log-level", "error",
        ]  # fmt: skip

    def save_snapshot(self, path: Path) -> None:
        """A backup, as operators take one: ``etcdctl snapshot save``."""
        self.etcdctl("snapshot", "save", str(path))

    def restore_snapshot(self, path: Path) -> None:
        """Restore a backup as operators do: stop etcd, ``etcdctl snapshot restore``
        into a new data directory, start etcd on it, on the same ports."""
        self.stop()
        data = self.dir / "data"
        shutil.rmtree(data, ignore_errors=True)
        subprocess.run(
            [
                require("etcdctl"), "snapshot", "restore", str(path),
                "--data-dir", str(data),
                "--name", "test",
                "--initial-cluster", f"test=http://127.0.0.1:{self.peer_port}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer_port}",
            ],
            check=True, capture_output=True, timeout=30,
            env={**os.environ, "ETCDCTL_API": "3"},
        )  # fmt: skip
        self.start()

    def wipe(self) -> None:
        """Lose everything: stop etcd, delete its data directory, start it empty."""
        self.stop()
        shutil.rmtree(self.dir / "data", ignore_errors=True)
        self.start()

    def etcdctl(self, *args: str) -> str:
        """etcdctl as operators drive it: for tests about the server itself."""
        out = subprocess.run(
            [require("etcdctl"), f"--endpoints=127.0.0.1:{self.port}", *args],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        return out.stdout.decode()

    def put(self, key: str, value: str) -> None:
        self._client(lambda c: c.put(key.encode(), value.encode()))

    def delete(self, key: str) -> None:
        self._client(lambda c: c.delete(key.encode()))

    def get(self, key: str) -> str | None:
        """The key's value, through the same etcd client library the project reads with."""
        result = self._client(lambda c: c.get(key.encode()))
        return None if result is None else result.value.decode()

    def _client(self, call: Callable[[aetcd.Client], Awaitable[T]]) -> T:
        """Runs one client call on a loop of its own, so sync and async tests can both use it."""

        async def once() -> T:
            async with aetcd.Client(host="127.0.0.1", port=self.port, timeout=10) as client:
                return await call(client)

        box: list[T] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                box.append(asyncio.run(once()))
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        thread.join(60)
        if errors:
            raise errors[0]
        return box[0]


class RedisServer(_Server):
    binary = "redis-server"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            "redis-server",
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.dir),
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "always",
        ]  # fmt: skip


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A one-day certificate for 127.0.0.1 and its key (openssl: make test installs it)."""
    cert, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run(
        [
            require("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key
