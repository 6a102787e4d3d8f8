"""The collector service: keeps an analyzer's graph equal to the Dragonflow NB.

Owns the service loop around the lower layers: reading the NB (through
``dragonscope.nb``), the desired graph (the ``dragonscope.topology`` of the NB
plus the collector's status node and any other :class:`Source`), what the
analyzer holds and the minimal messages that close the gap (over
``dragonscope.skydive``), reconciliation, /metrics and /healthz, and its
settings from flags, environment and ``dragonflow.ini``.

Must not import the analyzer, the demo or the command line (they sit beside
or above it); the command line builds ``CollectorSettings`` and runs a
``Collector``.
"""

from dragonscope.collector.desired import DesiredGraph, NodeLayer, Source
from dragonscope.collector.service import Collector
from dragonscope.collector.settings import CollectorSettings, NbSource, settings_from_args
from dragonscope.collector.stats import CollectorStats, StatsReport
from dragonscope.collector.status import STATUS_NODE_TYPE

__all__ = [
    "STATUS_NODE_TYPE",
    "Collector",
    "CollectorSettings",
    "CollectorStats",
    "DesiredGraph",
    "NbSource",
    "NodeLayer",
    "Source",
    "StatsReport",
    "settings_from_args",
]
