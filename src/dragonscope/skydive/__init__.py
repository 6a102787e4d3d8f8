"""Skydive's wire protocol: message envelope, publisher client."""

from dragonscope.skydive.messages import (
    DELETE_ON_DISCONNECT,
    EDGE_ADDED,
    EDGE_DELETED,
    EDGE_UPDATED,
    GRAPH,
    NODE_ADDED,
    NODE_DELETED,
    NODE_TYPES,
    NODE_UPDATED,
    PERSISTENT,
    Message,
)
from dragonscope.skydive.publisher import Backoff, Publisher, PublisherDisconnected
from dragonscope.skydive.rest import (
    AnalyzerError,
    AnalyzerHttp,
    Credentials,
    analyzer_base_url,
    make_ssl_context,
)

__all__ = [
    "DELETE_ON_DISCONNECT",
    "EDGE_ADDED",
    "EDGE_DELETED",
    "EDGE_UPDATED",
    "GRAPH",
    "NODE_ADDED",
    "NODE_DELETED",
    "NODE_TYPES",
    "NODE_UPDATED",
    "PERSISTENT",
    "AnalyzerError",
    "AnalyzerHttp",
    "Backoff",
    "Credentials",
    "Message",
    "Publisher",
    "PublisherDisconnected",
    "analyzer_base_url",
    "make_ssl_context",
]
