"""Alert records for the notify tests, built by the worker's own ``build_alert``."""

from __future__ import annotations

import hashlib
from typing import Any

from newsmon.rules import Rule, build_alert

#: A hostile title: HTML, Slack mention and link syntax, Markdown links, a javascript:
#: link, header injection, and 10,000 characters in all.
HOSTILE_CORE = ("<script>alert(1)</script><b>bold</b> <!channel> <@U123> @here "
                "<http://evil.example|click me> [click](javascript:alert(1)) "
                "*bold* _it_ ~st~ `code` {{DATE(2020-01-01)}}\r\nX-Injected: yes ")
HOSTILE_TITLE = (HOSTILE_CORE * 200)[:10_000]


def make_alert(n: int = 0, *, title: str | None = None, url: str | None = None,
               rule: str = "tension-threshold", severity: str = "warning",
               level: str = "high", score: int = 72, country: str = "UA",
               sentence: str = "Troops massed near the border.") -> dict[str, Any]:
    story = hashlib.sha256(f"story-{n}".encode()).hexdigest()[:32]
    article = {
        "id": story, "story_id": story,
        "url": url if url is not None else f"https://news.example/a/{n}",
        "title": title if title is not None else f"Troops mass near the border ({n})",
        "source": "Example News", "published": "2026-12-01T10:00:00Z",
        "tension": {"score": score, "level": level, "by_category": {"military_posture": 40.0},
                    "escalation": 40.0, "deescalation": 0.0,
                    "evidence": [{"phrase": "mass troops", "matched": "massed troops",
                                  "category": "military_posture", "weight": 6.0,
                                  "field": "summary", "start": 0, "end": 12,
                                  "sentence": sentence, "negated": False,
                                  "hedged": False}]},
        "entities": [{"text": "Ukraine", "type": "LOCATION", "canonical": "Ukraine",
                      "count": 1, "country": country}],
    }
    return build_alert(Rule(name=rule, version=1, severity=severity, min_score=60), article,
                       "new", ["score >= 60"], 1)


def hostile_alert(n: int = 0) -> dict[str, Any]:
    return make_alert(n, title=HOSTILE_TITLE, url="javascript:alert(document.cookie)",
                      sentence=HOSTILE_CORE[:300])
