"""`newsmon replay`'s pure parts: times, the replayed alerting, the difference."""

from __future__ import annotations

from typing import Any

import pytest

from newsmon.replay import Change, ReplayError, diff_alerts, parse_when, replay_alerts
from newsmon.rules import Rule, alert_id, default_rules


def test_parse_when_takes_iso_times_and_spans() -> None:
    assert parse_when("6h", now=100_000.0) == 100_000.0 - 6 * 3600
    assert parse_when("90m", now=10_000.0) == 10_000.0 - 5400
    assert parse_when("2021-12-02T12:00:00Z") == 1638446400.0
    assert parse_when("2021-12-02T12:00:00") == 1638446400.0  # naive = UTC
    assert parse_when("2021-12-02T13:00:00+01:00") == 1638446400.0
    with pytest.raises(ReplayError, match="neither"):
        parse_when("yesterday")


def _article(n: int, story: str, score: int, level: str) -> dict[str, Any]:
    return {"id": f"a{n}", "story_id": story, "title": f"t{n}", "entities": [],
            "countries": [], "tension": {"score": score, "level": level, "by_category": {},
                                         "evidence": [], "escalation": 1.0,
                                         "deescalation": 0.0}}


def test_replay_counts_cooldowns_started_in_the_warm_up() -> None:
    rules = default_rules(60)
    arts = [(1000.0, _article(1, "s1", 70, "high")),     # warm-up: alerts, starts a cooldown
            (2000.0, _article(2, "s1", 72, "high")),     # inside, same level: cooled down
            (2100.0, _article(3, "s2", 90, "severe")),   # inside, new story: alerts
            (2200.0, _article(4, "s1", 88, "severe"))]   # inside, level rises: update
    alerts, inside = replay_alerts(rules, arts, since=1500.0)
    assert inside == {"a2", "a3", "a4"}
    assert [(a["article_id"], a["kind"]) for a in alerts] == [("a3", "new"), ("a4", "update")]


def test_replay_is_in_time_order_whatever_the_input_order() -> None:
    rules = default_rules(60)
    arts = [(2.0, _article(2, "s", 70, "high")), (1.0, _article(1, "s", 70, "high"))]
    alerts, _ = replay_alerts(rules, arts, since=0.0)
    assert [a["article_id"] for a in alerts] == ["a1"]


def _alert(rule: str, story: str, level: str) -> dict[str, Any]:
    return {"alert_id": alert_id(rule, story, level), "rule": rule, "story_id": story,
            "level": level, "title": story, "score": 70, "evidence": []}


def test_diff_finds_added_removed_and_changed_and_ignores_redeliveries() -> None:
    sent = [_alert("r", "kept", "high"), _alert("r", "kept", "high"),  # redelivered
            _alert("r", "gone", "high"), _alert("r", "moved", "elevated")]
    replayed = [_alert("r", "kept", "high"), _alert("r", "moved", "high"),
                _alert("w", "new", "severe")]
    changes = diff_alerts(sent, replayed)
    assert [(c.kind, c.rule, c.story_id) for c in changes] == [
        ("removed", "r", "gone"), ("changed", "r", "moved"), ("added", "w", "new")]
    moved = changes[1]
    assert isinstance(moved, Change)
    assert moved.to_dict()["levels_sent"] == ["elevated"]
    assert moved.to_dict()["levels_replayed"] == ["high"]
    assert diff_alerts(sent, sent) == []


def test_a_new_watchlist_rule_shows_as_added() -> None:
    art = _article(1, "s", 40, "elevated")
    art["title"] = "Troops gather on the border"
    watch = Rule(name="border", version=1, severity="warning", min_score=30,
                 keywords=frozenset({"border"}))
    base, _ = replay_alerts(default_rules(60), [(1.0, art)], 0.0)
    cand, _ = replay_alerts([*default_rules(60), watch], [(1.0, art)], 0.0)
    assert base == []
    (change,) = diff_alerts(base, cand)
    assert (change.kind, change.rule) == ("added", "border")
