"""What every command module shares: the operator's error type, the sub-parsers type,
and the log format that never shows a secret."""

import argparse
import logging
from typing import TypeAlias

from dragonscope.nb import scrub

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What ``register(subparsers)`` of each command module receives."""


class CliError(Exception):
    """An error for the operator: printed as one line, exit code 2."""


class ScrubbingFormatter(logging.Formatter):
    """Log lines (tracebacks included) with secrets masked: the last line of defence
    for a value that reached a message unredacted (``nb.scrub``)."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))
