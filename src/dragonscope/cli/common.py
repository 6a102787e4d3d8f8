"""What every command module shares: the operator's error type and the sub-parsers type."""

import argparse
from typing import TypeAlias

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What ``register(subparsers)`` of each command module receives."""


class CliError(Exception):
    """An error for the operator: printed as one line, exit code 2."""
