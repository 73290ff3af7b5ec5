"""The worker's topics and tables, and which partition a key lives in.

    news.raw (+ sweeps) --dedup--> news.unique --sign--> news.bands (key: band)
        --bands--> news.bandhits (key: article id) --collect--> news.analyze
        --enrich--> news.articles + news.stories (key: story)
        --alerting--> news.alerts (and rule topics) + news.countries
        --trends--> news.alerts.trends
    any record a stage cannot handle --> news.deadletter

Every topic carries raw bytes (JSON values, article ids as keys). Keyed topics have the
configured partition count, except the bands topic (``Settings.band_partitions``,
default 1: every bands partition costs each article a probe, an answer and a
membership record).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import faust
from faust.types import TableT, TopicT

from newsmon.settings import Settings
from streams.delivery import key_partition

Table = TableT[Any, Any]


@dataclass
class Topology:
    app: faust.App
    settings: Settings
    raw: TopicT
    sweeps: TopicT          # the public raw topic never carries sweeps: dedup reads both
    dedup_source: TopicT
    unique: TopicT
    bands: TopicT
    bandhits: TopicT
    analyze: TopicT
    stories: TopicT
    countries: TopicT
    trend_alerts: TopicT
    articles: TopicT
    deadletter: TopicT
    seen: Table             # article id -> first let through (dedup)
    pending: Table          # article id -> parked record awaiting its band answers (sign)
    hits: Table             # article id -> band answers so far (collect)
    memberships: Table      # "<id> <bands partition>" -> Membership (bands)
    story_members: Table    # story -> {"n", "t"} (alerting)
    cooldowns: Table        # "<rule>/<story>" -> {"level", "at"} (alerting)
    country_windows: Table  # country or pair -> trend windows (trends)
    _alert_topics: dict[str, TopicT] = field(default_factory=dict)

    def partition_of(self, key: str | bytes) -> int:
        return _partition(key, self.settings.partitions)

    def band_partition(self, band: str) -> int:
        return _partition(band, self.settings.band_partitions)

    def mine(self, key: str | bytes, partition: int) -> bool:
        """Does ``key`` live in ``partition``? (Faust writes a table's changelog to the
        partition of the event being processed, so state may only be changed from an
        event of the key's own partition: sweeps arrive as events on every partition.)"""
        return self.partition_of(key) == partition

    def alert_topic(self, name: str) -> TopicT:
        """The default alerts topic or a rule's own, created on first use."""
        if name not in self._alert_topics:
            self._alert_topics[name] = raw_topic(self.app, name)
        return self._alert_topics[name]

    def swept(self) -> list[tuple[TopicT, int]]:
        """The topics whose every partition gets a sweep event, with their partition
        counts."""
        n = self.settings.partitions
        return [(self.sweeps, n), (self.bands, self.settings.band_partitions),
                (self.bandhits, n), (self.stories, n), (self.countries, n)]


@functools.lru_cache(maxsize=1 << 17)
def _partition(key: str | bytes, partitions: int) -> int:
    # Cached: every sweep asks it of every band key (murmur2 in pure Python was ~3 % of
    # the worker's time uncached).
    return key_partition(key, partitions)


def raw_topic(app: faust.App, *names: str, partitions: int | None = None) -> TopicT:
    return app.topic(*names, key_serializer="raw", value_serializer="raw",
                     partitions=partitions)


def build(app: faust.App, settings: Settings) -> Topology:
    t, n = settings.topics, settings.partitions

    def by_article(name: str) -> Table:
        """A table keyed by the article id as the Kafka key bytes, whose changelog partition
        is the producer's partitioner's (murmur2 of those bytes): the partition of the
        article's own records. It may so be written outside an event of that partition,
        as the batched stages do, and still restore where its records are read."""
        return app.Table(name, default=None, partitions=n, key_type=bytes,
                         use_partitioner=True)

    return Topology(
        app=app, settings=settings,
        raw=raw_topic(app, t.raw, partitions=n),
        sweeps=raw_topic(app, t.sweeps, partitions=n),
        dedup_source=raw_topic(app, t.raw, t.sweeps, partitions=n),
        unique=raw_topic(app, t.unique, partitions=n),
        bands=raw_topic(app, t.bands, partitions=settings.band_partitions),
        bandhits=raw_topic(app, t.bandhits, partitions=n),
        analyze=raw_topic(app, t.analyze, partitions=n),
        stories=raw_topic(app, t.stories, partitions=n),
        countries=raw_topic(app, t.countries, partitions=n),
        trend_alerts=raw_topic(app, t.trend_alerts),
        articles=raw_topic(app, t.articles),
        deadletter=raw_topic(app, t.deadletter),
        seen=by_article("seen-ids"),
        pending=by_article("neardup-pending"),
        hits=by_article("neardup-hits"),
        # One record per article and bands partition; the lookup by band is derived
        # from it in memory (BandIndex), rebuilt after each recovery.
        memberships=app.Table("lsh-memberships", default=None,
                              partitions=settings.band_partitions),
        story_members=app.Table("story-members", default=None, partitions=n),
        cooldowns=app.Table("alert-cooldowns", default=None, partitions=n),
        country_windows=app.Table("country-windows", default=None, partitions=n),
    )
