"""Stopping the services a test started, within a bound.

A service that does not end once cancelled is a bug (it would hang an operator's
shutdown too). Rather than the whole run's timeout, the test then fails with where each
task still running is stuck, which is what finding that bug needs.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

STOP_WITHIN_S = 60.0


async def stop_tasks(*tasks: asyncio.Future[Any], within: float = STOP_WITHIN_S) -> None:
    """Cancel ``tasks`` and wait until all have ended; how each ended is theirs."""
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    _, running = await asyncio.wait(set(tasks), timeout=within)
    if running:
        raise AssertionError(f"still running {within:.0f} s after cancel:\n{_stacks()}")
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved: ending with an error after cancel is theirs


def _stacks() -> str:
    out = io.StringIO()
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task():
            task.print_stack(file=out)
    return out.getvalue()
