"""The worker's Kafka consumer fetches again within ``delivery.PREFETCH_BACKOFF``, not
aiokafka's 0.1 s, while some partition's fetched records wait for their agent."""

import asyncio
import uuid

import pytest

from streams import delivery
from streams.app import App

pytestmark = pytest.mark.integration


def test_the_workers_consumer_starts_with_the_short_prefetch_backoff(
        kafka_bootstrap: str) -> None:
    app = App(f"prompt-{uuid.uuid4().hex[:8]}", broker=f"kafka://{kafka_bootstrap}")

    async def started_backoff() -> float:
        # The consumer Faust's worker starts: the one its consumer thread creates.
        client = app.consumer._thread._create_consumer(loop=asyncio.get_running_loop())
        await client.start()
        try:
            return float(client._fetcher._prefetch_backoff)
        finally:
            await client.stop()

    assert asyncio.run(started_backoff()) == delivery.PREFETCH_BACKOFF < 0.1
