"""``dragonscope query``: run a Gremlin query against an analyzer or straight on an NB."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from dragonscope.cli.common import CliError, Subparsers, operator_errors
from dragonscope.cli.sources import DEFAULT_ANALYZER, add_source_arguments, analyzer_http, nb_graph
from dragonscope.graph import Json
from dragonscope.gremlin import SAVED_QUERIES, GremlinError, compile_query, expand, render
from dragonscope.skydive import AnalyzerError


def register(subparsers: Subparsers) -> None:
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
    add_source_arguments(
        parser,
        required=False,
        nb_help="build the graph from this NB",
        analyzer_help="query this analyzer through POST /api/topology "
        f"(default {DEFAULT_ANALYZER})",
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
        with operator_errors(GremlinError):
            return expand(args.saved, params)
    if args.param:
        raise CliError("--param only goes with --saved")
    if not args.query:
        raise CliError('give a query, e.g. "G.V().Count()", or --saved NAME')
    query: str = args.query
    return query


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


async def run_on_nb(query: str, url: str) -> Json:
    """Read the NB, translate it to a graph like the collector does, and query it here."""
    with operator_errors(GremlinError):
        compiled = compile_query(query)
    graph = await nb_graph(url)
    with operator_errors(GremlinError):
        return await compiled.run_async(graph)


async def run_on_analyzer(query: str, args: argparse.Namespace) -> Json:
    """The analyzer runs the query; its answer is the JSON Skydive's API gives."""
    async with analyzer_http(args) as http:
        with operator_errors(AnalyzerError):
            return await http.gremlin(query)
