"""Which stored values are secrets: never shown, logged or put in the graph.

Declared secret fields are marked in the schema (``Field.secret``); these
helpers catch the undeclared ones a newer Dragonflow may add, by name.
"""

from __future__ import annotations

from typing import Any

# Undeclared fields with these words in their name are treated as secrets.
_SECRET_WORDS = ("password", "secret", "token")


def looks_secret(key: Any) -> bool:
    name = str(key).lower()
    return any(word in name for word in _SECRET_WORDS)


def has_secret(value: Any) -> bool:
    """Whether undeclared JSON holds a key that looks like a credential, at any depth."""
    if isinstance(value, dict):
        return any(looks_secret(k) or has_secret(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_secret(item) for item in value)
    return False


def without_secrets(value: Any) -> Any:
    """A copy of undeclared JSON without the keys ``has_secret`` finds."""
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items() if not looks_secret(k)}
    if isinstance(value, list):
        return [without_secrets(item) for item in value]
    return value
