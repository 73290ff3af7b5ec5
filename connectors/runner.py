"""The feed connector: a scheduler that polls due feeds and publishes new entries.

One :class:`FeedConnector` owns its run loop and its cleanup (as quix-streams'
sources do): ``await connector.run(stop_event)`` polls until the event is set,
then lets in-flight polls finish (a few seconds at most), flushes the producer,
saves the feed state and closes the HTTP client.

* Politeness: conditional GET, adaptive intervals and backoff
  (:mod:`connectors.schedule`), at most ``per_host`` concurrent requests to
  one host and ``concurrency`` overall, one keep-alive connection pool.
* Nothing lost, nothing repeated: the producer is idempotent
  (``enable_idempotence=True``, ``acks=all``), keyed by article id; an entry is
  remembered as published only after Kafka acknowledged it, and that memory is
  saved with the feed state (:mod:`connectors.state`), so a restart does not
  republish what was already published.
* One broken feed never stops the others: every failure becomes an outcome,
  a log line and a counted metric. Parsing runs in worker processes
  (:mod:`connectors.parsepool`) within a per-feed budget (time, bytes,
  entries, field sizes), so a document that is slow to parse costs its own
  feed a ``parse_timeout`` and delays no other; an item that cannot be
  converted is skipped and counted, and the rest of its feed is published.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import hashlib
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from connectors.config import FeedList, FeedSpec
from connectors.fetch import Fetcher, FetchResult
from connectors.fulltext import FullTextFetcher
from connectors.parse import FeedTooLarge, ParseBudget, ParsedFeed
from connectors.parsepool import ParseFailed, ParsePool, ParseTimeout
from connectors.schedule import (
    FeedState,
    SchedulePolicy,
    next_interval,
    publishing_interval,
    silent,
)
from connectors.state import StateStore
from newsmon import metrics
from newsmon.records import RawArticle, dumps, utcnow_iso
from newsmon.settings import Settings

log = logging.getLogger(__name__)
SAVE_EVERY = 5.0
STOP_GRACE = 5.0


@dataclass(slots=True)
class PollStats:
    feeds: int = 0
    failed: int = 0
    entries: int = 0
    published: int = 0


@dataclass(frozen=True, slots=True)
class FeedOutcome:
    outcome: str
    entries: int = 0
    published: int = 0


class FeedConnector:
    def __init__(self, settings: Settings, feeds: FeedList | Sequence[FeedSpec], *,
                 fetcher: Fetcher | None = None, state_path: Path | None = None,
                 policy: SchedulePolicy | None = None, concurrency: int = 64,
                 per_host: int = 2, parse_workers: int = 2,
                 parse_budget: ParseBudget | None = None) -> None:
        self.settings = settings
        self.feed_list = feeds if isinstance(feeds, FeedList) else FeedList(list(feeds))
        self.specs = {f.url: f for f in self.feed_list.feeds}
        if fetcher is None:
            from connectors.safety import AddressPolicy

            fetcher = Fetcher(policy=AddressPolicy.from_strings(
                self.feed_list.allow_private_addresses))
        self.fetcher = fetcher
        self.fulltext = FullTextFetcher(fetcher)
        base = policy or SchedulePolicy(default_interval=settings.poll_interval)
        self.policy = replace(
            base,
            min_interval=self.feed_list.min_interval or min(base.min_interval,
                                                             base.default_interval),
            max_interval=self.feed_list.max_interval or base.max_interval,
        )
        self.store = StateStore(state_path) if state_path else None
        self.states: dict[str, FeedState] = {}
        self.producer: AIOKafkaProducer | None = None
        self.global_sem = asyncio.Semaphore(concurrency)
        self.per_host = per_host
        self.host_sems: dict[str, asyncio.Semaphore] = {}
        budget = parse_budget or ParseBudget()
        self._warming: asyncio.Task[None] | None = None
        self.parser = ParsePool(parse_workers, replace(
            budget, max_entries=min(budget.max_entries, self.feed_list.max_entries_per_feed)))

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self, stop: asyncio.Event | None = None) -> bool:
        """Load the feed state and connect the producer; False if ``stop`` came first.

        With ``stop``, a broker that is not reachable yet is waited for (retries with
        backoff up to 30 s, logged) until it is or ``stop`` is set; without, the first
        failure raises."""
        saved = self.store.load() if self.store else {}
        self.states = {url: saved.get(url) or FeedState(url) for url in self.specs}
        metrics.feeds_configured.set(len(self.specs))
        wait = 1.0
        while True:
            producer = AIOKafkaProducer(
                **self.settings.kafka_client_kwargs(),
                enable_idempotence=True,
                acks="all",
                linger_ms=20,
                max_batch_size=256 * 1024,  # 16 KiB batches starve many concurrent feeds
                compression_type="gzip",
                request_timeout_ms=30000,
            )
            try:
                await producer.start()
            except KafkaError as exc:
                await producer.stop()
                if stop is None:
                    raise
                log.warning("Kafka not reachable (%s); retrying in %.0f s", exc, wait)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
                if stop.is_set():
                    return False
                wait = min(30.0, wait * 2)
                continue
            self.producer = producer
            self._warming = asyncio.create_task(self.parser.warm())  # in the background
            return True

    async def stop(self) -> None:
        try:
            if self.producer is not None:
                try:
                    await self.producer.flush()
                finally:
                    await self.producer.stop()
                    self.producer = None
        finally:
            self.save()
            if self._warming is not None:
                self._warming.cancel()
                await asyncio.gather(self._warming, return_exceptions=True)
            self.parser.close()
            await self.fetcher.aclose()

    def save(self) -> None:
        if self.store is not None and self.states:
            self.store.save(self.states.values())

    # -- polling -----------------------------------------------------------------------------
    async def poll_once(self) -> PollStats:
        """Poll every enabled feed now, whatever its schedule (``--once``, tests, checks)."""
        specs = [s for s in self.specs.values() if not self.states[s.url].disabled]
        outcomes = await asyncio.gather(*(self.poll_feed(s) for s in specs))
        stats = PollStats(feeds=len(specs))
        for o in outcomes:
            stats.failed += o.outcome not in ("ok", "not_modified")
            stats.entries += o.entries
            stats.published += o.published
        self.save()
        return stats

    async def run(self, stop: asyncio.Event, once: bool = False) -> None:
        """Poll until ``stop`` is set (or once). A daemon waits for a broker that is not
        up yet; ``once`` fails at once."""
        if not await self.start(None if once else stop):
            await self.fetcher.aclose()
            return
        try:
            if once:
                stats = await self.poll_once()
                log.info("polled %d feeds (%d failed): %d entries, %d published",
                         stats.feeds, stats.failed, stats.entries, stats.published)
                return
            await self._loop(stop)
        finally:
            await self.stop()

    async def _loop(self, stop: asyncio.Event) -> None:
        inflight: dict[str, asyncio.Task[FeedOutcome]] = {}
        last_save = time.monotonic()
        last_silence_check = 0.0
        while not stop.is_set():
            now = time.time()
            due = overdue = disabled = 0
            soonest = now + 1.0
            for url, st in self.states.items():
                if st.disabled:
                    disabled += 1
                    continue
                if st.next_due <= now:
                    due += 1
                    overdue += st.next_due < now - 60
                    if url not in inflight:
                        task = asyncio.create_task(self.poll_feed(self.specs[url]))
                        inflight[url] = task
                        task.add_done_callback(functools.partial(_forget, inflight, url))
                else:
                    soonest = min(soonest, st.next_due)
            if time.monotonic() - last_silence_check > 60:
                await self.check_silence(now)
                last_silence_check = time.monotonic()
            metrics.feeds_due.set(due)
            metrics.feeds_overdue.set(overdue)
            metrics.feeds_disabled.set(disabled)
            if time.monotonic() - last_save > SAVE_EVERY:
                self.save()
                last_save = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.05, min(1.0, soonest - time.time())))
        if inflight:
            _, pending = await asyncio.wait(list(inflight.values()), timeout=STOP_GRACE)
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def check_silence(self, now: float) -> int:
        """Publish a silence alert for each feed quiet far longer than its usual gap."""
        assert self.producer is not None, "start() first"
        sent = 0
        for url, st in self.states.items():
            if not silent(st, now, self.policy):
                continue
            spec = self.specs.get(url)
            key = "feed:" + hashlib.sha256(url.encode()).hexdigest()[:16]
            aid = hashlib.sha256(f"silence\x00{key}\x00{st.last_new}".encode()).hexdigest()[:32]
            record = {"schema_version": 1, "alert_id": aid, "kind": "silence", "key": key,
                      "countries": [], "feed_url": url, "feed": spec.name if spec else "",
                      "window_start": int(st.last_new or 0),
                      "window_seconds": int(now - (st.last_new or now)), "value": 0.0,
                      "baseline_mean": st.mean_gap or 0.0, "baseline_std": 0.0, "z": 0.0,
                      "articles": 0, "created_at": utcnow_iso()}
            try:
                await self.producer.send_and_wait(self.settings.topics.trend_alerts,
                                                  dumps(record), key=aid.encode())
            except KafkaError as exc:  # retried at the next check
                metrics.publish_errors.inc()
                log.warning("feed %s: silence alert not acknowledged by Kafka: %s", url, exc)
                continue
            st.silenced_at = now
            metrics.alerts.labels("feed-silence").inc()
            log.warning("feed %s silent for %.0fs (usual gap %.0fs)", url,
                        now - (st.last_new or now), st.mean_gap or 0)
            sent += 1
        return sent

    def _host_sem(self, url: str) -> asyncio.Semaphore:
        host = (urlsplit(url).hostname or "").lower()
        sem = self.host_sems.get(host)
        if sem is None:
            sem = self.host_sems[host] = asyncio.Semaphore(self.per_host)
        return sem

    async def poll_feed(self, spec: FeedSpec) -> FeedOutcome:
        """Fetch, parse and publish one feed, then schedule it; never raises."""
        state = self.states.setdefault(spec.url, FeedState(spec.url))
        try:
            outcome = await self._poll(spec, state)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("feed %s: unexpected error", spec.url)
            outcome = FeedOutcome("network_error")
            state.errors += 1
            state.next_due = time.time() + next_interval(self.policy, spec, state,
                                                         "network_error")
        state.last_outcome = outcome.outcome
        metrics.feed_fetches.labels(outcome.outcome).inc()
        if self.feed_list.per_feed_metrics:
            metrics.feed_fetches_by_feed.labels(spec.name or "unnamed", outcome.outcome).inc()
        return outcome

    async def _poll(self, spec: FeedSpec, state: FeedState) -> FeedOutcome:
        url = state.fetch_url
        async with self.global_sem, self._host_sem(url):
            result = await self.fetcher.fetch(url, headers=state.conditional_headers())
        metrics.feed_fetch_seconds.observe(result.elapsed)
        metrics.feed_bytes.inc(result.wire_bytes)
        now = time.time()
        if result.permanent_url and result.permanent_url != url:
            log.info("feed %s moved permanently to %s", url, result.permanent_url)
            state.current_url = result.permanent_url
        if result.outcome == "gone":
            state.disabled = f"410 Gone at {utcnow_iso()}"
            log.warning("feed %s: 410 Gone; disabled", url)
            return FeedOutcome("gone")
        if result.outcome not in ("ok", "not_modified"):
            return self._failed(spec, state, result, result.outcome, now)
        parsed: ParsedFeed | None = None
        body_hash = hashlib.blake2b(result.body, digest_size=16).hexdigest() if result.ok else None
        if result.ok and body_hash == state.body_hash:
            result.outcome = "not_modified"  # same bytes as last time: nothing to parse
        elif result.ok:
            t0 = time.perf_counter()
            restarts = self.parser.restarts
            try:
                parsed = await self.parser.parse(result.body, result.final_url or url,
                                                 utcnow_iso(), result.headers,
                                                 source=spec.name or None)
            except ParseTimeout as exc:
                result.error = str(exc)
                return self._failed(spec, state, result, "parse_timeout", now)
            except FeedTooLarge as exc:
                result.error = str(exc)
                return self._failed(spec, state, result, "too_large", now)
            except ParseFailed as exc:  # a parser bug is this feed's failure only
                result.error = str(exc)
                return self._failed(spec, state, result, "parse_error", now)
            finally:
                metrics.parse_worker_restarts.inc(self.parser.restarts - restarts)
            metrics.stage_seconds.labels("parse").observe(time.perf_counter() - t0)
            _report_skipped(spec.url, parsed)
            if not parsed.entries and parsed.bozo:
                result.error = f"not a feed ({parsed.bozo_reason})"
                return self._failed(spec, state, result, "parse_error", now)
        entries = parsed.entries if parsed else []
        published, unsent = await self._publish(spec, state, entries) if entries else (0, 0)
        if unsent:
            # Kafka did not take them: keep the old validators and body hash, so the next
            # poll fetches and parses this body again and offers the same entries again.
            # The feed is not at fault: no error backoff, just a short wait.
            state.next_due = now + self.policy.min_interval * random.uniform(0.5, 1.0)
            log.warning("feed %s: %d of %d new entries not acknowledged by Kafka; "
                        "retrying the feed", spec.url, unsent, unsent + published)
            return FeedOutcome("publish_error", len(entries), published)
        state.errors = 0
        state.last_ok = now
        if result.ok:
            state.body_hash = body_hash
            state.etag = result.headers.get("etag")
            state.last_modified = result.headers.get("last-modified")
        else:  # 304 may carry fresher validators
            state.etag = result.headers.get("etag", state.etag)
            state.last_modified = result.headers.get("last-modified", state.last_modified)
        wait = next_interval(
            self.policy, spec, state, result.outcome, headers=result.headers,
            ttl=parsed.ttl_seconds if parsed else None,
            published=[e.published for e in entries
                       if e.published and not e.published_is_fetch_time])
        state.next_due = now + wait
        return FeedOutcome(result.outcome, len(entries), published)

    def _failed(self, spec: FeedSpec, state: FeedState, result: FetchResult, outcome: str,
                now: float) -> FeedOutcome:
        state.errors += 1
        wait = next_interval(self.policy, spec, state, outcome, retry_after=result.retry_after)
        state.next_due = now + wait
        log.warning("feed %s: %s (%s); retry in %.0fs", spec.url, outcome, result.error, wait)
        return FeedOutcome(outcome)

    async def _publish(self, spec: FeedSpec, state: FeedState,
                       entries: Sequence[RawArticle]) -> tuple[int, int]:
        """Publish the entries not seen before; (acknowledged, not acknowledged)."""
        assert self.producer is not None, "start() first"
        known = set(state.seen)
        first: dict[str, RawArticle] = {}
        for e in entries:  # an entry repeated in one feed: keep its first occurrence
            first.setdefault(e.id, e)
        fresh = [e for e in first.values() if e.id not in known]
        metrics.feed_items.labels("new").inc(len(fresh))
        metrics.feed_items.labels("seen").inc(len(entries) - len(fresh))
        metrics.articles_fetched.inc(len(entries))
        if not fresh:
            return 0, 0
        if spec.full_text:
            fresh = await self._with_full_text(fresh)
        t0 = time.perf_counter()
        producer, topic = self.producer, self.settings.topics.raw

        async def send(e: RawArticle) -> Any:
            # send() waits for metadata (it raises while the broker is away); its future
            # resolves once the record is acknowledged, or fails after the producer's retries.
            return await (await producer.send(topic, dumps(e.to_dict()), key=e.id.encode()))

        results: list[Any] = await asyncio.gather(*map(send, fresh), return_exceptions=True)
        acked = []
        for entry, res in zip(fresh, results, strict=True):
            if isinstance(res, BaseException):
                metrics.publish_errors.inc()
                log.warning("feed %s: publish of %s failed: %s", spec.url, entry.id, res)
            else:
                acked.append(entry.id)
        keep = max(self.policy.seen_per_feed, 2 * len(entries))
        state.remember(acked, keep)
        if acked:
            state.last_new = time.time()
            gap = publishing_interval([e.published for e in entries
                                       if e.published and not e.published_is_fetch_time])
            if gap is not None:
                state.mean_gap = 2 * gap
        metrics.articles_published.inc(len(acked))
        metrics.stage_seconds.labels("publish").observe(
            (time.perf_counter() - t0) / max(1, len(fresh)))
        return len(acked), len(fresh) - len(acked)

    async def _with_full_text(self, entries: list[RawArticle]) -> list[RawArticle]:
        async def one(e: RawArticle) -> RawArticle:
            if e.content or not e.url:
                return e
            text = await self.fulltext.text(e.url)
            return replace(e, content=text) if text else e

        return list(await asyncio.gather(*(one(e) for e in entries)))


def _forget(inflight: dict[str, Any], url: str, _task: object) -> None:
    inflight.pop(url, None)


def _report_skipped(url: str, parsed: ParsedFeed) -> None:
    """Count the items the parser skipped, and log them in one line."""
    if not parsed.skipped:
        return
    by_reason: dict[str, list[str]] = {}
    for reason, detail in parsed.skipped:
        metrics.feed_items_skipped.labels(reason).inc()
        by_reason.setdefault(reason, []).append(detail)
    log.warning("feed %s: skipped %d item(s), kept %d: %s", url, len(parsed.skipped),
                len(parsed.entries), "; ".join(
                    f"{len(d)} {reason} (first: {d[0]})" for reason, d in by_reason.items()))


async def check_feed(fetcher: Fetcher, spec: FeedSpec,
                     parser: ParsePool | None = None) -> dict[str, Any]:
    """Fetch one feed once and describe it, publishing nothing (``newsmon feeds check``).

    The parse runs in ``parser``'s worker processes (by default one pool shared
    by every check in this process, stopped at exit), within its budget."""
    parser = parser or _check_pool()
    result = await fetcher.fetch(spec.url)
    report: dict[str, Any] = {
        "url": spec.url, "outcome": result.outcome, "status": result.status,
        "final_url": result.final_url, "seconds": round(result.elapsed, 3),
        "bytes": len(result.body), "error": result.error,
    }
    if result.ok:
        try:
            parsed = await parser.parse(result.body, result.final_url or spec.url,
                                        utcnow_iso(), result.headers)
        except (ParseTimeout, FeedTooLarge, ParseFailed) as exc:  # reported, not raised
            outcome = {ParseTimeout: "parse_timeout", FeedTooLarge: "too_large"}.get(
                type(exc), "parse_error")
            report.update(outcome=outcome, error=str(exc))
            return report
        report.update(items=len(parsed.entries), format=parsed.format,
                      encoding=parsed.encoding, title=parsed.title,
                      bozo=parsed.bozo_reason, skipped=len(parsed.skipped))
        if not parsed.entries and parsed.bozo:
            report["outcome"] = "parse_error"
    return report


_CHECK_POOL: list[ParsePool] = []


def _check_pool() -> ParsePool:
    if not _CHECK_POOL:
        _CHECK_POOL.append(ParsePool())
        atexit.register(_CHECK_POOL[0].close)
    return _CHECK_POOL[0]
