"""Topic creation: the bands topic gets its own partition count, and a bands topic that
already exists keeps its count, which the worker then uses."""

import asyncio
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from newsmon.settings import Settings
from newsmon.topics import ensure_topics
from tests.integration.procs import isolated_env

pytestmark = pytest.mark.integration


async def partitions(bootstrap: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return len((await admin.describe_topics([topic]))[0]["partitions"])
    finally:
        await admin.close()


def test_bands_topic_count_is_its_own_and_sticks(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = isolated_env(kafka_bootstrap, tmp_path, NEWSMON_PARTITIONS="3",
                       NEWSMON_BAND_PARTITIONS="2")
    settings = Settings.from_env(env)
    assert asyncio.run(ensure_topics(settings)) == 2
    assert asyncio.run(partitions(kafka_bootstrap, env["NEWSMON_TOPIC_BANDS"])) == 2
    assert asyncio.run(partitions(kafka_bootstrap, env["NEWSMON_TOPIC_BANDHITS"])) == 3
    # Configured otherwise later: the existing topic's count is the one in use.
    assert asyncio.run(ensure_topics(settings.with_(band_partitions=1))) == 2


async def retention_ms(bootstrap: str, topic: str) -> str | None:
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (resp,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        for _code, _msg, _type, _name, entries in resp.resources:
            for entry in entries:
                if entry[0] == "retention.ms":
                    return str(entry[1])
        return None
    finally:
        await admin.close()


def test_readable_topics_get_the_configured_retention(kafka_bootstrap: str,
                                                       tmp_path: Path) -> None:
    env = isolated_env(kafka_bootstrap, tmp_path, NEWSMON_RETENTION_DAYS="2")
    settings = Settings.from_env(env)
    asyncio.run(ensure_topics(settings))
    two_days = str(2 * 86_400_000)
    for name in ("RAW", "ARTICLES", "ALERTS", "DEADLETTER"):
        assert asyncio.run(retention_ms(kafka_bootstrap, env[f"NEWSMON_TOPIC_{name}"])) == two_days
    # Internal topics keep the broker's default (7 days).
    assert asyncio.run(retention_ms(kafka_bootstrap, env["NEWSMON_TOPIC_UNIQUE"])) != two_days
