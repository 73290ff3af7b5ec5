"""The enrich stage: entities and tension, off the event loop.

Records come in batches (``noack_take``, acked only once published) and the CPU-heavy
analysis runs in a spawned process pool (a thread when ``analysis_processes`` is 0) so
the event loop keeps heartbeating. Each batch goes, in chunks of at most
``ENRICH_CHUNK`` records, to the next free process (one chunk per process in flight);
:func:`~streams.frames.publish_in_order` publishes and acks the chunks in the order
taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import faust

from newsmon import metrics
from newsmon.analysis.neardup import Match
from newsmon.analysis.pipeline import Analyzer
from newsmon.records import RawArticle, RecordError, dumps, loads, raw_from_dict
from newsmon.settings import Settings
from streams import analysis_pool
from streams.frames import Batch, Frames, ack_all, publish_in_order
from streams.topology import Topology

log = logging.getLogger(__name__)

ENRICH_BATCH = 16
ENRICH_WITHIN = 0.005
ENRICH_CHUNK = 4         # records per hand-off to an analysis process


def decode(value: bytes) -> tuple[RawArticle, Match | None]:
    """A record of the analyze topic: the raw article and its near-duplicate verdict
    (None for a record released without one)."""
    obj = loads(value)
    raw = raw_from_dict(obj)
    near = (Match(obj.get("duplicate_of"), obj.get("story_id") or raw.id, 0)
            if "story_id" in obj else None)
    return raw, near


class Analysis:
    """Where the analysis runs: ``processes`` spawned processes, or one thread."""

    def __init__(self, settings: Settings, analyzer: Analyzer | None = None) -> None:
        self.processes = settings.analysis_processes if analyzer is None else 0
        self.executor: Executor
        if self.processes > 0:
            # spawn, not fork: the worker already runs threads (aiokafka, the web server).
            self.executor = ProcessPoolExecutor(
                max_workers=self.processes, mp_context=multiprocessing.get_context("spawn"),
                initializer=analysis_pool.init,
                initargs=(settings.lexicon_file, settings.ner_lead_chars or None,
                          settings.analysis_nice, logging.getLogger().getEffectiveLevel()))
            self.enrich_many: Callable[..., list[dict[str, Any]]] = analysis_pool.enrich_many
            self.enrich_one: Callable[..., dict[str, Any]] = analysis_pool.enrich_one
        else:
            self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analysis")
            local = analyzer if analyzer is not None else Analyzer.configured(
                settings.lexicon_file, settings.ner_lead_chars)
            self.enrich_many, self.enrich_one = local.enrich_many, local.enrich

    async def warm_up(self) -> None:
        if self.processes > 0:
            loop = asyncio.get_running_loop()
            await asyncio.gather(*(loop.run_in_executor(self.executor, analysis_pool.ready)
                                   for _ in range(self.processes)))
        log.info("analysis ready (%s)",
                 f"{self.processes} processes" if self.processes else "in-process thread")

    def kill(self) -> None:
        """Stop the analysis processes at once (before the worker re-executes itself)."""
        for proc in list(getattr(self.executor, "_processes", {}).values()):
            proc.kill()


def install(topo: Topology, frames: Frames, analysis: Analysis) -> None:
    executor = analysis.executor

    async def publish(article: dict[str, Any]) -> None:
        await topo.articles.send(key=article["id"].encode(), value=dumps(article))
        metrics.articles_enriched.inc()
        await topo.stories.send(key=article["story_id"].encode(), value=dumps(article))

    async def analyse(batch: Batch) -> list[dict[str, Any]]:
        """The batch's enriched articles, in order; a batch the pool fails on is redone
        record by record, and a record that fails alone is dead-lettered."""
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        try:
            articles = await batch.result
        except Exception:  # noqa: BLE001 - isolate the record that fails
            articles = []
            for raw, m in zip(batch.raws, batch.near, strict=True):
                try:
                    articles.append(await loop.run_in_executor(
                        executor, analysis.enrich_one, raw, m))
                except Exception as exc:  # noqa: BLE001
                    await frames.dead_letter("enrich", exc, dumps(raw.to_dict()),
                                             raw.id.encode())
        metrics.stage_seconds.labels("enrich").observe(
            (time.perf_counter() - t0) / max(1, len(batch.raws)))
        return articles

    @topo.app.agent(topo.analyze, name="enrich")
    async def enrich(stream: faust.StreamT[bytes]) -> None:
        """A process never waits for another's share, the next chunk is analysed while
        the last one is published, and a backlog is spread over the processes instead
        of landing whole on the first one free."""
        loop = asyncio.get_running_loop()
        batches: asyncio.Queue[Batch] = asyncio.Queue()
        slots = asyncio.Semaphore(max(1, analysis.processes))
        publisher = asyncio.create_task(publish_in_order(
            batches, slots, analyse, publish, functools.partial(ack_all, stream)))
        try:
            # noack_take + manual acks: a batch cut short by a shutdown is not acked, so
            # it is redelivered (``take`` acks its buffer even when the batch was cancelled).
            async for taken in stream.noack_take(  # type: ignore[attr-defined]
                    ENRICH_BATCH, within=ENRICH_WITHIN):
                for at in range(0, len(taken), ENRICH_CHUNK):
                    events = taken[at:at + ENRICH_CHUNK]
                    raws: list[RawArticle] = []
                    near: list[Match | None] = []
                    for value in (e.value for e in events):
                        try:
                            raw, m = decode(value)
                        except (RecordError, ValueError) as exc:
                            await frames.dead_letter("decode", exc, value, None)
                            continue
                        raws.append(raw)
                        near.append(m)
                    # A free process, unless the publisher died (its error ends the agent).
                    free = asyncio.ensure_future(slots.acquire())
                    await asyncio.wait({free, publisher}, return_when=asyncio.FIRST_COMPLETED)
                    if publisher.done():
                        free.cancel()
                        publisher.result()
                        raise RuntimeError("the enrich publisher stopped")
                    if raws:
                        result = loop.run_in_executor(executor, analysis.enrich_many, raws,
                                                      near)
                    else:
                        result = loop.create_future()
                        result.set_result([])
                    batches.put_nowait(Batch(list(events), raws, near, result))
        finally:
            publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await publisher

