"""Objects read from the NB DB, as every other layer sees them.

An object keeps the JSON exactly as Dragonflow stored it (``data``), so that
consumers address fields by Dragonflow's own names and nothing is lost when a
newer Dragonflow adds fields. Validation results travel with the object
(``problems``) instead of raising: a bad row must never hide the good ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Problem:
    """One precise complaint about one stored object."""

    table: str
    id: str
    field: str | None
    message: str
    kind: str  # e.g. "invalid-json", "missing-field", "wrong-type", "dangling-reference"

    def __str__(self) -> str:
        where = f"{self.table}/{self.id}"
        if self.field:
            where += f".{self.field}"
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class NbObject:
    """One row of one NB table.

    ``data`` is the stored JSON object (a dict), unknown fields included.
    ``valid`` is False when a problem makes the object unusable for the datapath
    (it is still shown, marked, rather than dropped).
    """

    table: str
    id: str
    data: dict[str, Any]
    problems: tuple[Problem, ...] = field(default=())

    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def key(self) -> tuple[str, str]:
        return (self.table, self.id)

    def get(self, name: str, default: object = None) -> object:
        return self.data.get(name, default)

    @property
    def topic(self) -> str | None:
        return self.data.get("topic")


@dataclass(frozen=True, slots=True)
class Change:
    """One change from a backend's change stream. ``obj`` is None for a deletion."""

    table: str
    id: str
    obj: NbObject | None
    revision: int

    @property
    def deleted(self) -> bool:
        return self.obj is None

    @property
    def key(self) -> tuple[str, str]:
        return (self.table, self.id)


Snapshot = dict[tuple[str, str], NbObject]
"""The whole NB at one revision, keyed by (table, id)."""
