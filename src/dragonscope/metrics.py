"""Prometheus exposition for both services, in the text format.

Each service builds its families at scrape time from the counters it already keeps, so
nothing is counted twice; this module only names them and writes the text format, the
same lines prometheus-client writes. It is written here because that library imports
OpenSSL at once (for a push gateway and an https server neither service uses), which a
per-chassis collector without TLS goes without.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

__all__ = ["CONTENT_TYPE_LATEST", "Scrape"]

CONTENT_TYPE_LATEST = "text/plain; version=1.0.0; charset=utf-8"

Samples = Iterable[tuple[Mapping[str, str], float]]


class Scrape:
    """The metric families of one scrape, all under one name prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._lines: list[str] = []

    def gauge(self, name: str, help_: str, value: float | None = None, *, label: str = "",
              samples: Samples = ()) -> None:  # fmt: skip
        self._add("gauge", self.prefix + name, help_, value, label, samples)

    def counter(self, name: str, help_: str, value: float | None = None, *, label: str = "",
                samples: Samples = ()) -> None:  # fmt: skip
        """``name`` without ``_total``: the exposition adds it, as Prometheus expects."""
        self._add("counter", self.prefix + name + "_total", help_, value, label, samples)

    def _add(
        self, kind: str, name: str, help_: str, value: float | None, label: str, samples: Samples
    ) -> None:
        lines = self._lines
        text = help_.replace("\\", r"\\").replace("\n", r"\n")
        lines.append(f"# HELP {name} {text}\n")
        lines.append(f"# TYPE {name} {kind}\n")
        if value is not None:
            lines.append(f"{name} {_number(value)}\n")
            return
        for labels, sample in samples:
            shown = f'{{{label}="{_escape(labels[label])}"}}' if label else ""
            lines.append(f"{name}{shown} {_number(sample)}\n")

    def text(self) -> bytes:
        return "".join(self._lines).encode()


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _number(value: float) -> str:
    """A sample value as Prometheus's Go code writes it."""
    number = float(value)
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    if math.isnan(number):
        return "NaN"
    text = repr(number)
    dot = text.find(".")
    if number > 0 and dot > 6:  # Go switches to exponents sooner than Python
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return text
