"""What a collector process loads: its own command and layers, not the analyzer's, the
simulator's, the demo's or gRPC (a collector runs on every compute node), nor OpenSSL
unless something it reaches speaks TLS."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from dragonscope import ovs
from dragonscope.collector import settings as collector_settings
from servers import free_port, wait_port

LOAD = """
import json, sys
from dragonscope.cli import build_parser
build_parser("collector").parse_args(["collector", "--chassis", "compute-1"])
from dragonscope.collector import Collector, CollectorSettings
from dragonscope.nb.backends import open_backend
Collector(CollectorSettings(nb="etcd://127.0.0.1:1", chassis="compute-1", ovs=False))
open_backend("etcd://127.0.0.1:1")
print(json.dumps(sorted(sys.modules)))
"""


def test_a_collector_without_a_probe_loads_only_what_it_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-c", LOAD], check=True, capture_output=True, text=True
    ).stdout
    loaded = set(json.loads(out))
    for package in ("analyzer", "gremlin", "trace", "ovs", "demo", "history"):
        assert not any(m.startswith(f"dragonscope.{package}") for m in loaded), package
    assert "grpc" not in loaded
    assert "dragonscope.nb.backends.etcd" in loaded


def test_the_default_ovsdb_is_the_probes() -> None:
    assert collector_settings.DEFAULT_OVSDB == ovs.DEFAULT_OVSDB


# The command as the operator starts it; the modules it holds are printed when it stops.
RUN = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(m for m, v in sys.modules.items() if v))))
from dragonscope.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _running_collector_loads(*flags: str) -> set[str]:
    """Modules of a chassis collector without a probe that ran and served one scrape;
    ``flags`` name the analyzer unless they give a ``--config``."""
    metrics = free_port()
    args = [
        "collector", "--nb", "etcd://127.0.0.1:1", "--chassis", "compute-1", "--no-ovs",
        "--metrics-listen", f"127.0.0.1:{metrics}", *flags,
    ]  # fmt: skip
    if "--config" not in flags:
        args += ["--analyzer", f"127.0.0.1:{free_port()}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAGONSCOPE_")}
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN, *args], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        wait_port(metrics, 60)
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=30) as resp:
            assert b"dragonscope_collector_" in resp.read()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return set(json.loads(out.splitlines()[-1]))


def test_a_collector_without_tls_goes_without_openssl() -> None:
    loaded = _running_collector_loads()
    assert not {"ssl", "_ssl", "prometheus_client"} & loaded
    assert "dragonscope.collector" in loaded


def test_a_collector_told_to_use_tls_or_redis_has_it(tmp_path: Path) -> None:
    assert "ssl" in _running_collector_loads("--tls")
    assert "ssl" in _running_collector_loads("--nb", "redis://127.0.0.1:1")  # its client needs it
    ini = tmp_path / "dragonflow.ini"
    ini.write_text(f"[df_skydive]\nanalyzer_endpoint = https://127.0.0.1:{free_port()}\n")
    assert "ssl" in _running_collector_loads("--config", str(ini))
