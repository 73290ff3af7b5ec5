"""Parsing in worker processes: the deadline kills and replaces, a crash fails one parse."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connectors.parse import FeedTooLarge, ParseBudget, parse_feed
from connectors.parsepool import ParseFailed, ParsePool, ParseTimeout
from tests.integration.misbehaving import GOOD_FEED, slow_to_parse


@pytest.fixture
async def pool() -> AsyncIterator[ParsePool]:
    p = ParsePool(1, ParseBudget(seconds=2.0))
    await p.warm()
    try:
        yield p
    finally:
        p.close()


async def test_the_pool_gives_what_parse_feed_gives(pool: ParsePool) -> None:
    got = await pool.parse(GOOD_FEED, "https://e.example/f", "t", {}, "src")
    assert got == parse_feed(GOOD_FEED, "https://e.example/f", "t", {}, "src")


async def test_a_parse_over_the_deadline_is_killed_and_the_next_parse_works(
        pool: ParsePool) -> None:
    pid = pool._idle[0].process.pid
    t0 = time.perf_counter()
    with pytest.raises(ParseTimeout, match="over 2 s"):
        await pool.parse(slow_to_parse(), "https://e.example/slow", "t")
    assert time.perf_counter() - t0 < 10  # the deadline, not the 20+ s the parse needs
    assert pool.restarts == 1
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped
    got = await pool.parse(GOOD_FEED, "https://e.example/f", "t")
    assert len(got.entries) == 2


async def test_the_loop_is_free_while_a_worker_parses(pool: ParsePool) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    ticker = asyncio.create_task(tick())
    with pytest.raises(ParseTimeout):
        await pool.parse(slow_to_parse(), "https://e.example/slow", "t")
    ticker.cancel()
    assert ticks >= 10  # 2 s of deadline: dozens of ticks, not one


async def test_a_dead_worker_fails_one_parse_only(pool: ParsePool) -> None:
    worker = pool._idle[0]
    assert worker.process.pid is not None
    os.kill(worker.process.pid, signal.SIGKILL)
    worker.process.join(5)
    with pytest.raises(ParseFailed, match="died"):
        await pool.parse(GOOD_FEED, "https://e.example/f", "t")
    assert len((await pool.parse(GOOD_FEED, "https://e.example/f", "t")).entries) == 2


async def test_too_large_is_refused_without_a_worker(pool: ParsePool) -> None:
    with pytest.raises(FeedTooLarge):
        await pool.parse(b"x" * 101, "https://e.example/f", "t",
                         budget=ParseBudget(max_bytes=100))
    assert pool.restarts == 0


async def test_workers_run_under_an_address_space_limit() -> None:
    p = ParsePool(1, memory_limit=768 * 1024 * 1024)
    await p.warm()
    try:
        pid = p._idle[0].process.pid
        limits = Path(f"/proc/{pid}/limits").read_text()
        line = next(x for x in limits.splitlines() if x.startswith("Max address space"))
        assert str(768 * 1024 * 1024) in line
        assert len((await p.parse(GOOD_FEED, "https://e.example/f", "t")).entries) == 2
    finally:
        p.close()
