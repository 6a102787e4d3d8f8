"""What every command module shares: the operator's error type (from ``errors``), how
errors the operator can fix become one, how a service stops on a signal, the sub-parsers
type, and the log format that never shows a secret."""

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from typing import TypeAlias

from dragonscope.cli.errors import CliError as CliError
from dragonscope.nb import scrub

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What ``register(subparsers)`` of each command module receives."""


@contextlib.contextmanager
def operator_errors(*errors: type[Exception], what: str = "") -> Iterator[None]:
    """Turn ``errors`` (bad input, a store that cannot be read) into a CliError: the
    operator gets one line (prefixed with ``what``), not a traceback."""
    try:
        yield
    except errors as exc:
        raise CliError(f"{what}: {exc}" if what else str(exc)) from None


def stop_on_signals(stop: Callable[[], object]) -> None:
    """Call ``stop`` on SIGTERM or SIGINT, so a service closes cleanly (its peers see a
    normal close) instead of dying mid-write."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop)


class ScrubbingFormatter(logging.Formatter):
    """Log lines (tracebacks included) with secrets masked: the last line of defence
    for a value that reached a message unredacted (``nb.scrub``)."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))
