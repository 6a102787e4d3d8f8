"""Skydive's wire: the message envelope, message names, handshake and HTTP clients.

The only package that spells the envelope's fields, the Graph message types, the
handshake headers and the persistence policies; the collector, the analyzer and
(through :func:`wire_constants`) the web UI take them from here. It holds the
publisher (``/ws/publisher``) and the one HTTP client of an analyzer
(:class:`AnalyzerHttp`: login, the graph, Gremlin). It imports only the root
modules (config's ``Secret``), never the graph, topology or anything above.
"""

from dragonscope.skydive.messages import (
    DELETE_ON_DISCONNECT,
    EDGE_ADDED,
    EDGE_DELETED,
    EDGE_PARTIALLY_UPDATED,
    EDGE_TYPES,
    EDGE_UPDATED,
    GRAPH,
    HDR_CLIENT_TYPE,
    HDR_HOST_ID,
    HDR_PERSISTENCE,
    HDR_PROTOCOL,
    HDR_WS_NAMESPACE,
    NODE_ADDED,
    NODE_DELETED,
    NODE_PARTIALLY_UPDATED,
    NODE_TYPES,
    NODE_UPDATED,
    PERSISTENCE_POLICIES,
    PERSISTENT,
    PROTOCOL_JSON,
    SYNC,
    SYNC_REPLY,
    SYNC_REQUEST,
    JsonValue,
    Message,
    MessageError,
    decode,
    new_message,
    wire_constants,
)
from dragonscope.skydive.publisher import Backoff, Publisher, PublisherDisconnected
from dragonscope.skydive.rest import (
    AnalyzerError,
    AnalyzerHttp,
    AuthenticationError,
    Credentials,
    EndpointError,
    analyzer_base_url,
    make_ssl_context,
)

__all__ = [
    "DELETE_ON_DISCONNECT",
    "EDGE_ADDED",
    "EDGE_DELETED",
    "EDGE_PARTIALLY_UPDATED",
    "EDGE_TYPES",
    "EDGE_UPDATED",
    "GRAPH",
    "HDR_CLIENT_TYPE",
    "HDR_HOST_ID",
    "HDR_PERSISTENCE",
    "HDR_PROTOCOL",
    "HDR_WS_NAMESPACE",
    "NODE_ADDED",
    "NODE_DELETED",
    "NODE_PARTIALLY_UPDATED",
    "NODE_TYPES",
    "NODE_UPDATED",
    "PERSISTENCE_POLICIES",
    "PERSISTENT",
    "PROTOCOL_JSON",
    "SYNC",
    "SYNC_REPLY",
    "SYNC_REQUEST",
    "AnalyzerError",
    "AnalyzerHttp",
    "AuthenticationError",
    "Backoff",
    "Credentials",
    "EndpointError",
    "JsonValue",
    "Message",
    "MessageError",
    "Publisher",
    "PublisherDisconnected",
    "analyzer_base_url",
    "decode",
    "make_ssl_context",
    "new_message",
    "wire_constants",
]
