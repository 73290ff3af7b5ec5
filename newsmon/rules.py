"""Watchlist rules: which enriched articles alert, where, and how often. Pure logic.

A rules file (YAML)::

    rules:
      - name: russia-ukraine          # required, [a-z0-9-_.]
        version: 3                    # required, integer; travels with every alert
        severity: critical            # info | warning | critical
        topic: news.alerts.ukraine    # optional; default: the alerts topic
        min_level: high               # low | elevated | high | severe  (or min_score: 0-100)
        entities_any: [Russia, Ukraine]   # canonical names, any of them
        entities_all: []                  # canonical names, all of them
        countries: [RU, UA]               # ISO codes, any
        categories: [military_posture]    # lexicon categories that contributed, any
        keywords: [troops]                # words in title/summary/evidence, any
        sources: []                       # source names, any
        cooldown_minutes: 360             # one alert per story per level in this time

Every filter that is given must match. :class:`RuleBook` validates a file
with one clear error per mistake (file, rule, field) and reloads it on change
or on demand (SIGHUP), keeping the last good rules when an edit is bad.
:func:`decide` applies the cooldown: a story already alerted for a rule does
not alert again inside its cooldown unless its tension rises a level, which
sends one ``update`` alert.
"""

from __future__ import annotations

import functools
import hashlib
import html
import logging
import os
import re
import time
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsmon import configfile
from newsmon.analysis.tension import LEVELS
from newsmon.configfile import ConfigDoc, ConfigError, PathPart, format_path
from newsmon.records import SCHEMA_VERSION, utcnow_iso

log = logging.getLogger(__name__)

LEVEL_RANK = {name: i for i, (_, name) in enumerate(reversed(LEVELS))}  # low=0 .. severe=3
SEVERITIES = ("info", "warning", "critical")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_LIST_FIELDS = ("entities_any", "entities_all", "countries", "categories", "keywords", "sources")


