import os
import time
from pathlib import Path

import pytest

from newsmon.rules import RuleBook, RulesError, decide, escape, load_rules, parse_rules

RULES = """rules:
  - name: ru-ua
    version: 2
    severity: critical
    min_level: elevated
    countries: [ru, UA]
    categories: [military_posture]
    keywords: [troops]
    cooldown_minutes: 60
"""


def article(score: int, level: str, story: str = "s1", **kw: object) -> dict:
    base = {
        "id": "a1", "story_id": story, "duplicate_of": None, "title": "Russia masses troops",
        "summary": "", "source": "Wire", "url": "https://x", "published": None,
        "countries": ["RU"], "entities": [{"text": "Russia", "type": "LOCATION",
                                           "canonical": "Russia", "count": 1, "country": "RU"}],
        "tension": {"score": score, "level": level, "escalation": 9.0, "deescalation": 0.0,
                    "by_category": {"military_posture": 7.2},
                    "evidence": [{"phrase": "mass troops", "matched": "masses troops",
                                  "category": "military_posture", "weight": 7.2,
                                  "sentence": "Russia masses troops.", "negated": False}]},
    }
    base.update(kw)
    return base


def test_match_and_reasons(tmp_path: Path) -> None:
    (tmp_path / "r.yml").write_text(RULES)
    rule = load_rules(tmp_path / "r.yml")[0]
    assert rule.countries == {"RU", "UA"} and rule.min_score == 30
    reasons = rule.matches(article(40, "elevated"))
    assert reasons and any("countries: RU" in r for r in reasons)
    assert rule.matches(article(20, "low")) is None
    assert rule.matches(article(40, "elevated", countries=["FR"])) is None
    assert rule.matches(article(40, "elevated", duplicate_of="other")) is None


def test_cooldown_and_level_update() -> None:
    rule = parse_rules({"rules": [{"name": "r", "version": 1, "cooldown_minutes": 60}]}, "x")[0]
    state: dict = {}
    t0 = 1000.0
    first = decide(rule, article(40, "elevated"), state, t0)
    assert first and first["kind"] == "new"
    assert decide(rule, article(45, "elevated"), state, t0 + 60) is None  # cooldown
    up = decide(rule, article(70, "high"), state, t0 + 120)
    assert up and up["kind"] == "update" and up["previous_level"] == "elevated"
    assert up["alert_id"] != first["alert_id"]
    assert decide(rule, article(72, "high"), state, t0 + 180) is None
    again = decide(rule, article(41, "elevated"), state, t0 + 3700)  # cooldown over
    assert again and again["alert_id"] == first["alert_id"]  # same rule, story, level: same id
    other = decide(rule, article(40, "elevated", story="s2"), state, t0 + 200)
    assert other and other["kind"] == "new"


@pytest.mark.parametrize("text, where", [
    ("rules:\n  - name: Bad Name\n    version: 1\n", "rules[0] (Bad Name).name"),
    ("rules:\n  - name: a\n    version: 0\n", "rules[0] (a).version"),
    ("rules:\n  - name: a\n    version: 1\n    min_level: extreme\n", "(a).min_level"),
    ("rules:\n  - name: a\n    version: 1\n    countries: RU\n", "(a).countries"),
    ("rules:\n  - name: a\n    version: 1\n    colour: red\n", "(a).colour: unknown field"),
    ("rules:\n  - name: a\n    version: 1\n  - name: a\n    version: 1\n", "duplicate rule"),
    ("rules: [\n", "not valid YAML"),
])
def test_errors_name_file_rule_and_field(tmp_path: Path, text: str, where: str) -> None:
    p = tmp_path / "r.yml"
    p.write_text(text)
    with pytest.raises(RulesError) as err:
        load_rules(p)
    assert str(p) in str(err.value) and where in str(err.value)


def test_one_error_per_mistake(tmp_path: Path) -> None:
    p = tmp_path / "r.yml"
    p.write_text("rules:\n  - name: a\n    version: x\n    severity: loud\n")
    with pytest.raises(RulesError) as err:
        load_rules(p)
    assert len(err.value.errors) == 2


def test_reload_keeps_last_good(tmp_path: Path) -> None:
    p = tmp_path / "r.yml"
    p.write_text(RULES)
    book = RuleBook(p)
    assert [r.name for r in book.rules] == ["ru-ua"]
    p.write_text("rules:\n  - name: broken\n")
    os.utime(p, (time.time() + 5, time.time() + 5))
    assert not book.maybe_reload(force=True)
    assert [r.name for r in book.rules] == ["ru-ua"] and "version" in (book.last_error or "")
    p.write_text(RULES.replace("ru-ua", "ru-ua-2"))
    os.utime(p, (time.time() + 10, time.time() + 10))
    assert book.maybe_reload(force=True)
    assert [r.name for r in book.rules] == ["ru-ua-2"] and book.last_error is None
    assert RuleBook(None, threshold=55).rules[0].min_score == 55


def test_escape_untrusted_text() -> None:
    assert escape('<script>alert("x")</script>') == \
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"


def test_shipped_example_rules_load() -> None:
    assert len(load_rules(Path(__file__).parents[2] / "deploy/rules.yml")) == 3


@pytest.mark.parametrize(("keyword", "title", "hit"), [
    ("u.s.", "The U.S. deploys a carrier", True),
    ("u.s.", "Talks with the U.S.", True),
    ("u.s.", "Sanctions (U.S.) widen", True),
    ("u.s.", "The U.S.A. deploys a carrier", False),
    ("u.s.", "bu.s. is not a word", False),
    (".net", "A .NET runtime ships", True),
    (".net", "ASP.NET runtime ships", False),
    ("c++", "C++ compilers", True),
    ("troops", "Russia masses troops", True),
    ("troops", "Russia masses troopships", False),
    ("war", "Post-war order", True),
    ("white house", "The White\n  House said", True),
    ("g7", "At the G7, leaders", True),
])
def test_keywords_match_whole_words_even_with_punctuation_at_the_edges(
        keyword: str, title: str, hit: bool) -> None:
    rule = parse_rules({"rules": [{"name": "k", "version": 1, "keywords": [keyword]}]}, "x")[0]
    a = article(40, "elevated", title=title)
    a["tension"]["evidence"] = []
    assert (rule.matches(a) is not None) is hit
