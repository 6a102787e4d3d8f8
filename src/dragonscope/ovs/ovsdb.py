"""Follow the local Open vSwitch database, live and read-only, through the ``ovs`` Python IDL.

The IDL is synchronous, so it runs in its own thread: it monitors the tables below (a change
is pushed by ovsdb-server, nothing is polled), reconnects by itself with backoff when the
server restarts, and hands every new view to the event loop. It never builds a transaction,
so nothing is ever written to the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import ovs.db.idl
import ovs.jsonrpc
import ovs.poller
import ovs.stream
import ovs.vlog

from dragonscope.ovs.state import Bridge, Counters, Interface, OvsState, Port

log = logging.getLogger("dragonscope.ovs")

DATABASE = "Open_vSwitch"
COLUMNS: dict[str, list[str]] = {
    "Open_vSwitch": ["bridges"],
    "Bridge": ["name", "ports", "datapath_type", "fail_mode", "controller"],
    "Controller": ["target"],
    "Port": ["name", "interfaces", "external_ids"],
    "Interface": [
        "name", "type", "ofport", "mac_in_use", "mtu", "admin_state", "link_state", "error",
        "external_ids", "options", "statistics",
    ],
}  # fmt: skip
_RETRY = 1.0  # seconds between attempts to read the schema while the server is away


def _one(value: Any) -> Any:
    """The IDL gives an optional column as a list of zero or one item."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def read_state(idl: ovs.db.idl.Idl) -> tuple[OvsState, Counters]:
    """Copy the IDL's rows into plain values (called in the IDL's thread)."""
    tables = idl.tables
    interfaces: dict[str, Interface] = {}
    counters: Counters = {}
    for row in tables["Interface"].rows.values():
        uuid = str(row.uuid)
        ofport = _one(row.ofport)
        interfaces[uuid] = Interface(
            uuid=uuid,
            name=row.name,
            type=row.type,
            ofport=int(ofport) if ofport is not None else None,
            mac=_one(row.mac_in_use),
            mtu=_one(row.mtu),
            admin_state=_one(row.admin_state),
            link_state=_one(row.link_state),
            error=_one(row.error),
            external_ids=dict(row.external_ids),
            options=dict(row.options),
        )
        counters[uuid] = dict(row.statistics)
    ports = {
        str(row.uuid): Port(
            str(row.uuid),
            row.name,
            tuple(str(i.uuid) for i in row.interfaces),
            dict(row.external_ids),
        )
        for row in tables["Port"].rows.values()
    }
    bridges = {
        str(row.uuid): Bridge(
            uuid=str(row.uuid),
            name=row.name,
            ports=tuple(str(p.uuid) for p in row.ports),
            datapath_type=row.datapath_type,
            fail_mode=_one(row.fail_mode),
            controllers=tuple(sorted(c.target for c in row.controller)),
        )
        for row in tables["Bridge"].rows.values()
    }
    return OvsState(bridges, ports, interfaces), counters


def _schema_helper(remote: str) -> ovs.db.idl.SchemaHelper:
    """Ask the server for its schema (the IDL needs it before it can monitor)."""
    error, stream = ovs.stream.Stream.open_block(ovs.stream.Stream.open(remote), 5000)
    if error:
        raise OSError(error, f"cannot connect to {remote}: {os.strerror(error)}")
    connection = ovs.jsonrpc.Connection(stream)
    try:
        request = ovs.jsonrpc.Message.create_request("get_schema", [DATABASE])
        error, reply = connection.transact_block(request)
        if error or reply is None or reply.error:
            raise OSError(error or 0, f"{remote} did not give the {DATABASE} schema")
        helper = ovs.db.idl.SchemaHelper(schema_json=reply.result)
    finally:
        connection.close()
    for table, columns in COLUMNS.items():
        helper.register_columns(table, columns)
    return helper


class OvsdbMonitor:
    """Runs the IDL in a thread; ``on_state(state, counters, connected)`` runs in the loop."""

    def __init__(
        self,
        remote: str,
        on_state: Callable[[OvsState, Counters, bool], None],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.remote = remote
        self._on_state = on_state
        self._loop = loop
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="ovsdb-monitor", daemon=True)
        self.changes = 0

    def start(self) -> None:
        ovs.vlog.Vlog.set_levels_from_string("ANY:any:off")
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        await asyncio.to_thread(self._thread.join, 10)
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _deliver(self, state: OvsState, counters: Counters, connected: bool) -> None:
        if not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._on_state, state, counters, connected)

    def _run(self) -> None:
        helper = None
        while helper is None and not self._stop.is_set():
            try:
                helper = _schema_helper(self.remote)
            except OSError as exc:
                log.warning("OVSDB not reachable yet: %s", exc)
                self._stop.wait(_RETRY)
        if helper is None:
            return
        idl = ovs.db.idl.Idl(self.remote, helper)
        seqno = idl.change_seqno
        connected = False
        try:
            while not self._stop.is_set():
                idl.run()
                now_connected = idl._session.is_connected()
                if idl.change_seqno != seqno or now_connected != connected:
                    if now_connected != connected:
                        log.info("OVSDB %s %s", self.remote, "up" if now_connected else "down")
                    seqno, connected = idl.change_seqno, now_connected
                    if idl.has_ever_connected():
                        self.changes += 1
                        state, counters = read_state(idl)
                        self._deliver(state, counters, connected)
                poller = ovs.poller.Poller()
                idl.wait(poller)
                poller.fd_wait(self._wake_r, ovs.poller.POLLIN)
                poller.block()
        finally:
            idl.close()
