"""At-least-once guards for faust-streaming's consumer.

Ways faust-streaming 0.15.3 (pinned in pyproject.toml) commits past records no agent
processed, or never fetches them again. The first was caught by
``tests/integration/test_crash.py::test_sigterm_under_load_exits_cleanly`` (13 to 142
of 400 articles never enriched after a SIGTERM and restart, in 10 of 17 runs; 0 in 9
with the guard). The second is found by reading Faust's stream iterator;
no test here has seen it fire, the guard costs one attribute test per ack.

1. **Stale batches after a seek.** On a restart with table state to restore,
   Faust resumes the stream partitions *before* it seeks them to their committed
   offsets. Records fetched in that window are still being handed out when the
   seek lands; the consumer then sees offset 18 right after the committed 11,
   records 12..17 as a "gap" (which it treats as acknowledged, for transaction
   markers) and drops 12..17 when they are fetched again ("offset below read
   offset"). The next commit moves past records no agent saw.

   :func:`guard` numbers the seeks. A batch whose delivery straddles a seek is
   cut short and the partitions are sought back to their committed offsets once
   more, from the fetch loop itself: what was cut is fetched again, so the worst
   case is a record delivered twice, never one skipped.

   A partition with no committed offset yet is sought to its beginning: aiokafka
   leaves such a partition where fetching left it, so without this the records of
   the cut batch were never fetched again (found by a killed-worker test whose
   earlier workers all died before their first commit: the last worker enriched 2
   of 2,000 articles and sat idle).

2. **Skipped records acked.** While flow control is suspended (shutdown,
   rebalance) a stream skips records already in an agent's queue -- and acks
   them. A record an agent received is marked ``tracked`` before the agent sees
   it and a skipped one is not, so acks of untracked records are refused: they
   stay uncommitted and are read again.

Both are counted in ``newsmon_worker_consumer_rewinds_total``.

3. **A wedged Kafka client.** After the broker was paused past the client
   timeouts, Faust's commit has waited in aiokafka's ``producer.flush()`` for
   ever (the batches it waits for never completed; why is not known), so nothing
   was committed or fetched again (seen once in ``tests/integration/test_broker_faults.py``:
   the commit began right after the broker came back and was still waiting six minutes
   later).
   :func:`guard` times each commit, and :func:`watch_commits` re-executes the
   worker in place (same process id, same arguments) when one has run for
   ``WEDGED_AFTER`` seconds: the new worker starts from the committed offsets,
   so the uncommitted records are delivered again (at least once), never lost.

4. **Table writes before the producer knows the changelog topic.** A table with
   ``use_partitioner=True`` picks its changelog partition with the producer's
   ``key_partition``, which reads aiokafka's metadata for that topic without
   fetching it: ``'NoneType' object is not iterable`` for the first writes after
   start-up, or after a broker restart, until something has been *sent* to that
   topic (CI, ``test_broker_faults``: dozens of records dead-lettered at
   ``collect`` two seconds after the worker was ready; the traceback ended in
   ``aiokafka.producer._partition``). :func:`steady_partitions` answers such a
   call with the partition aiokafka's default partitioner gives a key (murmur2
   modulo the partition count newsmon creates its topics with) and asks the
   client to fetch the topic's metadata.

Not a guard but the same kind of patch: :func:`prompt_fetches` shortens aiokafka's
``prefetch_backoff``. aiokafka sends no fetch to a broker while any partition it
leads still holds fetched records the application has not taken, for up to
``prefetch_backoff`` (0.1 s by default, not a consumer option). A Faust worker reads
every topic through one consumer, so with one broker a partition whose agent is
busy held back the next record of every other stage: the tail of each hop.

Every private name of faust or aiokafka these patches reach is behind
:mod:`newsmon.compat.faust` and :mod:`newsmon.compat.aiokafka`, checked at start-up.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiokafka.partitioner import murmur2
from faust.types import TP, ConsumerT, Message, ProducerT

from newsmon import metrics
from newsmon.compat import aiokafka as aiokafka_compat
from newsmon.compat import faust as faust_compat

log = logging.getLogger(__name__)

REEXECS_ENV = "NEWSMON_WORKER_REEXECS"  # carried across re-executions, shown as a gauge


def reexecs() -> int:
    """How many times this worker process re-executed itself (guard 3)."""
    value = os.environ.get(REEXECS_ENV, "0")
    return int(value) if value.isdigit() else 0


#: Seconds one offset commit may take before the Kafka client counts as wedged:
#: far past aiokafka's request timeout (40 s) and a broker's usual restart.
#: ``NEWSMON_WEDGED_AFTER`` overrides it.
WEDGED_AFTER = float(os.environ.get("NEWSMON_WEDGED_AFTER") or 180.0)


def guard(consumer: ConsumerT) -> ConsumerT:
    """Install both guards on ``consumer`` (a Faust transport consumer) and return it."""
    seeks = [0]  # seeks so far
    batch_epoch = [0]  # seeks[0] when the batch being delivered was fetched
    perform_seek = consumer.perform_seek
    getmany = consumer.getmany
    ack = consumer.ack
    commit = consumer.commit

    async def counted_seek() -> None:
        await perform_seek()
        # aiokafka moves only the partitions with a committed offset above 0; one with
        # none stays where fetching left it, past records fetched but never delivered.
        # Put it back at its beginning, where auto_offset_reset="earliest" started it.
        committed = faust_compat.committed_offsets(consumer)
        for tp in consumer.assignment():
            if not committed.get(tp) and not faust_compat.is_changelog_tp(consumer, tp):
                metrics.consumer_rewinds.labels("uncommitted_partition").inc()
                await consumer.seek(tp, 0)
        seeks[0] += 1

    async def fresh_getmany(timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        epoch = batch_epoch[0] = seeks[0]
        batch: Any = getmany(timeout=timeout)
        try:
            async for tp, message in batch:
                if seeks[0] != epoch:
                    metrics.consumer_rewinds.labels("stale_batch").inc()
                    log.info("a seek landed while a batch was delivered: seeking back to "
                             "the committed offsets so nothing fetched before it is skipped")
                    await counted_seek()
                    return
                yield tp, message
        finally:
            await batch.aclose()

    def unless_stale(add_gap: faust_compat.AddGap) -> faust_compat.AddGap:
        async def add_gap_unless_stale(tp: TP, offset_from: int, offset_to: int) -> None:
            # A "gap" seen by a batch fetched before the last seek is a stale record, not
            # missing offsets; the batch is cut at its next record and fetched again.
            if seeks[0] == batch_epoch[0]:
                await add_gap(tp, offset_from, offset_to)
        return add_gap_unless_stale

    def delivered_ack(message: Message) -> bool:
        if not message.tracked:
            metrics.consumer_rewinds.labels("skipped_record").inc()
            return False
        return ack(message)

    async def timed_commit(*args: Any, **kwargs: Any) -> bool:
        started = time.monotonic()
        consumer.newsmon_commits_running.add(started)  # type: ignore[attr-defined]
        try:
            return bool(await commit(*args, **kwargs))
        finally:
            consumer.newsmon_commits_running.discard(started)  # type: ignore[attr-defined]

    consumer.newsmon_commits_running = set()  # type: ignore[attr-defined]
    consumer.commit = timed_commit  # type: ignore[method-assign]
    consumer.perform_seek = counted_seek  # type: ignore[method-assign]
    consumer.getmany = fresh_getmany
    consumer.ack = delivered_ack  # type: ignore[method-assign]
    faust_compat.wrap_add_gap(consumer, unless_stale)
    return consumer


async def watch_commits(consumer: ConsumerT, before_exec: Callable[[], None],
                        wedged_after: float = WEDGED_AFTER, every: float = 10.0) -> None:
    """Re-execute this worker when a commit on ``consumer`` (guarded) has run for
    ``wedged_after`` seconds, after ``before_exec`` (which stops child processes);
    see guard 3 above."""
    while True:
        await asyncio.sleep(every)
        running = getattr(consumer, "newsmon_commits_running", ())
        oldest = min(running, default=None)
        if oldest is not None and time.monotonic() - oldest > wedged_after:
            log.error("an offset commit has waited %.0f s for the Kafka producer: the client "
                      "is wedged; restarting this worker in place (uncommitted records are "
                      "delivered again)", time.monotonic() - oldest)
            before_exec()
            os.environ[REEXECS_ENV] = str(reexecs() + 1)
            logging.shutdown()
            os.execv(sys.executable, list(sys.orig_argv))


#: Seconds aiokafka waits for fetched records to be taken before it fetches the other
#: partitions on the same broker (aiokafka's default: 0.1). Raw -> alert p99 at 10
#: articles/s: 175-234 ms at 0.1, 121-166 at 0.005 (four alternating pairs); at 30/s
#: lower in 3 of 4 pairs. 0.02 matched 0.005 at 30/s (two pairs) without the quarter
#: 0.005 took off the titles-only rate.
PREFETCH_BACKOFF = 0.02


def prompt_fetches(consumer: ConsumerT, backoff: float = PREFETCH_BACKOFF) -> ConsumerT:
    """Set ``prefetch_backoff`` on the aiokafka consumer ``consumer`` (a Faust transport
    consumer) creates when it starts; see the module's last paragraph."""
    def prompt(create: Callable[..., Any]) -> Callable[..., Any]:
        def create_prompt(*args: Any, **kwargs: Any) -> Any:
            client = create(*args, **kwargs)
            start = client.start

            async def start_prompt() -> None:
                await start()
                aiokafka_compat.set_prefetch_backoff(client, backoff)

            client.start = start_prompt
            return client
        return create_prompt

    faust_compat.wrap_create_consumer(consumer, prompt)
    return consumer


def key_partition(key: str | bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2) gives ``key``."""
    return int((murmur2(key.encode() if isinstance(key, str) else key) & 0x7FFFFFFF)
               % partitions)


def steady_partitions(producer: ProducerT, partitions: int) -> ProducerT:
    """Make ``producer.key_partition`` (a Faust producer) answer while aiokafka has no
    metadata for the topic yet; see guard 4 above."""
    placed_by_client = producer.key_partition

    def key_partition_steady(topic: str, key: bytes) -> TP:
        try:
            return placed_by_client(topic, key)
        except TypeError:  # aiokafka: partitions_for_topic(topic) is None
            metrics.partition_fallbacks.inc()
            client = faust_compat.kafka_producer(producer)
            if client is not None:
                aiokafka_compat.request_metadata(client, topic)
            return TP(topic, key_partition(key, partitions))

    producer.key_partition = key_partition_steady  # type: ignore[method-assign]
    return producer
