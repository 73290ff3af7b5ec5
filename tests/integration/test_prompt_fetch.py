"""The consumer a Faust worker starts has aiokafka's ``prefetch_backoff`` (how long
fetched records may wait to be taken before the other partitions on that broker are
fetched) cut from aiokafka's 0.1 s to ``delivery.PREFETCH_BACKOFF``."""

import asyncio
import inspect
import uuid

import pytest
from aiokafka.consumer.fetcher import Fetcher

from streams import delivery
from streams.app import App

pytestmark = pytest.mark.integration


def test_the_workers_consumer_starts_with_the_short_prefetch_backoff(
        kafka_bootstrap: str) -> None:
    # What the worker changes: aiokafka's own parameter and default (not a consumer option).
    assert inspect.signature(Fetcher).parameters["prefetch_backoff"].default == 0.1
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
