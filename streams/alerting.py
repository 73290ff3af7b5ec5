"""The alerting stage: story counting, rules and cooldowns (``newsmon.stages.alerting``),
keyed by story so one story's state lives in one place; it also feeds the trends stage
(one point per country and pair). SIGHUP reloads the rules file."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from typing import Any

import faust

from newsmon import metrics
from newsmon.expiry import ExpiryQueue, drop_expired
from newsmon.records import dumps, loads
from newsmon.rules import RuleBook
from newsmon.stages import alerting, trends
from streams.frames import Frames
from streams.topology import Topology


def install(topo: Topology, frames: Frames) -> None:
    settings, story_members, cooldowns = topo.settings, topo.story_members, topo.cooldowns
    window = settings.dedup_window_hours * 3600
    rulebook = RuleBook(settings.rules_file, settings.alert_threshold)
    reload_requested = asyncio.Event()
    # What to expire, in write order per partition; rebuilt after each recovery.
    story_expiry: ExpiryQueue[str] = ExpiryQueue()
    cooldown_expiry: ExpiryQueue[str] = ExpiryQueue()

    @story_members.on_recover
    async def rebuild_story_expiry() -> None:
        story_expiry.rebuild((topo.partition_of(k), k, sm["t"])
                             for k, sm in story_members.items())

    @cooldowns.on_recover
    async def rebuild_cooldown_expiry() -> None:
        cooldown_expiry.rebuild((topo.partition_of(k.split("/", 1)[1]), k, st["at"])
                                for k, st in cooldowns.items())

    async def expire(part: int) -> None:
        now = time.time()
        drop_expired(story_members, story_expiry, part, now, window, lambda sm: sm["t"])
        drop_expired(cooldowns, cooldown_expiry, part, now, window, lambda st: st["at"])

    def reload_rules() -> None:
        before = rulebook.reload_errors
        rulebook.maybe_reload(force=reload_requested.is_set())
        reload_requested.clear()
        if rulebook.reload_errors > before:  # every rejected edit, whatever went wrong
            metrics.rules_reload_errors.inc(rulebook.reload_errors - before)
        metrics.rules_loaded.set(len(rulebook.rules))

    async def one(key: bytes, value: bytes, event: Any) -> None:
        article = loads(value)
        part = event.message.partition
        reload_rules()
        now = time.time()
        outcome = alerting.alert(rulebook.rules, article, story_members, cooldowns, now)
        story_expiry.add(part, alerting.story_of(article), now)
        metrics.observe_tension(article.get("countries", []), article["tension"]["score"])
        for point in trends.points(article, now):
            await topo.countries.send(key=point["key"].encode(), value=dumps(point))
        sent = []
        for rule, alert in outcome.alerts:
            topic = topo.alert_topic(rule.topic or settings.topics.alerts)
            sent.append(await topic.send(key=alert["alert_id"].encode(), value=dumps(alert)))
            metrics.alerts.labels(rule.name).inc()
        # Cooldowns are written only once the alerts are acknowledged: a crash in between
        # alerts again on redelivery (same alert id) instead of never.
        await asyncio.gather(*sent)
        for k, v in outcome.cooldowns.items():
            cooldowns[k] = v
            cooldown_expiry.add(part, k, v["at"])

    @topo.app.agent(topo.stories, name="alerting")
    async def agent(stream: faust.StreamT[bytes]) -> None:
        await frames.each_record(stream, "alerting", one, expire)

    @topo.app.task  # type: ignore[untyped-decorator]
    async def on_sighup() -> None:
        """SIGHUP reloads the rules file without restarting the worker."""
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload_requested.set)
