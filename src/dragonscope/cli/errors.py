"""The one error type every command raises for the operator (one line, exit code 2)."""


class CliError(Exception):
    """An error for the operator: printed as one line, exit code 2."""
