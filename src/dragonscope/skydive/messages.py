"""Skydive's WebSocket message envelope and Graph-namespace vocabulary.

The only module that knows the envelope's field names; endpoints and clients
build and read messages through it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

GRAPH = "Graph"

NODE_ADDED = "NodeAdded"
NODE_UPDATED = "NodeUpdated"
NODE_DELETED = "NodeDeleted"
NODE_PARTIALLY_UPDATED = "NodePartiallyUpdated"
EDGE_ADDED = "EdgeAdded"
EDGE_UPDATED = "EdgeUpdated"
EDGE_DELETED = "EdgeDeleted"
EDGE_PARTIALLY_UPDATED = "EdgePartiallyUpdated"
SYNC_REQUEST = "SyncRequest"
SYNC_REPLY = "SyncReply"
SYNC = "Sync"

NODE_TYPES = frozenset({NODE_ADDED, NODE_UPDATED, NODE_DELETED})
EDGE_TYPES = frozenset({EDGE_ADDED, EDGE_UPDATED, EDGE_DELETED})

# Handshake headers (reference §1.2).
HDR_HOST_ID = "X-Host-ID"
HDR_CLIENT_TYPE = "X-Client-Type"
HDR_PERSISTENCE = "X-Persistence-Policy"
HDR_PROTOCOL = "X-Client-Protocol"
PERSISTENT = "Persistent"
DELETE_ON_DISCONNECT = "DeleteOnDisconnect"


class MessageError(ValueError):
    """A frame that is not a usable Skydive message; the text says why."""


@dataclass(slots=True)
class Message:
    namespace: str
    type: str
    obj: Any = None
    uuid: str = ""
    status: int = 200

    def to_json(self) -> dict[str, Any]:
        return {
            "Namespace": self.namespace,
            "Type": self.type,
            "UUID": self.uuid,
            "Status": self.status,
            "Obj": self.obj,
        }

    def encode(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"))

    def reply(self, obj: Any, status: int = 200, type_: str | None = None) -> Message:
        """A reply reuses the request's UUID, as Skydive clients expect."""
        return Message(self.namespace, type_ or self.type, obj, self.uuid, status)


def new_message(type_: str, obj: Any, namespace: str = GRAPH, status: int = 200) -> Message:
    return Message(namespace, type_, obj, str(uuid.uuid4()), status)


def decode(frame: str | bytes) -> Message:
    """Decode one text frame; every field is optional on input, as in Skydive."""
    try:
        raw = json.loads(frame)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MessageError(f"invalid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise MessageError("message must be a JSON object")
    namespace, type_, uid = raw.get("Namespace", ""), raw.get("Type", ""), raw.get("UUID", "")
    status = raw.get("Status", 200)
    if not isinstance(namespace, str) or not isinstance(type_, str):
        raise MessageError("Namespace and Type must be strings")
    if uid is None:
        uid = ""
    if not isinstance(uid, str):
        raise MessageError("UUID must be a string")
    if isinstance(status, bool) or not isinstance(status, int):
        status = 200
    return Message(namespace, type_, raw.get("Obj"), uid, status)


# -- Names for code that reads or writes the envelope piece by piece (the analyzer's
# sliced encoder, the constants served to the web UI) and for the subscriber handshake.
FIELD_NAMESPACE = "Namespace"
FIELD_TYPE = "Type"
FIELD_UUID = "UUID"
FIELD_STATUS = "Status"
FIELD_OBJ = "Obj"  # always last in an encoded message
SYNC_FILTER = "GremlinFilter"  # SyncRequest's Obj: the subscriber's filter
SYNC_TIME = "Time"  # SyncRequest's Obj: the time of the graph wanted
HDR_SERVICE_TYPE = "X-Service-Type"
HDR_UPDATE_POLICY = "X-Update-Policy"
HDR_NAMESPACE = "X-Websocket-Namespace"
HDR_GREMLIN_FILTER = "X-Gremlin-Filter"
