"""``newsmon replay``: what a rules or lexicon change would have done to past alerts.

Re-runs the alerting over a period read back from Kafka and compares the result with the
alerts that were sent in that period:

* rules only (the default): the enriched articles of ``news.articles`` go through the
  worker's alerting stage (:func:`newsmon.stages.alerting.alert`: story counting, the
  rules, their cooldowns, deterministic alert ids) with the candidate rules;
* with ``--lexicon`` (or ``--reanalyze``): the raw articles of ``news.raw`` are analysed
  again first, with the offline analysis ``newsmon analyze`` uses (exact duplicates
  dropped, near-duplicates grouped into stories, entities, tension with the candidate
  lexicon), then alerted the same way.

The period's start is found with Kafka's offsets-for-times lookup. State matters (a
story alerted an hour before ``--since`` is still in its cooldown), so the articles of a
warm-up period before ``--since`` (default: the longest cooldown of the rules) go
through the stage too; only alerts for articles inside the period are compared. Each
article is alerted at its record's timestamp, which is when the worker handled it.

Replay reads with no consumer group (nothing is committed, no live consumer is
disturbed) and writes nothing to Kafka. It can reach back as far as the topics'
retention (``NEWSMON_RETENTION_DAYS``, default 14 days, set when newsmon creates them).

The comparison is keyed by rule and story: an alert only the replay raises is *added*,
one only the live worker sent is *removed*, and a rule and story with alerts on both
sides at different levels is *changed*.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from newsmon.rules import Rule
from newsmon.stages import alerting

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class ReplayError(ValueError):
    """A replay that cannot run: a bad time, an unreadable topic."""


def parse_when(text: str, now: float | None = None) -> float:
    """Epoch seconds from an ISO 8601 time (``2026-12-01T08:00Z``, naive = UTC) or a
    span before now (``90m``, ``6h``, ``7d``, ``2w``)."""
    now = time.time() if now is None else now
    m = _RELATIVE.match(text)
    if m:
        return now - float(m.group(1)) * _UNIT[m.group(2)]
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ReplayError(f"{text!r} is neither an ISO 8601 time nor a span like 6h or 7d") \
            from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


@dataclass(frozen=True, slots=True)
class Change:
    """One difference: ``kind`` is added, removed or changed."""

    kind: str
    rule: str
    story_id: str
    sent: tuple[dict[str, Any], ...]
    replayed: tuple[dict[str, Any], ...]

    @property
    def alert(self) -> dict[str, Any]:
        """The alert that shows the change (the replayed one when there is one)."""
        return (self.replayed or self.sent)[-1]

    def to_dict(self) -> dict[str, Any]:
        a = self.alert
        return {
            "change": self.kind, "rule": self.rule, "story_id": self.story_id,
            "levels_sent": [x["level"] for x in self.sent],
            "levels_replayed": [x["level"] for x in self.replayed],
            "alert_ids_sent": [x["alert_id"] for x in self.sent],
            "alert_ids_replayed": [x["alert_id"] for x in self.replayed],
            "article_id": a.get("article_id"), "title": a.get("title"), "url": a.get("url"),
            "score": a.get("score"), "level": a.get("level"),
            "evidence": [{"matched": e.get("matched"), "sentence": e.get("sentence")}
                         for e in (a.get("evidence") or [])[:5]],
        }


@dataclass(frozen=True, slots=True)
class ReplayResult:
    since: float
    until: float
    articles: int
    sent: int
    replayed: int
    changes: tuple[Change, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"since": _iso(self.since), "until": _iso(self.until), "articles": self.articles,
                "alerts_sent": self.sent, "alerts_replayed": self.replayed,
                "added": sum(c.kind == "added" for c in self.changes),
                "removed": sum(c.kind == "removed" for c in self.changes),
                "changed": sum(c.kind == "changed" for c in self.changes),
                "changes": [c.to_dict() for c in self.changes]}


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def replay_alerts(rules: Sequence[Rule], articles: Iterable[tuple[float, dict[str, Any]]],
                  since: float) -> tuple[list[dict[str, Any]], set[str]]:
    """Run the worker's alerting stage over ``(time, enriched article)`` pairs in time
    order with fresh state; return the alerts raised for articles at or after ``since``
    and the ids of those articles. Earlier articles only warm the state up."""
    story_members: dict[str, Any] = {}
    cooldowns: dict[str, Any] = {}
    out: list[dict[str, Any]] = []
    inside: set[str] = set()
    for t, article in sorted(articles, key=lambda p: p[0]):
        outcome = alerting.alert(rules, article, story_members, cooldowns, t)
        cooldowns.update(outcome.cooldowns)
        if t >= since:
            inside.add(str(article["id"]))
            out.extend(alert for _rule, alert in outcome.alerts)
    return out, inside


def diff_alerts(sent: Iterable[dict[str, Any]],
                replayed: Iterable[dict[str, Any]]) -> list[Change]:
    """Differences between the alerts sent and the alerts replayed, by rule and story,
    in a stable order (removed, changed, added; then rule and story)."""
    def by_key(alerts: Iterable[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
        out: dict[tuple[str, str], list[dict[str, Any]]] = {}
        seen: set[str] = set()
        for a in alerts:
            if a["alert_id"] in seen:  # a redelivered alert: same id, sent twice
                continue
            seen.add(a["alert_id"])
            out.setdefault((a["rule"], a["story_id"]), []).append(a)
        return out

    old, new = by_key(sent), by_key(replayed)
    changes = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key, []), new.get(key, [])
        if {x["alert_id"] for x in a} == {x["alert_id"] for x in b}:
            continue
        kind = "added" if not a else "removed" if not b else "changed"
        changes.append(Change(kind, key[0], key[1], tuple(a), tuple(b)))
    order = {"removed": 0, "changed": 1, "added": 2}
    return sorted(changes, key=lambda c: (order[c.kind], c.rule, c.story_id))


def render(result: ReplayResult) -> str:
    """The difference as a table for people (feed text cleaned of control characters)."""
    from newsmon.supervisor import format_alert

    d = result.to_dict()
    lines = [f"replay {d['since']} .. {d['until']}: {result.articles} articles, "
             f"{result.sent} alerts sent, {result.replayed} replayed: "
             f"{d['added']} added, {d['removed']} removed, {d['changed']} changed"]
    mark = {"added": "+", "removed": "-", "changed": "~"}
    for c in result.changes:
        levels = ""
        if c.kind == "changed":
            levels = (f" {'/'.join(x['level'] for x in c.sent)} -> "
                      f"{'/'.join(x['level'] for x in c.replayed)}")
        lines.append(f"{mark[c.kind]} {c.kind:<7} {c.rule}{levels}  story {c.story_id[:12]}")
        lines.append(f"    {format_alert(c.alert)}")
    return "\n".join(lines)


# --- reading the period back from Kafka -------------------------------------------------

async def read_period(settings: Any, topic: str, start: float, end: float
                      ) -> list[tuple[float, bytes]]:
    """``(timestamp s, value)`` of every record of ``topic`` with a timestamp in
    ``[start, end)``, read with no consumer group and nothing committed."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**settings.kafka_client_kwargs())
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    parts = [p["partition"] for p in described.get("partitions") or ()]
    if described.get("error_code", 0) or not parts:
        raise ReplayError(f"topic {topic} does not exist or has no partitions")
    consumer = AIOKafkaConsumer(**settings.kafka_client_kwargs(), group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        starts = await consumer.offsets_for_times({tp: int(start * 1000) for tp in tps})
        ends = await consumer.end_offsets(tps)
        stops = await consumer.offsets_for_times({tp: int(end * 1000) for tp in tps})
        todo: dict[TopicPartition, int] = {}
        for tp in tps:
            first = starts.get(tp)
            last = stops.get(tp)
            stop = last.offset if last is not None else ends[tp]
            if first is None or first.offset >= stop:
                continue
            consumer.seek(tp, first.offset)
            todo[tp] = stop
        out: list[tuple[float, bytes]] = []
        while todo:
            batch = await consumer.getmany(*todo, timeout_ms=1000)
            for tp, records in batch.items():
                for rec in records:
                    if rec.offset < todo.get(tp, -1) and rec.value is not None:
                        out.append((rec.timestamp / 1000, rec.value))
                if records and records[-1].offset + 1 >= todo.get(tp, 0):
                    todo.pop(tp, None)
        return out
    finally:
        await consumer.stop()


async def run(settings: Any, rules: Sequence[Rule], since: float, until: float,
              warmup: float | None = None, lexicon_file: Any = None,
              reanalyze: bool = False) -> ReplayResult:
    """Replay ``[since, until)`` with ``rules`` (and ``lexicon_file``: re-analysis)."""
    from newsmon.records import loads

    warm = max((r.cooldown_seconds for r in rules), default=0.0) if warmup is None else warmup
    t = settings.topics
    reanalyze = reanalyze or lexicon_file is not None
    source = t.raw if reanalyze else t.articles
    records = await read_period(settings, source, since - warm, until)
    pairs: list[tuple[float, dict[str, Any]]] = []
    if reanalyze:
        from newsmon.analysis.pipeline import Analyzer, analyze_records

        analyzer = Analyzer.configured(lexicon_file or settings.lexicon_file,
                                       settings.ner_lead_chars)
        ordered = sorted(records, key=lambda r: r[0])
        objs: list[dict[str, Any] | Exception] = []
        for _ts, value in ordered:
            try:
                objs.append(loads(value))
            except ValueError as exc:
                objs.append(exc)
        seen: set[str] = set()
        for (ts, _v), article in zip(ordered, analyze_records(analyzer, objs), strict=True):
            if "error" in article or article["id"] in seen or article.get("duplicate_of") == \
                    article["id"]:
                continue
            seen.add(article["id"])
            pairs.append((ts, article))
    else:
        for ts, value in records:
            try:
                pairs.append((ts, loads(value)))
            except ValueError:
                continue  # the worker never published it: nothing to alert on
    replayed, inside = replay_alerts(rules, pairs, since)
    topics = sorted({t.alerts, *(r.topic for r in rules if r.topic)})
    sent: list[dict[str, Any]] = []
    for topic in topics:
        # Alerts follow their article by milliseconds to seconds: read a minute past.
        for _ts, value in await read_period(settings, topic, since, until + 60):
            try:
                alert = loads(value)
            except ValueError:
                continue
            if isinstance(alert, dict) and alert.get("article_id") in inside:
                sent.append(alert)
    changes = diff_alerts(sent, replayed)
    return ReplayResult(since, until, len(inside), len({a["alert_id"] for a in sent}),
                        len(replayed), tuple(changes))
