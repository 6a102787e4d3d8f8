"""Where a command's network comes from: an NB (``--nb URL``) or an analyzer (``--analyzer``).

``query``, ``trace``, ``reach``, ``nb`` and ``collector`` share these arguments and
readers, so every command opens an NB the same way (``memory://sample`` included),
logs in to an analyzer the same way (``--user`` with ``--password``,
``--password-file`` or ``$DRAGONSCOPE_PASSWORD``) and reports a source it cannot
read in one line.
"""

from __future__ import annotations

import argparse

from dragonscope import config
from dragonscope.cli.common import operator_errors
from dragonscope.graph import Edge, Graph, GraphError, Indexer, Node
from dragonscope.nb import NbReader, ProjectNames, Snapshot, open_reader
from dragonscope.nb.backends import BackendError, MemoryUrl, parse_url
from dragonscope.skydive import (
    AnalyzerError,
    AnalyzerHttp,
    Credentials,
    EndpointError,
    analyzer_base_url,
)
from dragonscope.topology import snapshot_from_graph, translate

DEFAULT_ANALYZER = "127.0.0.1:8082"
# memory://sample: the demo's small cloud.
SAMPLE = "sample"
NB_URLS = "etcd://H:P[,H:P], redis://H:P[/DB], file:///dump.json or memory://sample"


def open_nb(url: str) -> NbReader:
    """A reader for any NB URL; ``memory://sample`` is the demo's small cloud (the demo's
    modules are imported for it only: a collector does without them)."""
    with operator_errors(BackendError, what=f"cannot read {url}"):
        target = parse_url(url)
        if not isinstance(target, MemoryUrl) or target.name != SAMPLE:
            return open_reader(url)
        from dragonscope import demo

        return demo.open_nb(url)


def add_source_arguments(
    parser: argparse.ArgumentParser, *, required: bool, nb_help: str, analyzer_help: str
) -> None:
    """``--nb`` or ``--analyzer`` (one of them), and how to log in to the analyzer."""
    where = parser.add_mutually_exclusive_group(required=required)
    where.add_argument("--nb", metavar="URL", help=f"{nb_help}: {NB_URLS}")
    where.add_argument("--analyzer", metavar="HOST:PORT", help=analyzer_help)
    add_login_arguments(parser)


def add_login_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", help="analyzer user name")
    parser.add_argument(
        "--password",
        help="analyzer password (prefer --password-file or DRAGONSCOPE_PASSWORD)",
    )
    parser.add_argument("--password-file", metavar="PATH", help="file holding the password")


def analyzer_http(args: argparse.Namespace) -> AnalyzerHttp:
    """A client of ``--analyzer`` (default 127.0.0.1:8082) logged in as ``--user``."""
    with operator_errors(config.ConfigError, EndpointError):
        base = analyzer_base_url(args.analyzer or DEFAULT_ANALYZER)
        credentials = None
        if args.user:
            if args.password_file:
                password = config.read_secret_file(args.password_file)
            else:
                password = config.Secret(args.password or config.env_value("PASSWORD") or "")
            credentials = Credentials(args.user, password)
    return AnalyzerHttp(base, credentials, timeout=60.0)


async def nb_snapshot(url: str) -> Snapshot:
    """Every object of the NB at ``url``, read once."""
    with operator_errors(BackendError, OSError, what=f"cannot read {url}"):
        async with open_nb(url) as reader:
            snapshot, _revision = await reader.snapshot()
    return snapshot


async def nb_graph(url: str) -> Graph:
    """The graph the collector would publish for the NB at ``url``, built here."""
    nodes, edges = translate(await nb_snapshot(url))
    graph = Graph()
    for node in nodes.values():
        graph.add_node(node)
    for edge in edges.values():
        graph.add_edge(edge)
    Indexer.attach(graph)
    return graph


async def analyzer_snapshot(args: argparse.Namespace) -> Snapshot:
    """The NB objects behind the analyzer's graph (each node keeps them under ``Dragonflow``)."""
    async with analyzer_http(args) as http:
        with operator_errors(
            AnalyzerError, what=f"cannot read the graph from analyzer {args.analyzer}"
        ):
            graph = await http.topology()
    with operator_errors(
        GraphError,
        AttributeError,
        TypeError,
        what=f"analyzer {args.analyzer} sent a malformed graph",
    ):
        nodes = [Node.from_json(n) for n in graph.get("Nodes") or []]
        edges = [Edge.from_json(e) for e in graph.get("Edges") or []]
    return snapshot_from_graph(nodes, edges)


async def analyzer_project_names(args: argparse.Namespace) -> ProjectNames:
    """The project names the analyzer knows (none from a Skydive analyzer)."""
    what = f"cannot read project names from analyzer {args.analyzer}"
    async with analyzer_http(args) as http:
        with operator_errors(AnalyzerError, what=what):
            names = await http.tenants()
    return ProjectNames(names)


async def snapshot(args: argparse.Namespace) -> Snapshot:
    """The snapshot from ``--nb`` or, failing that, from ``--analyzer``."""
    return await (nb_snapshot(args.nb) if args.nb else analyzer_snapshot(args))
