"""The near-duplicate stages: sign, bands, collect (``newsmon.stages.neardup``).

* ``sign`` computes the MinHash signature, parks the record in the ``pending`` table and
  sends its LSH bands to the bands topic, one probe per bands partition naming that
  partition's bands (murmur2 of the band key): each band's members live in one
  partition's index, so copies are found across partitions and workers.
* ``bands`` answers each probe with the band's earlier members (and adds the article).
* ``collect`` (keyed by article id again) counts shared bands per candidate and, once
  every band has answered, decides ``duplicate_of`` and ``story_id`` and releases the
  record to the analyze topic; the parked record is dropped only once that is
  acknowledged.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import faust

from newsmon import metrics
from newsmon.analysis.neardup import (
    LATER_BY,
    BandIndex,
    Match,
    band_keys,
    lost_bands,
    parked_due,
    signature,
)
from newsmon.analysis.pipeline import near_dup_text
from newsmon.records import decode_raw, dumps, loads
from newsmon.stages.neardup import (
    BAND_MEMBERS,
    Hits,
    add_answers,
    answer_probe,
    assign_story,
    membership_key,
    no_hits,
    note_answered,
    rebuild,
    verdict,
)
from streams.frames import Finish, Frames
from streams.topology import Topology

log = logging.getLogger(__name__)


def install(topo: Topology, frames: Frames) -> None:
    app, pending, hits, memberships = topo.app, topo.pending, topo.hits, topo.memberships
    band_index = BandIndex(topo.settings.dedup_window_hours * 3600, BAND_MEMBERS)
    answered_upto: dict[int, float] = {}  # bands partition -> latest send time it answered
    releasing: set[bytes] = set()  # released in this batch (answers after that are late)
    unwritten: dict[bytes, Hits] = {}  # this batch's band answers, written at its end

    async def send_to_bands(keys: list[str], msg: dict[str, Any]) -> None:
        """One message per partition of the bands topic, naming that partition's bands:
        ~20 band probes cost at most ``band_partitions`` messages, not 20."""
        by_part: dict[int, list[str]] = {}
        for band in keys:
            by_part.setdefault(topo.band_partition(band), []).append(band)
        sent = time.time()
        for part, bands_here in by_part.items():
            await topo.bands.send(key=None, partition=part,
                                  value=dumps({**msg, "bands": bands_here, "sent": sent}))

    async def sign_one(key: bytes, value: bytes, event: Any) -> None:
        t0 = time.perf_counter()
        raw = decode_raw(value)
        text = near_dup_text(raw)
        now = time.time()
        if not text.strip():
            await topo.analyze.send(key=key, value=value)
            return
        keys = band_keys(signature(text))
        pending[raw.id.encode()] = {"raw": value.decode("utf-8"), "keys": keys, "t": now}
        await send_to_bands(keys, {"type": "probe", "id": raw.id, "t": now})
        metrics.stage_seconds.labels("neardup").observe(time.perf_counter() - t0)

    @app.agent(topo.unique, name="sign")
    async def sign(stream: faust.StreamT[bytes]) -> None:
        await frames.each_record(stream, "sign", sign_one)

    @memberships.on_recover
    async def rebuild_band_index() -> None:
        rebuild(band_index, memberships.items())
        log.info("LSH band index rebuilt: %d bands", len(band_index.bands))

    async def expire_bands(part: int) -> None:
        for aid in band_index.expire(time.time(), part):
            memberships.pop(membership_key(aid, part), None)

    async def bands_one(key: bytes, value: bytes, event: Any) -> None:
        msg = loads(value)
        part = event.message.partition
        aid = msg["id"]
        for band in msg["bands"]:
            if topo.band_partition(band) != part:
                raise ValueError(f"band {band} sent to the wrong partition")
        if msg["type"] == "story":
            assign_story(band_index, memberships, aid, msg["story"], msg["bands"], part,
                         time.time())
            return
        answers = answer_probe(band_index, memberships, aid, msg["t"], msg["bands"], part,
                               time.time())
        await topo.bandhits.send(key=aid.encode(), value=dumps(
            {"id": aid, "answers": answers, "sent": msg.get("sent", msg["t"])}))

    @app.agent(topo.bands, name="bands")
    async def bands(stream: faust.StreamT[bytes]) -> None:
        await frames.each_record(stream, "bands", bands_one, expire_bands)

    async def release(aid: str, park: dict[str, Any], match: Match) -> Finish:
        """Send the parked record on with its verdict; the returned follow-up, run once
        that is acknowledged, drops it from the tables."""
        record = loads(park["raw"])
        record["duplicate_of"] = match.duplicate_of
        record["story_id"] = match.story_id
        akey = aid.encode()
        sent = await topo.analyze.send(key=akey, value=dumps(record))

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

    async def sweep_parked(part: int) -> None:
        """Probes or answers lost on the way (they should not be) are asked for again
        once their partition has answered a later probe (:func:`lost_bands`: a probe
        merely queued behind a backlog is not sent twice); a record still undecided
        after ``STUCK_AFTER`` is released as a story of its own (:func:`parked_due`).
        The arithmetic comes before any hashing: a backlog parks tens of thousands of
        records, and each partition's sweep sees them all."""
        now = time.time()
        parked = list(pending.items())
        metrics.neardup_parked.set(len(parked))
        metrics.neardup_parked_oldest.set(max((now - p["t"] for _, p in parked), default=0))
        latest_answer = max(answered_upto.values(), default=0.0)
        for akey, park in parked:
            probed = park.get("probed", park["t"])
            due = parked_due(park["t"], probed, now, latest_answer)
            if due is None or akey in releasing or not topo.mine(akey, part):
                continue
            aid = akey.decode()
            if due == "release":
                log.warning("released %s undecided: band answers missing after %.0f s",
                            aid, now - park["t"])
                await (await release(aid, park, Match(None, aid, 0)))()
                continue
            answered = set((unwritten.get(akey) or hits.get(akey) or no_hits())["bands"])
            missing = lost_bands(park["keys"], answered, probed + LATER_BY, answered_upto,
                                 topo.band_partition)
            if not missing:
                continue
            log.info("asking again for %d band answers of %s (parked %.0f s)",
                     len(missing), aid, now - park["t"])
            metrics.neardup_reprobes.inc()
            pending[akey] = {**park, "probed": now}
            await send_to_bands(missing, {"type": "probe", "id": aid, "t": park["t"]})

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
        h: Hits = unwritten.get(akey) or hits.get(akey) or no_hits()
        note_answered(answered_upto, msg["answers"], float(msg.get("sent", 0.0)),
                      topo.band_partition)
        if not add_answers(h, msg["answers"]):
            unwritten[akey] = h
            return None
        unwritten.pop(akey, None)
        releasing.add(akey)
        return await release(aid, park, verdict(aid, h))

    @app.agent(topo.bandhits, name="collect")
    async def collect(stream: faust.StreamT[bytes]) -> None:
        await frames.in_batches(stream, "collect", collect_one, sweep_parked,
                                end_collect_batch)
