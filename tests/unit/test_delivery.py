"""streams.delivery: a batch cut at a seek is fetched again; skipped records are not acked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from faust.types import TP

from streams import delivery

PART = TP("t", 0)


class Msg:
    def __init__(self, offset: int, tracked: bool = True) -> None:
        self.offset, self.tracked, self.tp = offset, tracked, PART


class FakeConsumer:
    """The four consumer methods the guard wraps, over an in-memory log of offsets."""

    def __init__(self, log_end: int, committed: int | None = None) -> None:
        self.position = 0
        self.committed = committed
        self._committed_offset = {PART: committed}
        self.log_end = log_end
        self.seeks = 0
        self.acked: list[int] = []
        self.gaps: list[tuple[int, int]] = []
        self.on_yield: Any = None

    async def perform_seek(self) -> None:
        self.seeks += 1
        if self.committed:  # as aiokafka: a partition with nothing committed is not moved
            self.position = self.committed

    def assignment(self) -> set[TP]:
        return {PART, TP("app-table-changelog", 0)}

    def _is_changelog_tp(self, tp: TP) -> bool:
        return tp.topic.endswith("-changelog")

    async def seek(self, tp: TP, offset: int) -> None:
        assert tp == PART, "a changelog partition is left to Faust's recovery"
        self.position = offset

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Msg]]:
        batch = list(range(self.position, min(self.position + 5, self.log_end)))
        self.position += len(batch)
        for offset in batch:
            if self.on_yield:
                await self.on_yield(offset)
            yield PART, Msg(offset)

    def ack(self, message: Msg) -> bool:
        self.acked.append(message.offset)
        return True

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        self.gaps.append((offset_from, offset_to))


async def drain(consumer: Any, rounds: int) -> list[int]:
    seen = []
    for _ in range(rounds):
        async for _, message in consumer.getmany(timeout=1.0):
            seen.append(message.offset)
    return seen


def test_a_batch_straddling_a_seek_is_cut_and_fetched_again() -> None:
    fake = FakeConsumer(log_end=10)
    consumer: Any = delivery.guard(fake)  # type: ignore[arg-type]

    async def seek_at_2(offset: int) -> None:
        if offset == 2 and fake.seeks == 0:
            await consumer.perform_seek()  # e.g. recovery seeking to committed offsets

    fake.on_yield = seek_at_2
    seen = asyncio.run(drain(consumer, 3))
    # 0 and 1 were handed out before the seek; 2..4 (fetched before it) were not, and
    # everything from the committed offset is delivered again: nothing is skipped.
    assert seen[:2] == [0, 1]
    assert seen[2:] == list(range(10))
    assert fake.seeks == 2  # the recovery's seek, then the guard's own


def test_a_gap_seen_by_a_stale_batch_is_not_acknowledged() -> None:
    fake = FakeConsumer(log_end=10)
    consumer: Any = delivery.guard(fake)  # type: ignore[arg-type]

    async def run() -> None:
        batch = consumer.getmany(timeout=1.0)
        await batch.__anext__()
        await consumer.perform_seek()
        await consumer._add_gap(PART, 1, 3)  # a stale record looked like a jump
        await batch.aclose()
        fresh = consumer.getmany(timeout=1.0)
        await fresh.__anext__()
        await consumer._add_gap(PART, 7, 8)  # a real gap in a fresh batch still counts
        await fresh.aclose()

    asyncio.run(run())
    assert fake.gaps == [(7, 8)]


def test_acks_of_records_no_agent_received_are_refused() -> None:
    fake = FakeConsumer(log_end=0)
    consumer: Any = delivery.guard(fake)  # type: ignore[arg-type]
    assert consumer.ack(Msg(3, tracked=True)) is True
    assert consumer.ack(Msg(4, tracked=False)) is False
    assert fake.acked == [3]


@pytest.mark.parametrize("committed", [None, 3])
def test_a_partition_with_nothing_committed_is_fetched_again_from_its_beginning(
        committed: int | None) -> None:
    start = committed or 0
    fake = FakeConsumer(log_end=10, committed=committed)
    fake.position = start
    consumer: Any = delivery.guard(fake)  # type: ignore[arg-type]

    async def seek_midway(offset: int) -> None:
        if offset == start + 1 and fake.seeks == 0:
            await consumer.perform_seek()

    fake.on_yield = seek_midway
    seen = asyncio.run(drain(consumer, 4))
    # Handed out before the seek: the first record; then everything from the committed
    # offset (or the beginning, with none) again: nothing skipped.
    assert seen == [start, *range(start, 10)]
