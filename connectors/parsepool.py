"""Feed parsing off the event loop, in worker processes with a deadline.

Parsing is pure CPU work on untrusted bytes; in the connector's event loop one
slow document would stall every other feed's fetch and publish. A
:class:`ParsePool` keeps a few *spawned* worker processes (no inherited Kafka
or HTTP sockets) and sends each parse to an idle one through a pipe. A parse
that is not answered within the budget's ``seconds`` gets its process killed
(a thread cannot be stopped; a process can) and :class:`ParseTimeout` raised;
a fresh process replaces it at the next parse. A process that dies (out of
memory, a crash in C code) raises :class:`ParseFailed`. Either way only that
feed's poll fails.

The pool's threads only wait on the pipes; the work runs in the processes. A
new process's imports (about 0.5 s) are not counted against the deadline: it
reports ready first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from connectors.parse import DEFAULT_BUDGET, FeedTooLarge, ParseBudget, ParsedFeed

log = logging.getLogger(__name__)

#: Address space of one worker process (RLIMIT_AS); None for no limit.
MEMORY_LIMIT = 1024 * 1024 * 1024
#: How long a new worker process may take to import the parser before it is given up.
STARTUP_SECONDS = 60.0


class ParseTimeout(Exception):
    """The parse took longer than the budget allows; its worker process was killed."""


class ParseFailed(Exception):
    """The parser raised, or its worker process died; the message says which."""


def _serve(conn: Connection, memory_limit: int | None) -> None:  # pragma: no cover - child
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if memory_limit:
        import resource

        # A parse that needs more address space gets MemoryError (reported as a parse
        # error) or dies (a lost worker), instead of taking the host's memory.
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    from connectors.parse import parse_feed

    conn.send(("ready", None))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        body, feed_url, fetched_at, headers, source, budget = job
        try:
            reply: tuple[str, Any] = ("ok", parse_feed(body, feed_url, fetched_at, headers,
                                                       source, budget))
        except FeedTooLarge as exc:
            reply = ("too_large", str(exc))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, never lost
            reply = ("error", f"parser raised {type(exc).__name__}: {exc}"[:500])
        del body, job
        conn.send(reply)


class _Worker:
    def __init__(self, memory_limit: int | None = None) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, memory_limit),
                                   name="newsmon-parse", daemon=True)
        self.process.start()
        child.close()
        self.ready = False

    def wait_ready(self) -> bool:
        """Wait for the process to have imported the parser (blocking)."""
        if not self.ready:
            if not self.conn.poll(STARTUP_SECONDS):
                raise ParseFailed(f"parse worker not ready after {STARTUP_SECONDS:.0f} s")
            self.conn.recv()
            self.ready = True
        return True

    def call(self, job: tuple[Any, ...], seconds: float) -> tuple[str, Any]:
        """Send one job and wait for its answer (blocking: runs in the pool's thread)."""
        self.wait_ready()
        self.conn.send(job)
        if not self.conn.poll(seconds):
            raise ParseTimeout(f"parse took over {seconds:g} s; its worker process was killed")
        reply: tuple[str, Any] = self.conn.recv()
        return reply

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
            self.process.join(5)
        with contextlib.suppress(OSError):
            self.conn.close()

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.process.join(2)
        if self.process.is_alive():
            self.kill()
        with contextlib.suppress(OSError):
            self.conn.close()


class ParsePool:
    """At most ``workers`` parses at once, each in its own process, each with a deadline."""

    def __init__(self, workers: int = 2, budget: ParseBudget = DEFAULT_BUDGET,
                 memory_limit: int | None = MEMORY_LIMIT) -> None:
        self.budget = budget
        self.memory_limit = memory_limit
        self.workers = max(1, workers)
        self._idle: list[_Worker] = []
        self._live: set[_Worker] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots = asyncio.Semaphore(self.workers)
        self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="newsmon-parse")
        self.restarts = 0  # processes killed or lost

    async def parse(self, body: bytes, feed_url: str, fetched_at: str,
                    headers: Mapping[str, str] | None = None, source: str | None = None,
                    budget: ParseBudget | None = None) -> ParsedFeed:
        """:func:`connectors.parse.parse_feed` in a worker process.

        Raises :class:`FeedTooLarge`, :class:`ParseTimeout` or :class:`ParseFailed`."""
        budget = budget or self.budget
        if len(body) > budget.max_bytes:  # refused before it is copied anywhere
            raise FeedTooLarge(f"{len(body)} bytes, over the parse budget of {budget.max_bytes}")
        job = (body, feed_url, fetched_at, dict(headers or {}), source, budget)
        loop = asyncio.get_running_loop()
        async with self._slot(loop):
            worker = self._idle.pop() if self._idle else await self._spawn(loop)
            keep = False
            try:
                status, value = await loop.run_in_executor(self._threads, worker.call, job,
                                                           budget.seconds)
                keep = True
            except (EOFError, OSError) as exc:
                raise ParseFailed(f"parse worker died ({type(exc).__name__}: {exc})") from None
            finally:
                if keep:
                    self._idle.append(worker)
                else:
                    self.restarts += 1
                    self._live.discard(worker)
                    worker.kill()
        if status == "ok":
            parsed: ParsedFeed = value
            return parsed
        if status == "too_large":
            raise FeedTooLarge(value)
        raise ParseFailed(value)

    def _slot(self, loop: asyncio.AbstractEventLoop) -> asyncio.Semaphore:
        if loop is not self._loop:  # a semaphore belongs to one event loop
            self._loop, self._slots = loop, asyncio.Semaphore(self.workers)
        return self._slots

    async def _spawn(self, loop: asyncio.AbstractEventLoop) -> _Worker:
        worker = await loop.run_in_executor(self._threads, _Worker, self.memory_limit)
        self._live.add(worker)
        return worker

    async def warm(self) -> None:
        """Start the worker processes now, so that the first parses do not wait for one
        to start. Never more than ``workers`` processes: each start holds a parse slot."""
        loop = asyncio.get_running_loop()

        async def one() -> None:
            async with self._slot(loop):
                if len(self._live) >= self.workers:
                    return
                worker = await self._spawn(loop)
                try:
                    await loop.run_in_executor(self._threads, worker.wait_ready)
                except ParseFailed as exc:
                    log.warning("%s", exc)
                    self._live.discard(worker)
                    worker.kill()
                    return
                self._idle.append(worker)

        await asyncio.gather(*(one() for _ in range(self.workers)))

    def close(self) -> None:
        """Stop every worker process (a parse still running is killed)."""
        idle, self._idle = self._idle, []
        for w in idle:
            w.close()
        for w in self._live - set(idle):  # busy, or still starting
            w.kill()
        self._live.clear()
        self._threads.shutdown(wait=False, cancel_futures=True)
