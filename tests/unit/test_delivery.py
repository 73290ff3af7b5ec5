"""streams.delivery: a batch cut at a seek is fetched again; skipped records are not acked;
a commit stuck past WEDGED_AFTER re-executes the worker."""

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
    """The consumer methods the guards wrap, over an in-memory log of offsets."""

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

    async def commit(self) -> bool:
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


class CommitConsumer(FakeConsumer):
    def __init__(self) -> None:
        super().__init__(log_end=0)
        self.release = asyncio.Event()

    async def commit(self) -> bool:  # type: ignore[override]
        await self.release.wait()  # a commit stuck in producer.flush() until released
        return True


async def test_a_commit_stuck_past_wedged_after_reexecutes_the_worker(
        monkeypatch: pytest.MonkeyPatch) -> None:
    consumer: Any = delivery.guard(CommitConsumer())  # type: ignore[arg-type]
    execs: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(delivery.os, "execv", lambda path, argv: execs.append((path, argv)))
    monkeypatch.delenv(delivery.REEXECS_ENV, raising=False)
    stopped: list[bool] = []
    commit = asyncio.ensure_future(consumer.commit())
    watcher = asyncio.ensure_future(delivery.watch_commits(
        consumer, lambda: stopped.append(True), wedged_after=0.2, every=0.05))
    try:
        await asyncio.sleep(0.1)
        assert not execs, "restarted before the commit had run for wedged_after"
        await asyncio.sleep(0.3)
        assert execs and execs[0][1] == list(delivery.sys.orig_argv)
        assert stopped == [True] * len(execs)  # analysis processes stopped first
        assert delivery.reexecs() >= 1
    finally:
        watcher.cancel()
        consumer.release.set()
        assert await commit is True
    assert not consumer.newsmon_commits_running


async def test_commits_that_finish_never_reexecute(monkeypatch: pytest.MonkeyPatch) -> None:
    consumer: Any = delivery.guard(CommitConsumer())  # type: ignore[arg-type]
    consumer.release.set()
    execs: list[Any] = []
    monkeypatch.setattr(delivery.os, "execv", lambda *a: execs.append(a))
    watcher = asyncio.ensure_future(delivery.watch_commits(consumer, lambda: None,
                                                           wedged_after=0.1, every=0.02))
    for _ in range(10):
        assert await consumer.commit() is True
        await asyncio.sleep(0.03)
    watcher.cancel()
    assert not execs


class NoMetadataProducer:
    """A Faust producer whose aiokafka client has no metadata for the topic yet."""

    class Client:
        def __init__(self) -> None:
            self.added: list[str] = []

        def add_topic(self, topic: str) -> None:
            self.added.append(topic)

    def __init__(self) -> None:
        self._producer = type("P", (), {"client": self.Client()})()

    def key_partition(self, topic: str, key: bytes) -> TP:
        raise TypeError("'NoneType' object is not iterable")  # aiokafka _partition


def test_a_table_write_without_topic_metadata_gets_the_default_partitioners_partition() -> None:
    from aiokafka.partitioner import DefaultPartitioner

    raw = NoMetadataProducer()
    producer: Any = delivery.steady_partitions(raw, 4)  # type: ignore[arg-type]
    for i in range(200):
        key = f"article-{i}".encode()
        tp = producer.key_partition("app-pending-changelog", key)
        assert tp == TP("app-pending-changelog", DefaultPartitioner()(key, [0, 1, 2, 3], []))
    assert raw._producer.client.added and set(raw._producer.client.added) == {
        "app-pending-changelog"}
