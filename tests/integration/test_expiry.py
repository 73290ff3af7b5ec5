"""Dedup state expires after its window, in a running worker and after a restart (the
expiry queues are rebuilt from the restored tables). An expired entry shows as a
tombstone on its table's changelog; the dedup check itself also compares times, so
without the sweep an old entry would still pass but stay in memory for ever."""

import asyncio
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from newsmon.records import RawArticle
from newsmon.settings import Settings
from newsmon.topics import ensure_topics
from streams.delivery import key_partition
from tests.integration.procs import isolated_env, produce_raws, read_topic, worker

pytestmark = pytest.mark.integration

WINDOW = 12.0  # seconds: longer than a loaded machine takes to stop the first worker


def tombstones(bootstrap: str, topic: str) -> set[bytes]:
    """Keys deleted on a changelog topic (records with a null value)."""

    async def run() -> set[bytes]:
        c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             auto_offset_reset="earliest", enable_auto_commit=False)
        await c.start()
        try:
            await c._client.force_metadata_update()
            tps = [TopicPartition(topic, p) for p in c.partitions_for_topic(topic) or ()]
            c.assign(tps)
            ends = await c.end_offsets(tps)
            out: set[bytes] = set()
            while [tp for tp in tps if await c.position(tp) < ends[tp]]:
                for msgs in (await c.getmany(timeout_ms=500)).values():
                    out.update(m.key for m in msgs if m.value is None and m.key)
            return out
        finally:
            await c.stop()

    return asyncio.run(run())


def tombstoned(bootstrap: str, topic: str, key: bytes, after: float) -> bool:
    """Has ``key`` been deleted on ``topic``? Waited for up to ``after`` + 60 s: the sweep
    comes once the window has passed, later on a loaded machine."""
    time.sleep(after)
    deadline = time.monotonic() + 60
    while key not in tombstones(bootstrap, topic):
        if time.monotonic() > deadline:
            return False
        time.sleep(1)
    return True


def test_seen_ids_expire_live_and_after_a_restart(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = isolated_env(kafka_bootstrap, tmp_path, NEWSMON_DEDUP_WINDOW_HOURS=str(WINDOW / 3600),
                       NEWSMON_SWEEP_SECONDS="1")
    asyncio.run(ensure_topics(Settings.from_env(env)))
    changelog = f"{env['NEWSMON_APP_ID']}-seen-ids-changelog"

    def through(proc: object, *articles: RawArticle) -> list[str]:
        """Send the articles and a marker; the ids dedup let through once the marker is.
        The marker's id falls in the articles' partition (order holds only within one)."""
        part = key_partition(articles[0].id.encode(), 4) if articles else 0
        marker_id = next(m for m in (f"marker-{time.monotonic_ns()}-{i}" for i in range(999))
                         if key_partition(m.encode(), 4) == part)
        marker = RawArticle(id=marker_id, title="Marker", url="https://m.example/")
        asyncio.run(produce_raws(kafka_bootstrap, env["NEWSMON_TOPIC_RAW"],
                                 [*articles, marker]))
        out = read_topic(kafka_bootstrap, env["NEWSMON_TOPIC_UNIQUE"],
                         lambda r: any(x["id"] == marker.id for x in r)
                         or proc.poll() is not None,  # type: ignore[attr-defined]
                         timeout=120)
        assert any(x["id"] == marker.id for x in out), "the marker never came through"
        return [x["id"] for x in out if not x["id"].startswith("marker-")]

    live = RawArticle(id="expires-live", title="A story told twice", url="https://a.example/1")
    restored = RawArticle(id="expires-later", title="Another", url="https://a.example/2")
    assert key_partition(b"expires-live", 4) == key_partition(b"expires-later", 4)
    with worker(env, tmp_path / "w1.log") as proc:
        assert through(proc, live) == [live.id]
        assert through(proc, live) == [live.id]  # within the window: an exact duplicate
        assert tombstoned(kafka_bootstrap, changelog, live.id.encode(), WINDOW), \
            (tmp_path / "w1.log").read_text()[-3000:]
        assert through(proc, restored) == [live.id, restored.id]
    # A new worker restores seen-ids from the changelog; only an expiry queue rebuilt
    # from the restored table lets its sweeps find that entry.
    assert restored.id.encode() not in tombstones(kafka_bootstrap, changelog)
    with worker(env, tmp_path / "w2.log") as proc:
        assert through(proc) == [live.id, restored.id]  # the worker is up
        assert tombstoned(kafka_bootstrap, changelog, restored.id.encode(), WINDOW), \
            (tmp_path / "w2.log").read_text()[-3000:]
