"""The ``newsmon notify`` Kafka loop: alert topics in, sinks out.

At-least-once towards each sink, deduplicated by ``alert_id`` per sink within the
window: a sink's success (or the alert's dead letter) is recorded in the compacted
delivered topic, acknowledged by Kafka, before the alert's offset can be committed,
and an offset is committed only once every sink the alert was routed to has
delivered or dead-lettered it (alerts held for a digest hold their offset back).
At start-up the delivered topic is read back, so a restart neither loses nor repeats
what was recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from newsmon import metrics
from newsmon.notify.config import NotifyConfig, Route
from newsmon.notify.policy import DedupWindow, Digest, TokenBucket, sinks_for
from newsmon.notify.sinks import Answer, Sink, deliver, make_sink
from newsmon.records import DeadLetter, RecordError, dumps, loads
from newsmon.settings import Settings

log = logging.getLogger(__name__)

#: A copy of schemas/alert.schema.json shipped with the package (a unit test keeps the
#: two identical), so that an installed newsmon validates without the source tree.
SCHEMA_PATH = Path(__file__).resolve().parent / "alert.schema.json"
#: Longest pause between two polls of the alert topics (Kafka otherwise hands the
#: partitions to another member): one alert's deliveries and the due digests, each at
#: most sinks.DELIVERY_BUDGET plus one timeout, run concurrently within it.
MAX_POLL_INTERVAL_MS = 30 * 60 * 1000
#: On SIGTERM, how long the alert in hand may take to finish before it is abandoned.
STOP_GRACE_SECONDS = 10.0
#: How often deliveries older than the dedup window are forgotten.
SWEEP_SECONDS = 600.0


def alert_validator(path: Path = SCHEMA_PATH) -> Callable[[Any], None]:
    """A function that raises :class:`RecordError` for a record the alert schema refuses."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(json.loads(path.read_text("utf-8")))

    def check(record: Any) -> None:
        error = next(iter(validator.iter_errors(record)), None)
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(record)"
            raise RecordError(f"not a valid alert: {where}: {error.message[:300]}")

    return check


def decode_alert(value: bytes | None, check: Callable[[Any], None]) -> dict[str, Any]:
    if value is None:
        raise RecordError("empty record")
    try:
        record = loads(value)
    except ValueError as exc:
        raise RecordError(f"invalid JSON: {exc}") from None
    check(record)
    assert isinstance(record, dict)
    return record


@dataclass
class _Pending:
    """Offsets of one partition whose alert still waits on some sink."""

    waiting: dict[int, set[str]] = field(default_factory=dict)
    next_offset: int | None = None
    committed: int | None = None

    def committable(self) -> int | None:
        return min(self.waiting) if self.waiting else self.next_offset


