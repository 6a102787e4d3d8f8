"""A ``df-db dump`` JSON file as an NB: offline analysis of a bug report.

The file is ``{table: [object, ...]}`` exactly as Dragonflow's ``df-db dump -f json``
writes it (``nb/dump.py``). It is polled (inode, size, mtime) and re-read when it changes; the
difference is streamed as changes, numbered by a local revision counter.
A half-written or broken file is reported once and the last good content kept.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

from dragonscope.nb.backends.base import BackendError, RawChange, RawEntry
from dragonscope.nb.backends.store import LocalStore, flatten_dump
from dragonscope.nb.backends.urls import FILE_INTERVAL
from dragonscope.nb.dump import DumpError, read_dump
from dragonscope.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class DumpFileBackend:
    """Reads one dump file; follows it while anyone listens to ``changes``."""

    def __init__(self, url: str, path: Path, *, interval: float = FILE_INTERVAL) -> None:
        self.url = url
        self.path = path
        self.interval = interval
        # (table, id) stored more than once -> where, e.g. ("lport[3]", "lport[9]").
        self.duplicates: dict[tuple[str, str], tuple[str, ...]] = {}
        self._store = LocalStore()
        self._signature: tuple[int, int, int] | None = None
        self._failed_message: str | None = None
        self._poller: asyncio.Task[None] | None = None

    async def snapshot(self) -> tuple[list[RawEntry], int]:
        # Once a good version was read, a broken rewrite keeps it rather than failing.
        self._load(strict=self._signature is None)
        return self._store.snapshot()

    async def changes(self, since: int) -> AsyncIterator[RawChange]:
        if self._signature is None:
            self._load(strict=True)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll(), name=f"poll {self.path}")
        async for change in self._store.follow(since):
            yield change

    async def close(self) -> None:
        await cancel_and_wait(self._poller)
        self._store.close()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self._load(strict=False)

    def _load(self, *, strict: bool) -> None:
        """Re-read the file if it changed. ``strict``: raise instead of keeping old content."""
        try:
            st = os.stat(self.path)
            signature = (st.st_ino, st.st_size, st.st_mtime_ns)
            if signature == self._signature:
                return
            content = self._read()
        except (OSError, BackendError) as exc:
            error = exc if isinstance(exc, BackendError) else _os_error(self.path, exc)
            if strict:
                raise error from exc
            if self._failed_message != str(error):
                log.warning("%s; keeping the last good content", error)
                self._failed_message = str(error)
            return
        self._failed_message = None
        first, self._signature = self._signature is None, signature
        changed = self._store.replace(content)
        if changed and not first:  # the first read is the content, not a change
            log.info("%s changed: %d objects differ", self.path, changed)

    def _read(self) -> dict[tuple[str, str], bytes]:
        try:
            dump = read_dump(self.path.read_bytes(), str(self.path))
        except DumpError as exc:
            raise BackendError(str(exc)) from exc
        content, self.duplicates = flatten_dump(dump, str(self.path))
        return content


def _os_error(path: Path, exc: OSError) -> BackendError:
    reason = exc.strerror or str(exc)
    return BackendError(f"cannot read {path}: {reason}")
