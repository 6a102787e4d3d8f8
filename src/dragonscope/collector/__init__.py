"""The collector service: keeps an analyzer's graph equal to the Dragonflow NB."""

from dragonscope.collector.service import Collector, CollectorStats
from dragonscope.collector.settings import CollectorSettings, settings_from_args

__all__ = ["Collector", "CollectorSettings", "CollectorStats", "settings_from_args"]
