"""The collector service: keeps an analyzer's graph equal to the Dragonflow NB."""

from dragonscope.collector.service import Collector, CollectorStats
from dragonscope.collector.settings import CollectorSettings

__all__ = ["Collector", "CollectorSettings", "CollectorStats"]
