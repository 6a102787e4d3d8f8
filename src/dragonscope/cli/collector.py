"""``dragonscope collector``: run the collector beside a Dragonflow controller."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from dataclasses import replace

from dragonscope.cli.common import Subparsers, operator_errors, stop_on_signals
from dragonscope.cli.sources import NB_URLS, open_nb
from dragonscope.collector import Collector, settings_from_args
from dragonscope.config import ConfigError
from dragonscope.nb import NbReader
from dragonscope.nb.backends import Backend, BackendError
from dragonscope.skydive import EndpointError

log = logging.getLogger("dragonscope.collector")

EPILOG = """\
Settings come from flags, then DRAGONSCOPE_* environment variables (NB, ANALYZER,
CHASSIS, USER, PASSWORD, PASSWORD_FILE, UPDATE_INTERVAL, METRICS_LISTEN, CONFIG,
HOST_ID, PERSISTENCE, CA, TLS, BACKOFF_MAX, OVSDB), then the [df] and [df_skydive]
sections of --config, then Dragonflow's defaults.

examples:
  dragonscope collector --config /etc/dragonflow/dragonflow.ini
  dragonscope collector --nb etcd://10.0.0.5:2379 --analyzer 10.0.0.9:8082 \\
      --user collector --password-file /etc/dragonscope/password
  dragonscope collector --config /etc/dragonflow/dragonflow.ini --chassis compute-1
"""


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "collector",
        help="publish the Dragonflow NB to an analyzer, live",
        description=(
            "Read the Dragonflow NB DB (read-only), translate it into a Skydive graph and "
            "keep an analyzer (ours or Skydive's) equal to it in real time."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="INI", help="Dragonflow's dragonflow.ini")
    parser.add_argument(
        "--nb", metavar="URL", help=NB_URLS,
    )  # fmt: skip
    parser.add_argument(
        "--analyzer", metavar="HOST:PORT[,HOST:PORT]",
        help="analyzer endpoint (default 127.0.0.1:8082); several, comma-separated, are "
        "each kept in sync on their own (analyzers sharing a PostgreSQL history)",
    )  # fmt: skip
    parser.add_argument("--chassis", metavar="NAME", help="publish only this chassis's slice")
    parser.add_argument("--user", metavar="USER", help="analyzer user")
    parser.add_argument(
        "--password-file", metavar="FILE", help="file whose first line is the analyzer password"
    )
    parser.add_argument(
        "--update-interval", metavar="SECONDS",
        help="reconciliation period (default: [df_skydive] update_interval, else 10)",
    )  # fmt: skip
    parser.add_argument(
        "--metrics-listen", metavar="HOST:PORT", help="serve /metrics and /healthz there"
    )
    parser.add_argument("--tls", action="store_true", default=None, help="use https/wss")
    parser.add_argument("--ca", metavar="FILE", help="CA bundle to verify the analyzer with")
    parser.add_argument(
        "--tls-insecure", action="store_true", help="do not verify the analyzer's certificate"
    )
    parser.add_argument(
        "--host-id", metavar="ID",
        help="publisher identity (default: the chassis name, or 'dragonflow')",
    )  # fmt: skip
    parser.add_argument(
        "--persistence", choices=["Persistent", "DeleteOnDisconnect"],
        help="what the analyzer does with our graph when we disconnect "
        "(default: Persistent globally, DeleteOnDisconnect per chassis)",
    )  # fmt: skip
    parser.add_argument(
        "--backoff-max", metavar="SECONDS", help="cap of the reconnection backoff (default 30)"
    )
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="progress bar during the initial sync (default: when stderr is a terminal)",
    )  # fmt: skip
    parser.add_argument(
        "--ovsdb", metavar="REMOTE",
        help="with --chassis: the local OVSDB, unix:PATH or tcp:HOST:PORT "
        "(default unix:/var/run/openvswitch/db.sock when it exists)",
    )  # fmt: skip
    parser.add_argument("--no-ovs", action="store_true", help="do not probe the local OVS")
    parser.add_argument(
        "--bridge-mappings", metavar="PHYSNET:BRIDGE,...",
        help="Dragonflow's bridge mappings (default: the ini's, else public:br-ex)",
    )  # fmt: skip
    parser.add_argument(
        "--ovs-rules", action="store_true", help="publish every OpenFlow rule as an ofrule node"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with operator_errors(ConfigError):
        settings = settings_from_args(args)
    url = settings.nb
    reader = open_nb(url) if isinstance(url, str) else url
    with operator_errors(ConfigError, EndpointError):
        collector = Collector(replace(settings, nb=reader))
    log.info(
        "collector starting nb=%s analyzer=%s mode=%s persistence=%s",
        _safe_url(reader.url), ", ".join(collector.analyzer_urls),
        f"chassis:{settings.chassis}" if settings.chassis else "global",
        settings.persistence_policy,
    )  # fmt: skip
    with operator_errors(OSError, BackendError, ConfigError, EndpointError):
        asyncio.run(_serve(collector, reader))
    return 0


async def _serve(collector: Collector, reader: NbReader | Backend) -> None:
    """Run until SIGTERM/SIGINT, then stop cleanly (the analyzer sees a normal close)."""
    task = asyncio.create_task(collector.run())
    stop_on_signals(task.cancel)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        await reader.close()
    log.info("collector stopped")


def _safe_url(url: str) -> str:
    """An NB URL without any credentials it may carry."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url
