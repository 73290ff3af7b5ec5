"""Spike and silence alerts from a replay with event times, on the real broker."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from newsmon.analysis.canonical import article_id
from newsmon.records import RawArticle, dumps
from newsmon.settings import Settings
from newsmon.topics import ensure_topics
from tests.helpers import DATA
from tests.integration.procs import isolated_env, read_topic, worker
from tests.schemas import assert_valid

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 2, tzinfo=UTC).timestamp()


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def test_spike_and_silence(kafka_bootstrap: str, tmp_path: Path) -> None:
    truth = json.loads((DATA / "pages/article-extraction-benchmark/ground-truth.json")
                       .read_text("utf-8"))
    bodies = iter(v["articleBody"][:600] for v in truth.values())
    raws: list[RawArticle] = []

    def art(country: str, hour: int, k: int, tense: bool, gap: int = 60) -> RawArticle:
        title = (f"{country} army shells border towns as troops mass and casualties mount"
                 if tense else f"{country} farmers report a good harvest, issue {k}")
        url = f"https://replay.example/{country}/{hour}/{k}"
        return RawArticle(id=article_id(url), title=title, url=url, content=next(bodies),
                          published=iso(T0 + hour * 3600 + k * gap))

    for hour in range(6):  # the baseline: both countries produce, calmly
        raws += [art("Ukraine", hour, k, False) for k in range(3)]
        raws += [art("France", hour, k, False) for k in range(3)]
    raws += [art("Ukraine", 6, k, True) for k in range(6)]  # hour 6: Ukraine spikes ...
    # ... France fell silent in hour 6, which is over once hour 7 is 10 minutes old
    raws += [art("Ukraine", 7, k, False, gap=600) for k in range(3)]
    env = isolated_env(kafka_bootstrap, tmp_path, NEWSMON_TREND_WINDOW_SECONDS="3600",
                       NEWSMON_SWEEP_SECONDS="2",
                       NEWSMON_TREND_BASELINE_WINDOWS="6", NEWSMON_TREND_MIN_VOLUME="3")
    asyncio.run(ensure_topics(Settings.from_env(env)))

    async def produce() -> None:
        p = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True)
        await p.start()
        for r in raws:
            await p.send_and_wait(env["NEWSMON_TOPIC_RAW"], dumps(r.to_dict()),
                                  key=r.id.encode())
        await p.stop()

    with worker(env, tmp_path / "worker.log") as proc:
        asyncio.run(produce())
        recs = read_topic(
            kafka_bootstrap, env["NEWSMON_TOPIC_TREND_ALERTS"],
            lambda r: proc.poll() is not None or (
                {("spike", "UA"), ("silence", "FR")} <= {(x["kind"], x["key"]) for x in r}),
            timeout=240)
    log = (tmp_path / "worker.log").read_text()
    kinds = {(r["kind"], r["key"]) for r in recs}
    assert ("spike", "UA") in kinds, log[-3000:]
    assert ("silence", "FR") in kinds
    assert ("spike", "FR") not in kinds and ("silence", "UA") not in kinds
    spike = next(r for r in recs if (r["kind"], r["key"]) == ("spike", "UA"))
    assert spike["window_start"] == int(T0 + 6 * 3600) and spike["z"] >= 3
    assert_valid("trend-alert", recs)
