"""Alerts (``/api/alert``): Gremlin expressions watched on graph changes.

An alert fires when its expression's result becomes non-empty or changes
while non-empty (not on every graph change, which would flood the receiver).
Firing posts ``{"UUID", "Timestamp", "ReasonData"}`` to the ``Action`` webhook
(http/https) and sends the same object to subscribers in namespace ``Alert``.
``file://`` actions (Skydive runs a local script) are refused: a REST client
must not be able to execute programs on the analyzer host. Expressions run
under the analyzer's Gremlin budget; one that fails (past the budget, say) does
not fire, and says why in its ``Error`` field and once in the log.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from dragonscope.analyzer.query import ALERT, QueryBudget, QueryError, compile_query, run_query
from dragonscope.analyzer.services import Live
from dragonscope.analyzer.subscribers import SubscriberHub
from dragonscope.graph import now_ms
from dragonscope.gremlin import AS_JSON

log = logging.getLogger(__name__)
_DURATION = re.compile(r"^duration:\d+(\.\d+)?(ns|us|µs|ms|s|m|h)$")
WEBHOOK_TIMEOUT_S = 5.0


class AlertError(ValueError):
    """An alert body that cannot be accepted (HTTP 400)."""


@dataclass(eq=False)
class Alert:
    uuid: str
    name: str
    description: str
    expression: str
    action: str
    trigger: str
    create_time: str
    compiled: Any = None
    last: Any = None
    fired: int = 0
    error: str = ""  # why the expression last failed

    def to_json(self) -> dict[str, Any]:
        obj = {
            "UUID": self.uuid,
            "Name": self.name,
            "Description": self.description,
            "Expression": self.expression,
            "Action": self.action,
            "Trigger": self.trigger,
            "CreateTime": self.create_time,
        }
        if self.error:
            obj["Error"] = self.error
        return obj

    @classmethod
    def from_body(cls, body: Any) -> Alert:
        if not isinstance(body, dict):
            raise AlertError("an alert must be a JSON object")
        fields = {}
        for key in ("Name", "Description", "Expression", "Action", "Trigger"):
            value = body.get(key)
            if value is not None and not isinstance(value, str):
                raise AlertError(f"{key} must be a string")
            fields[key] = value or ""
        if not fields["Expression"]:
            raise AlertError("Expression is required")
        action = fields["Action"]
        if action.startswith("file://"):
            raise AlertError("file:// actions are not supported: use an http(s) webhook")
        if action and not action.startswith(("http://", "https://")):
            raise AlertError("Action must be empty or an http:// or https:// URL")
        trigger = fields["Trigger"] or "graph"
        if trigger != "graph" and not _DURATION.match(trigger):
            raise AlertError("Trigger must be graph or duration:<Go duration>")
        try:
            compiled = compile_query(fields["Expression"])
        except QueryError as exc:
            raise AlertError(f"Expression: {exc}") from None
        return cls(
            uuid=str(uuid.uuid4()),
            name=fields["Name"],
            description=fields["Description"],
            expression=fields["Expression"],
            action=action,
            trigger=trigger,
            create_time=datetime.now(UTC).isoformat(),
            compiled=compiled,
        )


def _non_empty(result: Any) -> bool:
    if isinstance(result, list) and len(result) == 1 and isinstance(result[0], dict):
        graph = result[0]
        if "Nodes" in graph and "Edges" in graph:
            return bool(graph["Nodes"] or graph["Edges"])
    if isinstance(result, bool):
        return result
    if isinstance(result, int | float):
        return result != 0
    return bool(result)


class AlertManager:
    """The alerts in force; firing tells subscribers and the alert's webhook."""

    def __init__(
        self, live: Live, hub: SubscriberHub, counters: Counter[str], budget: QueryBudget
    ) -> None:
        self.live, self.hub, self.counters, self.budget = live, hub, counters, budget
        self.alerts: dict[str, Alert] = {}
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def evaluate(self) -> None:
        """Check every alert against the live graph (called after changes); each
        expression runs in slices."""
        for alert in list(self.alerts.values()):
            try:
                result = await run_query(
                    alert.compiled, self.live.graph, self.live.past, AS_JSON, self.budget,
                    where=ALERT,
                )  # fmt: skip
                alert.error = ""
            except QueryError as exc:
                if str(exc) != alert.error:
                    log.warning("alert %s (%s): %s", alert.uuid, alert.name, exc)
                alert.error = str(exc)
                result = None
            if not _non_empty(result):
                alert.last = None
                continue
            if result == alert.last:
                continue
            alert.last = result
            self._fire(alert, result)

    def _fire(self, alert: Alert, reason: Any) -> None:
        alert.fired += 1
        self.counters["alerts_fired"] += 1
        payload = {"UUID": alert.uuid, "Timestamp": now_ms(), "ReasonData": reason}
        self.hub.broadcast("Alert", "Alert", payload)
        if alert.action:
            task = asyncio.get_running_loop().create_task(self._post(alert.action, payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _post(self, url: str, payload: dict[str, Any]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_S)
            )
        try:
            async with self._session.post(url, json=payload) as response:
                if response.status >= 400:
                    log.warning("alert webhook %s answered %d", url, response.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("alert webhook %s failed: %s", url, exc or type(exc).__name__)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
