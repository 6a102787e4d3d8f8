"""``dragonscope demo`` and ``dragonscope demo generate``."""

from __future__ import annotations

import argparse
import asyncio
import sys

from dragonscope.cli.common import CliError, Subparsers, operator_errors, stop_on_signals
from dragonscope.demo import (
    SIZES,
    Demo,
    DemoSettings,
    WriterError,
    dump_json,
    generate,
    shown_url,
    write,
)

SIZE_HELP = (
    f"{', '.join(SIZES)} (about 100, 5k and 100k objects) or explicit counts such as "
    "tenants=20,networks_per_tenant=3,vms_per_network=10,chassis=8"
)


def register(subparsers: Subparsers) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="the analyzer, a collector and a live sample cloud in one process",
        description=(
            "Run the analyzer (web UI at http://HOST:PORT/), a collector and a sample "
            "Dragonflow cloud that keeps changing, in one process. Ctrl-C stops it."
        ),
    )
    demo.add_argument(
        "--nb",
        metavar="URL",
        help="use a real NB (etcd://host:port, redis://host:port[/db] or file:///dump.json) "
        "instead of the built-in memory store; it is seeded only when empty",
    )
    demo.add_argument(
        "--seed-nb",
        action="store_true",
        help="write the sample cloud into --nb even when it already holds data",
    )
    demo.add_argument("--host", default="127.0.0.1", help="analyzer address (default %(default)s)")
    demo.add_argument(
        "--insecure",
        action="store_true",
        help="allow a non-loopback --host: the demo has no login, anyone who reaches it sees it",
    )
    demo.add_argument(
        "--port", type=int, default=8082, help="analyzer port (default %(default)s; 0 = any)"
    )
    demo.add_argument("--size", default="small", help=f"sample cloud size: {SIZE_HELP}")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    demo.add_argument(
        "--churn-interval",
        type=float,
        default=3.0,
        metavar="SECONDS",
        help="seconds between two churn events (default %(default)s; 0 = no churn)",
    )
    demo.set_defaults(func=run_demo)
    commands = demo.add_subparsers(dest="demo_command", metavar="COMMAND")
    gen = commands.add_parser(
        "generate",
        help="write a sample cloud to etcd, redis or a df-db dump file",
        description="Generate a realistic Dragonflow NB, deterministic from --seed, and write it "
        "as Dragonflow stores it.",
    )
    gen.add_argument("--size", default="small", help=f"cloud size: {SIZE_HELP}")
    gen.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    gen.add_argument(
        "--out",
        required=True,
        metavar="URL",
        help="etcd://host:port, redis://host:port[/db], file:///path/dump.json, "
        "a path ending in .json, or - for standard output",
    )
    gen.add_argument(
        "--force",
        action="store_true",
        help="write even if the target already holds data (objects with the same ids are "
        "overwritten, others kept)",
    )
    gen.set_defaults(func=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    with operator_errors(ValueError):
        dump = generate(args.size, args.seed)
    if args.out == "-":
        sys.stdout.buffer.write(dump_json(dump))
        sys.stdout.flush()
        return 0
    with operator_errors(WriterError):
        count = asyncio.run(write(dump, args.out, force=args.force))
    print(f"wrote {count} objects ({args.size}, seed {args.seed}) to {shown_url(args.out)}")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    settings = DemoSettings(
        nb=args.nb,
        seed_nb=args.seed_nb,
        host=args.host,
        port=args.port,
        size=args.size,
        seed=args.seed,
        churn_interval=args.churn_interval,
        insecure=args.insecure,
    )
    with operator_errors(ValueError, WriterError):
        settings.check()
    return asyncio.run(_serve(settings))


async def _serve(settings: DemoSettings) -> int:
    from dragonscope.analyzer import AnalyzerError
    from dragonscope.nb.backends import BackendError

    stop = asyncio.Event()
    stop_on_signals(stop.set)
    with operator_errors(AnalyzerError, WriterError, BackendError):
        async with Demo(settings, announce=_announce) as demo:
            await demo.wait(stop)
    if demo.failure:
        raise CliError(demo.failure)
    print("dragonscope demo: stopped", flush=True)
    return 0


def _announce(text: str) -> None:
    print(text, flush=True)
