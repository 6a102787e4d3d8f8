"""``dragonscope demo`` and ``dragonscope demo generate`` as an operator runs them."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from dragonscope.demo.generate import generate
from dragonscope.nb import dump_json
from servers import free_port


def dragonscope(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dragonscope", *args],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def gremlin(port: int, query: str) -> list:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/topology",
        data=json.dumps({"GremlinQuery": query}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.load(reply)


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class DemoProcess:
    """The demo as a child process, its output read line by line in the background."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dragonscope", "demo", "--port", str(self.port), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        for stream, sink in ((self.proc.stdout, self.stdout), (self.proc.stderr, self.stderr)):
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()

    def _pump(self, stream, sink: list[str]) -> None:
        for line in stream:
            sink.append(line)
            self.lines.put(line)

    def wait_line(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if text in line:
                return line
        raise AssertionError(
            f"no line with {text!r}; output:\n{''.join(self.stdout + self.stderr)}"
        )

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def demo():
    processes: list[DemoProcess] = []

    def start(*args: str) -> DemoProcess:
        processes.append(DemoProcess(*args))
        return processes[-1]

    yield start
    for process in processes:
        process.stop()


def lport_state(port: int) -> dict[str, object]:
    return {n["ID"]: n["Metadata"] for n in gremlin(port, "G.V().Has('Type','lport')")}


def test_demo_starts_shows_the_cloud_goes_live_and_stops_cleanly(demo) -> None:
    process = demo("--churn-interval", "0.3")
    url_line = process.wait_line("Open the UI:")
    assert f"http://127.0.0.1:{process.port}/" in url_line
    process.wait_line("dragonscope query --analyzer")
    process.wait_line("dragonscope trace --analyzer")
    sample = generate("small", seed=0)
    networks = {s["id"] for s in sample["lswitch"]}

    def synced():
        found = gremlin(process.port, "G.V().Has('Type','lswitch')")
        return {n["Metadata"]["Dragonflow"]["id"] for n in found} == networks

    wait_for(synced, 30, "the sample cloud's networks in the analyzer")
    routers = gremlin(process.port, "G.V().Has('Type','lrouter')")
    assert sorted(n["Metadata"]["Name"] for n in routers) == sorted(
        r["name"] for r in sample["lrouter"]
    )
    everything = json.dumps([gremlin(process.port, "G.V()"), gremlin(process.port, "G.E()")])
    passwords = [peer["password"] for peer in sample["bgp_peer"] if "password" in peer]
    assert passwords and not any(password in everything for password in passwords)
    first = lport_state(process.port)
    assert abs(len(first) - len(sample["lport"])) <= 5
    wait_for(lambda: lport_state(process.port) != first, 30, "a churned change over REST")
    process.wait_line("churn: ")
    assert process.stop() == 0
    output = "".join(process.stdout + process.stderr)
    assert "Traceback" not in output
    assert "dragonscope demo: stopped" in output


def test_demo_refuses_a_busy_port_in_one_line(demo) -> None:
    first = demo("--churn-interval", "0")
    first.wait_line("Open the UI:")
    result = dragonscope("demo", "--port", str(first.port))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("dragonscope demo: cannot listen on")
    assert "Traceback" not in result.stderr


def test_demo_against_etcd_seeds_it_once(demo, etcd_server) -> None:
    process = demo("--nb", etcd_server.url, "--churn-interval", "0.5")
    process.wait_line("Open the UI:")
    wait_for(lambda: gremlin(process.port, "G.V().Has('Type','lrouter')"), 30, "routers")
    assert process.stop() == 0
    assert etcd_server.get("/unique_key/lrouter") == "3"
    again = demo("--nb", etcd_server.url)
    line = again.wait_line("dragonscope demo:")
    assert "the NB as it is" in line and "no churn" in line
    assert again.stop() == 0


def test_generate_prints_or_writes_the_same_bytes(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dragonscope", "demo", "generate", "--seed", "3", "--out", "-"],
        capture_output=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0
    assert result.stdout == dump_json(generate("small", seed=3))
    path = tmp_path / "cloud.json"
    written = dragonscope("demo", "generate", "--size", "tenants=2,chassis=2", "--out", str(path))
    assert written.returncode == 0, written.stderr
    assert "wrote" in written.stdout
    assert path.read_bytes() == dump_json(generate("tenants=2,chassis=2"))
    again = dragonscope("demo", "generate", "--seed", "1", "--out", str(path))
    assert again.returncode == 2
    assert "already holds data; give --force" in again.stderr
    assert path.read_bytes() == dump_json(generate("tenants=2,chassis=2"))  # untouched
    forced = dragonscope("demo", "generate", "--seed", "1", "--out", str(path), "--force")
    assert forced.returncode == 0, forced.stderr
    assert path.read_bytes() == dump_json(generate("small", seed=1))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo", "generate", "--size", "huge", "--out", "-"], "unknown size 'huge'"),
        (["demo", "generate", "--out", "ftp://x/y"], "unknown scheme 'ftp'"),
        (["demo", "--churn-interval", "-1"], "cannot be negative"),
        (["demo", "--nb", "etcd://"], "names no host"),
        (["demo", "--host", "0.0.0.0"], "the demo has no login: refusing to listen on 0.0.0.0"),
        (["demo", "--size", "tenants=0"], "tenants, networks_per_tenant and chassis"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(args: list[str], message: str) -> None:
    result = dragonscope(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_generated_etcd_passes_nb_check_but_for_the_deliberate_breaks(etcd_server) -> None:
    written = dragonscope(
        "demo", "generate", "--size", "medium", "--seed", "2", "--out", etcd_server.url
    )
    assert written.returncode == 0, written.stderr
    result = dragonscope("nb", "check", "--nb", etcd_server.url, "--json")
    assert result.returncode == 1, result.stderr
    problems = json.loads(result.stdout)
    assert sorted((p["table"], p["field"].split("[")[0], p["kind"]) for p in problems) == [
        ("floatingip", "lport", "dangling-reference"),
        ("lport", "binding.chassis", "dangling-reference"),
        ("lport", "security_groups", "dangling-reference"),
    ]


def test_unreachable_or_unwritable_targets_are_one_line(tmp_path: Path) -> None:
    port = free_port()
    cases = [
        (["demo", "--port", "0", "--nb", f"etcd://127.0.0.1:{port}"], "cannot read"),
        (["demo", "--port", "0", "--nb", f"redis://127.0.0.1:{port}"], "cannot read"),
        (["demo", "generate", "--out", f"redis://127.0.0.1:{port}"], "cannot read"),
        (["demo", "generate", "--out", str(tmp_path / "missing" / "x.json")], "cannot write"),
    ]
    for args, message in cases:
        result = dragonscope(*args)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("dragonscope demo: ") and message in last, last
    assert not (tmp_path / "missing").exists()


def test_a_redis_password_never_reaches_the_terminal(demo, redis_server) -> None:
    url = f"redis://:pw-do-not-show@127.0.0.1:{redis_server.port}"
    generated = dragonscope("demo", "generate", "--out", url)
    assert generated.returncode == 0, generated.stderr
    assert "redis://:***@127.0.0.1" in generated.stdout
    process = demo("--nb", url, "--seed-nb", "--churn-interval", "0.2")
    assert "redis://:***@127.0.0.1" in process.wait_line("dragonscope demo:")
    process.wait_line("churn: ")
    assert process.stop() == 0
    shown = "".join(process.stdout + process.stderr) + generated.stdout + generated.stderr
    assert "pw-do-not-show" not in shown
