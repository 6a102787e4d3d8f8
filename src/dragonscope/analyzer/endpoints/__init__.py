"""The analyzer's two WebSocket endpoints, Skydive's: ``/ws/publisher`` writes the
graph, ``/ws/subscriber`` streams it. Both share one handshake (``handshake``).

Each endpoint receives the typed services it uses; none imports the analyzer.
"""

from dragonscope.analyzer.endpoints.publisher import PublisherEndpoint
from dragonscope.analyzer.endpoints.subscriber import SubscriberEndpoint

__all__ = ["PublisherEndpoint", "SubscriberEndpoint"]