class Notifier:
    def __init__(self, settings: Settings, config: NotifyConfig,
                 sinks: Mapping[str, Sink] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings, self.config, self.clock = settings, config, clock
        self.sinks = dict(sinks) if sinks is not None else {
            name: make_sink(c) for name, c in config.sinks.items()}
        self.topics = tuple(dict.fromkeys((settings.topics.alerts, *config.topics)))
        self.dedup = DedupWindow(config.dedup_window_days * 86400.0)
        self.buckets = {name: TokenBucket(c.rate_limit) for name, c in config.sinks.items()
                        if c.rate_limit is not None}
        self.digests: dict[tuple[str, str], Digest] = {}
        self.origins: dict[tuple[str, str], list[tuple[TopicPartition, int]]] = defaultdict(list)
        self.pending: dict[TopicPartition, _Pending] = defaultdict(_Pending)
        self.check = alert_validator()
        self.producer: AIOKafkaProducer | None = None
        for name in self.sinks:
            for m in (metrics.notify_delivered, metrics.notify_retries, metrics.notify_failed,
                      metrics.notify_seconds):
                m.labels(name)
            metrics.notify_digest_backlog.labels(name).set(0)

    # --- start-up ---------------------------------------------------------------

    async def ensure_topics(self) -> None:
        t = self.settings.topics
        admin = AIOKafkaAdminClient(**self.settings.kafka_client_kwargs())
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            retention = {"retention.ms": str(int(self.settings.retention_days * 86_400_000))}
            new = [NewTopic(name, self.settings.partitions, 1, topic_configs=cfg)
                   for name, cfg in ((t.notify_delivered, {"cleanup.policy": "compact"}),
                                     (t.notify_deadletter, retention),
                                     *((a, retention) for a in self.topics))
                   if name not in existing]
            if new:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(new)
                log.info("created topics %s", [n.name for n in new])
                await asyncio.sleep(1.0)
        finally:
            await admin.close()

    async def load_delivered(self) -> int:
        """Read the delivered topic from the beginning to its current end."""
        topic = self.settings.topics.notify_delivered
        consumer = AIOKafkaConsumer(**self.settings.kafka_client_kwargs(), group_id=None,
                                    enable_auto_commit=False, auto_offset_reset="earliest")
        await consumer.start()
        n = 0
        try:
            parts: set[int] = set()
            deadline = time.monotonic() + 30
            while not parts and time.monotonic() < deadline:
                parts = consumer.partitions_for_topic(topic) or set()
                if not parts:
                    await consumer._client.force_metadata_update()
                    await asyncio.sleep(0.2)
            tps = [TopicPartition(topic, p) for p in parts]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            todo = {tp for tp in tps if ends[tp] > 0}
            while todo:
                batch = await consumer.getmany(*todo, timeout_ms=1000)
                for msgs in batch.values():
                    for m in msgs:
                        key = m.key.decode("utf-8", "replace") if m.key else ""
                        if m.value is None:
                            self.dedup.forget(key)
                            continue
                        with contextlib.suppress(ValueError, TypeError, KeyError):
                            self.dedup.record(key, float(loads(m.value)["at"]))
                            n += 1
                for tp in list(todo):
                    if await consumer.position(tp) >= ends[tp]:
                        todo.discard(tp)
        finally:
            await consumer.stop()
        await self.expire()
        log.info("notify: %d deliveries recorded in %s inside the window", len(self.dedup.seen),
                 topic)
        return n

    # --- the loop ---------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        await self.ensure_topics()
        kw = self.settings.kafka_client_kwargs()
        self.producer = AIOKafkaProducer(**kw, acks="all", enable_idempotence=True,
                                         linger_ms=5)
        await self.producer.start()
        consumer: AIOKafkaConsumer | None = None
        try:
            await self.load_delivered()
            consumer = AIOKafkaConsumer(
                *self.topics, **kw, group_id=self.settings.notify_group,
                enable_auto_commit=False, auto_offset_reset="earliest",
                max_poll_interval_ms=MAX_POLL_INTERVAL_MS,
                session_timeout_ms=int(self.settings.session_timeout * 1000),
                heartbeat_interval_ms=int(min(3.0, self.settings.session_timeout / 3) * 1000))
            await consumer.start()
            log.info("notify: reading %s as group %s, %d sinks, %d routes",
                     ", ".join(self.topics), self.settings.notify_group, len(self.sinks),
                     len(self.config.routes))
            loop = asyncio.create_task(self._loop(consumer, stop))
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({loop, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not loop.done():
                # Let the alert in hand finish; a delivery cut short is not recorded, so
                # its alert is read again after the restart.
                with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(loop, STOP_GRACE_SECONDS)
            else:
                loop.result()  # raise what ended it
        finally:
            if consumer is not None:
                with contextlib.suppress(KafkaError):
                    await self.commit(consumer)
                await consumer.stop()
            await self.producer.stop()
            for sink in self.sinks.values():
                await sink.aclose()

    async def _loop(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        next_sweep = self.clock() + SWEEP_SECONDS
        while not stop.is_set():
            # One alert per poll: its deliveries (at most DELIVERY_BUDGET each, all sinks
            # at once) and the due digests fit in MAX_POLL_INTERVAL_MS.
            batch = await consumer.getmany(timeout_ms=500, max_records=1)
            for tp, msgs in batch.items():
                for m in msgs:
                    await self.handle(tp, m.offset, m.key, m.value)
            await self.flush_digests()
            await self.commit(consumer)
            if self.clock() >= next_sweep:
                next_sweep = self.clock() + SWEEP_SECONDS
                await self.expire()

    async def expire(self) -> None:
        """Forget deliveries older than the window, with tombstones for compaction."""
        assert self.producer is not None
        for key in self.dedup.expired(self.clock()):
            await self.producer.send(self.settings.topics.notify_delivered, None,
                                     key=key.encode())
        await self.producer.flush()

    async def handle(self, tp: TopicPartition, offset: int, key: bytes | None,
                     value: bytes | None) -> None:
        try:
            alert = decode_alert(value, self.check)
        except RecordError as exc:
            metrics.notify_poison.inc()
            log.warning("notify: %s[%d]@%d is not an alert (%s): dead-lettered", tp.topic,
                        tp.partition, offset, exc)
            await self._dead_letter(DeadLetter(
                stage="notify", error=str(exc), error_type="RecordError", original=value or b"",
                original_key=key, topic=tp.topic, partition=tp.partition, offset=offset),
                key, None, None, 0)
            self.pending[tp].next_offset = offset + 1
            return
        now = self.clock()
        immediate: list[tuple[str, Route]] = []
        for sink, route in sinks_for(alert, self.config.routes).items():
            if self.dedup.done(sink, alert["alert_id"], now):
                continue
            bucket = self.buckets.get(sink)
            if route.digest_minutes > 0 or (bucket is not None and not bucket.take(now)):
                self._hold(sink, route, alert, tp, offset, now)
            else:
                immediate.append((sink, route))
        if immediate:
            await asyncio.gather(*(self.send(sink, route.name, [alert])
                                   for sink, route in immediate))
        # Only now may the offset pass this alert (held ones stay in ``waiting``).
        self.pending[tp].next_offset = offset + 1

    def _hold(self, sink: str, route: Route, alert: dict[str, Any], tp: TopicPartition,
              offset: int, now: float) -> None:
        rate = self.config.sinks[sink].rate_limit
        every = route.digest_minutes * 60 if route.digest_minutes > 0 else (
            rate.per_seconds if rate is not None else 60.0)
        digest = self.digests.setdefault((route.name, sink), Digest(every))
        digest.add(alert, now)
        self.origins[(sink, alert["alert_id"])].append((tp, offset))
        self.pending[tp].waiting.setdefault(offset, set()).add(sink)
        self._backlog(sink)

    def _backlog(self, sink: str) -> None:
        metrics.notify_digest_backlog.labels(sink).set(
            sum(len(d.alerts) for (_, s), d in self.digests.items() if s == sink))

    async def flush_digests(self) -> None:
        now = self.clock()
        due: list[tuple[str, str, list[dict[str, Any]]]] = []
        for (route, sink), digest in list(self.digests.items()):
            if not digest.due(now):
                continue
            bucket = self.buckets.get(sink)
            if bucket is not None and not bucket.take(now):
                continue  # due, but the sink's budget is spent: the next round sends it
            due.append((route, sink, digest.take()))
            self._backlog(sink)

        async def one(route: str, sink: str, taken: list[dict[str, Any]]) -> None:
            alerts = [a for a in taken if not self.dedup.done(sink, a["alert_id"], now)]
            if alerts:
                await self.send(sink, route, alerts)
            for a in taken:
                self._release(sink, a["alert_id"])

        await asyncio.gather(*(one(*d) for d in due))

    def _release(self, sink: str, alert_id: str) -> None:
        for tp, offset in self.origins.pop((sink, alert_id), []):
            waiting = self.pending[tp].waiting
            if offset in waiting:
                waiting[offset].discard(sink)
                if not waiting[offset]:
                    del waiting[offset]

    async def send(self, sink_name: str, route: str, alerts: list[dict[str, Any]]) -> None:
        """Deliver to one sink, then record the outcome (delivered or dead-lettered)."""
        sink = self.sinks[sink_name]
        started = time.monotonic()
        answer, attempts = await deliver(
            sink, alerts, route,
            on_retry=lambda _a: metrics.notify_retries.labels(sink_name).inc())
        metrics.notify_seconds.labels(sink_name).observe(time.monotonic() - started)
        if answer.ok:
            await self._record(sink_name, alerts, "delivered")
            metrics.notify_delivered.labels(sink_name).inc(len(alerts))
            return
        log.warning("notify: sink %s gave up after %d attempts (%s): %d alerts dead-lettered",
                    sink_name, attempts, answer.error or f"status {answer.status}", len(alerts))
        for alert in alerts:
            await self._dead_letter(DeadLetter(
                stage="notify", error=f"sink {sink_name}: "
                + (answer.error or f"status {answer.status}: {answer.body}"),
                error_type="DeliveryFailed", original=dumps(alert)),
                f"{sink_name}/{alert['alert_id']}".encode(), sink_name, answer, attempts)
        await self._record(sink_name, alerts, "deadlettered")
        metrics.notify_failed.labels(sink_name).inc(len(alerts))

    async def _record(self, sink: str, alerts: list[dict[str, Any]], outcome: str) -> None:
        assert self.producer is not None
        now = self.clock()
        futures = []
        for alert in alerts:
            key = DedupWindow.key(sink, alert["alert_id"])
            value = {"sink": sink, "alert_id": alert["alert_id"], "outcome": outcome, "at": now}
            futures.append(await self.producer.send(self.settings.topics.notify_delivered,
                                                    dumps(value), key=key.encode()))
        await asyncio.gather(*futures)
        for alert in alerts:
            self.dedup.record(DedupWindow.key(sink, alert["alert_id"]), now)

    async def _dead_letter(self, dl: DeadLetter, key: bytes | None, sink: str | None,
                           answer: Answer | None, attempts: int) -> None:
        assert self.producer is not None
        record = dl.to_dict()
        record.update({"sink": sink, "answer": answer.to_dict() if answer else None,
                       "attempts": attempts})
        await self.producer.send_and_wait(self.settings.topics.notify_deadletter,
                                          dumps(record), key=key)

    async def commit(self, consumer: AIOKafkaConsumer) -> None:
        offsets = {}
        assigned = consumer.assignment()
        for tp, p in self.pending.items():
            off = p.committable()
            if off is not None and off != p.committed and tp in assigned:
                offsets[tp] = off
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:
            log.warning("notify: offset commit failed (%s); the alerts since the last commit "
                        "will be read again and skipped where already delivered", exc)
            return
        for tp, off in offsets.items():
            self.pending[tp].committed = off
