from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from newsmon.kafka_local import LocalKafka


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A real Kafka broker: the configured cluster, or a local one started for the session."""
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    kafka = LocalKafka()
    kafka.start()
    try:
        yield kafka.bootstrap_servers
    finally:
        kafka.stop()
