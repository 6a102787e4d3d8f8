"""Problem kinds, and how a complaint words the stored values it quotes.

Every validator (field checkers, cross-field rules, cross-object checks) reports
in these terms, so that a kind is spelled once and a value reads the same in
every message: its JSON type and a short, escaped excerpt.
"""

from __future__ import annotations

import json
from typing import Any, TypeGuard

from dragonscope.nb.secrets import NOT_SHOWN, shaped_secret

Complaint = tuple[str, str, str]
"""(problem kind, field path, message): a Problem without its table and id."""

# Problem kinds, as they appear in ``Problem.kind``.
INVALID_JSON = "invalid-json"
NOT_AN_OBJECT = "not-an-object"
UNKNOWN_TABLE = "unknown-table"
MISSING_FIELD = "missing-field"
WRONG_TYPE = "wrong-type"
INVALID_VALUE = "invalid-value"
ID_MISMATCH = "id-mismatch"
DANGLING_REFERENCE = "dangling-reference"
DUPLICATE_ID = "duplicate-id"
DUPLICATE_KEY = "duplicate-key"
DUPLICATE_ADDRESS = "duplicate-address"
INCONSISTENT = "inconsistent"

PROBLEM_KINDS = (
    INVALID_JSON,
    NOT_AN_OBJECT,
    UNKNOWN_TABLE,
    MISSING_FIELD,
    WRONG_TYPE,
    INVALID_VALUE,
    ID_MISMATCH,
    DANGLING_REFERENCE,
    DUPLICATE_ID,
    DUPLICATE_KEY,
    DUPLICATE_ADDRESS,
    INCONSISTENT,
)

_SHOWN = 60  # longest stored string quoted back in a message


def describe(value: Any) -> str:
    """Name a JSON value the way an operator reads it: its JSON type and a short excerpt."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"number {show_number(value)}"
    if isinstance(value, str):
        return f"string {quote(value)}"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def show_number(value: float) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def quote(text: Any) -> str:
    """Stored text quoted for a one-line message: escaped, and cut when long; a value
    shaped like a secret is not quoted at all."""
    text = str(text)
    if shaped_secret(text):
        return NOT_SHOWN
    if len(text) > _SHOWN:
        return json.dumps(text[:_SHOWN], ensure_ascii=False) + "..."
    return json.dumps(text, ensure_ascii=False)


def is_int(value: object) -> TypeGuard[int]:
    """A JSON integer (``true`` and ``false`` are not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def show_items(value: Any) -> str:
    """A short list item by item, anything else as ``describe`` names it."""
    if isinstance(value, list) and len(value) <= 4:
        return "[" + ", ".join(describe(v) for v in value) + "]"
    return describe(value)


def show_value(value: Any) -> str:
    """A string quoted, a number as written."""
    return quote(value) if isinstance(value, str) else show_number(value)
