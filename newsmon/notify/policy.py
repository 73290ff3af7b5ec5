"""Delivery policy: routing, retry decisions and backoff, rate limits, digests and the
dedup window. Pure: every clock value and random number is an argument."""

from __future__ import annotations

import email.utils
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from newsmon.notify.config import RateLimit, Route

#: The longest wait a ``Retry-After`` may ask for before it is capped (seconds).
RETRY_AFTER_CAP = 600.0


def routes_for(alert: Mapping[str, Any], routes: Sequence[Route]) -> list[Route]:
    """Every route whose filters all match ``alert`` (an empty filter matches all)."""
    countries = {e.get("country") for e in alert.get("entities") or ()
                 if isinstance(e, Mapping)} - {None}
    out = []
    for r in routes:
        if r.rules and alert.get("rule") not in r.rules:
            continue
        if r.severities and alert.get("severity") not in r.severities:
            continue
        if r.levels and alert.get("level") not in r.levels:
            continue
        if r.countries and not r.countries & countries:
            continue
        out.append(r)
    return out


def sinks_for(alert: Mapping[str, Any], routes: Sequence[Route]) -> dict[str, Route]:
    """Sink name -> the first matching route that names it: one delivery per sink."""
    out: dict[str, Route] = {}
    for r in routes_for(alert, routes):
        for s in r.sinks:
            out.setdefault(s, r)
    return out


def should_retry(status: int | None, error: str | None) -> bool:
    """Retry a timeout or connection error (no status), a 5xx, 408 and 429; never any
    other answer."""
    if status is None:
        return error is not None
    return status >= 500 or status in (408, 429)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date
    (``now`` is epoch seconds); None when absent or unreadable; at most
    :data:`RETRY_AFTER_CAP`."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), RETRY_AFTER_CAP)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return min(max(0.0, when.timestamp() - now), RETRY_AFTER_CAP)


def backoff(attempt: int, base: float, cap: float, rand: float,
            retry_after: float | None = None) -> float:
    """Wait before retry ``attempt`` (1, 2, ...): "full jitter" exponential backoff,
    ``rand`` in [0, 1) times min(cap, base·2^(attempt-1)); a ``Retry-After`` answer
    is honoured as a lower bound (itself capped)."""
    delay = rand * min(cap, base * 2 ** (attempt - 1))
    if retry_after is not None:
        delay = max(delay, min(retry_after, max(cap, RETRY_AFTER_CAP)))
    return float(delay)


@dataclass
class TokenBucket:
    """``limit.messages`` tokens refilled evenly over ``limit.per_seconds``."""

    limit: RateLimit
    tokens: float = -1.0
    at: float = 0.0

    def take(self, now: float) -> bool:
        if self.tokens < 0:
            self.tokens, self.at = float(self.limit.messages), now
        rate = self.limit.messages / self.limit.per_seconds
        self.tokens = min(float(self.limit.messages), self.tokens + (now - self.at) * rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class Digest:
    """Alerts held for one (route, sink) until the digest is due."""

    every: float
    alerts: list[dict[str, Any]] = field(default_factory=list)
    since: float | None = None

    def add(self, alert: dict[str, Any], now: float) -> None:
        if self.since is None:
            self.since = now
        if all(a.get("alert_id") != alert.get("alert_id") for a in self.alerts):
            self.alerts.append(alert)

    def due(self, now: float) -> bool:
        return bool(self.alerts) and self.since is not None and now - self.since >= self.every

    def take(self) -> list[dict[str, Any]]:
        out, self.alerts, self.since = self.alerts, [], None
        return out


@dataclass
class DedupWindow:
    """Which alert ids each sink has had (delivered or dead-lettered) inside the window."""

    window_seconds: float
    seen: dict[str, float] = field(default_factory=dict)

    @staticmethod
    def key(sink: str, alert_id: str) -> str:
        return f"{sink}/{alert_id}"

    def record(self, key: str, at: float) -> None:
        self.seen[key] = max(at, self.seen.get(key, at))

    def forget(self, key: str) -> None:
        self.seen.pop(key, None)

    def done(self, sink: str, alert_id: str, now: float) -> bool:
        at = self.seen.get(self.key(sink, alert_id))
        return at is not None and now - at < self.window_seconds

    def expired(self, now: float) -> list[str]:
        """Keys older than the window (removed here; the caller writes tombstones)."""
        old = [k for k, at in self.seen.items() if now - at >= self.window_seconds]
        for k in old:
            del self.seen[k]
        return old