class RulesError(ValueError):
    """A rules file with mistakes; ``errors`` lists each, one line apiece, as
    ``file:line: rules[i] (name).field: ...``."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    version: int
    severity: str = "warning"
    topic: str | None = None
    min_score: int = 0
    entities_any: frozenset[str] = frozenset()
    entities_all: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    keywords: tuple[str, ...] = ()
    sources: frozenset[str] = frozenset()
    cooldown_seconds: float = 6 * 3600.0

    def matches(self, article: Mapping[str, Any]) -> list[str] | None:
        """The reasons this rule matches ``article``, or None."""
        t = article["tension"]
        if article.get("duplicate_of"):
            return None
        if t["score"] < self.min_score:
            return None
        reasons = [f"score {t['score']} >= {self.min_score}"]
        names = {e["canonical"] for e in article.get("entities", [])}
        if self.entities_any:
            hit = sorted(self.entities_any & names)
            if not hit:
                return None
            reasons.append("entities: " + ", ".join(hit))
        if self.entities_all:
            if not self.entities_all <= names:
                return None
            reasons.append("all entities: " + ", ".join(sorted(self.entities_all)))
        if self.countries:
            hit = sorted(self.countries & set(article.get("countries", [])))
            if not hit:
                return None
            reasons.append("countries: " + ", ".join(hit))
        if self.categories:
            cats = {c for c, v in t.get("by_category", {}).items() if v > 0}
            hit = sorted(self.categories & cats)
            if not hit:
                return None
            reasons.append("categories: " + ", ".join(hit))
        if self.keywords:
            text = " ".join([article.get("title") or "", article.get("summary") or "",
                             *(e["sentence"] for e in t.get("evidence", []))]).lower()
            hit = [k for k in self.keywords if keyword_pattern(k).search(text)]
            if not hit:
                return None
            reasons.append("keywords: " + ", ".join(hit))
        if self.sources:
            if article.get("source") not in self.sources:
                return None
            reasons.append(f"source: {article.get('source')}")
        return reasons


@functools.lru_cache(maxsize=4096)
def keyword_pattern(keyword: str) -> re.Pattern[str]:
    """``keyword`` as a whole word or phrase: not glued to a letter or digit on either side
    (so ``u.s.`` matches "the u.s. said" and ``c++`` matches "c++ code", where ``\\b`` after a
    non-word character would need a word character next), any run of white space inside a
    phrase matching any other."""
    body = r"\s+".join(re.escape(part) for part in keyword.split())
    return re.compile(rf"(?<!\w){body}(?!\w)")


def default_rules(threshold: int) -> list[Rule]:
    return [Rule(name="tension-threshold", version=1, severity="warning", min_score=threshold)]


_STRINGS = {"type": "array", "maxItems": 1000, "description": "a list of non-empty strings",
            "items": {"type": "string", "minLength": 1, "maxLength": 200,
                      "description": "a non-empty string"}}
#: The shape of a rules file (JSON Schema); :func:`parse_rules` adds the checks across fields.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "a mapping with a 'rules' list",
    "additionalProperties": False,
    "required": ["rules"],
    "properties": {"rules": {
        "type": "array", "maxItems": 10_000, "description": "a list of rules",
        "items": {
            "type": "object",
            "description": "a mapping",
            "additionalProperties": False,
            "required": ["name", "version"],
            "properties": {
                "name": {"type": "string", "pattern": _NAME.pattern,
                         "description": "lower-case letters, digits, '.', '_' or '-'"},
                "version": {"type": "integer", "minimum": 1, "maximum": 1_000_000_000,
                            "description": "a positive integer"},
                "severity": {"enum": list(SEVERITIES),
                             "description": f"one of {', '.join(SEVERITIES)}"},
                "topic": {"type": "string", "pattern": r"^[A-Za-z0-9._-]{1,200}$",
                          "description": "a Kafka topic name"},
                "min_level": {"enum": list(LEVEL_RANK),
                              "description": f"one of {', '.join(LEVEL_RANK)}"},
                "min_score": {"type": "integer", "minimum": 0, "maximum": 100,
                              "description": "an integer 0-100"},
                "cooldown_minutes": {"type": "number", "minimum": 0, "maximum": 525_600,
                                     "description": "a number of minutes from 0 to 525600"},
                **{key: _STRINGS for key in _LIST_FIELDS},
            }}}},
}


def parse_rules(data: Any, source: str, doc: ConfigDoc | None = None) -> list[Rule]:
    """Validate decoded rules (``doc``, when given, supplies line numbers); raise
    :class:`RulesError` listing every mistake, one line each."""
    doc = doc if doc is not None and doc.data is data else ConfigDoc(source, data, None)

    def field(path: Sequence[PathPart]) -> str:
        if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
            where = f"rules[{path[1]}]"
            items = data["rules"]
            item = items[path[1]] if path[1] < len(items) else None
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                where += f" ({item['name'][:64]})"
            return where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                                   for p in path[2:])
        return format_path(path)

    errors = [str(e) for e in configfile.validate(doc, SCHEMA, field)]
    if errors:
        raise RulesError(errors)
    rules: list[Rule] = []
    names: set[str] = set()
    for i, item in enumerate(data["rules"]):
        name = item["name"]
        if name in names:
            errors.append(str(doc.error(("rules", i, "name"), "duplicate rule name",
                                        field(("rules", i, "name")))))
        names.add(name)
        min_score = 0
        if "min_level" in item and "min_score" in item:
            errors.append(str(doc.error(("rules", i, "min_level"),
                                        "give min_level or min_score, not both",
                                        field(("rules", i, "min_level")))))
        elif "min_level" in item:
            min_score = next(b for b, n in LEVELS if n == item["min_level"])
        elif "min_score" in item:
            min_score = item["min_score"]
        lists = {key: item.get(key, []) for key in _LIST_FIELDS}
        rules.append(Rule(
            name=name, version=item["version"], severity=item.get("severity", "warning"),
            topic=item.get("topic"), min_score=min_score,
            entities_any=frozenset(lists["entities_any"]),
            entities_all=frozenset(lists["entities_all"]),
            countries=frozenset(c.upper() for c in lists["countries"]),
            categories=frozenset(lists["categories"]),
            keywords=tuple(k.lower() for k in lists["keywords"]),
            sources=frozenset(lists["sources"]),
            cooldown_seconds=float(item.get("cooldown_minutes", 360)) * 60,
        ))
    if errors:
        raise RulesError(errors)
    return rules


def load_rules(path: Path) -> list[Rule]:
    """The rules of a file; :class:`RulesError` (and nothing else) for any mistake in it,
    each one line ``file:line: rules[i] (name).field: what is wrong``."""
    try:
        doc = configfile.load(path, what="rules")
        return parse_rules(doc.data, str(path), doc)
    except RulesError:
        raise
    except ConfigError as exc:
        raise RulesError([str(exc)]) from None
    except Exception as exc:  # noqa: BLE001 - a reload must never die of a bad file
        raise RulesError([f"{path}: cannot load rules: {type(exc).__name__}: {exc}"
                          .replace("\n", " ")]) from None


@dataclass
class RuleBook:
    """The rules in force: from a file (reloaded when it changes) or the default rule."""

    path: Path | None
    threshold: int = 60
    rules: list[Rule] = field(default_factory=list)
    last_error: str | None = None
    reload_errors: int = 0  # edits rejected since start
    _stamp: tuple[int, int] = (-1, -1)  # (mtime_ns, size) of the file last read
    _checked: float = 0.0

    def __post_init__(self) -> None:
        if self.path is None:
            self.rules = default_rules(self.threshold)
        else:
            self._stamp = self._stat()
            self.rules = load_rules(self.path)  # the first load must be good

    def _stat(self) -> tuple[int, int]:
        assert self.path is not None
        st = os.stat(self.path)
        return st.st_mtime_ns, st.st_size

    def maybe_reload(self, force: bool = False, min_interval: float = 1.0) -> bool:
        """Reload if the file changed (checked at most every ``min_interval`` s) or ``force``.

        Never raises: whatever is wrong with the new file (unreadable, not UTF-8,
        not YAML, not rules) keeps the last good rules in force, sets
        :attr:`last_error`, adds one to :attr:`reload_errors` and is logged; the
        file is read again when it changes again (or on ``force``)."""
        if self.path is None:
            return False
        now = time.monotonic()
        if not force and now - self._checked < min_interval:
            return False
        self._checked = now
        try:
            stamp = self._stat()
        except OSError as exc:
            error = f"{self.path}: {exc.strerror}; keeping the last good rules"
            if error != self.last_error:
                self.reload_errors += 1
                log.error("%s", error)
            self.last_error = error
            return False
        if not force and stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            rules = load_rules(self.path)
        except Exception as exc:  # noqa: BLE001 - load_rules raises RulesError only; belt and braces
            self.last_error = str(exc) if isinstance(exc, RulesError) else \
                f"{self.path}: {type(exc).__name__}: {exc}"
            self.reload_errors += 1
            log.error("rules not reloaded, keeping the last good ones:\n%s", self.last_error)
            return False
        self.rules = rules
        self.last_error = None
        log.info("reloaded %d rules from %s", len(self.rules), self.path)
        return True


def alert_id(rule: str, story_id: str, level: str) -> str:
    """Deterministic: one rule, one story, one level give one id, across restarts."""
    return hashlib.sha256(f"{rule}\x00{story_id}\x00{level}".encode()).hexdigest()[:32]


def decide(rule: Rule, article: Mapping[str, Any], state: MutableMapping[str, Any],
           now: float, members: int = 1) -> dict[str, Any] | None:
    """The alert ``rule`` raises for ``article``, or None; ``state`` keeps the cooldowns.

    ``state`` maps ``"<rule>/<story>"`` to ``{"level", "at"}`` (a Faust table in
    the worker, a dict offline).
    """
    reasons = rule.matches(article)
    if reasons is None:
        return None
    story = article.get("story_id") or article["id"]
    level = article["tension"]["level"]
    key = f"{rule.name}/{story}"
    prev = state.get(key)
    kind, previous_level, started = "new", None, now
    if prev is not None and now - prev["at"] < rule.cooldown_seconds:
        if LEVEL_RANK.get(level, 0) <= LEVEL_RANK.get(prev["level"], 0):
            return None
        kind, previous_level, started = "update", prev["level"], prev["at"]
    state[key] = {"level": level, "at": started}
    return build_alert(rule, article, kind, reasons, members, previous_level)


def build_alert(rule: Rule, article: Mapping[str, Any], kind: str, reasons: list[str],
                members: int, previous_level: str | None = None) -> dict[str, Any]:
    t = article["tension"]
    story = article.get("story_id") or article["id"]
    # what the score is made of first (points), then the strongest phrases
    evidence = sorted((e for e in t["evidence"] if not e["negated"]),
                      key=lambda e: (-abs(e.get("points", 0.0)), -abs(e["weight"])))
    return {
        "schema_version": SCHEMA_VERSION,
        "alert_id": alert_id(rule.name, story, t["level"]),
        "kind": kind,
        "previous_level": previous_level,
        "rule": rule.name,
        "rule_version": rule.version,
        "severity": rule.severity,
        "reasons": reasons,
        "article_id": article["id"],
        "story_id": story,
        "story_members": members,
        "url": article.get("url"),
        "title": article.get("title"),
        "source": article.get("source"),
        "published": article.get("published"),
        "score": t["score"],
        "level": t["level"],
        "threshold": rule.min_score,
        "breakdown": t["by_category"],
        "escalation": t["escalation"],
        "deescalation": t["deescalation"],
        "evidence": evidence[:20],
        "entities": [{k: e[k] for k in ("text", "type", "canonical", "count", "country")}
                     for e in article.get("entities", [])],
        "created_at": utcnow_iso(),
    }


def evaluate(rules: Iterable[Rule], article: Mapping[str, Any],
             state: MutableMapping[str, Any], now: float, members: int = 1
             ) -> list[tuple[Rule, dict[str, Any]]]:
    out = []
    for rule in rules:
        alert = decide(rule, article, state, now, members)
        if alert is not None:
            out.append((rule, alert))
    return out


def escape(text: Any) -> str:
    """Untrusted feed text for HTML output (dashboards, e-mails)."""
    return html.escape(str(text or ""), quote=True)
