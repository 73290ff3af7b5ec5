"""The connector against real HTTP servers and the real broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from connectors.config import FeedList, FeedSpec
from connectors.fetch import Fetcher, FetchLimits
from connectors.parse import ParseBudget
from connectors.runner import FeedConnector
from connectors.safety import AddressPolicy
from connectors.schedule import SchedulePolicy
from connectors.state import StateStore
from newsmon import metrics
from newsmon.settings import Settings, Topics
from newsmon.topics import ensure_topics
from tests.integration.misbehaving import misbehaving_server
from tests.integration.procs import read_all
from tests.schemas import assert_valid

pytestmark = pytest.mark.integration


def settings_for(bootstrap: str, tmp_path: Path) -> Settings:
    uid = tmp_path.name[-12:].replace("_", "")
    return Settings(bootstrap_servers=bootstrap, topics=Topics(
        raw=f"c{uid}.raw", unique=f"c{uid}.unique", articles=f"c{uid}.articles",
        alerts=f"c{uid}.alerts", deadletter=f"c{uid}.dead"), data_dir=tmp_path)


def connector(settings: Settings, feeds: list[FeedSpec], state: Path) -> FeedConnector:
    return FeedConnector(settings, FeedList(feeds), state_path=state,
                         fetcher=Fetcher(FetchLimits(deadline=3.0),
                                         policy=AddressPolicy.from_strings(["127.0.0.1/32"])),
                         policy=SchedulePolicy(min_interval=1, default_interval=1))


@asynccontextmanager
async def started(c: FeedConnector) -> AsyncIterator[FeedConnector]:
    """``c`` started, and stopped (state saved, producer flushed) at the end."""
    await c.start()
    try:
        yield c
    finally:
        await c.stop()


def outcome_count(outcome: str) -> float:
    return metrics.feed_fetches.labels(outcome)._value.get()


async def test_broken_feeds_counted_others_flow_and_restart_does_not_republish(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    s = settings_for(kafka_bootstrap, tmp_path)
    await ensure_topics(s)
    state_file = tmp_path / "state.json"
    async with misbehaving_server() as srv:
        feeds = [FeedSpec(srv.base + p, name=p) for p in
                 ("/cond", "/flaky", "/slow", "/gone", "/moved", "/nope")]
        before = {o: outcome_count(o) for o in ("server_error", "timeout", "gone",
                                                "client_error")}
        async with started(connector(s, feeds, state_file)) as c:
            stats = await c.poll_once()
        assert stats.published == 4  # /cond and /moved (same two articles, two feeds)
        assert outcome_count("server_error") == before["server_error"] + 1
        assert outcome_count("timeout") == before["timeout"] + 1
        assert outcome_count("gone") == before["gone"] + 1
        assert outcome_count("client_error") == before["client_error"] + 1

        saved = StateStore(state_file).load()
        assert saved[srv.base + "/gone"].disabled
        assert saved[srv.base + "/moved"].current_url == srv.base + "/good"
        assert saved[srv.base + "/cond"].etag == '"v1"'
        assert len(saved[srv.base + "/cond"].seen) == 2

        # A new process with the same state: conditional GET, nothing republished,
        # the gone feed is not polled, the moved feed is polled at its new URL.
        hits_gone = srv.hits.get("/gone", 0)
        hits_moved = srv.hits.get("/moved", 0)
        async with started(connector(s, feeds, state_file)) as c2:
            stats2 = await c2.poll_once()
        assert srv.headers["/cond"][-1].get("If-None-Match") == '"v1"'
        assert stats2.published == 2  # only /flaky's first success; /cond, /moved: nothing
        assert srv.hits.get("/gone", 0) == hits_gone
        assert srv.hits.get("/moved", 0) == hits_moved
        assert srv.hits["/flaky"] == 2  # it failed, it was retried, it recovered

    raw = await asyncio.to_thread(read_all, kafka_bootstrap, s.topics.raw)
    assert len(raw) == 4 + 2
    assert {r["url"] for r in raw} == {"https://news.example.com/a", "https://news.example.com/b"}
    assert len({r["id"] for r in raw}) == 2


async def test_scheduler_loop_polls_due_feeds_and_stops_cleanly(kafka_bootstrap: str,
                                                                tmp_path: Path) -> None:
    s = settings_for(kafka_bootstrap, tmp_path)
    await ensure_topics(s)
    async with misbehaving_server() as srv:
        c = connector(s, [FeedSpec(srv.base + "/good", interval=1.0),
                          FeedSpec(srv.base + "/cond", interval=1.0),
                          FeedSpec(srv.base + "/429")], tmp_path / "st.json")
        stop = asyncio.Event()
        task = asyncio.create_task(c.run(stop))
        # Three polls of /good, one a second, once the parse workers are up (their start
        # takes from half a second to a few on a loaded machine).
        deadline = time.monotonic() + 20
        while srv.hits.get("/good", 0) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.wait_for(task, 15)
    assert srv.hits["/good"] >= 3  # re-polled on its 1 s interval
    assert srv.hits["/cond"] == 1  # Cache-Control: max-age=1200 wins over the interval
    assert srv.hits["/429"] == 1  # Retry-After: 120 keeps it away
    saved = StateStore(tmp_path / "st.json").load()
    assert saved[srv.base + "/429"].next_due > saved[srv.base + "/good"].next_due + 60


async def test_a_feed_slow_to_parse_delays_no_other_feed(kafka_bootstrap: str,
                                                         tmp_path: Path) -> None:
    """One feed's body takes tens of seconds to parse: it is cut off at the parse deadline
    (``parse_timeout``) in its worker process, and the other feed, whose body arrives while
    that parse runs, is parsed and published to Kafka within seconds."""
    s = settings_for(kafka_bootstrap, tmp_path)
    await ensure_topics(s)
    before = outcome_count("parse_timeout")
    async with misbehaving_server() as srv:
        slow, late = FeedSpec(srv.base + "/slowparse", name="slow"), \
            FeedSpec(srv.base + "/late", name="late")
        c = FeedConnector(s, FeedList([slow, late]), state_path=tmp_path / "st.json",
                          fetcher=Fetcher(FetchLimits(deadline=10.0),
                                          policy=AddressPolicy.from_strings(["127.0.0.1/32"])),
                          policy=SchedulePolicy(min_interval=1, default_interval=1),
                          parse_budget=ParseBudget(seconds=3.0))
        async with started(c):
            t0 = time.monotonic()
            done: dict[str, tuple[str, int, float]] = {}

            async def poll(spec: FeedSpec) -> None:
                o = await c.poll_feed(spec)
                done[spec.name] = (o.outcome, o.published, time.monotonic() - t0)

            await asyncio.wait_for(asyncio.gather(poll(slow), poll(late)), 60)
    assert done["slow"][:2] == ("parse_timeout", 0)
    assert done["slow"][2] < 20  # the 3 s deadline, not the parse's 20-40 s
    assert done["late"][:2] == ("ok", 2)
    assert done["late"][2] < 10  # not behind the slow parse
    assert outcome_count("parse_timeout") == before + 1
    raw = await asyncio.to_thread(read_all, kafka_bootstrap, s.topics.raw)
    assert sorted(r["url"] for r in raw) == ["https://news.example.com/a",
                                             "https://news.example.com/b"]
    assert {r["feed_url"] for r in raw} == {srv.base + "/late"}


async def test_feed_silence_alert(kafka_bootstrap: str, tmp_path: Path) -> None:
    s = settings_for(kafka_bootstrap, tmp_path)
    await ensure_topics(s)
    async with misbehaving_server() as srv:
        c = FeedConnector(s, FeedList([FeedSpec(srv.base + "/good", name="good")]),
                          state_path=tmp_path / "st.json",
                          fetcher=Fetcher(policy=AddressPolicy.from_strings(["127.0.0.1/32"])),
                          policy=SchedulePolicy(silence_factor=2, silence_min=1))
        async with started(c):
            await c.poll_once()
            st = c.states[srv.base + "/good"]
            assert st.mean_gap == 3600 and st.last_new is not None  # items an hour apart
            assert await c.check_silence(st.last_new + 60) == 0
            assert await c.check_silence(st.last_new + 3 * 7200) == 1
            assert await c.check_silence(st.last_new + 4 * 7200) == 0  # once
    recs = await asyncio.to_thread(read_all, kafka_bootstrap, s.topics.trend_alerts)
    assert [(r["kind"], r["feed"]) for r in recs] == [("silence", "good")]
    assert_valid("trend-alert", recs)


async def test_daemon_waits_for_a_broker_that_comes_up_late(tmp_path: Path) -> None:
    """A connector started before its broker retries with backoff instead of exiting, then
    publishes; stopping it while it waits returns cleanly."""
    from newsmon.kafka_local import LocalKafka, free_port

    port = free_port()
    s = settings_for(f"127.0.0.1:{port}", tmp_path)
    async with misbehaving_server() as srv:
        c = connector(s, [FeedSpec(srv.base + "/good", interval=1.0)], tmp_path / "st.json")
        stop = asyncio.Event()
        task = asyncio.create_task(c.run(stop))
        await asyncio.sleep(3)
        assert not task.done()  # still waiting, not crashed
        kafka = LocalKafka(data_dir=tmp_path / "kafka", port=port)
        await asyncio.to_thread(kafka.start)
        try:
            await ensure_topics(s)
            raw: list[dict[str, object]] = []
            for _ in range(60):
                raw = await asyncio.to_thread(read_all, kafka.bootstrap_servers, s.topics.raw,
                                              1.0)
                if raw:
                    break
            stop.set()
            await asyncio.wait_for(task, 15)
        finally:
            await asyncio.to_thread(kafka.stop)
    assert {r["url"] for r in raw} == {"https://news.example.com/a", "https://news.example.com/b"}

    # Stopped while the broker is still away: returns, no exception.
    c2 = connector(s, [FeedSpec(srv.base + "/good")], tmp_path / "st2.json")
    stop2 = asyncio.Event()
    task2 = asyncio.create_task(c2.run(stop2))
    await asyncio.sleep(2)
    stop2.set()
    await asyncio.wait_for(task2, 10)


async def test_entries_kafka_did_not_acknowledge_are_offered_again(kafka_bootstrap: str,
                                                                   tmp_path: Path) -> None:
    from aiokafka.errors import KafkaTimeoutError

    s = settings_for(kafka_bootstrap, tmp_path)
    await ensure_topics(s)
    before = outcome_count("publish_error")
    async with misbehaving_server() as srv, \
            started(connector(s, [FeedSpec(srv.base + "/cond")], tmp_path / "st.json")) as c:
        assert c.producer is not None
        real_send = c.producer.send

        async def refused(*args: object, **kwargs: object) -> object:
            raise KafkaTimeoutError("broker away")

        c.producer.send = refused  # type: ignore[method-assign]
        first = await c.poll_once()
        state = c.states[srv.base + "/cond"]
        assert first.published == 0 and first.failed == 1
        assert state.seen == [] and state.etag is None  # nothing marked done
        c.producer.send = real_send  # type: ignore[method-assign]
        state.next_due = 0
        second = await c.poll_once()
    assert outcome_count("publish_error") == before + 1
    assert "If-None-Match" not in srv.headers["/cond"][-1]  # a full fetch, not a 304
    assert second.published == 2
    raw = await asyncio.to_thread(read_all, kafka_bootstrap, s.topics.raw)
    assert {r["url"] for r in raw} == {"https://news.example.com/a", "https://news.example.com/b"}
