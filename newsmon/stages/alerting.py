"""The alerting stage: story counting, then the rules with their cooldowns. Pure logic.

``story_members`` maps a story id to ``{"n": articles seen, "t": last seen}`` and
``cooldowns`` maps ``"<rule>/<story>"`` to ``{"level", "at"}`` (:func:`newsmon.rules.decide`);
both are Faust tables keyed by story in the worker and dicts offline.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from newsmon.rules import Rule, evaluate


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one article does at the alerting stage."""

    members: int                            # articles of its story so far, itself included
    alerts: list[tuple[Rule, dict[str, Any]]]
    cooldowns: dict[str, dict[str, Any]]    # cooldowns the alerts start, not yet written


def story_of(article: Mapping[str, Any]) -> str:
    return str(article.get("story_id") or article["id"])


def count_story(story_members: MutableMapping[str, Any], story: str, now: float) -> int:
    """Count one more article of ``story``; return its article count."""
    n = int((story_members.get(story) or {"n": 0})["n"]) + 1
    story_members[story] = {"n": n, "t": now}
    return n


def alert(rules: Iterable[Rule], article: Mapping[str, Any],
          story_members: MutableMapping[str, Any], cooldowns: Mapping[str, Any],
          now: float) -> Outcome:
    """Count ``article`` in its story and evaluate ``rules`` on it. ``cooldowns`` is only
    read: the cooldowns the alerts start come back in the outcome, for the caller to
    write (the worker writes them once the alerts are acknowledged, so a crash in
    between alerts again on redelivery, with the same alert id, instead of never)."""
    members = count_story(story_members, story_of(article), now)
    started: dict[str, dict[str, Any]] = {}
    fired = evaluate(rules, article, ChainMap(started, cooldowns), now,  # type: ignore[arg-type]
                     members)
    return Outcome(members, fired, started)
