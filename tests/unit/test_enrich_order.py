"""The enrich stage publishes and acks its chunks in the order taken, not as they finish."""

import asyncio
from typing import Any

from streams.frames import Batch, publish_in_order


def test_a_chunk_that_finishes_first_waits_for_the_one_taken_before_it() -> None:
    async def scenario() -> tuple[list[str], list[Any], bool]:
        loop = asyncio.get_running_loop()
        batches: asyncio.Queue[Batch] = asyncio.Queue()
        slots = asyncio.Semaphore(2)
        first: asyncio.Future[list[dict[str, Any]]] = loop.create_future()
        second: asyncio.Future[list[dict[str, Any]]] = loop.create_future()
        for events, result in (([0, 1], first), ([2], second)):
            await slots.acquire()
            batches.put_nowait(Batch(events, [], [], result))
        published: list[str] = []
        acked: list[Any] = []

        async def analyse(batch: Batch) -> list[dict[str, Any]]:
            return await batch.result

        async def publish(article: dict[str, Any]) -> None:
            published.append(article["id"])

        async def ack(events: list[Any]) -> None:
            acked.extend(events)

        task = asyncio.create_task(publish_in_order(batches, slots, analyse, publish, ack))
        second.set_result([{"id": "c"}])  # offset 2's analysis is done first
        await asyncio.sleep(0.01)
        assert published == [] and acked == []  # ...but waits for offsets 0 and 1
        first.set_result([{"id": "a"}, {"id": "b"}])
        await asyncio.sleep(0.01)
        task.cancel()
        return published, acked, slots.locked()

    published, acked, locked = asyncio.run(scenario())
    assert published == ["a", "b", "c"]
    assert acked == [0, 1, 2]
    assert not locked  # both analysis slots free again
