"""The Faust application: thin agents around :mod:`newsmon.analysis`.

    news.raw --dedup--> news.unique --sign--> news.bands (key: band) --bands--> news.bandhits
        (key: article id) --collect--> news.analyze --enrich--> news.articles
        + news.stories (key: story) --alerting--> news.alerts (and rule topics)
        + news.countries --trends--> news.alerts.trends
    any record a stage cannot handle --> news.deadletter

* ``dedup`` keeps the ids it has seen in a changelog-backed Faust table keyed
  by article id (the Kafka key everywhere), so the state is partition-local,
  survives restarts and works with any number of workers.
* ``dedup`` and ``collect`` wait for Kafka to acknowledge what they let through
  before they write the state that would suppress it, so they take records in
  batches (``in_batches``): one round trip per batch, not per record.
* ``sign`` computes the MinHash signature, parks the record in the
  ``pending`` table and sends its LSH bands to the ``bands`` topic, one probe
  per partition naming that partition's bands (murmur2 of the band key): each
  band's members live in one partition's index. That topic has its own
  partition count (``band_partitions``, default 1), since every bands
  partition costs each article a probe, an answer and a membership record.
* ``bands`` answers each probe with the band's earlier members (and adds the
  article); ``collect`` (keyed by article id again) counts shared bands per
  candidate and, once every band has answered, decides ``duplicate_of`` and
  ``story_id`` (``newsmon.analysis.neardup.decide``) and releases the record.
* ``enrich`` batches records (``noack_take``, acked only once published) and
  runs the CPU-heavy analysis in a spawned process pool (a thread when
  ``analysis_processes`` is 0) so the event loop keeps heartbeating. It hands
  each batch, in chunks of at most four records, to the next free process (one
  chunk per process in flight); ``publish_in_order`` publishes and acks the
  chunks in the order taken.
* State older than ``dedup_window_hours`` (default 72) is dropped on SWEEP
  events a timer sends to every partition (Faust tables may only be written
  from an event of the key's own partition).
* A stage writes the state that suppresses a record (seen ids, parked records,
  cooldowns) only after Kafka acknowledged the record it let through.

Nothing here knows how to analyse; nothing in the analysis knows Kafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import signal
import time
from collections import ChainMap
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import ConsumerT, ProducerT

from newsmon import metrics, trends
from newsmon.analysis.neardup import (
    BANDS,
    LATER_BY,
    BandIndex,
    Match,
    band_keys,
    decide,
    lost_bands,
    membership,
    parked_due,
    signature,
)
from newsmon.analysis.pipeline import Analyzer, near_dup_text
from newsmon.expiry import ExpiryQueue
from newsmon.records import (
    DeadLetter,
    RawArticle,
    RecordError,
    decode_raw,
    dumps,
    loads,
    raw_from_dict,
)
from newsmon.rules import RuleBook, evaluate
from newsmon.settings import Settings
from streams import analysis_pool, delivery
from streams.delivery import key_partition  # tests import it from here too
from streams.sensors import setup_sensors

log = logging.getLogger(__name__)

ENRICH_BATCH = 16
ENRICH_WITHIN = 0.005
ENRICH_CHUNK = 4         # records per hand-off to an analysis process
STAGE_BATCH = 256        # dedup and collect: records taken at once (one Kafka round trip)
STAGE_WITHIN = 0.005
BAND_MEMBERS = 64        # most recent members kept per band (a hot band is not a story)
SWEEP = b'{"type":"sweep"}'  # an event on every partition: expire old state, check silence


Finish = Callable[[], Awaitable[None]]  # what a batched stage does once its sends are acked


@dataclass
class Batch:
    """Records handed to one analysis process at once, and their analysis (running or
    done)."""

    events: list[Any]
    raws: list[RawArticle]
    near: list[Match | None]
    result: asyncio.Future[list[dict[str, Any]]]


async def ack_all(stream: faust.StreamT[bytes], events: list[Any]) -> None:
    for event in events:
        await stream.ack(event)


async def publish_in_order(batches: asyncio.Queue[Batch], slots: asyncio.Semaphore,
                           analyse: Callable[[Batch], Awaitable[list[dict[str, Any]]]],
                           publish: Callable[[dict[str, Any]], Awaitable[None]],
                           ack: Callable[[list[Any]], Awaitable[None]]) -> None:
    """The enrich stage's publisher: each batch's articles published and its records
    acked, batch after batch in the order they were queued, whichever analysis finishes
    first; a batch's slot (its analysis process) is freed once it is done. Acks stay in
    offset order: Faust commits the first run of consecutive acked offsets, so an ack
    out of order could commit past a record not yet published."""
    while True:
        batch = await batches.get()
        try:
            for article in await analyse(batch):
                await publish(article)
            await ack(batch.events)
        finally:
            slots.release()


class App(faust.App):
    """``faust.App`` whose consumer keeps at-least-once and fetches promptly, and whose
    producer places table writes while it lacks a topic's metadata
    (:mod:`streams.delivery`)."""

    def _new_consumer(self) -> ConsumerT:
        return delivery.prompt_fetches(delivery.guard(super()._new_consumer()))

    def _new_producer(self) -> ProducerT:
        return delivery.steady_partitions(super()._new_producer(),
                                          self.conf.topic_partitions)


def create_app(settings: Settings, analyzer: Analyzer | None = None) -> faust.App:
    if not settings.bootstrap_servers:
        raise ValueError("settings.bootstrap_servers is required for the worker")
    brokers = [f"kafka://{b.strip()}" for b in settings.bootstrap_servers.split(",")]
    datadir = (settings.data_dir / "faust").resolve()
    datadir.mkdir(parents=True, exist_ok=True)
    sweep_every = settings.sweep_seconds
    app = App(
        settings.app_id,
        broker=brokers,
        store="memory://",
        topic_replication_factor=1,
        topic_partitions=settings.partitions,
        consumer_auto_offset_reset="earliest",
        web_enabled=True,
        web_bind=settings.metrics_host,
        web_host=settings.metrics_host,
        web_port=settings.worker_metrics_port,
        datadir=str(datadir),
        producer_acks=-1,
        # A worker that dies holds its partitions until the session times out.
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=min(3.0, settings.session_timeout / 3),
        broker_commit_every=100,
        broker_commit_interval=1.0,
        stream_wait_empty=False,
    )
    setup_sensors(app, name_prefix="newsmon_faust")
    t = settings.topics
    def topic(*names: str, partitioned: bool = True) -> faust.TopicT:
        """A raw-bytes topic; ``partitioned`` ones carry keyed state (the configured count)."""
        return app.topic(*names, key_serializer="raw", value_serializer="raw",
                         partitions=settings.partitions if partitioned else None)

    raw_topic = topic(t.raw)
    # The public raw topic never carries sweeps: dedup also listens to an internal one.
    sweep_topic = topic(t.sweeps)
    dedup_source = topic(t.raw, t.sweeps)
    unique_topic = topic(t.unique)
    # The band index has its own partition count (``Settings.band_partitions``).
    bands_topic = app.topic(t.bands, key_serializer="raw", value_serializer="raw",
                            partitions=settings.band_partitions)
    bandhits_topic = topic(t.bandhits)
    analyze_topic = topic(t.analyze)
    stories_topic = topic(t.stories)
    countries_topic = topic(t.countries)
    trend_topic = topic(t.trend_alerts, partitioned=False)
    articles_topic = topic(t.articles, partitioned=False)
    dead_topic = topic(t.deadletter, partitioned=False)
    alert_topics: dict[str, faust.TopicT] = {}  # by name: the default one and rule topics
    def by_article(name: str) -> faust.types.TableT[bytes, Any]:
        """A table keyed by the article id as the Kafka key bytes, whose changelog partition
        is the producer's partitioner's (murmur2 of those bytes): the partition of the
        article's own records. It may so be written outside an event of that partition,
        as the batched stages below do, and still restore where its records are read."""
        return app.Table(name, default=None, partitions=settings.partitions,
                         key_type=bytes, use_partitioner=True)

    seen = by_article("seen-ids")
    pending = by_article("neardup-pending")
    hits = by_article("neardup-hits")
    # One record per article and bands partition ("<id> <partition>"); the lookup by band
    # is derived from it in memory (BandIndex), rebuilt after each recovery.
    memberships = app.Table("lsh-memberships", default=None,
                            partitions=settings.band_partitions)
    window = settings.dedup_window_hours * 3600
    band_index = BandIndex(window, BAND_MEMBERS)
    story_members = app.Table("story-members", default=None, partitions=settings.partitions)
    cooldowns = app.Table("alert-cooldowns", default=None, partitions=settings.partitions)
    # What to expire, in write order per partition (sweeps cost what expires; each
    # partition's sweep used to list the whole table). Rebuilt after each recovery.
    seen_expiry: ExpiryQueue[bytes] = ExpiryQueue()
    story_expiry: ExpiryQueue[str] = ExpiryQueue()
    cooldown_expiry: ExpiryQueue[str] = ExpiryQueue()

    @seen.on_recover
    async def rebuild_seen_expiry() -> None:
        seen_expiry.rebuild((partition_of(k), k, t) for k, t in seen.items())

    @story_members.on_recover
    async def rebuild_story_expiry() -> None:
        story_expiry.rebuild((partition_of(k), k, sm["t"]) for k, sm in story_members.items())

    @cooldowns.on_recover
    async def rebuild_cooldown_expiry() -> None:
        cooldown_expiry.rebuild((partition_of(k.split("/", 1)[1]), k, st["at"])
                                for k, st in cooldowns.items())
    rulebook = RuleBook(settings.rules_file, settings.alert_threshold)
    trend_table = app.Table("country-windows", default=None, partitions=settings.partitions)
    trend_policy = trends.TrendPolicy(settings.trend_window_seconds,
                                      settings.trend_baseline_windows, settings.trend_z,
                                      settings.trend_min_volume)
    stream_time: dict[str, float] = {}
    reload_requested = asyncio.Event()
    procs = settings.analysis_processes if analyzer is None else 0
    executor: Executor
    if procs > 0:
        # spawn, not fork: the worker already runs threads (aiokafka, the web server).
        executor = ProcessPoolExecutor(
            max_workers=procs, mp_context=multiprocessing.get_context("spawn"),
            initializer=analysis_pool.init,
            initargs=(settings.lexicon_file, settings.ner_lead_chars or None,
                      settings.analysis_nice, logging.getLogger().getEffectiveLevel()))
        enrich_many: Callable[..., list[dict[str, Any]]] = analysis_pool.enrich_many
        enrich_one: Callable[..., dict[str, Any]] = analysis_pool.enrich_one
    else:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analysis")
        local = analyzer if analyzer is not None else Analyzer.configured(
            settings.lexicon_file, settings.ner_lead_chars)
        enrich_many, enrich_one = local.enrich_many, local.enrich
    lanes = max(1, procs)

    async def dead_letter(stage: str, exc: BaseException, value: Any, key: Any,
                          event: faust.types.EventT[Any] | None = None) -> None:
        original = value if isinstance(value, bytes) else str(value).encode()
        msg = event.message if event is not None else None
        record = DeadLetter(stage=stage, error=str(exc), error_type=type(exc).__name__,
                            original=original,
                            original_key=key if isinstance(key, bytes) else None,
                            topic=msg.topic if msg else None,
                            partition=msg.partition if msg else None,
                            offset=msg.offset if msg else None)
        await dead_topic.send(key=key if isinstance(key, bytes) else None,
                              value=dumps(record.to_dict()))
        metrics.deadletters.labels(stage).inc()
        # A record's own fault is a RecordError; anything else gets its traceback logged.
        log.warning("dead-lettered a record at stage %s: %s", stage, exc,
                    exc_info=None if isinstance(exc, RecordError) else exc)

    async def each_record(stream: faust.StreamT[bytes], stage: str,
                          handle: Callable[[bytes, bytes, Any], Awaitable[None]],
                          sweep: Callable[[int], Awaitable[None]] | None = None) -> None:
        """The frame the keyed agents share: a SWEEP event goes to ``sweep(partition)``;
        every other record to ``handle(key, value, event)``, and a record it raises on goes
        to the dead-letter topic (stage ``decode`` for an undecodable record) while the
        stream goes on."""
        async for event in stream.events():
            key, value = event.key, event.value
            if value == SWEEP:
                if sweep is not None:
                    await sweep(event.message.partition)
                continue
            try:
                await handle(key, value, event)
            except Exception as exc:  # noqa: BLE001 - never crash the agent on one record
                await dead_letter("decode" if isinstance(exc, RecordError) else stage,
                                  exc, value, key, event)

    async def in_batches(stream: faust.StreamT[bytes], stage: str,
                         handle: Callable[[bytes, bytes], Awaitable[Finish | None]],
                         sweep: Callable[[int], Awaitable[None]],
                         end_batch: Callable[[], None]) -> None:
        """The frame of the stages that must see Kafka acknowledge what a record let
        through before they write the state that suppresses it (``dedup``, ``collect``).
        Records come in batches (``noack_take``); ``handle`` sends what one lets through
        and returns what to do once that is acknowledged. The sends of a batch are in
        flight together, so a batch waits one round trip to the broker, not one per
        record. Then ``end_batch`` runs, then the follow-ups (a failing one dead-letters
        its record), and only then are the batch's records acked: a crash anywhere before
        redelivers the whole batch."""
        async for events in stream.noack_take(  # type: ignore[attr-defined]
                STAGE_BATCH, within=STAGE_WITHIN):
            todo: list[tuple[Finish, Any]] = []
            for event in events:
                key, value = event.key, event.value
                if value == SWEEP:
                    await sweep(event.message.partition)
                    continue
                try:
                    finish = await handle(key, value)
                except Exception as exc:  # noqa: BLE001 - never crash the agent on one record
                    await dead_letter("decode" if isinstance(exc, RecordError) else stage,
                                      exc, value, key, event)
                    continue
                if finish is not None:
                    todo.append((finish, event))
            end_batch()
            for finish, event in todo:
                try:
                    await finish()
                except Exception as exc:  # noqa: BLE001
                    await dead_letter(stage, exc, event.value, event.key, event)
            await ack_all(stream, events)

    async def expire_seen(part: int) -> None:
        now = time.time()
        for k in seen_expiry.due(part, now - window):
            first = seen.get(k)
            if first is not None and now - first > window:
                seen.pop(k, None)

    passed: set[bytes] = set()  # ids dedup let through in this batch, not yet in ``seen``

    async def dedup_one(key: bytes, value: bytes) -> Finish | None:
        t0 = time.perf_counter()
        raw = decode_raw(value)
        aid = raw.id.encode()
        if key != aid:
            # Keep the table partition-local: re-key to the article id.
            await raw_topic.send(key=aid, value=value)
            return None
        first = seen.get(aid)
        if aid in passed or (first is not None and time.time() - first < window):
            metrics.duplicates.labels("exact").inc()
            return None
        passed.add(aid)
        sent = await unique_topic.send(key=key, value=value)
        metrics.stage_seconds.labels("dedup").observe(time.perf_counter() - t0)

        async def finish() -> None:
            # Acknowledged downstream before the id counts as seen: a crash in between
            # re-sends the record on redelivery instead of dropping it as a duplicate.
            await sent
            seen[aid] = now = time.time()
            seen_expiry.add(partition_of(aid), aid, now)
        return finish

    @app.agent(dedup_source, name="dedup")
    async def dedup(stream: faust.StreamT[bytes]) -> None:
        await in_batches(stream, "dedup", dedup_one, expire_seen, passed.clear)

    async def sign_one(key: bytes, value: bytes, event: Any) -> None:
        t0 = time.perf_counter()
        raw = decode_raw(value)
        text = near_dup_text(raw)
        now = time.time()
        if not text.strip():
            await analyze_topic.send(key=key, value=value)
            return
        keys = band_keys(signature(text))
        pending[raw.id.encode()] = {"raw": value.decode("utf-8"), "keys": keys, "t": now}
        await send_to_bands(keys, {"type": "probe", "id": raw.id, "t": now})
        metrics.stage_seconds.labels("neardup").observe(time.perf_counter() - t0)

    @app.agent(unique_topic, name="sign")
    async def sign(stream: faust.StreamT[bytes]) -> None:
        await each_record(stream, "sign", sign_one)

    @memberships.on_recover
    async def rebuild_band_index() -> None:
        band_index.rebuild((k.rsplit(" ", 1)[0], int(k.rsplit(" ", 1)[1]), rec)
                           for k, rec in memberships.items())
        log.info("LSH band index rebuilt: %d bands", len(band_index.bands))

    async def expire_bands(part: int) -> None:
        for aid in band_index.expire(time.time(), part):
            memberships.pop(f"{aid} {part}", None)

    async def bands_one(key: bytes, value: bytes, event: Any) -> None:
        msg = loads(value)
        part = event.message.partition
        aid = msg["id"]
        for band in msg["bands"]:
            if band_partition(band) != part:
                raise ValueError(f"band {band} sent to the wrong partition")
        mkey = f"{aid} {part}"
        old = memberships.get(mkey)
        if msg["type"] == "story":
            band_index.set_story(aid, msg["story"], msg["bands"], time.time())
            if old is not None and old["story"] != msg["story"]:
                memberships[mkey] = {**old, "story": msg["story"]}
            return
        answers = band_index.probe(aid, msg["t"], msg["bands"], time.time(), part)
        rec = membership(old, aid, msg["t"], msg["bands"])
        if rec is not None:
            memberships[mkey] = rec
        await bandhits_topic.send(key=aid.encode(), value=dumps(
            {"id": aid, "answers": answers, "sent": msg.get("sent", msg["t"])}))

    @app.agent(bands_topic, name="bands")
    async def bands(stream: faust.StreamT[bytes]) -> None:
        await each_record(stream, "bands", bands_one, expire_bands)

    async def sweep_parked(part: int) -> None:
        """Probes or answers lost on the way (they should not be) are asked for again
        after ``REPROBE_AFTER``, once their partition has answered a later probe
        (:func:`lost_bands`: a probe merely queued behind a backlog is not sent twice);
        a record still undecided after ``STUCK_AFTER`` is released as a story of its
        own rather than held for ever (:func:`parked_due`).

        The arithmetic comes first: a backlog parks tens of thousands of records, and
        each partition's sweep used to hash every one of them (and each old one's 20
        band keys, beyond the hash caches) to find its own: 41 % of the event loop in
        a profile of a 50,000-article burst."""
        now = time.time()
        parked = list(pending.items())
        metrics.neardup_parked.set(len(parked))
        metrics.neardup_parked_oldest.set(max((now - p["t"] for _, p in parked), default=0))
        latest_answer = max(answered_upto.values(), default=0.0)
        for akey, park in parked:
            probed = park.get("probed", park["t"])
            due = parked_due(park["t"], probed, now, latest_answer)
            if due is None or akey in releasing or not mine(akey, part):
                continue
            aid = akey.decode()
            if due == "release":
                log.warning("released %s undecided: band answers missing after %.0f s",
                            aid, now - park["t"])
                await (await release(aid, park, Match(None, aid, 0)))()
            else:
                answered = set((unwritten.get(akey) or hits.get(akey) or {"bands": []})["bands"])
                missing = lost_bands(park["keys"], answered, probed + LATER_BY,
                                     answered_upto, band_partition)
                if not missing:
                    continue
                log.info("asking again for %d band answers of %s (parked %.0f s)",
                         len(missing), aid, now - park["t"])
                metrics.neardup_reprobes.inc()
                pending[akey] = {**park, "probed": now}
                await send_to_bands(missing, {"type": "probe", "id": aid, "t": park["t"]})

    answered_upto: dict[int, float] = {}  # bands partition -> latest send time it answered
    releasing: set[bytes] = set()  # released in this batch (answers after that are late)
    unwritten: dict[bytes, dict[str, Any]] = {}  # this batch's band answers, written at its end

    def end_collect_batch() -> None:
        """One table write per article per batch, however many of its answers it held."""
        for akey, h in unwritten.items():
            hits[akey] = h
        unwritten.clear()
        releasing.clear()

    async def collect_one(key: bytes, value: bytes) -> Finish | None:
        msg = loads(value)
        aid = msg["id"]
        akey = aid.encode()
        park = pending.get(akey)
        if park is None or akey in releasing:
            return None  # already released (a redelivered or late band answer)
        h = unwritten.get(akey) or hits.get(akey) or {
            "bands": [], "shared": {}, "stories": {}, "order": {}}
        sent = float(msg.get("sent", 0.0))
        for band in msg["answers"]:
            p = band_partition(band)
            if sent > answered_upto.get(p, 0.0):
                answered_upto[p] = sent
        for band, cands in msg["answers"].items():
            if band in h["bands"]:
                continue  # a redelivered answer
            h["bands"].append(band)
            for cid, story, t in cands:
                h["shared"][cid] = h["shared"].get(cid, 0) + 1
                h["stories"][cid] = story
                h["order"][cid] = t
        if len(h["bands"]) < BANDS:
            unwritten[akey] = h
            return None
        unwritten.pop(akey, None)
        releasing.add(akey)
        return await release(aid, park, decide(aid, h["shared"], h["stories"], h["order"]))

    @app.agent(bandhits_topic, name="collect")
    async def collect(stream: faust.StreamT[bytes]) -> None:
        await in_batches(stream, "collect", collect_one, sweep_parked, end_collect_batch)

    async def trend_silence(part: int) -> None:
        now = stream_time.get("now")
        if now is None:
            return
        for k, state in list(trend_table.items()):
            if not mine(k, part):
                continue
            rec = trends.silence(k, state, now, trend_policy)
            if rec is not None:
                trend_table[k] = state
                await trend_topic.send(key=rec["alert_id"].encode(), value=dumps(rec))
                metrics.alerts.labels("trend-silence").inc()

    async def trend_one(key: bytes, value: bytes, event: Any) -> None:
        msg = loads(value)
        k = msg["key"]
        state = trend_table.get(k) or {}
        w = trends.add(state, float(msg["ts"]), float(msg["score"]), trend_policy)
        now = stream_time["now"] = max(stream_time.get("now", 0.0), float(msg["ts"]))
        rec = trends.spike(k, state, w, trend_policy, now)
        trend_table[k] = state
        if rec is not None:
            await trend_topic.send(key=rec["alert_id"].encode(), value=dumps(rec))
            metrics.alerts.labels("trend-spike").inc()

    @app.agent(countries_topic, name="trends")
    async def trend_agent(stream: faust.StreamT[bytes]) -> None:
        """Per-country (and pair) tumbling windows; spikes as they happen."""
        await each_record(stream, "trends", trend_one, trend_silence)

    async def release(aid: str, park: dict[str, Any], match: Match) -> Finish:
        """Send the parked record on with its verdict; the returned follow-up, run once
        that is acknowledged, drops it from the tables."""
        record = loads(park["raw"])
        record["duplicate_of"] = match.duplicate_of
        record["story_id"] = match.story_id
        akey = aid.encode()
        sent = await analyze_topic.send(key=akey, value=dumps(record))

        async def finish() -> None:
            # Acknowledged before the parked record is dropped: a crash in between
            # releases it again on redelivery instead of finding nothing parked.
            await sent
            if match.duplicate_of:
                metrics.duplicates.labels("near").inc()
            if match.story_id != aid:
                await send_to_bands(park["keys"], {"type": "story", "id": aid,
                                                   "story": match.story_id})
            pending.pop(akey, None)
            hits.pop(akey, None)
        return finish

    async def send_to_bands(keys: list[str], msg: dict[str, Any]) -> None:
        """One message per partition of the bands topic, naming that partition's bands:
        ~20 band probes cost at most ``band_partitions`` messages, not 20."""
        by_part: dict[int, list[str]] = {}
        for band in keys:
            by_part.setdefault(band_partition(band), []).append(band)
        sent = time.time()
        for part, bands_here in by_part.items():
            await bands_topic.send(key=None, partition=part,
                                   value=dumps({**msg, "bands": bands_here, "sent": sent}))

    @functools.lru_cache(maxsize=1 << 16)
    def partition_of(key: str | bytes) -> int:
        # Cached: every sweep asks it of every band key (murmur2 in pure Python was
        # 116,000 calls, ~3 % of the worker's time, for 1,000 articles).
        return key_partition(key, settings.partitions)

    @functools.lru_cache(maxsize=1 << 16)
    def band_partition(band: str) -> int:
        return key_partition(band, settings.band_partitions)

    def mine(key: str | bytes, partition: int) -> bool:
        """Does ``key`` live in ``partition``? (Faust writes a table's changelog to the
        partition of the event being processed, so state may only be changed from an
        event of the key's own partition: sweeps arrive as events on every partition.)"""
        return partition_of(key) == partition

    @app.timer(interval=sweep_every)  # type: ignore[untyped-decorator]
    async def sweeper() -> None:
        """Ask every partition of the stateful topics to expire its own old state."""
        for topic in (sweep_topic, bands_topic, bandhits_topic, stories_topic, countries_topic):
            count = settings.band_partitions if topic is bands_topic else settings.partitions
            for p in range(count):
                await topic.send(key=None, value=SWEEP, partition=p)

    async def publish(article: dict[str, Any]) -> None:
        key = article["id"].encode()
        await articles_topic.send(key=key, value=dumps(article))
        metrics.articles_enriched.inc()
        await stories_topic.send(key=article["story_id"].encode(), value=dumps(article))

    async def expire_stories(part: int) -> None:
        now = time.time()
        for k in story_expiry.due(part, now - window):
            sm = story_members.get(k)
            if sm is not None and now - sm["t"] > window:
                story_members.pop(k, None)
        for k in cooldown_expiry.due(part, now - window):
            st = cooldowns.get(k)
            if st is not None and now - st["at"] > window:
                cooldowns.pop(k, None)

    async def alert_one(key: bytes, value: bytes, event: Any) -> None:
        article = loads(value)
        story = article["story_id"]
        members = (story_members.get(story) or {"n": 0})["n"] + 1
        touched = time.time()
        story_members[story] = {"n": members, "t": touched}
        story_expiry.add(event.message.partition, story, touched)
        before = rulebook.last_error
        rulebook.maybe_reload(force=reload_requested.is_set())
        reload_requested.clear()
        if rulebook.last_error and rulebook.last_error != before:
            metrics.rules_reload_errors.inc()
        metrics.rules_loaded.set(len(rulebook.rules))
        metrics.observe_tension(article.get("countries", []), article["tension"]["score"])
        ts = trends.event_time(article.get("published"), article.get("fetched_at"),
                               time.time())
        for k in trends.keys_for(article.get("countries", [])):
            await countries_topic.send(key=k.encode(), value=dumps(
                {"key": k, "ts": ts, "score": article["tension"]["score"]}))
        now = time.time()
        # Cooldowns are written only once the alerts are acknowledged: a crash in between
        # alerts again on redelivery (same alert id) instead of never.
        started: dict[str, Any] = {}
        sent = []
        for rule, alert in evaluate(rulebook.rules, article, ChainMap(started, cooldowns),
                                    now, members):
            name = rule.topic or t.alerts
            if name not in alert_topics:
                alert_topics[name] = topic(name, partitioned=False)
            sent.append(await alert_topics[name].send(
                key=alert["alert_id"].encode(), value=dumps(alert)))
            metrics.alerts.labels(rule.name).inc()
        await asyncio.gather(*sent)
        for k, v in started.items():
            cooldowns[k] = v
            cooldown_expiry.add(event.message.partition, k, v["at"])

    @app.agent(stories_topic, name="alerting")
    async def alerting(stream: faust.StreamT[bytes]) -> None:
        """Rules and cooldowns, keyed by story so one story's state lives in one place."""
        await each_record(stream, "alerting", alert_one, expire_stories)

    async def analyse(batch: Batch) -> list[dict[str, Any]]:
        """The batch's enriched articles, in order; a batch the pool fails on is redone
        record by record, and a record that fails alone is dead-lettered."""
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        try:
            articles = await batch.result
        except Exception:  # noqa: BLE001 - isolate the record that fails
            articles = []
            for raw, m in zip(batch.raws, batch.near, strict=True):
                try:
                    articles.append(await loop.run_in_executor(executor, enrich_one, raw, m))
                except Exception as exc:  # noqa: BLE001
                    await dead_letter("enrich", exc, dumps(raw.to_dict()), raw.id.encode())
        metrics.stage_seconds.labels("enrich").observe(
            (time.perf_counter() - t0) / max(1, len(batch.raws)))
        return articles

    @app.agent(analyze_topic, name="enrich")
    async def enrich(stream: faust.StreamT[bytes]) -> None:
        """Takes batches and hands them, in chunks of at most ``ENRICH_CHUNK`` records,
        to the next free analysis process (one chunk per process in flight); a second
        task publishes the chunks in order. So a process never waits for another's share,
        the next chunk is analysed while the last one is published, and a backlog is
        spread over the processes instead of landing whole on the first one free."""
        loop = asyncio.get_running_loop()
        batches: asyncio.Queue[Batch] = asyncio.Queue()
        slots = asyncio.Semaphore(lanes)
        publisher = asyncio.create_task(publish_in_order(
            batches, slots, analyse, publish, functools.partial(ack_all, stream)))
        try:
            # noack_take + manual acks: a batch cut short by a shutdown is not acked, so
            # it is redelivered (``take`` acks its buffer even when the batch was cancelled).
            async for taken in stream.noack_take(  # type: ignore[attr-defined]
                    ENRICH_BATCH, within=ENRICH_WITHIN):
                for at in range(0, len(taken), ENRICH_CHUNK):
                    events = taken[at:at + ENRICH_CHUNK]
                    raws: list[RawArticle] = []
                    near: list[Match | None] = []
                    for value in (e.value for e in events):
                        try:
                            obj = loads(value)
                            raws.append(raw_from_dict(obj))
                            near.append(Match(obj.get("duplicate_of"),
                                              obj.get("story_id") or obj["id"], 0)
                                        if "story_id" in obj else None)
                        except (RecordError, ValueError) as exc:
                            await dead_letter("decode", exc, value, None)
                    # A free process, unless the publisher died (its error ends the agent).
                    free = asyncio.ensure_future(slots.acquire())
                    await asyncio.wait({free, publisher}, return_when=asyncio.FIRST_COMPLETED)
                    if publisher.done():
                        free.cancel()
                        publisher.result()
                        raise RuntimeError("the enrich publisher stopped")
                    if raws:
                        result = loop.run_in_executor(executor, enrich_many, raws, near)
                    else:
                        result = loop.create_future()
                        result.set_result([])
                    batches.put_nowait(Batch(list(events), raws, near, result))
        finally:
            publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await publisher

    @app.task  # type: ignore[untyped-decorator]
    async def on_sighup() -> None:
        """SIGHUP reloads the rules file without restarting the worker."""
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload_requested.set)

    def stop_analysis() -> None:
        for proc in list(getattr(executor, "_processes", {}).values()):
            proc.kill()

    @app.task  # type: ignore[untyped-decorator]
    async def watch_commits() -> None:
        metrics.worker_reexecs.set(delivery.reexecs())
        await delivery.watch_commits(app.consumer, stop_analysis)

    @app.task  # type: ignore[untyped-decorator]
    async def warm_up() -> None:
        if procs > 0:
            loop = asyncio.get_running_loop()
            await asyncio.gather(*(loop.run_in_executor(executor, analysis_pool.ready)
                                   for _ in range(procs)))
        log.info("analysis ready (%s)", f"{procs} processes" if procs else "in-process thread")

    return app
