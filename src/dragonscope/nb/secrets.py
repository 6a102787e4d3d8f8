"""Which stored values are secrets: never shown, logged or put in the graph.

A secret is recognised by declaration (``Field.secret`` in the schema, such as
``bgp_peer.password``), by name (an undeclared field whose name says credential:
``md5_key``, ``psk``, ``auth_token``...), and by shape, in any field: a PEM block,
a URL carrying a password, or a long high-entropy value in a field named like a
key (``key``, ``auth``, ``cert``...). ``scrub`` masks the same shapes in free
text (log lines, error messages), and ``may_hold_secret`` tells when a piece of
stored text must not be quoted at all: no part of a secret is ever shown.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

# Field names with these words are credentials, whatever their value.
SECRET_WORDS = (
    "password", "passwd", "passphrase", "secret", "token", "psk", "preshared", "pre_shared",
    "md5", "credential", "private", "privkey", "apikey", "api_key",
)  # fmt: skip
# Field names with these words are credentials when their value looks random.
KEY_WORDS = ("key", "auth", "cert", "hmac", "salt", "signature", "nonce", "cookie")
MASK = "***"
NOT_SHOWN = "(not shown: a secret)"

_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]*-----")
_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z0-9 ]*-----.*?(?:-----END [A-Z0-9 ]*-----|$)", re.S)
_URL_PASSWORD = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s\"']*):[^@\s/\"']+@")
_SECRET_NAME = "|".join(re.escape(word) for word in SECRET_WORDS)
# ``password=x``, ``"md5_key": "x"``, ``psk: x``: a credential-like name, then its value.
_NAMED_VALUE = re.compile(
    rf"""((?:[\w.-]*(?:{_SECRET_NAME})[\w.-]*)["']?\s*[:=]\s*)(?:"[^"]*"?|'[^']*'?|[^\s,;&}}\]]+)""",
    re.I,
)
_MIN_RANDOM_LENGTH = 16
_MIN_ENTROPY = 3.0  # bits per character: hex keys ~4, base64 ~5, English words ~2.5-3


def looks_secret(key: Any) -> bool:
    """A field name that says credential."""
    name = str(key).lower()
    return any(word in name for word in SECRET_WORDS)


def shaped_secret(value: Any) -> bool:
    """A string that is a secret wherever it is stored: a PEM block, a URL with a password."""
    if not isinstance(value, str):
        return False
    return ("-----BEGIN" in value and _PEM.search(value) is not None) or (
        "://" in value and "@" in value and _URL_PASSWORD.search(value) is not None
    )


def looks_random(value: Any) -> bool:
    """A long token-like string (no spaces) with the entropy of a key, not of a word."""
    if not isinstance(value, str) or len(value) < _MIN_RANDOM_LENGTH or " " in value:
        return False
    counts = Counter(value)
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return entropy >= _MIN_ENTROPY


def secret_item(key: Any, value: Any) -> bool:
    """Whether an undeclared field is a secret, by its name or by its value's shape."""
    if looks_secret(key) or shaped_secret(value):
        return True
    name = str(key).lower()
    return any(word in name for word in KEY_WORDS) and looks_random(value)


def has_secret(value: Any) -> bool:
    """Whether undeclared JSON holds a secret, at any depth."""
    if isinstance(value, dict):
        return any(secret_item(k, v) or has_secret(v) for k, v in value.items())
    if isinstance(value, list):
        return any(shaped_secret(item) or has_secret(item) for item in value)
    return False


def without_secrets(value: Any) -> Any:
    """A copy of undeclared JSON without what ``has_secret`` finds."""
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items() if not secret_item(k, v)}
    if isinstance(value, list):
        return [without_secrets(item) for item in value if not shaped_secret(item)]
    return value


def may_hold_secret(text: str) -> bool:
    """Stored text (even malformed) that names a credential or holds a secret's shape:
    not one character of it may be quoted."""
    lowered = text.lower()
    return any(word in lowered for word in SECRET_WORDS) or shaped_secret(text)


def scrub(text: str) -> str:
    """Free text with secrets masked: PEM blocks, URL passwords, credential-named values."""
    if "-----BEGIN" in text:
        text = _PEM_BLOCK.sub(NOT_SHOWN, text)
    if "://" in text:
        text = _URL_PASSWORD.sub(rf"\1:{MASK}@", text)
    return _NAMED_VALUE.sub(rf"\1{MASK}", text)
