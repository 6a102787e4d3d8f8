"""``dragonscope demo``: the whole product in one process, on a generated cloud.

One event loop runs the analyzer (UI, REST, WebSocket), a collector publishing
to it, and a gentle churn that keeps changing the NB so the graph is visibly
live. By default the NB is the built-in memory store; with ``nb`` set it is a
real etcd or redis (or a dump file), seeded with the sample cloud when it is
empty (or when ``seed_nb`` asks for it). An NB the demo did not seed is shown
as it is and never written to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dragonscope.demo.churn import Churn
from dragonscope.demo.churn_state import Change
from dragonscope.demo.generate import generate, project_names
from dragonscope.demo.sizes import resolve_counts
from dragonscope.demo.writers import NbWriter, WriterError, open_writer, parse_out_url
from dragonscope.nb import Dump, NbReader, object_count, tables
from dragonscope.nb.backends import MemoryBackend, shown_url

if TYPE_CHECKING:
    from dragonscope.analyzer import Analyzer
    from dragonscope.collector import Collector

log = logging.getLogger(__name__)

# Dragonflow services report every 25 s (report_interval); the demo's services do the same,
# so that a health view shows them alive.
HEARTBEAT_INTERVAL = 25.0
# How often writes are retried while the NB store is unreachable.
RETRY_INTERVAL = 1.0


@dataclass(slots=True)
class DemoSettings:
    nb: str | None = None
    seed_nb: bool = False
    host: str = "127.0.0.1"
    port: int = 8082
    size: str = "small"
    seed: int = 0
    churn_interval: float = 3.0
    insecure: bool = False

    def check(self) -> None:
        """Refuse bad settings before anything starts (ValueError or WriterError)."""
        from dragonscope.analyzer import is_loopback

        if self.churn_interval < 0:
            raise ValueError("the churn interval cannot be negative (0 turns churn off)")
        resolve_counts(self.size)
        if self.nb is not None:
            parse_out_url(self.nb.strip())
        if not self.insecure and not is_loopback(self.host):
            raise ValueError(
                f"the demo has no login: refusing to listen on {self.host}; "
                "give --insecure to let anyone on the network see it"
            )


class Demo:
    """Analyzer + collector + churn over one NB, started and stopped together."""

    def __init__(self, settings: DemoSettings, announce: Callable[[str], None] = print) -> None:
        settings.check()
        self.settings = settings
        self.announce = announce
        self.dump: Dump | None = None
        self.churn: Churn | None = None
        self.changelog: ChangeLog | None = None
        self.writer: NbWriter | None = None
        self.backend: MemoryBackend | None = None
        self.analyzer: Analyzer | None = None
        self.collector: Collector | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._write_lock = asyncio.Lock()
        self._history_dir: tempfile.TemporaryDirectory[str] | None = None
        self.failed = asyncio.Event()
        self.failure = ""

    async def start(self) -> None:
        from dragonscope.analyzer import Analyzer, AnalyzerSettings
        from dragonscope.collector import Collector, CollectorSettings

        settings = self.settings
        # The demo's history is durable like an analyzer's, in a file gone with the demo.
        self._history_dir = tempfile.TemporaryDirectory(prefix="dragonscope-demo-")
        # The analyzer first: a busy port is the likeliest failure, found before any NB write.
        self.analyzer = Analyzer(
            AnalyzerSettings(
                host=settings.host,
                port=settings.port,
                insecure=settings.insecure,
                history=f"sqlite://{self._history_dir.name}/history.db",
                gc_freeze=True,  # the demo process is ours alone, as the analyzer's is
            )
        )
        await self.analyzer.start()
        try:
            nb = await self._prepare_nb()
            self.collector = Collector(
                CollectorSettings(nb=nb, analyzer=self.analyzer_address, progress=False)
            )
            self._spawn(self.collector.run(), "demo-collector")
            if self.churn is not None and self.settings.churn_interval > 0:
                self._spawn(self._churn_forever(), "demo-churn")
            if self.churn is not None:
                self._spawn(self._heartbeats_forever(), "demo-heartbeats")
        except BaseException:
            await self.stop()
            raise
        self.announce(self.banner())

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        task.add_done_callback(self._report_crash)
        self._tasks.append(task)

    def _report_crash(self, task: asyncio.Task[None]) -> None:
        """A part that stops by itself leaves a demo that only looks alive: say so, and let
        whoever runs the demo end it (``wait``)."""
        if task.cancelled() or task.exception() is None:
            return
        part = task.get_name().removeprefix("demo-")
        self.failure = f"the {part} stopped: {task.exception()}"
        log.error("%s", self.failure)
        self.failed.set()

    async def wait(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set or a part of the demo fails (then ``failure`` says why)."""
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.failed.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _prepare_nb(self) -> str | NbReader:
        """The NB the collector reads: a reader of the memory store, or the real store's URL."""
        settings = self.settings
        dump = generate(settings.size, settings.seed, now=time.time())
        nb: str | NbReader
        if settings.nb is None:
            self.backend = MemoryBackend("memory://demo")
            self.writer = open_writer(self.backend)
            nb = NbReader(self.backend)  # shared with the churn; closed by ``stop``
        else:
            nb = settings.nb
            self.writer = open_writer(nb)
            if not settings.seed_nb and not await self.writer.is_empty():
                log.info(
                    "%s already holds data: showing it as it is, without churn", self.writer.url
                )
                await self.writer.close()
                self.writer = None
                return nb
        count = await self.writer.write_dump(dump)
        log.info(
            "seeded %s with the %s sample cloud (%d objects)", self.writer.url, settings.size, count
        )
        self.dump = dump
        if self.analyzer is not None:  # what Keystone would tell an analyzer
            self.analyzer.settings.project_names.update(project_names(dump))
        self.churn = Churn(dump, seed=settings.seed, clock=time.time)
        # The banner's example trace must keep working however long the demo runs.
        example = trace_example(dump)
        if example is not None:
            names = set(example)
            self.churn.keep([p["id"] for p in dump[tables.LPORT] if p.get("name") in names])
        self.changelog = ChangeLog(dump)
        return nb

    async def _write(self, make: Callable[[], list[Change]]) -> list[Change]:
        """Make one event's changes and write them, in order with every other event's.

        While the store is unreachable the same writes are retried (they are idempotent
        whole-object puts and deletes), so the store never misses an event the churn made."""
        async with self._write_lock:
            changes = make()
            failing = False
            while self.writer is not None and changes:
                try:
                    await self.writer.apply(changes)
                except WriterError as exc:
                    if not failing:
                        log.warning("churn paused: %s; retrying", exc)
                    failing = True
                    await asyncio.sleep(RETRY_INTERVAL)
                    continue
                if failing:
                    log.info("churn resumed: %s is writable again", self.writer.url)
                break
            return changes

    async def churn_once(self) -> list[Change]:
        """Run one churn event now and write it; returns its writes (none without churn)."""
        if self.churn is None:
            return []
        churn = self.churn
        changes = await self._write(churn.step)
        if changes and self.changelog is not None:
            log.info("churn: %s", self.changelog.line(churn.last_event, changes))
        return changes

    async def _churn_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.churn_interval)
            await self.churn_once()

    async def _heartbeats_forever(self) -> None:
        assert self.churn is not None
        churn = self.churn
        while True:
            await asyncio.sleep(HEARTBEAT_INTERVAL)
            changes = await self._write(churn.heartbeat_all)
            if self.changelog is not None:
                self.changelog.line("heartbeat", changes)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.analyzer is not None:
            await self.analyzer.stop()
            self.analyzer = None
        if self._history_dir is not None:
            self._history_dir.cleanup()
            self._history_dir = None
        if self.writer is not None:
            with contextlib.suppress(Exception):
                await self.writer.close()
            self.writer = None
        if self.backend is not None:
            await self.backend.close()
            self.backend = None

    async def __aenter__(self) -> Demo:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- what the operator reads --------------------------------------------------
    @property
    def analyzer_address(self) -> str:
        """``host:port`` for commands run on this machine."""
        host = self.settings.host
        if host in ("0.0.0.0", "::"):  # listening everywhere: loopback works locally
            host = "127.0.0.1"
        host = host if ":" not in host else f"[{host}]"
        return f"{host}:{self.analyzer.port if self.analyzer else self.settings.port}"

    @property
    def ui_url(self) -> str:
        """The address to open; on every interface, the one others use: the host name."""
        if self.settings.host in ("0.0.0.0", "::"):
            port = self.analyzer.port if self.analyzer else self.settings.port
            return f"http://{socket.gethostname()}:{port}/"
        return f"http://{self.analyzer_address}/"

    def banner(self) -> str:
        address = self.analyzer_address
        if self.dump is not None:
            what = f"the {self.settings.size} sample cloud ({summary(self.dump)})"
        else:
            what = "the NB as it is"
        where = (
            "the built-in memory NB" if self.settings.nb is None else shown_url(self.settings.nb)
        )
        if self.churn is not None and self.settings.churn_interval > 0:
            churn = f"one change every {self.settings.churn_interval:g} s"
        else:
            churn = "no churn"
        lines = [
            f"dragonscope demo: {what}, from {where}, {churn}",
            "",
            f"  Open the UI:  {self.ui_url}",
            "",
            "  Try:",
            f"""    dragonscope query --analyzer {address} "G.V().Has('Type','lport')" """.rstrip(),
        ]
        pair = trace_example(self.dump) if self.dump is not None else None
        if pair is not None:
            source, target = pair
            lines.append(
                f"    dragonscope trace --analyzer {address} --from {source} --to {target} "
                "--proto tcp --dport 5432"
            )
        lines += ["", "  Ctrl-C stops the demo."]
        return "\n".join(lines)


