"""``dragonscope nb``: look at a Dragonflow NB directly (dump, watch, check).

Every command only reads. Results go to stdout; progress and summaries to
stderr, so ``dragonscope nb dump ... > dump.json`` gives a file that
``--nb file://dump.json`` reads back. Secret fields (BGP peer passwords) are
never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any, TextIO

from dragonscope.cli.common import CliError, Subparsers, operator_errors
from dragonscope.cli.sources import NB_URLS, open_nb
from dragonscope.config import ConfigError, read_dragonflow_ini
from dragonscope.nb import TABLES, Change, NbObject, NbReader, Problem, Snapshot, check, redact
from dragonscope.nb.backends import BackendError

NB_HELP = f"{NB_URLS} (default: $DRAGONSCOPE_NB, else --config)"

EPILOG = """\
examples:
  dragonscope nb dump --nb etcd://10.0.0.5:2379 > nb.json
  dragonscope nb check --nb file://nb.json
  dragonscope nb check --config /etc/dragonflow/dragonflow.ini
  dragonscope nb watch --nb redis://10.0.0.5:6379 --table lport --json
"""


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "nb",
        help="read the Dragonflow NB DB directly: dump, watch, check",
        description="Read a Dragonflow NB DB (never writes to it).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="nb_command", metavar="COMMAND", required=True)

    dump = commands.add_parser(
        "dump",
        help="print every object as JSON, in df-db dump's shape",
        description=(
            "Print the NB as {table: [object, ...]}, each object as stored "
            "(secrets left out). Readable back with --nb file://FILE."
        ),
    )
    _common(dump)
    dump.add_argument("--compact", action="store_true", help="one line instead of indented JSON")
    dump.set_defaults(func=_runner(_dump))

    watch = commands.add_parser(
        "watch",
        help="print changes as they happen, one line each",
        description="Print every change to the NB, one line each, until interrupted.",
    )
    _common(watch)
    watch.add_argument("--json", action="store_true", help="one JSON object per line")
    watch.add_argument(
        "--since", type=int, metavar="REV",
        help="start after this revision (default: now)",
    )  # fmt: skip
    watch.add_argument(
        "--count", type=int, metavar="N", help="stop after N changes (default: never)"
    )
    watch.set_defaults(func=_runner(_watch))

    check = commands.add_parser(
        "check",
        help="report invalid objects and dangling references (exit 1 if any)",
        description=(
            "Validate every object and the references between them. Exit code 0 when "
            "the NB is clean, 1 when problems were found, 2 when it cannot be read."
        ),
    )
    _common(check)
    check.add_argument("--json", action="store_true", help="problems as a JSON list")
    check.set_defaults(func=_runner(_check))


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--nb", metavar="URL", default=os.environ.get("DRAGONSCOPE_NB"), help=NB_HELP
    )
    parser.add_argument(
        "--config", metavar="INI",
        help="take the NB from Dragonflow's dragonflow.ini ([df] nb_db_class, remote_db_hosts)",
    )  # fmt: skip
    parser.add_argument(
        "--table", action="append", metavar="TABLE",
        help="only this table (repeatable)",
    )  # fmt: skip


def _runner(
    command: Callable[[NbReader, argparse.Namespace], Coroutine[Any, Any, int]],
) -> Callable[[argparse.Namespace], int]:
    """Open the reader, run the command, and turn NB errors into one line."""

    def run(args: argparse.Namespace) -> int:
        url = args.nb or _url_from_ini(args.config)
        if not url:
            raise CliError("no NB given: use --nb URL, --config dragonflow.ini or DRAGONSCOPE_NB")
        unknown = sorted(set(args.table or ()) - set(TABLES))
        if unknown:
            raise CliError(f"unknown table(s) {', '.join(unknown)}; known: {_known_tables()}")

        async def main() -> int:
            reader = open_nb(url)
            try:
                return await command(reader, args)
            finally:
                await reader.close()

        try:
            return asyncio.run(main())
        except BackendError as exc:
            raise CliError(str(exc)) from None
        except BrokenPipeError:  # e.g. piped into head: the reader left, not an error
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 0

    return run


def _url_from_ini(path: str | None) -> str | None:
    if path is None:
        return None
    with operator_errors(ConfigError):
        return read_dragonflow_ini(path).nb_url


def _known_tables() -> str:
    return ", ".join(sorted(TABLES))


def _selected(snapshot: Snapshot, tables: list[str] | None) -> list[NbObject]:
    objects = [obj for obj in snapshot.values() if not tables or obj.table in tables]
    objects.sort(key=lambda obj: (obj.table, obj.id))
    return objects


async def _dump(reader: NbReader, args: argparse.Namespace) -> int:
    snapshot, revision = await reader.snapshot()
    tables: dict[str, list[dict[str, Any]]] = {}
    for obj in _selected(snapshot, args.table):
        tables.setdefault(obj.table, []).append(redact(obj))
    json.dump(tables, sys.stdout, indent=None if args.compact else 2)
    sys.stdout.write("\n")
    sys.stdout.flush()
    invalid = sum(1 for obj in snapshot.values() if obj.problems)
    note = f"; {invalid} with problems (see: dragonscope nb check)" if invalid else ""
    _say(f"{sum(map(len, tables.values()))} objects from {reader.url} at revision {revision}{note}")
    return 0


async def _watch(reader: NbReader, args: argparse.Namespace) -> int:
    since = args.since
    if since is None:
        snapshot, since = await reader.snapshot()
        _say(f"watching {reader.url} after revision {since} ({len(snapshot)} objects)")
    else:
        _say(f"watching {reader.url} after revision {since}")
    shown = 0
    async for change in reader.changes(since):
        if args.table and change.table not in args.table:
            continue
        line = _change_json(change) if args.json else _change_line(change)
        print(line, flush=True)
        shown += 1
        if args.count is not None and shown >= args.count:
            break
    return 0


def _change_line(change: Change) -> str:
    where = f"{change.table}/{change.id}"
    if change.obj is None:
        return f"{change.revision:>9}  delete  {where}"
    name = redact(change.obj).get("name")
    line = f"{change.revision:>9}  put     {where}"
    if isinstance(name, str) and name:
        line += f"  {name!r}"
    if change.obj.problems:
        count = len(change.obj.problems)
        first = change.obj.problems[0]
        line += f"  [{count} problem{'s' if count > 1 else ''}: {first}]"
    return line


def _change_json(change: Change) -> str:
    return json.dumps(
        {
            "revision": change.revision,
            "op": "delete" if change.obj is None else "put",
            "table": change.table,
            "id": change.id,
            "object": None if change.obj is None else redact(change.obj),
            "problems": [_problem_json(p) for p in (change.obj.problems if change.obj else ())],
        }
    )


async def _check(reader: NbReader, args: argparse.Namespace) -> int:
    snapshot, revision = await reader.snapshot()
    problems = [p for obj in snapshot.values() for p in obj.problems]
    problems.extend(check(snapshot))
    if args.table:
        problems = [p for p in problems if p.table in args.table]
    problems.sort(key=lambda p: (p.table, p.id, p.field or "", p.kind))
    _print_problems(problems, args.json, sys.stdout)
    objects = len(_selected(snapshot, args.table))
    if problems:
        affected = len({(p.table, p.id) for p in problems})
        kinds = Counter(p.kind for p in problems)
        by_kind = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())
        _say(
            f"{len(problems)} problem{'s' if len(problems) > 1 else ''} ({by_kind}) in "
            f"{affected} of {objects} objects ({reader.url}, revision {revision})"
        )
        return 1
    _say(f"no problems in {objects} objects ({reader.url}, revision {revision})")
    return 0


def _print_problems(problems: list[Problem], as_json: bool, out: TextIO) -> None:
    if as_json:
        json.dump([_problem_json(p) for p in problems], out, indent=2)
        out.write("\n")
        return
    for problem in problems:
        out.write(f"{problem}  [{problem.kind}]\n")


def _problem_json(problem: Problem) -> dict[str, Any]:
    return {
        "table": problem.table,
        "id": problem.id,
        "field": problem.field,
        "kind": problem.kind,
        "message": problem.message,
    }


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
