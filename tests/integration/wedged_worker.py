"""``python -m tests.integration.wedged_worker worker``: a newsmon worker whose Kafka client is
wedged -- every offset commit waits for ever, as when aiokafka's producer keeps batches
that never complete -- until the worker has re-executed itself once."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from streams import delivery

if delivery.reexecs() == 0:
    real_guard = delivery.guard

    def wedging_guard(consumer: Any) -> Any:
        async def stuck(*args: Any, **kwargs: Any) -> bool:
            await asyncio.Event().wait()
            return False

        consumer.commit = stuck
        return real_guard(consumer)

    delivery.guard = wedging_guard

if __name__ == "__main__":
    from newsmon.cli import main

    sys.exit(main(["worker"]))
