"""Skydive's WebSocket message envelope and Graph-namespace vocabulary.

The only module that spells the envelope's field names, the message types and
the handshake headers; endpoints, clients and the web UI (through
:func:`wire_constants`) build and read messages through it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

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

# Handshake headers (reference §1.2) and the persistence policies a publisher asks for.
HDR_HOST_ID = "X-Host-ID"
HDR_CLIENT_TYPE = "X-Client-Type"
HDR_PERSISTENCE = "X-Persistence-Policy"
HDR_PROTOCOL = "X-Client-Protocol"
HDR_WS_NAMESPACE = "X-Websocket-Namespace"
PROTOCOL_JSON = "json"
PERSISTENT = "Persistent"
DELETE_ON_DISCONNECT = "DeleteOnDisconnect"
PERSISTENCE_POLICIES = (PERSISTENT, DELETE_ON_DISCONNECT)

JsonValue: TypeAlias = dict[str, Any] | list[Any] | str | int | float | bool | None
"""A JSON value as ``json.loads`` gives it: a message's ``Obj``, an API's answer."""

# The envelope's fields, in the order they are written.
_NAMESPACE, _TYPE, _UUID, _STATUS, _OBJ = "Namespace", "Type", "UUID", "Status", "Obj"


class MessageError(ValueError):
    """A frame that is not a usable Skydive message; the text says why."""


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


@dataclass(slots=True)
class Message:
    """One WebSocket message; ``obj`` is its JSON payload, unchecked until a receiver reads it."""

    namespace: str
    type: str
    obj: JsonValue = None
    uuid: str = ""
    status: int = 200

    def to_json(self) -> dict[str, Any]:
        return {
            _NAMESPACE: self.namespace,
            _TYPE: self.type,
            _UUID: self.uuid,
            _STATUS: self.status,
            _OBJ: self.obj,
        }

    def encode(self) -> str:
        """Compact JSON text, the form every frame takes on the wire."""
        return self._head() + _dumps(self.obj) + "}"

    def encode_around(self, obj_json: Iterable[bytes]) -> list[bytes]:
        """The frame as UTF-8 pieces around an ``Obj`` already encoded as compact
        JSON pieces (``self.obj`` is not used): joined, the same text ``encode``
        gives, without decoding a big payload only to encode it again."""
        return [self._head().encode(), *obj_json, b"}"]

    def _head(self) -> str:
        """The text up to the ``Obj`` value: the fields in ``to_json``'s order."""
        fields = {_NAMESPACE: self.namespace, _TYPE: self.type, _UUID: self.uuid}
        return _dumps({**fields, _STATUS: self.status})[:-1] + f',"{_OBJ}":'

    def reply(self, obj: JsonValue, status: int = 200, type_: str | None = None) -> Message:
        """A reply reuses the request's UUID, as Skydive clients expect."""
        return Message(self.namespace, type_ or self.type, obj, self.uuid, status)


def new_message(type_: str, obj: JsonValue, namespace: str = GRAPH, status: int = 200) -> Message:
    """A message with a fresh UUID, for requests and events."""
    return Message(namespace, type_, obj, str(uuid.uuid4()), status)


def decode(frame: str | bytes) -> Message:
    """Decode one text frame; every field is optional on input, as in Skydive."""
    try:
        raw = json.loads(frame)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MessageError(f"invalid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise MessageError("message must be a JSON object")
    namespace, type_, uid = raw.get(_NAMESPACE, ""), raw.get(_TYPE, ""), raw.get(_UUID, "")
    status = raw.get(_STATUS, 200)
    if not isinstance(namespace, str) or not isinstance(type_, str):
        raise MessageError(f"{_NAMESPACE} and {_TYPE} must be strings")
    if uid is None:
        uid = ""
    if not isinstance(uid, str):
        raise MessageError(f"{_UUID} must be a string")
    if isinstance(status, bool) or not isinstance(status, int):
        status = 200
    return Message(namespace, type_, raw.get(_OBJ), uid, status)


def wire_constants() -> dict[str, str]:
    """The vocabulary as name → text, for clients written in another language:
    the web UI is served these instead of spelling the protocol itself."""
    return {
        "GRAPH": GRAPH,
        "NODE_ADDED": NODE_ADDED,
        "NODE_UPDATED": NODE_UPDATED,
        "NODE_DELETED": NODE_DELETED,
        "NODE_PARTIALLY_UPDATED": NODE_PARTIALLY_UPDATED,
        "EDGE_ADDED": EDGE_ADDED,
        "EDGE_UPDATED": EDGE_UPDATED,
        "EDGE_DELETED": EDGE_DELETED,
        "EDGE_PARTIALLY_UPDATED": EDGE_PARTIALLY_UPDATED,
        "SYNC_REQUEST": SYNC_REQUEST,
        "SYNC_REPLY": SYNC_REPLY,
        "SYNC": SYNC,
        "FIELD_NAMESPACE": _NAMESPACE,
        "FIELD_TYPE": _TYPE,
        "FIELD_UUID": _UUID,
        "FIELD_STATUS": _STATUS,
        "FIELD_OBJ": _OBJ,
    }
