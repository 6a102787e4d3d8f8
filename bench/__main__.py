"""Run every benchmark, print one table, and write docs/benchmarks.md.

Each ``bench/bench_<area>.py`` exposes ``collect() -> list[Figure]`` (plain or
async). ``python -m bench area1 area2`` runs only those areas.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from bench.report import Figure, markdown_table, text_table

HERE = Path(__file__).parent
DOCS = HERE.parent / "docs" / "benchmarks.md"


def machine_note() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}"


def run_area(name: str) -> list[Figure]:
    module = importlib.import_module(f"bench.bench_{name}")
    result = module.collect()
    if inspect.isawaitable(result):
        result = asyncio.run(result)
    return list(result)


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="dragonscope-bench-") as state:
        # An analyzer a benchmark starts without --history keeps it in a file of this run,
        # as a deployed one does (durable by default), never in the machine's data directory.
        os.environ.setdefault("DRAGONSCOPE_HISTORY", f"sqlite://{state}/history.db")
        return run(argv)


def run(argv: list[str]) -> int:
    areas = argv or sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    figures: list[Figure] = []
    started = time.monotonic()
    for area in areas:
        print(f"== {area}", flush=True)
        t0 = time.monotonic()
        area_figures = run_area(area)
        figures.extend(area_figures)
        print(text_table(area_figures), flush=True)
        print(f"({time.monotonic() - t0:.0f} s)\n", flush=True)
    elapsed = time.monotonic() - started
    print("== all figures")
    print(text_table(figures))
    if not argv:
        DOCS.write_text(
            "# Benchmarks\n\n"
            f"Produced by `make bench` in {elapsed / 60:.1f} min on {machine_note()}.\n"
            "Each figure is measured in the same run as its baseline, where it has one.\n\n"
            + markdown_table(figures)
            + "\n"
        )
        print(f"\nwrote {DOCS.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
