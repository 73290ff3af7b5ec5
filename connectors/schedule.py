"""When to poll a feed next, and the per-feed state that survives restarts. Pure logic.

The next interval comes from, in order:

1. an explicit ``interval`` in the feed list, else the feed's own publishing
   rate (half the mean gap between its recent entries), else the default;
2. clamped between ``min_interval`` and ``max_interval``;
3. never sooner than the feed's RSS ``<ttl>`` or ``Cache-Control: max-age``;
4. on errors: jittered exponential backoff (base x 2^(errors-1), full jitter
   between 50 % and 100 %, capped at ``max_interval``);
5. never sooner than a ``Retry-After`` (429, 503).

A 410 Gone disables the feed; a permanent redirect (301/308 on every hop)
moves it to the new URL.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from connectors.config import FeedSpec

_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SchedulePolicy:
    default_interval: float = 900.0
    min_interval: float = 300.0
    max_interval: float = 6 * 3600.0
    error_base: float = 60.0
    seen_per_feed: int = 500
    silence_factor: float = 6.0       # quiet for this many usual gaps ...
    silence_min: float = 6 * 3600.0   # ... and at least this long: a silence alert


@dataclass(slots=True)
class FeedState:
    url: str                          # the configured URL (the key)
    current_url: str | None = None    # after a permanent redirect
    etag: str | None = None
    last_modified: str | None = None
    next_due: float = 0.0
    interval: float | None = None
    errors: int = 0
    disabled: str | None = None
    last_outcome: str | None = None
    last_ok: float | None = None
    body_hash: str | None = None      # to skip parsing a body identical to the last one
    last_new: float | None = None     # when new entries were last published
    mean_gap: float | None = None     # the feed's usual gap between entries (seconds)
    silenced_at: float | None = None  # when a silence alert was last sent
    seen: list[str] = field(default_factory=list)

    @property
    def fetch_url(self) -> str:
        return self.current_url or self.url

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: its recursive deep copy cost 0.1 ms per feed,
        # about a second per save of 10,000 feeds.
        d = {name: getattr(self, name) for name in _FIELD_NAMES}
        d["seen"] = list(self.seen)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeedState:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def conditional_headers(self) -> dict[str, str]:
        h = {}
        if self.etag:
            h["If-None-Match"] = self.etag
        if self.last_modified:
            h["If-Modified-Since"] = self.last_modified
        return h

    def remember(self, ids: Sequence[str], keep: int) -> list[str]:
        """Record ``ids`` as published; return those not seen before (in order)."""
        known = set(self.seen)
        fresh = [i for i in dict.fromkeys(ids) if i not in known]
        if fresh:
            self.seen = (self.seen + fresh)[-keep:]
        return fresh


def max_age(headers: dict[str, str]) -> float | None:
    m = _MAX_AGE.search(headers.get("cache-control", ""))
    return float(m.group(1)) if m else None


def publishing_interval(published: Sequence[str]) -> float | None:
    """Half the mean gap between the most recent entries' dates (ISO 8601), if known."""
    times = []
    for p in published:
        try:
            times.append(datetime.fromisoformat(p.replace("Z", "+00:00")).timestamp())
        except (ValueError, AttributeError):
            continue
    times = sorted(set(times))[-20:]
    if len(times) < 2:
        return None
    mean_gap = (times[-1] - times[0]) / (len(times) - 1)
    return mean_gap / 2


def next_interval(policy: SchedulePolicy, spec: FeedSpec, state: FeedState, outcome: str,
                  *, headers: dict[str, str] | None = None, ttl: float | None = None,
                  published: Sequence[str] = (), retry_after: float | None = None,
                  rng: random.Random | None = None) -> float:
    rng = rng or random.Random()
    headers = headers or {}
    if outcome in ("ok", "not_modified"):
        if spec.interval is not None:
            base = spec.interval
        else:
            rate = publishing_interval(published) if outcome == "ok" else None
            base = rate if rate is not None else (state.interval or policy.default_interval)
        base = min(max(base, policy.min_interval), policy.max_interval)
        state.interval = base
        floor = max(ttl or 0.0, max_age(headers) or 0.0)
        wait = max(base, min(floor, policy.max_interval))
    else:
        backoff = policy.error_base * (2 ** max(0, state.errors - 1))
        wait = min(policy.max_interval, backoff) * rng.uniform(0.5, 1.0)
    if retry_after is not None:
        wait = max(wait, min(retry_after, 24 * 3600.0))
    return wait


def silent(state: FeedState, now: float, policy: SchedulePolicy) -> bool:
    """A feed that usually publishes has been quiet far longer than usual (alert once)."""
    if state.disabled or state.last_new is None or state.mean_gap is None:
        return False
    if state.silenced_at is not None and state.silenced_at >= state.last_new:
        return False
    return now - state.last_new > max(policy.silence_factor * state.mean_gap,
                                      policy.silence_min)


_FIELD_NAMES = tuple(f.name for f in fields(FeedState))
