"""Poison records land on the dead-letter topic with error, stage and original bytes."""

import asyncio
import base64
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from newsmon.records import RawArticle, dumps
from newsmon.settings import Settings
from newsmon.topics import ensure_topics
from tests.integration.procs import isolated_env, metric_value, metrics_text, read_topic, worker
from tests.schemas import assert_valid

pytestmark = pytest.mark.integration

POISON = [
    b"{not json",
    dumps({"id": "v9", "title": "from the future", "schema_version": 99}),
    dumps({"title": "no id here"}),
]


async def produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await p.start()
    try:
        for key, value in records:
            await p.send_and_wait(topic, value, key=key or None)
    finally:
        await p.stop()


def test_poison_records_go_to_deadletter_and_the_rest_flows(kafka_bootstrap: str,
                                                           tmp_path: Path) -> None:
    env = isolated_env(kafka_bootstrap, tmp_path)
    good = RawArticle(id="good-1", title="Troops mass on the border", url="https://a.com/1")
    records = [(b"p%d" % i, v) for i, v in enumerate(POISON)]
    records.append((b"good-1", dumps(good.to_dict())))
    asyncio.run(ensure_topics(Settings.from_env(env)))
    with worker(env, tmp_path / "worker.log") as proc:
        asyncio.run(produce(kafka_bootstrap, env["NEWSMON_TOPIC_RAW"], records))
        # A record that makes a later stage raise: a band probe without its bands.
        asyncio.run(produce(kafka_bootstrap, env["NEWSMON_TOPIC_BANDS"],
                            [(b"", b'{"type": "probe", "id": "x"}')]))
        dead = read_topic(kafka_bootstrap, env["NEWSMON_TOPIC_DEADLETTER"],
                          lambda r: proc.poll() is not None or len(r) >= 4, timeout=120)
        articles = read_topic(kafka_bootstrap, env["NEWSMON_TOPIC_ARTICLES"],
                              lambda r: proc.poll() is not None or len(r) >= 1, timeout=120)
        text = metrics_text(int(env["NEWSMON_WORKER_METRICS_PORT"]))
    assert len(dead) == 4, (tmp_path / "worker.log").read_text()[-2000:]
    assert_valid("dead-letter", dead)
    raised = [d for d in dead if d["stage"] == "bands"]
    assert len(raised) == 1 and raised[0]["error_type"] == "KeyError"
    dead = [d for d in dead if d["stage"] != "bands"]
    assert_valid("enriched-article", articles)
    originals = {base64.b64decode(d["original_b64"]) for d in dead}
    assert originals == set(POISON)
    for d in dead:
        assert d["stage"] == "decode" and d["error"] and d["error_type"] == "RecordError"
        assert d["topic"] == env["NEWSMON_TOPIC_RAW"] and d["offset"] is not None
    errors = " ".join(d["error"] for d in dead)
    assert "invalid JSON" in errors and "schema_version" in errors and "'id'" in errors
    assert [a["id"] for a in articles] == ["good-1"]
    assert metric_value(text, "newsmon_deadletter_total") == 4
