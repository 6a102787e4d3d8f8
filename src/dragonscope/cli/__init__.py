"""The ``dragonscope`` command: one sub-command module per capability.

This package is the top floor and the only place that parses command lines and prints for
the operator; the core packages (nb, graph, topology, gremlin, trace, collector, analyzer,
demo) hold no CLI or HTTP-client code. Each module here registers its sub-commands
(``register(subparsers)``); ``sources`` is the one place a command opens an NB (``--nb``,
``memory://sample`` included) or reaches an analyzer (``--analyzer``, ``--user``), through
``skydive.AnalyzerHttp``; ``common`` holds the one error type, ``operator_errors`` (what
the operator can fix becomes that error) and ``stop_on_signals``. This file composes the
commands and turns errors into one clear line and a non-zero exit code. It reaches every
other package through its surface only; nothing imports this package but the
``dragonscope`` entry point.

A command imports only its own module: the collector runs on every compute node, and the
analyzer's, the simulator's and the demo's modules would cost it tens of MiB for nothing.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from dragonscope.cli.errors import CliError
from dragonscope.cli.tls import spare_openssl

# Modules that contribute sub-commands, in the order ``--help`` lists them.
COMMAND_MODULES = ("demo", "analyzer", "collector", "query", "trace", "flows", "nb")
# The module of each top-level command.
COMMANDS = {name: name for name in COMMAND_MODULES} | {"reach": "trace"}

__all__ = ["CliError", "build_parser", "main"]


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every command's parser; with ``command`` (a top-level command), only the module
    that registers it is imported."""
    parser = argparse.ArgumentParser(
        prog="dragonscope",
        description="See a Dragonflow cloud's network as Dragonflow sees it.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    names = (COMMANDS[command],) if command in COMMANDS else COMMAND_MODULES
    for name in names:
        importlib.import_module(f"dragonscope.cli.{name}").register(subparsers)
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The top-level command named by ``argv``, if the words before it are all options."""
    for word in argv:
        if word in ("-v", "--verbose"):
            continue
        return word if word in COMMANDS else None
    return None


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    command = _command(words)
    if command == "collector":
        spare_openssl(words, os.environ)
    # Imported only now: they load asyncio, which loads ssl unless it was spared.
    from dragonscope.cli.common import ScrubbingFormatter
    from dragonscope.nb import scrub

    parser = build_parser(command)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"dragonscope {args.command}: {scrub(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
