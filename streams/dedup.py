"""The dedup stage: exact duplicates by article id (``newsmon.stages.dedup``).

The seen ids are a changelog-backed table keyed by article id (the Kafka key
everywhere), so the state is partition-local, survives restarts and works with any
number of workers. An id counts as seen only once the record it let through is
acknowledged downstream.
"""

from __future__ import annotations

import time

import faust

from newsmon import metrics
from newsmon.expiry import ExpiryQueue, drop_expired
from newsmon.records import decode_raw
from newsmon.stages.dedup import is_duplicate
from streams.frames import Finish, Frames
from streams.topology import Topology


def install(topo: Topology, frames: Frames) -> None:
    seen = topo.seen
    window = topo.settings.dedup_window_hours * 3600
    # What to expire, in write order per partition; rebuilt after each recovery.
    expiry: ExpiryQueue[bytes] = ExpiryQueue()
    passed: set[bytes] = set()  # ids let through in this batch, not yet in ``seen``

    @seen.on_recover
    async def rebuild_seen_expiry() -> None:
        expiry.rebuild((topo.partition_of(k), k, t) for k, t in seen.items())

    async def expire(part: int) -> None:
        drop_expired(seen, expiry, part, time.time(), window, float)

    async def one(key: bytes, value: bytes) -> Finish | None:
        t0 = time.perf_counter()
        raw = decode_raw(value)
        aid = raw.id.encode()
        if key != aid:
            # Keep the table partition-local: re-key to the article id.
            await topo.raw.send(key=aid, value=value)
            return None
        if is_duplicate(seen, passed, aid, time.time(), window):
            metrics.duplicates.labels("exact").inc()
            return None
        passed.add(aid)
        sent = await topo.unique.send(key=key, value=value)
        metrics.stage_seconds.labels("dedup").observe(time.perf_counter() - t0)

        async def finish() -> None:
            # Acknowledged downstream before the id counts as seen: a crash in between
            # re-sends the record on redelivery instead of dropping it as a duplicate.
            await sent
            seen[aid] = now = time.time()
            expiry.add(topo.partition_of(aid), aid, now)
        return finish

    @topo.app.agent(topo.dedup_source, name="dedup")
    async def dedup(stream: faust.StreamT[bytes]) -> None:
        await frames.in_batches(stream, "dedup", one, expire, passed.clear)
