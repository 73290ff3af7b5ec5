"""The notify loop's bookkeeping without Kafka: which offsets may be committed, what is
recorded, dedup across a restart, rate limits folded into digests, poison records."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition

from newsmon.notify import consumer as consumer_module
from newsmon.notify.config import NotifyConfig, RateLimit, Route, SinkConfig
from newsmon.notify.consumer import Notifier
from newsmon.notify.sinks import Answer
from newsmon.records import dumps, loads
from newsmon.settings import Settings
from tests.notify_support import make_alert

ROOT = Path(__file__).resolve().parents[2]
TP = TopicPartition("news.alerts", 0)


class FakeSink:
    def __init__(self, name: str, answers: list[Answer] | None = None,
                 block: asyncio.Event | None = None) -> None:
        self.config = SinkConfig(name=name, type="webhook", retries=0)
        self.answers, self.block = answers or [], block
        self.sent: list[list[str]] = []

    async def send(self, alerts: Sequence[Mapping[str, Any]], route: str) -> Answer:
        if self.block is not None:
            await self.block.wait()
        self.sent.append([a["alert_id"] for a in alerts])
        return self.answers.pop(0) if self.answers else Answer(status=200)

    async def aclose(self) -> None:
        return None


class FakeProducer:
    def __init__(self) -> None:
        self.records: list[tuple[str, bytes | None, bytes | None]] = []

    async def send(self, topic: str, value: bytes | None, key: bytes | None = None
                   ) -> asyncio.Future[None]:
        self.records.append((topic, key, value))
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut

    async def send_and_wait(self, topic: str, value: bytes | None,
                            key: bytes | None = None) -> None:
        await self.send(topic, value, key)

    async def flush(self) -> None:
        return None

    def on(self, topic: str) -> list[tuple[bytes | None, bytes | None]]:
        return [(k, v) for t, k, v in self.records if t == topic]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def notifier(sinks: dict[str, FakeSink], routes: list[Route],
             limits: dict[str, RateLimit] | None = None) -> tuple[Notifier, FakeProducer, Clock]:
    limits = limits or {}
    config = NotifyConfig(
        sinks={n: SinkConfig(name=n, type="webhook", rate_limit=limits.get(n)) for n in sinks},
        routes=tuple(routes))
    clock = Clock()
    n = Notifier(Settings(), config, sinks=sinks, clock=clock)
    producer = FakeProducer()
    n.producer = producer  # type: ignore[assignment]
    return n, producer, clock


def test_the_shipped_schema_is_the_published_one() -> None:
    assert consumer_module.SCHEMA_PATH.read_bytes() == (
        ROOT / "schemas" / "alert.schema.json").read_bytes()


def test_delivery_is_recorded_before_the_offset_moves_and_dedups_a_redelivery() -> None:
    a, b = FakeSink("a"), FakeSink("b")
    n, producer, _ = notifier({"a": a, "b": b}, [Route("all", ("a", "b"))])
    alert = make_alert(1)

    async def run() -> None:
        await n.handle(TP, 7, b"k", dumps(alert))
        assert n.pending[TP].committable() == 8
        await n.handle(TP, 7, b"k", dumps(alert))  # read again after a crash

    asyncio.run(run())
    assert a.sent == [[alert["alert_id"]]] and b.sent == [[alert["alert_id"]]]
    keys = sorted(k for k, _ in producer.on(n.settings.topics.notify_delivered))
    assert keys == [f"a/{alert['alert_id']}".encode(), f"b/{alert['alert_id']}".encode()]

    # a new process reading the delivered topic back skips the alert too
    n2, _, _ = notifier({"a": FakeSink("a")}, [Route("all", ("a",))])
    for key, value in producer.on(n.settings.topics.notify_delivered):
        assert key is not None and value is not None
        n2.dedup.record(key.decode(), float(loads(value)["at"]))
    asyncio.run(n2.handle(TP, 7, b"k", dumps(alert)))
    assert n2.sinks["a"].sent == []  # type: ignore[attr-defined]


def test_an_interrupted_delivery_does_not_move_the_offset() -> None:
    block = asyncio.Event()
    n, producer, _ = notifier({"a": FakeSink("a", block=block)}, [Route("all", ("a",))])
    n.pending[TP].next_offset = 7

    async def run() -> None:
        task = asyncio.create_task(n.handle(TP, 7, b"k", dumps(make_alert(1))))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert n.pending[TP].committable() == 7
    assert producer.on(n.settings.topics.notify_delivered) == []


def test_failure_dead_letters_with_the_answer_and_lets_the_offset_move() -> None:
    sink = FakeSink("a", [Answer(status=403, body="forbidden")])
    n, producer, _ = notifier({"a": sink}, [Route("all", ("a",))])
    alert = make_alert(1)
    asyncio.run(n.handle(TP, 3, None, dumps(alert)))
    (key, value), = producer.on(n.settings.topics.notify_deadletter)
    dead = loads(value or b"")
    assert key == f"a/{alert['alert_id']}".encode()
    assert dead["sink"] == "a" and dead["answer"] == {"status": 403, "body": "forbidden",
                                                      "error": None}
    assert dead["attempts"] == 1 and dead["stage"] == "notify"
    (_, outcome), = producer.on(n.settings.topics.notify_delivered)
    assert loads(outcome or b"")["outcome"] == "deadlettered"
    assert n.pending[TP].committable() == 4


def test_poison_is_dead_lettered_and_the_next_alert_delivered() -> None:
    sink = FakeSink("a")
    n, producer, _ = notifier({"a": sink}, [Route("all", ("a",))])
    bad = make_alert(1)
    del bad["level"]

    async def run() -> None:
        await n.handle(TP, 0, b"x", b"{not json")
        await n.handle(TP, 1, b"y", dumps(bad))
        await n.handle(TP, 2, b"z", dumps(make_alert(2)))

    asyncio.run(run())
    dead = [loads(v or b"") for _, v in producer.on(n.settings.topics.notify_deadletter)]
    assert [d["offset"] for d in dead] == [0, 1] and all(d["sink"] is None for d in dead)
    assert "invalid JSON" in dead[0]["error"] and "level" in dead[1]["error"]
    assert len(sink.sent) == 1 and n.pending[TP].committable() == 3


def test_over_the_rate_limit_alerts_fold_into_a_digest_that_holds_the_offset() -> None:
    sink = FakeSink("a")
    n, _, clock = notifier({"a": sink}, [Route("all", ("a",))],
                           {"a": RateLimit(messages=1, per_seconds=60)})
    alerts = [make_alert(i) for i in range(4)]

    async def run() -> None:
        for i, alert in enumerate(alerts):
            await n.handle(TP, i, None, dumps(alert))
        assert len(sink.sent) == 1
        assert n.pending[TP].committable() == 1  # 1..3 wait in the digest
        clock.now += 30
        await n.flush_digests()
        assert len(sink.sent) == 1  # not due yet
        clock.now += 31
        await n.flush_digests()

    asyncio.run(run())
    assert sink.sent[1] == [a["alert_id"] for a in alerts[1:]]
    assert n.pending[TP].committable() == 4


def test_a_digest_route_sends_one_message_per_interval() -> None:
    digest_sink, direct = FakeSink("d"), FakeSink("x")
    n, _, clock = notifier({"d": digest_sink, "x": direct},
                           [Route("now", ("x",)), Route("hourly", ("d",), digest_minutes=60)])

    async def run() -> None:
        for i in range(3):
            await n.handle(TP, i, None, dumps(make_alert(i)))
        await n.flush_digests()
        assert digest_sink.sent == [] and len(direct.sent) == 3
        clock.now += 3600
        await n.flush_digests()

    asyncio.run(run())
    assert len(digest_sink.sent) == 1 and len(digest_sink.sent[0]) == 3
