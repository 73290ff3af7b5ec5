"""The alerting stage's decision: story counting and cooldowns, as the worker and
``newsmon rules test`` both run it (no broker)."""

import json
from pathlib import Path
from typing import Any

import pytest

from newsmon.cli import main
from newsmon.rules import parse_rules
from newsmon.stages.alerting import alert, count_story
from tests.unit.test_rules import article

RULE = parse_rules({"rules": [{"name": "r", "version": 1, "cooldown_minutes": 60}]}, "x")


def test_count_story_counts_and_stamps() -> None:
    members: dict[str, Any] = {}
    assert count_story(members, "s1", 10.0) == 1
    assert count_story(members, "s1", 20.0) == 2
    assert count_story(members, "s2", 30.0) == 1
    assert members["s1"] == {"n": 2, "t": 20.0}


def test_alert_counts_the_story_and_returns_cooldowns_unwritten() -> None:
    members: dict[str, Any] = {}
    cooldowns: dict[str, Any] = {}
    first = alert(RULE, article(40, "elevated"), members, cooldowns, 1000.0)
    assert first.members == 1 and [a["kind"] for _, a in first.alerts] == ["new"]
    assert cooldowns == {}  # the caller writes them once the alerts are acknowledged
    assert first.cooldowns == {"r/s1": {"level": "elevated", "at": 1000.0}}
    # Not written: a redelivery alerts again, with the same alert id.
    again = alert(RULE, article(40, "elevated"), members, cooldowns, 1001.0)
    assert again.alerts[0][1]["alert_id"] == first.alerts[0][1]["alert_id"]
    cooldowns.update(again.cooldowns)
    quiet = alert(RULE, article(45, "elevated"), members, cooldowns, 1002.0)
    assert quiet.alerts == [] and quiet.members == 3
    up = alert(RULE, article(70, "high"), members, cooldowns, 1003.0)
    assert [(a["kind"], a["story_members"]) for _, a in up.alerts] == [("update", 4)]


def test_rules_test_counts_stories_like_the_worker(tmp_path: Path,
                                                   capfd: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "r.yml").write_text(
        "rules:\n  - name: r\n    version: 1\n    cooldown_minutes: 60\n")
    lines = [article(40, "elevated", id="a1"), article(45, "elevated", id="a2"),
             article(70, "high", id="a3"), article(40, "elevated", story="s2", id="b1")]
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(a) + "\n" for a in lines))
    assert main(["rules", "test", str(tmp_path / "r.yml"), str(tmp_path / "a.jsonl"),
                 "--json"]) == 0
    alerts = [json.loads(x) for x in capfd.readouterr().out.splitlines()]
    assert [(a["article_id"], a["kind"], a["story_members"]) for a in alerts] == [
        ("a1", "new", 1), ("a3", "update", 3), ("b1", "new", 1)]
