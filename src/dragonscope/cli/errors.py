"""The operator's error type, apart from ``common`` so that the entry point can name it
before anything loads asyncio (see ``tls``)."""


class CliError(Exception):
    """An error for the operator: printed as one line, exit code 2."""
