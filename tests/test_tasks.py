"""Stopping a helper task: the stopper's own cancellation must never be swallowed."""

from __future__ import annotations

import asyncio

import pytest

from dragonscope.tasks import cancel_and_wait


def slow_to_stop(cleanup_done: asyncio.Event) -> asyncio.Task[None]:
    """A helper whose clean-up, once cancelled, takes until ``cleanup_done`` is set."""

    async def helper() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            await cleanup_done.wait()

    return asyncio.create_task(helper())


async def test_a_cancellation_of_the_stopper_while_it_waits_goes_up() -> None:
    cleanup_done = asyncio.Event()
    helper = slow_to_stop(cleanup_done)
    await asyncio.sleep(0)
    stopper = asyncio.create_task(cancel_and_wait(helper))
    for _ in range(3):
        await asyncio.sleep(0)
    assert helper.cancelling() and not helper.done()  # the stopper now waits on its clean-up

    stopper.cancel()
    await asyncio.wait({stopper})
    assert stopper.cancelled()  # swallowed, the stopper would have returned normally
    cleanup_done.set()
    await asyncio.wait({helper})
    assert helper.cancelled()


async def test_the_helpers_own_cancellation_passes_silently() -> None:
    cleanup_done = asyncio.Event()
    cleanup_done.set()
    helper = slow_to_stop(cleanup_done)
    await asyncio.sleep(0)
    await cancel_and_wait(helper)
    assert helper.cancelled()
    await cancel_and_wait(None)  # nothing started: nothing to stop


async def test_an_error_the_helper_ended_with_is_raised() -> None:
    async def broken() -> None:
        raise LookupError("the helper's own bug")

    helper = asyncio.create_task(broken())
    await asyncio.sleep(0)
    with pytest.raises(LookupError, match="the helper's own bug"):
        await cancel_and_wait(helper)
