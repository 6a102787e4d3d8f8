"""The one exception the Gremlin engine raises for anything a user got wrong."""

from __future__ import annotations


class GremlinError(ValueError):
    """A query that cannot be parsed or run.

    ``str(e)`` is the message for the user (the analyzer answers it as HTTP 400);
    ``position`` is the 0-based character offset the message is about, or None
    when the problem is not tied to one place in the query.
    """

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        return self.message


def column(query: str, position: int) -> str:
    """``column N`` for one-line queries, ``line L, column C`` otherwise (1-based)."""
    if "\n" not in query:
        return f"column {position + 1}"
    line = query.count("\n", 0, position) + 1
    start = query.rfind("\n", 0, position) + 1
    return f"line {line}, column {position - start + 1}"
