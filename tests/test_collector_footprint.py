"""What a collector process loads: its own command and layers, not the analyzer's, the
simulator's, the demo's or gRPC (a collector runs on every compute node)."""

from __future__ import annotations

import json
import subprocess
import sys

from dragonscope import ovs
from dragonscope.collector import settings as collector_settings

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
