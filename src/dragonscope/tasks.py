"""Stopping a helper task without losing the stopper's own cancellation.

The common idiom ``task.cancel(); with suppress(CancelledError): await task`` cannot tell
the helper's cancellation from a cancellation of the task that awaits it: when the latter
arrives during the await, it is swallowed, and a service asked to stop carries on for ever
(its owner then waits on it for ever). ``asyncio.wait`` never raises what the helper
raised, so a ``CancelledError`` out of it is always the caller's own, and goes up.
"""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(task: asyncio.Future[Any] | None) -> None:
    """Cancel ``task`` and wait until it has ended. Its cancellation is expected and
    passes silently; any other error it ended with is raised here, as awaiting it would."""
    if task is None:
        return
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled() and (error := task.exception()) is not None:
        raise error
