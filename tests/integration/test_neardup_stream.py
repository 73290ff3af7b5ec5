"""Near-duplicate detection in the streams: two workers, four partitions, a restart between.

Parametrised over the band index's partition count: 4 spreads the band lookups over
both workers, 1 (the default) puts them all on one."""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path

import pytest

from newsmon.analysis.canonical import article_id
from newsmon.analysis.neardup import syndicated_copies
from newsmon.kafka_local import free_port
from newsmon.records import RawArticle
from newsmon.settings import Settings
from newsmon.topics import ensure_topics
from tests.helpers import DATA
from tests.integration.procs import isolated_env, metrics_text, produce_raws, read_topic, worker
from tests.schemas import assert_valid

pytestmark = pytest.mark.integration


def wait_ready(envs: list[dict[str, str]], timeout: float = 90.0) -> None:
    """Both workers serve /metrics and have joined the group (rebalances settle first)."""
    deadline = time.monotonic() + timeout
    for env in envs:
        while time.monotonic() < deadline:
            try:
                text = metrics_text(int(env["NEWSMON_WORKER_METRICS_PORT"]))
                if "newsmon_faust_assignment_latency" in text or "newsmon_faust" in text:
                    break
            except OSError:
                pass
            time.sleep(0.5)
    time.sleep(8)  # the group's second rebalance, when the later worker joins


@pytest.mark.parametrize("band_partitions", ["4", "1"])
def test_copies_found_across_workers_and_a_restart(kafka_bootstrap: str, tmp_path: Path,
                                                   band_partitions: str) -> None:
    truth = json.loads((DATA / "pages/article-extraction-benchmark/ground-truth.json")
                       .read_text("utf-8"))
    texts = [v["articleBody"] for v in truth.values() if len(v["articleBody"].split()) > 150][:16]
    originals = [RawArticle(id=article_id(f"https://orig.example/{i}"), title=f"Story {i}",
                            url=f"https://orig.example/{i}", content=t)
                 for i, t in enumerate(texts)]
    rng = random.Random(3)
    copies: list[tuple[RawArticle, str]] = []
    for i, o in enumerate(originals):
        for kind, text in list(syndicated_copies(o.content, rng))[:3]:
            url = f"https://copy.example/{i}/{kind.replace(' ', '-')}"
            copies.append((RawArticle(id=article_id(url), title=f"Copy {i}", url=url,
                                      content=text), o.id))
    env = isolated_env(kafka_bootstrap, tmp_path, NEWSMON_PARTITIONS="4",
                       NEWSMON_BAND_PARTITIONS=band_partitions)
    env2 = dict(env, NEWSMON_WORKER_METRICS_PORT=str(free_port()))
    topics = env["NEWSMON_TOPIC_RAW"], env["NEWSMON_TOPIC_ARTICLES"]
    asyncio.run(ensure_topics(Settings.from_env(env)))

    def articles(n: int, procs: list) -> list[dict]:  # type: ignore[type-arg]
        return read_topic(kafka_bootstrap, topics[1],
                          lambda r: len({a["id"] for a in r}) >= n
                          or any(p.poll() is not None for p in procs),
                          timeout=240)

    with worker(env, tmp_path / "w1.log") as w1, worker(env2, tmp_path / "w2.log") as w2:
        wait_ready([env, env2])
        asyncio.run(produce_raws(kafka_bootstrap, topics[0], originals))
        first = articles(len(originals), [w1, w2])
    assert len(first) == len(originals), (tmp_path / "w1.log").read_text()[-3000:]
    assert all(a["duplicate_of"] is None for a in first)  # no false duplicates
    assert len({a["story_id"] for a in first}) == len(originals)

    # Both workers stopped; new ones must restore the band tables from their changelogs.
    with worker(env, tmp_path / "w3.log") as w3, worker(env2, tmp_path / "w4.log") as w4:
        wait_ready([env, env2])
        asyncio.run(produce_raws(kafka_bootstrap, topics[0], [c for c, _ in copies]))
        out = articles(len(originals) + len(copies), [w3, w4])
    assert_valid("enriched-article", out)
    by_id = {a["id"]: a for a in out}
    found = sum(by_id.get(c.id, {}).get("duplicate_of") == orig for c, orig in copies)
    recall = found / len(copies)
    missing = sum(c.id not in by_id for c, _ in copies)
    print(f"\nstream copy recall {recall:.3f} ({found}/{len(copies)}, {missing} not released) "
          f"with 2 workers, 4 partitions, {band_partitions} band partitions")
    assert recall >= 0.9, (tmp_path / "w3.log").read_text()[-3000:]
    for c, orig in copies:
        if c.id in by_id and by_id[c.id]["duplicate_of"] == orig:
            assert by_id[c.id]["story_id"] == orig
