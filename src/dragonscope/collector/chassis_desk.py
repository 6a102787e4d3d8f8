"""A chassis collector answers the analyzer's questions about its Open vSwitch.

Over the publisher connection it already keeps open, in dragonscope's own namespace (a Skydive
analyzer never sends it): after each connection the collector says which chassis it serves
(``ChassisReady``); the analyzer then asks (``ChassisRequest``) for the bridge's ports or for
one ``ofproto/trace``, and gets a ``ChassisReply`` with the same UUID. Nothing else can be
run: the request names a flow, never a command, and ``ofproto/trace`` never sends a packet.
Answers are bounded in size and time, and taken one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from dragonscope.graph import Json
from dragonscope.ovs import ProbeSettings, Switch, SwitchError
from dragonscope.skydive import (
    CHASSIS_NAMESPACE,
    CHASSIS_READY,
    CHASSIS_REPLY,
    CHASSIS_REQUEST,
    Message,
    Publisher,
    PublisherDisconnected,
    new_message,
)
from dragonscope.trace.real import Probe

log = logging.getLogger("dragonscope.collector")

MAX_OUTPUT = 512 * 1024  # characters of ofproto/trace output sent back
MAX_WAITING = 8  # requests queued behind the one running; more are refused as busy
TRACE_TIMEOUT = 10.0


class ChassisDesk:
    """Answers for ``switch``; ``send`` writes a message on the publisher connection."""

    def __init__(self, switch: Switch, send: Callable[[Message], Awaitable[None]]) -> None:
        self.switch, self._send = switch, send
        self._one_at_a_time = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.answered = 0

    async def announce(self) -> None:
        """After each (re)connection: this connection answers for the chassis."""
        obj: Json = {"Chassis": self.switch.chassis}
        await self._send(new_message(CHASSIS_READY, obj, namespace=CHASSIS_NAMESPACE))

    def on_message(self, message: Message) -> None:
        if message.namespace != CHASSIS_NAMESPACE or message.type != CHASSIS_REQUEST:
            return
        if len(self._tasks) > MAX_WAITING:
            self._reply(message, {"Error": "the chassis is busy with other requests"}, 429)
            return
        task = asyncio.create_task(self._answer(message), name="chassis-desk")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def _answer(self, message: Message) -> None:
        async with self._one_at_a_time:
            obj, status = await self.answer(message.obj)
        self.answered += 1
        await self._write(message.reply(obj, status, CHASSIS_REPLY))

    def _reply(self, message: Message, obj: Json, status: int) -> None:
        task = asyncio.create_task(self._write(message.reply(obj, status, CHASSIS_REPLY)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self, message: Message) -> None:
        # On a lost connection the analyzer's request fails with it.
        with contextlib.suppress(PublisherDisconnected):
            await self._send(message)

    async def answer(self, obj: Json) -> tuple[Json, int]:
        """The reply's Obj and status for one request's Obj."""
        op = obj.get("Op") if isinstance(obj, dict) else None
        switch = self.switch
        try:
            if op == "ports":
                found = await switch.ports()
                ports: Json = {
                    "Chassis": switch.chassis,
                    "Ports": dict[str, Json](found.ofports),
                    "Tunnels": dict[str, Json](found.tunnels),
                    "Patches": dict[str, Json](found.patches),
                    "Metadata": found.metadata,
                    "Snat": found.snat,
                    "SnatBridgeMac": found.snat_bridge_mac,
                }
                return ports, 200
            if op == "trace":
                probe = Probe.from_request(switch.chassis, switch.bridge, obj)
                text = await switch.trace(probe.args(), TRACE_TIMEOUT)
                out: Json = {
                    "Chassis": switch.chassis,
                    "Output": text[:MAX_OUTPUT],
                    "Truncated": len(text) > MAX_OUTPUT,
                }
                return out, 200
        except ValueError as exc:
            return {"Error": str(exc)}, 400
        except SwitchError as exc:
            log.warning("chassis request %s failed: %s", op, exc)
            return {"Error": f"{switch.chassis}: {exc}"}, 503
        return {"Error": 'Op must be "ports" or "trace"'}, 400


class Link(Protocol):
    """The parts of the analyzer link the desk plugs into (``collector.publish.AnalyzerLink``)."""

    publisher: Publisher
    side: list[Callable[[Message], None]]
    on_connected: list[Callable[[], Awaitable[None]]]


def attach_desk(link: Link, probe: ProbeSettings) -> ChassisDesk:
    """Answer on ``link`` for the switch the chassis's OVS probe reads."""
    switch = Switch.at(probe.chassis, probe.ovsdb, probe.bridge, mappings=probe.bridge_mappings)
    desk = ChassisDesk(switch, link.publisher.send)
    link.side.append(desk.on_message)
    link.on_connected.append(desk.announce)
    return desk
