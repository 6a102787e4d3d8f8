"""Skydive's WebSocket message envelope and Graph-namespace vocabulary.

The only module that spells the envelope's field names, the message types and
the handshake headers; endpoints, clients and the web UI (through
:func:`wire_constants`) build and read messages through it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from dragonscope.graph import Json

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

# dragonscope's own namespace on a publisher connection, which a Skydive analyzer never uses:
# a chassis collector says it can answer (``ChassisReady``, Obj ``{"Chassis": name}``); the
# analyzer asks it (``ChassisRequest``) and the collector answers (``ChassisReply``, same UUID).
CHASSIS_NAMESPACE = "Dragonscope.Chassis"
CHASSIS_READY = "ChassisReady"
CHASSIS_REQUEST = "ChassisRequest"
CHASSIS_REPLY = "ChassisReply"

# dragonscope's batch: many Graph messages in one frame (``Obj`` a list of ``{"Type", "UUID",
# "Obj"}``), applied in order exactly as if each had come in a frame of its own. An analyzer
# that takes them says so in its ``/ws/publisher`` upgrade response (``HDR_BATCH``: the most
# bytes a frame may have); a Skydive analyzer does not, and is sent one frame per message.
BATCH = "Batch"
HDR_BATCH = "X-Dragonscope-Batch"
BATCH_TYPE, BATCH_UUID, BATCH_OBJ = "Type", "UUID", "Obj"

NODE_TYPES = frozenset({NODE_ADDED, NODE_UPDATED, NODE_DELETED})
EDGE_TYPES = frozenset({EDGE_ADDED, EDGE_UPDATED, EDGE_DELETED})

# Handshake headers (reference §1.2) and the persistence policies a publisher asks for.
HDR_HOST_ID = "X-Host-ID"
HDR_CLIENT_TYPE = "X-Client-Type"
HDR_PERSISTENCE = "X-Persistence-Policy"
HDR_PROTOCOL = "X-Client-Protocol"
HDR_WS_NAMESPACE = "X-Websocket-Namespace"
HDR_SERVICE_TYPE = "X-Service-Type"
HDR_UPDATE_POLICY = "X-Update-Policy"
HDR_GREMLIN_FILTER = "X-Gremlin-Filter"
PROTOCOL_JSON = "json"
PERSISTENT = "Persistent"
DELETE_ON_DISCONNECT = "DeleteOnDisconnect"
PERSISTENCE_POLICIES = (PERSISTENT, DELETE_ON_DISCONNECT)

# The envelope's fields, in the order they are written (``Obj`` always last, so the
# analyzer's sliced encoder can stream it after the head).
FIELD_NAMESPACE, FIELD_TYPE, FIELD_UUID, FIELD_STATUS, FIELD_OBJ = (
    "Namespace", "Type", "UUID", "Status", "Obj",
)  # fmt: skip
# SyncRequest's Obj: the subscriber's filter and the time of the graph wanted.
SYNC_FILTER = "GremlinFilter"
SYNC_TIME = "Time"


class MessageError(ValueError):
    """A frame that is not a usable Skydive message; the text says why."""


def compact_json(value: Json) -> str:
    """Compact JSON, never NaN on the wire."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def compact_json_bytes(value: Json) -> bytes:
    """Compact JSON as UTF-8 through orjson, several times faster than ``json`` (it writes
    ``null`` for a non-finite number); what it refuses (an integer past 64 bits, a lone
    surrogate) goes through ``json``."""
    try:
        return orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):
        return compact_json(value).encode()


def kept_json_bytes(value: Json) -> bytes:
    """``compact_json_bytes`` for text kept for long: each bytes object orjson returns holds
    a 4 KiB buffer whatever its length (400 MiB for 100k short texts); a copy holds its
    length."""
    return compact_json_bytes(value).decode().encode()


