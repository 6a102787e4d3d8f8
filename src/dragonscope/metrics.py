"""Prometheus exposition for both services, through prometheus-client.

Each service builds its families at scrape time from the counters it already keeps, so
nothing is counted twice; this module only names them and writes the text format.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Scrape"]

Samples = Iterable[tuple[Mapping[str, str], float]]


class Scrape:
    """The metric families of one scrape, all under one name prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._families: list[Metric] = []

    def gauge(self, name: str, help_: str, value: float | None = None, *, label: str = "",
              samples: Samples = ()) -> None:  # fmt: skip
        self._add(GaugeMetricFamily, name, help_, value, label, samples)

    def counter(self, name: str, help_: str, value: float | None = None, *, label: str = "",
                samples: Samples = ()) -> None:  # fmt: skip
        """``name`` without ``_total``: the exposition adds it, as Prometheus expects."""
        self._add(CounterMetricFamily, name, help_, value, label, samples)

    def _add(
        self,
        kind: type[GaugeMetricFamily] | type[CounterMetricFamily],
        name: str,
        help_: str,
        value: float | None,
        label: str,
        samples: Samples,
    ) -> None:
        full = self.prefix + name
        if value is not None:
            self._families.append(kind(full, help_, value=float(value)))
            return
        family = kind(full, help_, labels=[label] if label else [])
        for labels, sample in samples:
            family.add_metric([labels[label]] if label else [], float(sample))
        self._families.append(family)

    def text(self) -> bytes:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Families(self._families))
        return generate_latest(registry)


class _Families:
    """A registry collector that yields one scrape's families once."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)
