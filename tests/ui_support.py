"""Support for the browser tests: a dragonscope process on a free port, and headless Chromium."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from servers import free_port, wait_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A container's /dev/shm is often 64 MiB: the renderer then crashes ("Target crashed").
    "--disable-dev-shm-usage",
]
DRAGONSCOPE = [sys.executable, "-m", "dragonscope"]


@contextmanager
def dragonscope_process(*args: str, port_flag: str = "--port") -> Iterator[tuple[str, Path]]:
    """Run ``dragonscope ARGS --port P`` until the block ends; yields (base URL, log path)."""
    port = free_port()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"dragonscope-ui-{port}.log"
    cmd = [*DRAGONSCOPE, *args]
    cmd += [port_flag, f"127.0.0.1:{port}" if port_flag == "--listen" else str(port)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        try:
            wait_port(port, timeout=60)
        except TimeoutError:
            raise RuntimeError(
                f"{' '.join(args)} did not start:\n{log.read_text()[-3000:]}"
            ) from None
        yield f"http://127.0.0.1:{port}", log
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        log.unlink(missing_ok=True)


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.1):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)
