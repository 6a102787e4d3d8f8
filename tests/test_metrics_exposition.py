"""The /metrics text both services write is Prometheus's: byte for byte what
prometheus-client (the reference implementation, kept as a test dependency) writes for the
same families, and read back by its parser to the same samples."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

from dragonscope.metrics import Scrape

VALUES = [0, 1, -1, 0.5, 3.0, 1e-7, 123456.0, 1234567.0, 2**53, 1e21, math.inf, -math.inf]
LABELS = ["plain", 'quote " inside', "back\\slash", "new\nline", "ünïcode", ""]


class _Families:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def _reference(families: list[Metric]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))  # type: ignore[arg-type]
    return generate_latest(registry)


def test_the_exposition_is_prometheus_clients_byte_for_byte() -> None:
    ours = Scrape("dragonscope_")
    families: list[Metric] = []
    for i, value in enumerate(VALUES):
        ours.gauge(f"g{i}", f"a gauge\nwith \\ help {i}", value)
        families.append(GaugeMetricFamily(f"dragonscope_g{i}", f"a gauge\nwith \\ help {i}", value))
        ours.counter(f"c{i}", "a counter", abs(value))
        families.append(CounterMetricFamily(f"dragonscope_c{i}", "a counter", value=abs(value)))
    samples = [({"where": label}, float(n)) for n, label in enumerate(LABELS)]
    ours.gauge("labelled", "per label", label="where", samples=samples)
    labelled = GaugeMetricFamily("dragonscope_labelled", "per label", labels=["where"])
    ours.counter("empty", "no samples yet", label="where", samples=[])
    empty = CounterMetricFamily("dragonscope_empty", "no samples yet", labels=["where"])
    for labels, value in samples:
        labelled.add_metric([labels["where"]], value)
    families += [labelled, empty]
    assert ours.text() == _reference(families)


def test_the_reference_parser_reads_back_every_sample() -> None:
    ours = Scrape("x_")
    ours.gauge("nan", "not a number", math.nan)
    ours.counter("events", "per kind", label="kind", samples=[({"kind": 'a"b'}, 2.0)])
    parsed = {
        family.name: family for family in text_string_to_metric_families(ours.text().decode())
    }
    assert math.isnan(parsed["x_nan"].samples[0].value)
    (sample,) = parsed["x_events"].samples
    assert (sample.name, sample.labels, sample.value) == ("x_events_total", {"kind": 'a"b'}, 2.0)
