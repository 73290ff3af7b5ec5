"""The Faust application: thin agents around :mod:`newsmon.analysis`.

    news.raw --dedup--> news.unique --enrich--> news.articles
                                         \\--> news.alerts (score >= threshold)
    any record a stage cannot handle --> news.deadletter

* ``dedup`` keeps the ids it has seen in a changelog-backed Faust table keyed
  by article id (the Kafka key everywhere), so the state is partition-local,
  survives restarts and works with any number of workers.
* ``enrich`` batches records (``stream.take``) and runs the CPU-heavy analysis
  in a worker thread so the event loop keeps heartbeating.

Nothing here knows how to analyse; nothing in the analysis knows Kafka.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faust
from faust.sensors.prometheus import setup_prometheus_sensors

from newsmon import metrics
from newsmon.analysis.pipeline import Analyzer, make_alert
from newsmon.records import DeadLetter, RawArticle, RecordError, decode_raw, dumps
from newsmon.settings import Settings

log = logging.getLogger(__name__)

ENRICH_BATCH = 16
ENRICH_WITHIN = 0.02


def create_app(settings: Settings, analyzer: Analyzer | None = None) -> faust.App:
    if not settings.bootstrap_servers:
        raise ValueError("settings.bootstrap_servers is required for the worker")
    brokers = [f"kafka://{b.strip()}" for b in settings.bootstrap_servers.split(",")]
    datadir = (settings.data_dir / "faust").resolve()
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=brokers,
        store="memory://",
        topic_replication_factor=1,
        topic_partitions=settings.partitions,
        consumer_auto_offset_reset="earliest",
        web_enabled=True,
        web_bind=settings.metrics_host,
        web_host=settings.metrics_host,
        web_port=settings.worker_metrics_port,
        datadir=str(datadir),
        producer_acks=-1,
        broker_commit_every=100,
        broker_commit_interval=1.0,
        stream_wait_empty=False,
    )
    setup_prometheus_sensors(app, name_prefix="newsmon_faust")
    t = settings.topics
    raw_topic = app.topic(t.raw, key_serializer="raw", value_serializer="raw",
                          partitions=settings.partitions)
    unique_topic = app.topic(t.unique, key_serializer="raw", value_serializer="raw",
                             partitions=settings.partitions)
    articles_topic = app.topic(t.articles, key_serializer="raw", value_serializer="raw")
    alerts_topic = app.topic(t.alerts, key_serializer="raw", value_serializer="raw")
    dead_topic = app.topic(t.deadletter, key_serializer="raw", value_serializer="raw")
    seen = app.Table("seen-ids", default=None, partitions=settings.partitions)
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analysis")
    state: dict[str, Analyzer] = {}

    def get_analyzer() -> Analyzer:
        if "a" not in state:
            state["a"] = analyzer if analyzer is not None else Analyzer()
        return state["a"]

    async def dead_letter(stage: str, exc: BaseException, value: Any, key: Any,
                          event: faust.types.EventT[Any] | None = None) -> None:
        original = value if isinstance(value, bytes) else str(value).encode()
        msg = event.message if event is not None else None
        record = DeadLetter(stage=stage, error=str(exc), error_type=type(exc).__name__,
                            original=original,
                            original_key=key if isinstance(key, bytes) else None,
                            topic=msg.topic if msg else None,
                            partition=msg.partition if msg else None,
                            offset=msg.offset if msg else None)
        await dead_topic.send(key=key if isinstance(key, bytes) else None,
                              value=dumps(record.to_dict()))
        metrics.deadletters.labels(stage).inc()
        log.warning("dead-lettered a record at stage %s: %s", stage, exc)

    @app.agent(raw_topic, name="dedup")
    async def dedup(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            key, value = event.key, event.value
            t0 = time.perf_counter()
            try:
                raw = decode_raw(value)
            except RecordError as exc:
                await dead_letter("decode", exc, value, key, event)
                continue
            try:
                if key != raw.id.encode():
                    # Keep the table partition-local: re-key to the article id.
                    await raw_topic.send(key=raw.id.encode(), value=value)
                    continue
                if seen.get(raw.id) is not None:
                    metrics.duplicates.labels("exact").inc()
                    continue
                seen[raw.id] = time.time()
                await unique_topic.send(key=key, value=value)
            except Exception as exc:  # noqa: BLE001 - never crash the agent on one record
                await dead_letter("dedup", exc, value, key, event)
                continue
            metrics.stage_seconds.labels("dedup").observe(time.perf_counter() - t0)

    async def publish(article: dict[str, Any]) -> None:
        key = article["id"].encode()
        await articles_topic.send(key=key, value=dumps(article))
        metrics.articles_enriched.inc()
        alert = make_alert(article, settings.alert_threshold)
        if alert is not None:
            await alerts_topic.send(key=alert["alert_id"].encode(), value=dumps(alert))
            metrics.alerts.labels(alert["rule"]).inc()

    @app.agent(unique_topic, name="enrich")
    async def enrich(stream: faust.StreamT[bytes]) -> None:
        loop = asyncio.get_running_loop()
        async for values in stream.take(ENRICH_BATCH, within=ENRICH_WITHIN):
            raws: list[RawArticle] = []
            for value in values:
                try:
                    raws.append(decode_raw(value))
                except RecordError as exc:
                    await dead_letter("decode", exc, value, None)
            if not raws:
                continue
            t0 = time.perf_counter()
            try:
                articles = await loop.run_in_executor(executor, get_analyzer().enrich_many, raws)
            except Exception:  # noqa: BLE001 - isolate the record that fails
                articles = []
                for raw in raws:
                    try:
                        articles.append(await loop.run_in_executor(
                            executor, get_analyzer().enrich, raw))
                    except Exception as exc:  # noqa: BLE001
                        await dead_letter("enrich", exc, dumps(raw.to_dict()),
                                          raw.id.encode())
            per = (time.perf_counter() - t0) / max(1, len(raws))
            metrics.stage_seconds.labels("enrich").observe(per)
            for article in articles:
                await publish(article)

    @app.task  # type: ignore[untyped-decorator]
    async def warm_up() -> None:
        await asyncio.get_running_loop().run_in_executor(executor, get_analyzer)
        log.info("analysis model loaded")

    return app
