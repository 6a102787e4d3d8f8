"""Skydive-compatible analyzer: publishers in, one graph, Gremlin, history, subscribers out."""

from dragonscope.analyzer.app import Analyzer, AnalyzerError
from dragonscope.analyzer.settings import AnalyzerSettings

__all__ = ["Analyzer", "AnalyzerError", "AnalyzerSettings"]