@dataclass(slots=True)
class Message:
    """One WebSocket message; ``obj`` is its JSON payload, unchecked until a receiver reads it."""

    namespace: str
    type: str
    obj: Json = None
    uuid: str = ""
    status: int = 200

    def to_json(self) -> dict[str, Any]:
        return {
            FIELD_NAMESPACE: self.namespace,
            FIELD_TYPE: self.type,
            FIELD_UUID: self.uuid,
            FIELD_STATUS: self.status,
            FIELD_OBJ: self.obj,
        }

    def encode(self) -> str:
        """Compact JSON text, the form every frame takes on the wire."""
        return self.encode_bytes().decode()

    def encode_bytes(self) -> bytes:
        """``encode`` as UTF-8, the form a WebSocket frame carries."""
        return compact_json_bytes(self.to_json())

    def batch_item(self) -> bytes:
        """This message as one item of a ``Batch``'s ``Obj`` (compact JSON, UTF-8)."""
        return compact_json_bytes(
            {BATCH_TYPE: self.type, BATCH_UUID: self.uuid, BATCH_OBJ: self.obj}
        )

    def encode_around(self, obj_json: Iterable[bytes]) -> list[bytes]:
        """The frame as UTF-8 pieces around an ``Obj`` already encoded as compact
        JSON pieces (``self.obj`` is not used): joined, the same text ``encode``
        gives, without decoding a big payload only to encode it again."""
        return [self._head().encode(), *obj_json, b"}"]

    def _head(self) -> str:
        """The text up to the ``Obj`` value: the fields in ``to_json``'s order."""
        fields = {FIELD_NAMESPACE: self.namespace, FIELD_TYPE: self.type, FIELD_UUID: self.uuid}
        return compact_json({**fields, FIELD_STATUS: self.status})[:-1] + f',"{FIELD_OBJ}":'

    def reply(self, obj: Json, status: int = 200, type_: str | None = None) -> Message:
        """A reply reuses the request's UUID, as Skydive clients expect."""
        return Message(self.namespace, type_ or self.type, obj, self.uuid, status)


def new_message(type_: str, obj: Json, namespace: str = GRAPH, status: int = 200) -> Message:
    """A message with a fresh UUID, for requests and events."""
    return Message(namespace, type_, obj, str(uuid.uuid4()), status)


def batch_frame(uuid: str, items: Sequence[bytes]) -> bytes:
    """A ``Batch`` frame around items made by ``Message.batch_item``."""
    return b"".join(Message(GRAPH, BATCH, None, uuid).encode_around([b"[", b",".join(items), b"]"]))


def unbatch(batch: Message) -> list[Message]:
    """The messages a ``Batch`` carries, in order (MessageError when it is malformed)."""
    items = batch.obj
    if not isinstance(items, list):
        raise MessageError(f"a {BATCH}'s {FIELD_OBJ} must be a list of messages")
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise MessageError(f"a {BATCH} item must be an object")
        type_, uid = item.get(BATCH_TYPE, ""), item.get(BATCH_UUID) or batch.uuid
        if not isinstance(type_, str) or not isinstance(uid, str):
            raise MessageError(f"a {BATCH} item's {BATCH_TYPE} and {BATCH_UUID} must be strings")
        if type_ == BATCH:
            raise MessageError(f"a {BATCH} cannot hold another")
        out.append(Message(batch.namespace, type_, item.get(BATCH_OBJ), uid))
    return out


def decode(frame: str | bytes) -> Message:
    """Decode one text frame; every field is optional on input, as in Skydive."""
    try:
        raw = json.loads(frame)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MessageError(f"invalid JSON: {exc}") from None
    return from_json(raw)


def from_json(raw: object) -> Message:
    """The message a decoded frame holds (for receivers that decode frames themselves)."""
    if not isinstance(raw, dict):
        raise MessageError("message must be a JSON object")
    namespace, type_ = raw.get(FIELD_NAMESPACE, ""), raw.get(FIELD_TYPE, "")
    uid = raw.get(FIELD_UUID, "")
    status = raw.get(FIELD_STATUS, 200)
    if not isinstance(namespace, str) or not isinstance(type_, str):
        raise MessageError(f"{FIELD_NAMESPACE} and {FIELD_TYPE} must be strings")
    if uid is None:
        uid = ""
    if not isinstance(uid, str):
        raise MessageError(f"{FIELD_UUID} must be a string")
    if isinstance(status, bool) or not isinstance(status, int):
        status = 200
    return Message(namespace, type_, raw.get(FIELD_OBJ), uid, status)


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
        "SYNC_FILTER": SYNC_FILTER,
        "HDR_CLIENT_TYPE": HDR_CLIENT_TYPE,
        "FIELD_NAMESPACE": FIELD_NAMESPACE,
        "FIELD_TYPE": FIELD_TYPE,
        "FIELD_UUID": FIELD_UUID,
        "FIELD_STATUS": FIELD_STATUS,
        "FIELD_OBJ": FIELD_OBJ,
    }
