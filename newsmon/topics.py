"""Create newsmon's topics with the configured partition counts (idempotent).

The topics people, downstream services and ``newsmon replay`` read (raw, articles,
alerts, trend alerts, dead letters) are created with ``retention.ms`` from
``Settings.retention_days`` (default 14 days); the internal ones keep the broker's
default. A topic that exists already is left as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from newsmon.settings import Settings

log = logging.getLogger(__name__)


async def ensure_topics(settings: Settings, replication: int = 1,
                        extra: tuple[str, ...] = ()) -> int:
    """Create what is missing; return the partition count of the bands topic as it is,
    which is the band index's partition count whatever the settings say (a topic made
    with another count stays so: Kafka cannot take partitions away)."""
    t = settings.topics
    wanted = [t.raw, t.unique, t.bands, t.bandhits, t.analyze, t.stories, t.countries,
              t.sweeps, t.articles, t.alerts, t.trend_alerts, t.deadletter, *extra]
    retained = {t.raw, t.articles, t.alerts, t.trend_alerts, t.deadletter}
    retention = {"retention.ms": str(int(settings.retention_days * 86_400_000))}
    admin = AIOKafkaAdminClient(**settings.kafka_client_kwargs())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [NewTopic(name, settings.band_partitions if name == t.bands
                        else settings.partitions, replication,
                        topic_configs=retention if name in retained else None)
               for name in wanted if name not in existing]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
            log.info("created topics %s", [n.name for n in new])
            await _wait_for_leaders(admin, wanted)
            await asyncio.sleep(1.0)  # let every broker's metadata cache catch up
        described = await admin.describe_topics([t.bands])
    finally:
        await admin.close()
    found = len(described[0].get("partitions") or ()) if described else 0
    if found and found != settings.band_partitions:
        log.warning("%s has %d partitions, not the configured %d: the band index uses %d",
                    t.bands, found, settings.band_partitions, found)
    return found or settings.band_partitions


async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str],
                            timeout: float = 30.0) -> None:
    """Wait until every partition of ``names`` has a leader (fresh topics need a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        described = await admin.describe_topics(names)
        ready = all(
            t.get("error_code", 0) == 0 and t.get("partitions")
            and all(p.get("leader", -1) >= 0 for p in t["partitions"])
            for t in described
        )
        if ready or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.2)