def summary(dump: Dump) -> str:
    tenants = {s["topic"] for s in dump.get(tables.LSWITCH, []) if not s.get("is_external")}
    return (
        f"{object_count(dump)} objects: {len(tenants)} tenants, "
        f"{len(dump.get('lswitch', []))} networks, {len(dump.get('lport', []))} ports, "
        f"{len(dump.get('chassis', []))} chassis"
    )


def trace_example(dump: Dump) -> tuple[str, str] | None:
    """A web VM and a database VM of the same tenant: the demo's routed, allowed flow."""
    networks = {s["id"]: s.get("name", "") for s in dump.get(tables.LSWITCH, [])}
    vms = [
        p
        for p in dump.get(tables.LPORT, [])
        if p.get("device_owner") == "compute:nova" and p.get("name") and "binding" in p
    ]
    for web in vms:
        if not networks.get(web["lswitch"], "").endswith("-web"):
            continue
        for db in vms:
            if db["topic"] == web["topic"] and networks.get(db["lswitch"], "").endswith("-db"):
                return web["name"], db["name"]
    return None


def label(table: str, obj: dict[str, Any]) -> str:
    """How an operator recognises an object in a log line."""
    if obj.get("name"):
        return str(obj["name"])
    if table == tables.FLOATINGIP and obj.get("floating_ip_address"):
        return str(obj["floating_ip_address"])
    if table == tables.SERVICE and obj.get("binary"):
        return f"{obj['binary']}@{obj.get('chassis', '?')}"
    if table == tables.ACTIVEPORT and obj.get("ip"):
        return f"virtual IP {obj['ip']}"
    if table == tables.LPORT and obj.get("ips"):
        return f"{obj.get('device_owner') or 'port'} {obj['ips'][0]}"
    return str(obj.get("id", "?"))


class ChangeLog:
    """One line per churn event: ``boot vm: lport acme-web-vm46 created, ... updated``."""

    def __init__(self, dump: Dump) -> None:
        self.labels = {
            (table, obj["id"]): label(table, obj)
            for table, rows in dump.items()
            if table != tables.UNIQUE_KEY
            for obj in rows
        }

    def line(self, event: str, changes: list[Change]) -> str:
        parts = []
        for table, obj_id, obj in changes:
            if table == tables.UNIQUE_KEY:
                continue
            key = (table, obj_id)
            if obj is None:
                parts.append(f"{table} {self.labels.pop(key, obj_id)} deleted")
                continue
            verb = "updated" if key in self.labels else "created"
            self.labels[key] = label(table, obj)
            parts.append(f"{table} {self.labels[key]} {verb}")
        shown = ", ".join(parts[:4]) + (f" and {len(parts) - 4} more" if len(parts) > 4 else "")
        return f"{event.replace('_', ' ')}: {shown}"
