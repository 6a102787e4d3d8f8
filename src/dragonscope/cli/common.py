"""What every command module shares: the operator's error type, how errors the operator
can fix become one, how a service stops on a signal, and the sub-parsers type."""

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator
from typing import TypeAlias

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What ``register(subparsers)`` of each command module receives."""


class CliError(Exception):
    """An error for the operator: printed as one line, exit code 2."""


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
