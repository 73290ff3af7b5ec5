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
    ("rules:\n  - name: a\n    version: 1\n    colour: red\n", "(a).colour: unknown key"),
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


BAD_RULES = [
    pytest.param("rules:\n  - name: a\n    version: 1\n    min_level: [high]\n",
                 ":4: rules[0] (a).min_level: expected one of", id="list-for-level"),
    pytest.param("rules:\n  - name: a\n    version: 1\n    cooldown_minutes: 1e308\n",
                 ":4: rules[0] (a).cooldown_minutes: expected a number of minutes",
                 id="absurd-number"),
    pytest.param("rules:\n  - name: a\n    version: " + "9" * 5000 + "\n",
                 ":3: rules[0].version: integer of 5000 digits", id="huge-integer"),
    pytest.param("rules:\n  - name: a\n    version: 1\n    cooldown_minutes: .nan\n",
                 ":4: rules[0].cooldown_minutes: .nan is not a usable number", id="nan"),
    pytest.param("rules:\n  - name: a\n    version: 1\n    version: 2\n",
                 ":4: rules[0].version: key repeated", id="repeated-key"),
    pytest.param("rules:\n  - name: a\n    version: true\n",
                 ":3: rules[0] (a).version: expected a positive integer, got true",
                 id="bool-for-number"),
    pytest.param("rules:\n  - name: a\n    verison: 1\n",
                 ":3: rules[0] (a).verison: unknown key (did you mean 'version'?)", id="typo"),
    pytest.param(b"rules:\n  - name: caf\xe9\n    version: 1\n",
                 ":2: not valid UTF-8", id="invalid-utf8"),
    pytest.param("rules: " + "[" * 5000 + "]" * 5000 + "\n", ":1: nested more than 16",
                 id="deep"),
    pytest.param("- just a list\n", ":1: expected a mapping with a 'rules' list",
                 id="not-a-mapping"),
    pytest.param(b"\x00\x01\x02binary", ":1: NUL character", id="binary"),
]


def _write(p: Path, content: str | bytes, bump: float) -> None:
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content)
    os.utime(p, (time.time() + bump, time.time() + bump))


@pytest.mark.parametrize(("content", "error"), BAD_RULES)
def test_every_bad_edit_keeps_the_last_good_rules_is_counted_and_retried_on_change(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str | bytes,
        error: str) -> None:
    p = tmp_path / "r.yml"
    p.write_text(RULES)
    book = RuleBook(p)
    _write(p, content, 5)
    with caplog.at_level("ERROR", logger="newsmon.rules"):
        assert book.maybe_reload(min_interval=0) is False  # never raises
    assert [r.name for r in book.rules] == ["ru-ua"]
    assert book.last_error is not None
    lines = book.last_error.splitlines()
    assert any(line.startswith(str(p) + error) for line in lines), lines
    assert all(line.startswith(str(p)) for line in lines)
    assert book.reload_errors == 1 and "keeping the last good ones" in caplog.text
    assert book.maybe_reload(min_interval=0) is False and book.reload_errors == 1  # unchanged
    _write(p, RULES.replace("ru-ua", "ru-ua-2"), 10)
    assert book.maybe_reload(min_interval=0) is True
    assert [r.name for r in book.rules] == ["ru-ua-2"] and book.last_error is None


@pytest.mark.parametrize(("content", "error"), BAD_RULES)
def test_rules_check_exits_2_with_one_line_per_mistake(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | bytes,
        error: str) -> None:
    from newsmon.cli import main

    p = tmp_path / "r.yml"
    _write(p, content, 0)
    assert main(["rules", "check", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert any(line.startswith(str(p) + error) for line in err.splitlines()), err
    assert all(line.startswith(str(p)) for line in err.splitlines())


def test_alert_evidence_puts_what_the_score_is_made_of_first() -> None:
    # the item-level wording entry is a weak "phrase" carrying many points: an alert
    # cut to 20 entries must keep it
    rule = parse_rules({"rules": [{"name": "r", "version": 1}]}, "x")[0]
    a = article(70, "high")
    weak = [{"phrase": f"p{i}", "matched": f"p{i}", "category": "threats", "weight": 5.0,
             "points": 1.0, "sentence": "s", "negated": False} for i in range(25)]
    wording = {"phrase": "headline and lead read as conflict: shelled", "matched": "",
               "category": "wording", "weight": 1.2, "points": 30.0, "sentence": "",
               "negated": False}
    a["tension"]["evidence"] = [*weak, wording]
    alert = decide(rule, a, {}, now=0.0)
    assert alert is not None and len(alert["evidence"]) == 20
    assert alert["evidence"][0]["category"] == "wording"
