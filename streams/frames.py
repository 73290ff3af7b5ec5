"""How the agents take records: one by one or in batches, acked in order, and a record
a stage cannot handle dead-lettered while the stream goes on.

* :meth:`Frames.each_record`: the keyed stages that write nothing that suppresses a
  record (sign, bands, alerting, trends).
* :meth:`Frames.in_batches`: the stages that must see Kafka acknowledge what a record
  let through before they write the state that suppresses it (dedup, collect): one
  round trip per batch, not per record.
* :func:`publish_in_order`: the enrich stage's publisher, acks in offset order.

A SWEEP event, sent to every partition of the stateful topics by a timer, asks the
stage to expire that partition's own old state (Faust tables may only be written from
an event of the key's own partition).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import TopicT

from newsmon import metrics
from newsmon.analysis.neardup import Match
from newsmon.records import DeadLetter, RawArticle, RecordError, dumps

log = logging.getLogger(__name__)

SWEEP = b'{"type":"sweep"}'  # an event on every partition: expire old state, check silence
STAGE_BATCH = 256        # dedup and collect: records taken at once (one Kafka round trip)
STAGE_WITHIN = 0.005

Finish = Callable[[], Awaitable[None]]  # what a batched stage does once its sends are acked
Handle = Callable[[bytes, bytes, Any], Awaitable[None]]
Sweep = Callable[[int], Awaitable[None]]


async def ack_all(stream: faust.StreamT[bytes], events: list[Any]) -> None:
    for event in events:
        await stream.ack(event)


class Frames:
    """The agents' shared loops, dead-lettering to ``deadletter``."""

    def __init__(self, deadletter: TopicT) -> None:
        self.deadletter = deadletter

    async def dead_letter(self, stage: str, exc: BaseException, value: Any, key: Any,
                          event: faust.types.EventT[Any] | None = None) -> None:
        original = value if isinstance(value, bytes) else str(value).encode()
        msg = event.message if event is not None else None
        record = DeadLetter(stage=stage, error=str(exc), error_type=type(exc).__name__,
                            original=original,
                            original_key=key if isinstance(key, bytes) else None,
                            topic=msg.topic if msg else None,
                            partition=msg.partition if msg else None,
                            offset=msg.offset if msg else None)
        await self.deadletter.send(key=key if isinstance(key, bytes) else None,
                                   value=dumps(record.to_dict()))
        metrics.deadletters.labels(stage).inc()
        # A record's own fault is a RecordError; anything else gets its traceback logged.
        log.warning("dead-lettered a record at stage %s: %s", stage, exc,
                    exc_info=None if isinstance(exc, RecordError) else exc)

    async def each_record(self, stream: faust.StreamT[bytes], stage: str, handle: Handle,
                          sweep: Sweep | None = None) -> None:
        """A SWEEP event goes to ``sweep(partition)``; every other record to
        ``handle(key, value, event)``, and a record it raises on goes to the dead-letter
        topic (stage ``decode`` for an undecodable record) while the stream goes on."""
        async for event in stream.events():
            key, value = event.key, event.value
            if value == SWEEP:
                if sweep is not None:
                    await sweep(event.message.partition)
                continue
            try:
                await handle(key, value, event)
            except Exception as exc:  # noqa: BLE001 - never crash the agent on one record
                await self.dead_letter("decode" if isinstance(exc, RecordError) else stage,
                                       exc, value, key, event)

    async def in_batches(self, stream: faust.StreamT[bytes], stage: str,
                         handle: Callable[[bytes, bytes], Awaitable[Finish | None]],
                         sweep: Sweep, end_batch: Callable[[], None]) -> None:
        """Records come in batches (``noack_take``); ``handle`` sends what one lets
        through and returns what to do once that is acknowledged. The sends of a batch
        are in flight together, so a batch waits one round trip to the broker, not one
        per record. Then ``end_batch`` runs, then the follow-ups (a failing one
        dead-letters its record), and only then are the batch's records acked: a crash
        anywhere before redelivers the whole batch."""
        async for events in stream.noack_take(  # type: ignore[attr-defined]
                STAGE_BATCH, within=STAGE_WITHIN):
            todo: list[tuple[Finish, Any]] = []
            for event in events:
                key, value = event.key, event.value
                if value == SWEEP:
                    await sweep(event.message.partition)
                    continue
                try:
                    finish = await handle(key, value)
                except Exception as exc:  # noqa: BLE001 - never crash the agent on one record
                    await self.dead_letter("decode" if isinstance(exc, RecordError) else stage,
                                           exc, value, key, event)
                    continue
                if finish is not None:
                    todo.append((finish, event))
            end_batch()
            for finish, event in todo:
                try:
                    await finish()
                except Exception as exc:  # noqa: BLE001
                    await self.dead_letter(stage, exc, event.value, event.key, event)
            await ack_all(stream, events)


@dataclass
class Batch:
    """Records handed to one analysis process at once, and their analysis (running or
    done)."""

    events: list[Any]
    raws: list[RawArticle]
    near: list[Match | None]
    result: asyncio.Future[list[dict[str, Any]]]


async def publish_in_order(batches: asyncio.Queue[Batch], slots: asyncio.Semaphore,
                           analyse: Callable[[Batch], Awaitable[list[dict[str, Any]]]],
                           publish: Callable[[dict[str, Any]], Awaitable[None]],
                           ack: Callable[[list[Any]], Awaitable[None]]) -> None:
    """Each batch's articles published and its records acked, batch after batch in the
    order they were queued, whichever analysis finishes first; a batch's slot (its
    analysis process) is freed once it is done. Acks stay in offset order: Faust commits
    the first run of consecutive acked offsets, so an ack out of order could commit past
    a record not yet published."""
    while True:
        batch = await batches.get()
        try:
            for article in await analyse(batch):
                await publish(article)
            await ack(batch.events)
        finally:
            slots.release()
