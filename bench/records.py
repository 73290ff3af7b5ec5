"""Records per article: every record the worker writes to Kafka (its topics and its
tables' changelogs), divided by the articles it was given.

    .venv/bin/python -m bench.records [--articles 300] [--band-partitions 1]

Pre-loads the raw topic with full-text articles (15 % followed by a syndicated copy,
:func:`bench.pipeline.build_articles`), runs one worker until every article is enriched
and the stages after it are idle, stops it, and sums the end offsets of every topic of
the run. Prints one row per topic, then the total per article.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.pipeline import build_articles, consume_until, env_for, produce, start, stop
from newsmon.kafka_local import ensure_kafka
from newsmon.settings import Settings
from newsmon.topics import ensure_topics


async def end_offsets(bootstrap: str, prefixes: tuple[str, ...]) -> dict[str, int]:
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await c.start()
    try:
        topics = sorted(t for t in await c.topics() if t.startswith(prefixes))
        c.subscribe(topics)  # so the client keeps every topic's metadata
        await c._client.force_metadata_update()
        out = {}
        for topic in topics:
            tps = [TopicPartition(topic, p)
                   for p in c._client.cluster.partitions_for_topic(topic) or ()]
            ends = await c.end_offsets(tps)
            out[topic] = sum(ends.values())
        return out
    finally:
        await c.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=300)
    ap.add_argument("--band-partitions", default="1")
    args = ap.parse_args()
    raws = build_articles(args.articles)
    with ensure_kafka(None) as bootstrap, tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        env = env_for(bootstrap, tmp, NEWSMON_ANALYSIS_PROCESSES="1",
                      NEWSMON_BAND_PARTITIONS=args.band_partitions)
        asyncio.run(ensure_topics(Settings.from_env(env)))
        asyncio.run(produce(bootstrap, env["NEWSMON_TOPIC_RAW"], raws))
        proc = start([sys.executable, "-m", "newsmon.cli", "worker"], env,
                     tmp / "worker.log")
        try:
            got = asyncio.run(consume_until(bootstrap, env["NEWSMON_TOPIC_ARTICLES"],
                                            len(raws), 900))
            time.sleep(10)  # alerting and trends catch up; the last commits go out
        finally:
            stop(proc)
        prefix = env["NEWSMON_TOPIC_RAW"].rsplit(".", 1)[0] + "."
        counts = asyncio.run(end_offsets(bootstrap, (prefix, env["NEWSMON_APP_ID"])))
    print(f"{len(got)} of {len(raws)} articles enriched")
    for topic, n in counts.items():
        print(f"{topic:<60} {n:>7} {n / len(raws):6.2f}")
    total = sum(counts.values())
    print(f"{'total':<60} {total:>7} {total / len(raws):6.2f} records per article")


if __name__ == "__main__":
    main()
