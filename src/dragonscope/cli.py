"""The ``dragonscope`` command: one sub-command per capability.

Each capability registers its own sub-commands (``register(subparsers)`` in its
``cli`` module), so this file only composes them and turns errors into one
clear line and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Modules that contribute sub-commands, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "dragonscope.demo.cli",
    "dragonscope.analyzer.cli",
    "dragonscope.collector.cli",
    "dragonscope.gremlin.cli",
    "dragonscope.trace.cli",
    "dragonscope.nb.cli",
)


class CliError(Exception):
    """An error for the operator: printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dragonscope",
        description="See a Dragonflow cloud's network as Dragonflow sees it.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"dragonscope {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
