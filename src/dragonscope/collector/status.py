"""The node that describes a collector in the graph it publishes.

``Dragonflow.Stale`` tells operators the graph may be behind the NB (the NB is
unreachable and the last graph stays published); ``Resyncs``, ``Resyncing`` and
``LastResync`` tell that the NB's history broke (restored from a backup, wiped)
and was read again in full; ``Mode`` and ``Chassis`` say which slice this
collector publishes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from dragonscope.collector.sync import SyncState
from dragonscope.graph import Edge, Node

STATUS_NODE_TYPE = "dragonscope-collector"
_STATUS_NS = uuid.UUID("5d1c9a3e-2f43-4b0e-9a55-6f0f3f2d7c11")
_NO_EDGES: Mapping[str, Edge] = {}


class StatusNode:
    """A source of one node, rebuilt (and marked) whenever the NB's state changes."""

    def __init__(self, origin: str, name: str, chassis: str | None, sync: SyncState) -> None:
        self.id = str(uuid.uuid5(_STATUS_NS, origin))
        self._name = name
        self._chassis = chassis
        self._sync = sync
        self._nodes: dict[str, Node] = {}
        self._stale = False
        self._stale_since: float | None = None
        self._resync: dict[str, Any] = {}

    @property
    def nodes(self) -> Mapping[str, Node]:
        return self._nodes

    @property
    def edges(self) -> Mapping[str, Edge]:
        return _NO_EDGES

    def resynced(self, count: int, active: bool, reason: str, at: float | None) -> None:
        """Record the NB resyncs so far (``active`` while one runs) and republish."""
        self._resync = {"Resyncs": count, "Resyncing": active}
        if at is not None:
            self._resync["LastResync"] = {"At": int(at * 1000), "Reason": reason}
        self.refresh(self._stale, self._stale_since)

    def refresh(self, stale: bool, stale_since: float | None) -> None:
        self._stale, self._stale_since = stale, stale_since
        dragonflow: dict[str, Any] = {
            "Stale": stale,
            **self._resync,
            "Mode": "chassis" if self._chassis else "global",
        }
        if self._chassis:
            dragonflow["Chassis"] = self._chassis
        if stale_since is not None:
            dragonflow["StaleSince"] = int(stale_since * 1000)
        node = Node(
            id=self.id,
            metadata={
                "Name": self._name,
                "Type": STATUS_NODE_TYPE,
                "Manager": "dragonscope",
                "Dragonflow": dragonflow,
            },
        )
        self._nodes = {node.id: node}
        self._sync.mark(node.id, True)
