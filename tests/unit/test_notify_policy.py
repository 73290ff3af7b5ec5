"""Routing, retry decisions, backoff, Retry-After, token bucket, digest and dedup window."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import pytest

from newsmon.notify.config import RateLimit, Route, SinkConfig
from newsmon.notify.policy import (
    RETRY_AFTER_CAP,
    DedupWindow,
    Digest,
    TokenBucket,
    backoff,
    parse_retry_after,
    routes_for,
    should_retry,
    sinks_for,
)
from newsmon.notify.sinks import Answer, deliver
from tests.notify_support import make_alert


def test_routing_by_rule_severity_level_and_country() -> None:
    routes = [
        Route("all", ("a",)),
        Route("ukraine-critical", ("b",), severities=frozenset({"critical"}),
              countries=frozenset({"UA"})),
        Route("rule-x-severe", ("c",), rules=frozenset({"x"}), levels=frozenset({"severe"})),
    ]
    names = lambda alert: [r.name for r in routes_for(alert, routes)]  # noqa: E731
    assert names(make_alert()) == ["all"]
    assert names(make_alert(severity="critical")) == ["all", "ukraine-critical"]
    assert names(make_alert(severity="critical", country="RU")) == ["all"]
    assert names(make_alert(rule="x", level="severe", score=90)) == ["all", "rule-x-severe"]
    assert names(make_alert(rule="x", level="high")) == ["all"]


def test_a_sink_named_by_two_routes_gets_one_delivery_on_the_first() -> None:
    routes = [Route("first", ("a", "b")), Route("second", ("b", "c"))]
    got = sinks_for(make_alert(), routes)
    assert {s: r.name for s, r in got.items()} == {"a": "first", "b": "first", "c": "second"}


@pytest.mark.parametrize("status,error,retry", [
    (500, None, True), (503, None, True), (429, None, True), (408, None, True),
    (400, None, False), (401, None, False), (404, None, False), (410, None, False),
    (200, None, False), (None, "timeout", True), (None, "ConnectError", True)])
def test_should_retry(status: int | None, error: str | None, retry: bool) -> None:
    assert should_retry(status, error) is retry


def test_retry_after_seconds_date_and_cap() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("7", now) == 7.0
    date = format_datetime(datetime.fromtimestamp(now + 30, UTC), usegmt=True)
    assert parse_retry_after(date, now) == pytest.approx(30.0)
    past = format_datetime(datetime.fromtimestamp(now - 30, UTC), usegmt=True)
    assert parse_retry_after(past, now) == 0.0
    assert parse_retry_after("999999", now) == RETRY_AFTER_CAP
    assert parse_retry_after("soon", now) is None and parse_retry_after(None, now) is None


def test_backoff_grows_is_capped_jittered_and_honours_retry_after() -> None:
    assert [backoff(a, 1.0, 100.0, 0.999) for a in (1, 2, 3, 4)] == pytest.approx(
        [0.999, 1.998, 3.996, 7.992])
    assert backoff(20, 1.0, 100.0, 0.999) == pytest.approx(99.9)
    assert backoff(3, 1.0, 100.0, 0.0) == 0.0
    assert backoff(1, 1.0, 100.0, 0.5, retry_after=42.0) == 42.0


def test_token_bucket_allows_n_per_period_then_refills() -> None:
    bucket = TokenBucket(RateLimit(messages=3, per_seconds=60.0))
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert not bucket.take(10.0)
    assert bucket.take(20.0)  # one token refilled after 20 s
    assert not bucket.take(20.0)
    assert [bucket.take(1000.0) for _ in range(4)] == [True, True, True, False]


def test_digest_is_due_after_its_interval_and_dedups_ids() -> None:
    d = Digest(every=60.0)
    assert not d.due(0.0)
    a, b = make_alert(1), make_alert(2)
    d.add(a, 10.0)
    d.add(a, 11.0)
    d.add(b, 20.0)
    assert not d.due(69.0) and d.due(70.0)
    assert [x["alert_id"] for x in d.take()] == [a["alert_id"], b["alert_id"]]
    assert not d.due(1000.0)


def test_dedup_window_per_sink_and_expiry() -> None:
    w = DedupWindow(window_seconds=100.0)
    w.record(DedupWindow.key("slack", "abc"), 0.0)
    assert w.done("slack", "abc", 50.0)
    assert not w.done("mail", "abc", 50.0)
    assert not w.done("slack", "abc", 100.0)
    assert w.expired(100.0) == ["slack/abc"] and not w.seen


class _Scripted:
    def __init__(self, answers: list[Answer]) -> None:
        self.config = SinkConfig(name="s", type="webhook", retries=3, backoff_seconds=1.0,
                                 backoff_max_seconds=8.0)
        self.answers, self.calls = answers, 0

    async def send(self, alerts: Sequence[Mapping[str, Any]], route: str) -> Answer:
        self.calls += 1
        return self.answers.pop(0)

    async def aclose(self) -> None:
        return None


def _run(sink: _Scripted) -> tuple[Answer, int, list[float]]:
    waits: list[float] = []

    async def sleep(s: float) -> None:
        waits.append(s)

    answer, attempts = asyncio.run(deliver(sink, [make_alert()], "r", sleep=sleep,
                                           rand=lambda: 0.5))
    return answer, attempts, waits


def test_deliver_retries_then_succeeds() -> None:
    sink = _Scripted([Answer(status=500, retryable=True),
                      Answer(status=429, retry_after="5", retryable=True),
                      Answer(status=204)])
    answer, attempts, waits = _run(sink)
    assert answer.ok and attempts == 3 and waits == [0.5, 5.0]


def test_deliver_gives_up_after_retries_and_never_retries_a_4xx() -> None:
    answer, attempts, waits = _run(_Scripted([Answer(error="timeout", retryable=True)] * 4))
    assert not answer.ok and attempts == 4 and len(waits) == 3
    answer, attempts, waits = _run(_Scripted([Answer(status=403, body="no")]))
    assert answer.status == 403 and attempts == 1 and waits == []


def test_deliver_stops_retrying_when_the_budget_would_be_exceeded() -> None:
    sink = _Scripted([Answer(status=503, retry_after="500", retryable=True)] * 4)
    waits: list[float] = []

    async def sleep(s: float) -> None:
        waits.append(s)

    answer, attempts = asyncio.run(deliver(sink, [make_alert()], "r", sleep=sleep,
                                           rand=lambda: 0.5, budget=700.0))
    assert answer.status == 503 and attempts == 2 and waits == [500.0]


def test_an_exception_in_a_sink_is_an_answer_without_its_message() -> None:
    class Broken(_Scripted):
        async def send(self, alerts: Sequence[Mapping[str, Any]], route: str) -> Answer:
            self.calls += 1
            raise UnicodeEncodeError("ascii", "https://hooks.example/T/secret", 0, 1, "boom")

    sink = Broken([])
    answer, attempts, _ = _run(sink)
    assert attempts == 1 and not answer.ok and not answer.retryable
    assert answer.error == "unexpected UnicodeEncodeError in the sink"
