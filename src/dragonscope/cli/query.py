"""``dragonscope query``: run a Gremlin query against an analyzer or straight on an NB."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from dragonscope.cli.errors import CliError
from dragonscope.gremlin import SAVED_QUERIES, GremlinError, expand, render


def register(subparsers: argparse._SubParsersAction) -> None:
    saved = ", ".join(f"{q.name}({', '.join(q.params)})" for q in SAVED_QUERIES.values())
    parser = subparsers.add_parser(
        "query",
        help="run a Gremlin query (Skydive's dialect) and print a table or JSON",
        description=(
            "Run a Gremlin query against a running analyzer (--analyzer) or on a graph built "
            "locally from an NB database (--nb), and print a table, or JSON with --json."
        ),
        epilog=f"Saved queries: {saved}.",
    )
    parser.add_argument("query", nargs="?", help="e.g. \"G.V().Has('Type', 'lport').Limit(5)\"")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--analyzer",
        metavar="HOST:PORT",
        help="query this analyzer through POST /api/topology (default 127.0.0.1:8082)",
    )
    source.add_argument(
        "--nb",
        metavar="URL",
        help="build the graph from this NB (etcd://, redis://, file:///dump.json, memory://sample)",
    )
    parser.add_argument(
        "--saved", metavar="NAME", help="run a saved query instead (see the list below)"
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter of the saved query (repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print the raw JSON result")
    parser.add_argument(
        "--max-rows",
        type=int,
        default=1000,
        metavar="N",
        help="rows per table (default %(default)s; 0 = all)",
    )
    parser.add_argument("--user", help="analyzer user name")
    parser.add_argument(
        "--password",
        help="analyzer password (prefer --password-file or DRAGONSCOPE_PASSWORD)",
    )
    parser.add_argument("--password-file", metavar="PATH", help="file holding the password")
    parser.set_defaults(func=run_command)


def query_text(args: argparse.Namespace) -> str:
    if args.saved:
        if args.query:
            raise CliError("give either a query or --saved NAME, not both")
        params: dict[str, str] = {}
        for item in args.param:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise CliError(f"--param {item!r}: write KEY=VALUE")
            params[key] = value
        try:
            return expand(args.saved, params)
        except GremlinError as exc:
            raise CliError(str(exc)) from None
    if args.param:
        raise CliError("--param only goes with --saved")
    if not args.query:
        raise CliError('give a query, e.g. "G.V().Count()", or --saved NAME')
    return args.query


def run_command(args: argparse.Namespace) -> int:
    query = query_text(args)
    if args.nb:
        result = asyncio.run(run_on_nb(query, args.nb))
    else:
        result = asyncio.run(run_on_analyzer(query, args))
    if args.json:
        json.dump(result, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print(render(result, max(args.max_rows, 0)))
    return 0


async def run_on_nb(query: str, url: str) -> Any:
    """Read the NB, translate it to a graph like the collector does, and query it here."""
    from dragonscope.graph import Graph, Indexer
    from dragonscope.gremlin import compile_query
    from dragonscope.nb import open_reader
    from dragonscope.nb.backends import BackendError
    from dragonscope.topology import translate

    try:
        compiled = compile_query(query)
    except GremlinError as exc:
        raise CliError(str(exc)) from None
    try:
        async with open_reader(url) as reader:
            snapshot, _revision = await reader.snapshot()
    except (BackendError, OSError) as exc:
        raise CliError(f"cannot read {url}: {exc}") from None
    nodes, edges = translate(snapshot)
    graph = Graph()
    for node in nodes.values():
        graph.add_node(node)
    for edge in edges.values():
        graph.add_edge(edge)
    Indexer.attach(graph)
    try:
        return await compiled.run_async(graph)
    except GremlinError as exc:
        raise CliError(str(exc)) from None


async def run_on_analyzer(query: str, args: argparse.Namespace) -> Any:
    from dragonscope import config
    from dragonscope.skydive import AnalyzerError, AnalyzerHttp, Credentials, analyzer_base_url

    try:
        base = analyzer_base_url(args.analyzer or "127.0.0.1:8082")
        credentials = None
        if args.user:
            if args.password_file:
                password = config.read_secret_file(args.password_file)
            else:
                text = args.password or config.env_value("PASSWORD") or ""
                password = config.Secret(text)
            credentials = Credentials(args.user, password)
    except config.ConfigError as exc:
        raise CliError(str(exc)) from None
    http = AnalyzerHttp(base, credentials)
    try:
        return await http.gremlin(query)
    except AnalyzerError as exc:
        raise CliError(str(exc)) from None
    finally:
        await http.close()
