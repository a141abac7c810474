"""The consumer's loop over its two sources (`chat.consumers.dispatch_each`): what channels'
`await_many_dispatch` promised, kept."""

import asyncio

import pytest
from channels.exceptions import StopConsumer

from chat.consumers import dispatch_each


def source(items):
    """An ASGI-like `receive` over a queue, and the queue."""
    queue = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    return queue.get, queue


def test_each_message_is_dispatched_once_in_its_sources_order_one_at_a_time():
    seen, running = [], []

    async def dispatch(message):
        assert not running, "two dispatches at once"
        running.append(message)
        await asyncio.sleep(0)  # a dispatch that awaits lets the other source's pump run
        await asyncio.sleep(0)
        running.pop()
        seen.append(message)
        if len(seen) == 8:
            raise StopConsumer

    async def main():
        frames, _ = source([f"frame {n}" for n in range(4)])
        events, _ = source([f"event {n}" for n in range(4)])
        with pytest.raises(StopConsumer):
            await dispatch_each([frames, events], dispatch)

    asyncio.run(main())
    assert sorted(seen) == sorted(
        [f"frame {n}" for n in range(4)] + [f"event {n}" for n in range(4)]
    )
    assert [m for m in seen if m.startswith("frame")] == [f"frame {n}" for n in range(4)]
    assert [m for m in seen if m.startswith("event")] == [f"event {n}" for n in range(4)]
    # neither source waits for the other to run dry: they take turns
    assert seen[:2] in (["frame 0", "event 0"], ["event 0", "frame 0"])


def test_a_failing_dispatch_ends_the_loop_and_every_pump_with_its_exception():
    async def dispatch(message):
        if message == "bad":
            raise RuntimeError("a bug")

    async def main():
        frames, _ = source(["ok", "bad", "never"])
        events, event_queue = source([])
        with pytest.raises(RuntimeError, match="a bug"):
            await dispatch_each([frames, events], dispatch)
        await asyncio.sleep(0)
        # nothing reads the sources any more: what arrives now stays where it is
        event_queue.put_nowait("late")
        await asyncio.sleep(0)
        assert event_queue.qsize() == 1
        return [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]

    assert asyncio.run(main()) == []


def test_cancelling_the_loop_cancels_its_pumps_mid_dispatch():
    cancelled = []

    async def main():
        in_dispatch = asyncio.Event()

        async def dispatch(message):
            in_dispatch.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                cancelled.append(message)
                raise

        frames, _ = source(["frame"])
        events, _ = source([])
        loop = asyncio.ensure_future(dispatch_each([frames, events], dispatch))
        await in_dispatch.wait()
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
        return [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]

    assert asyncio.run(main()) == []
    assert cancelled == ["frame"]
