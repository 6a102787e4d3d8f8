"""The sample cloud generator, the churn, the writers and the demo's start-up time.

Figures:

- time to generate the ``medium`` and ``large`` clouds (objects per second);
- churn throughput over the ``large`` cloud (events and writes per second), i.e. how fast a
  benchmark can drive changes into an NB;
- writing the ``large`` cloud into a real etcd with Dragonflow's layout (objects per second,
  128-operation transactions), against the baseline of the same puts one by one;
- ``dragonscope demo``: seconds from starting the process to the analyzer holding the whole
  sample cloud (what a new user waits for after ``make demo``, once installed).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.report import Figure
from dragonscope.demo.churn import Churn
from dragonscope.demo.generate import generate
from dragonscope.demo.writers import open_writer
from dragonscope.nb import encode, object_count

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from servers import EtcdServer, free_port

CHURN_SECONDS = 3.0
BASELINE_PUTS = 5_000


def _generate() -> tuple[list[Figure], dict]:
    figures = []
    large: dict = {}
    for size in ("medium", "large"):
        started = time.perf_counter()
        dump = generate(size, seed=0)
        elapsed = time.perf_counter() - started
        count = object_count(dump)
        figures.append(
            Figure(f"generate {size} cloud", elapsed, "s", f"{count:,} objects",
                   f"{count / elapsed:,.0f} objects/s")
        )  # fmt: skip
        large = dump
    return figures, large


def _churn(dump: dict) -> list[Figure]:
    churn = Churn(dump, seed=0)
    writes = 0
    started = time.perf_counter()
    while time.perf_counter() - started < CHURN_SECONDS:
        writes += len(churn.step())
    elapsed = time.perf_counter() - started
    size = f"{object_count(dump):,} objects"
    return [
        Figure("churn events", churn.events / elapsed, "events/s", size, "one Neutron/Nova action"),
        Figure("churn writes", writes / elapsed, "writes/s", size, "NB puts and deletes"),
    ]


async def _etcd(dump: dict) -> list[Figure]:
    server = EtcdServer()
    server.start()
    try:
        writer = open_writer(server.url)
        try:
            started = time.perf_counter()
            count = await writer.write_dump(dump)
            elapsed = time.perf_counter() - started
            # Baseline: the same kind of puts, one request each.
            client = writer.client  # type: ignore[attr-defined]
            objects = [(t, o) for t, rows in dump.items() if t != "unique_key" for o in rows]
            sample = objects[:BASELINE_PUTS]
            t0 = time.perf_counter()
            for table, obj in sample:
                await client.put(f"/{table}/{obj['id']}".encode(), encode(obj))
            one_by_one = len(sample) / (time.perf_counter() - t0)
        finally:
            await writer.close()
    finally:
        server.cleanup()
    rate = count / elapsed
    return [
        Figure(
            "write cloud to etcd", rate, "objects/s", f"{count:,} objects",
            f"{elapsed:.1f} s in 128-put transactions; one put per request: {one_by_one:,.0f}/s",
        ),
        Figure("write cloud to etcd vs one put per request", rate / one_by_one, "x",
               f"{count:,} objects", "same etcd, same run"),
    ]  # fmt: skip


def _demo_ready() -> Figure:
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dragonscope", "demo", "--port", str(port), "--churn-interval", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )  # fmt: skip
    expected = len(generate("small", seed=0)["lswitch"])
    query = json.dumps({"GremlinQuery": "G.V().Has('Type','lswitch').Count()"}).encode()
    try:
        while time.perf_counter() - started < 60:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/topology", data=query, method="POST"
                )
                with urllib.request.urlopen(request, timeout=2) as reply:
                    if json.load(reply) == expected:
                        break
            except OSError:
                pass
            time.sleep(0.05)
        ready = time.perf_counter() - started
    finally:
        proc.send_signal(2)
        proc.wait(20)
    return Figure("demo ready", ready, "s", "small cloud", "process start → analyzer holds it")


def collect() -> list[Figure]:
    figures, large = _generate()
    figures += _churn(large)
    figures += asyncio.run(_etcd(large))
    figures.append(_demo_ready())
    return figures
