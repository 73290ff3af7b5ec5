"""The Faust application: the worker's composition root.

Where each part lives:

* :mod:`streams.topology`: the topics and tables, and which partition a key lives in;
* :mod:`streams.frames`: how agents take records (one by one, in batches, acked in
  order) and dead-letter what a stage cannot handle;
* one module per stage, each a few thin agents over a pure decision in
  :mod:`newsmon.stages`: :mod:`streams.dedup`, :mod:`streams.neardup` (sign, bands,
  collect), :mod:`streams.enrich`, :mod:`streams.alerting`, :mod:`streams.trends`;
* :mod:`streams.delivery`: the at-least-once guards on Faust's consumer and producer.

State older than ``dedup_window_hours`` (default 72) is dropped on SWEEP events a timer
sends to every partition of the stateful topics. A stage writes the state that
suppresses a record (seen ids, parked records, cooldowns) only after Kafka acknowledged
the record it let through. Nothing here knows how to analyse; nothing in the analysis
knows Kafka.
"""

from __future__ import annotations

import faust
from faust.types import ConsumerT, ProducerT

from newsmon import compat, metrics
from newsmon.analysis.pipeline import Analyzer
from newsmon.compat.faust import HookedApp
from newsmon.settings import Settings
from streams import alerting, dedup, delivery, enrich, frames, neardup, topology, trends
from streams.sensors import setup_sensors


class App(HookedApp):
    """``faust.App`` whose consumer keeps at-least-once and fetches promptly, and whose
    producer places table writes while it lacks a topic's metadata
    (:mod:`streams.delivery`)."""

    def consumer_created(self, consumer: ConsumerT) -> ConsumerT:
        return delivery.prompt_fetches(delivery.guard(consumer))

    def producer_created(self, producer: ProducerT) -> ProducerT:
        return delivery.steady_partitions(producer, self.conf.topic_partitions)


def create_app(settings: Settings, analyzer: Analyzer | None = None) -> faust.App:
    """The worker. ``analyzer`` (tests) runs the analysis in a thread of this process."""
    compat.check_all()
    if not settings.bootstrap_servers:
        raise ValueError("settings.bootstrap_servers is required for the worker")
    datadir = (settings.data_dir / "faust").resolve()
    datadir.mkdir(parents=True, exist_ok=True)
    app = App(
        settings.app_id,
        broker=[f"kafka://{b.strip()}" for b in settings.bootstrap_servers.split(",")],
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
        # A worker that dies holds its partitions until the session times out.
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=min(3.0, settings.session_timeout / 3),
        broker_commit_every=100,
        broker_commit_interval=1.0,
        stream_wait_empty=False,
    )
    setup_sensors(app, name_prefix="newsmon_faust")
    topo = topology.build(app, settings)
    frame = frames.Frames(topo.deadletter)
    analysis = enrich.Analysis(settings, analyzer)
    dedup.install(topo, frame)
    neardup.install(topo, frame)
    alerting.install(topo, frame)
    trends.install(topo, frame)
    enrich.install(topo, frame, analysis)

    @app.timer(interval=settings.sweep_seconds)  # type: ignore[untyped-decorator]
    async def sweeper() -> None:
        """Ask every partition of the stateful topics to expire its own old state."""
        for topic, count in topo.swept():
            for p in range(count):
                await topic.send(key=None, value=frames.SWEEP, partition=p)

    @app.task  # type: ignore[untyped-decorator]
    async def watch_commits() -> None:
        metrics.worker_reexecs.set(delivery.reexecs())
        await delivery.watch_commits(app.consumer, analysis.kill)

    @app.task  # type: ignore[untyped-decorator]
    async def warm_up() -> None:
        await analysis.warm_up()

    return app
