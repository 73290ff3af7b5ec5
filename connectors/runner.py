"""The feed connector: poll every feed, publish new entries to the raw topic.

One :class:`FeedConnector` owns its run loop and its cleanup (as quix-streams'
sources do): ``await connector.run(stop_event)`` polls until the event is set,
then flushes the producer and closes the HTTP client.

The producer is idempotent (``enable_idempotence=True``, ``acks=all``), keyed
by article id, so a retried send never duplicates a record in the log. An
entry is remembered as published only after Kafka acknowledged it; within one
process an entry already published from a feed is not sent again. (State
across restarts is the streams' exact-dedup table's job for now.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

from connectors.config import FeedSpec
from connectors.fetch import Fetcher
from connectors.parse import parse_feed
from newsmon import metrics
from newsmon.records import RawArticle, dumps, utcnow_iso
from newsmon.settings import Settings

log = logging.getLogger(__name__)

SEEN_PER_FEED = 5000


@dataclass(slots=True)
class PollStats:
    feeds: int = 0
    failed: int = 0
    entries: int = 0
    published: int = 0


class FeedConnector:
    def __init__(self, settings: Settings, feeds: Sequence[FeedSpec],
                 fetcher: Fetcher | None = None, concurrency: int = 16) -> None:
        self.settings = settings
        self.feeds = list(feeds)
        self.fetcher = fetcher or Fetcher()
        self.producer: AIOKafkaProducer | None = None
        self.sem = asyncio.Semaphore(concurrency)
        self.seen: dict[str, OrderedDict[str, None]] = {}

    async def start(self) -> None:
        self.producer = AIOKafkaProducer(
            **self.settings.kafka_client_kwargs(),
            enable_idempotence=True,
            acks="all",
            linger_ms=20,
            compression_type="gzip",
            request_timeout_ms=30000,
        )
        await self.producer.start()

    async def stop(self) -> None:
        if self.producer is not None:
            try:
                await self.producer.flush()
            finally:
                await self.producer.stop()
                self.producer = None
        await self.fetcher.aclose()

    async def poll_once(self) -> PollStats:
        stats = PollStats(feeds=len(self.feeds))
        results = await asyncio.gather(*(self._poll_feed(f) for f in self.feeds))
        for ok, entries, published in results:
            stats.failed += 0 if ok else 1
            stats.entries += entries
            stats.published += published
        return stats

    async def run(self, stop: asyncio.Event, once: bool = False) -> None:
        await self.start()
        try:
            while not stop.is_set():
                t0 = time.monotonic()
                stats = await self.poll_once()
                log.info("polled %d feeds (%d failed): %d entries, %d published",
                         stats.feeds, stats.failed, stats.entries, stats.published)
                if once:
                    break
                wait = max(1.0, self.settings.poll_interval * random.uniform(0.9, 1.1)
                           - (time.monotonic() - t0))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
        finally:
            await self.stop()

    async def _poll_feed(self, feed: FeedSpec) -> tuple[bool, int, int]:
        """Fetch, parse and publish one feed; never raises."""
        async with self.sem:
            try:
                return await self._poll_feed_inner(feed)
            except Exception:
                log.exception("feed %s: unexpected error", feed.url)
                metrics.feed_fetches.labels("network_error").inc()
                return False, 0, 0

    async def _poll_feed_inner(self, feed: FeedSpec) -> tuple[bool, int, int]:
        result = await self.fetcher.fetch(feed.url)
        metrics.stage_seconds.labels("fetch").observe(result.elapsed)
        if result.outcome == "not_modified":
            metrics.feed_fetches.labels("not_modified").inc()
            return True, 0, 0
        if result.outcome != "ok":
            metrics.feed_fetches.labels(result.outcome).inc()
            log.warning("feed %s: %s (%s)", feed.url, result.outcome, result.error)
            return False, 0, 0
        t0 = time.perf_counter()
        try:
            parsed = parse_feed(result.body, result.final_url or feed.url, utcnow_iso(),
                                result.headers, source=feed.name or None)
        except Exception as exc:  # noqa: BLE001 - a parser bug is this feed's failure only
            metrics.feed_fetches.labels("parse_error").inc()
            log.warning("feed %s: parse failed: %s", feed.url, exc)
            return False, 0, 0
        metrics.stage_seconds.labels("parse").observe(time.perf_counter() - t0)
        if not parsed.entries and parsed.bozo:
            metrics.feed_fetches.labels("parse_error").inc()
            log.warning("feed %s: not a feed (%s)", feed.url, parsed.bozo_reason)
            return False, 0, 0
        metrics.feed_fetches.labels("ok").inc()
        metrics.articles_fetched.inc(len(parsed.entries))
        published = await self._publish(feed, parsed.entries)
        return True, len(parsed.entries), published

    async def _publish(self, feed: FeedSpec, entries: Sequence[RawArticle]) -> int:
        assert self.producer is not None, "start() first"
        seen = self.seen.setdefault(feed.url, OrderedDict())
        fresh = [e for e in entries if e.id not in seen]
        if not fresh:
            return 0
        t0 = time.perf_counter()
        futures = [await self.producer.send(self.settings.topics.raw, dumps(e.to_dict()),
                                            key=e.id.encode()) for e in fresh]
        results = await asyncio.gather(*futures, return_exceptions=True)
        ok = 0
        for entry, res in zip(fresh, results, strict=True):
            if isinstance(res, BaseException):
                metrics.publish_errors.inc()
                log.warning("feed %s: publish of %s failed: %s", feed.url, entry.id, res)
                continue
            ok += 1
            seen[entry.id] = None
        while len(seen) > SEEN_PER_FEED:
            seen.popitem(last=False)
        metrics.articles_published.inc(ok)
        metrics.stage_seconds.labels("publish").observe(
            (time.perf_counter() - t0) / max(1, len(fresh)))
        return ok
