"""Spikes and silence in the tension index of a country (or a pair of countries). Pure logic.

Each key (``"UA"``, or ``"RU|UA"`` for two countries named together) keeps a
ring of tumbling windows by event time (the article's ``published`` time):
per window the number of articles and the sum of their tension scores. The
tension index of a window is ``sum(score) / 100``: volume times intensity,
so twenty mildly tense articles and five very tense ones both register.

* **spike**: the current window's index exceeds the mean of the trailing
  ``baseline`` windows by ``z`` standard deviations (the deviation floored at
  ``min_std``, so a flat baseline does not make every blip a spike), with at
  least ``min_volume`` articles in the window;
* **silence**: a key whose trailing windows averaged at least
  ``min_volume`` articles has a whole window with none.

In the worker the windows live in a changelog-backed Faust table keyed by
country (fed through a topic repartitioned by country), so each key's state
is in one place and survives restarts.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import combinations
from typing import Any

from newsmon.records import SCHEMA_VERSION, utcnow_iso


@dataclass(frozen=True, slots=True)
class TrendPolicy:
    window_seconds: int = 3600
    baseline: int = 24
    z: float = 3.0
    min_volume: int = 5
    min_std: float = 0.5
    # A window is silent only once the stream's time is this far past its end: items
    # arrive minutes after they are published (feeds are polled every few minutes).
    grace: float = 600.0


def keys_for(countries: list[str], max_countries: int = 6) -> list[str]:
    """The country keys and the pair keys an article counts towards."""
    cs = sorted({c for c in countries if len(c) == 2 and c.isalpha()})[:max_countries]
    return cs + [f"{a}|{b}" for a, b in combinations(cs, 2)]


CLOCK_SKEW = 600.0  # seconds a published time may run ahead of the fetch (publishers' clocks)


def _epoch(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()


def event_time(published: object, fetched_at: object, now: float,
               skew: float = CLOCK_SKEW) -> float:
    """The time an article counts at in its windows: its published time, but no later than
    ``skew`` seconds after it was fetched (or after ``now``, without a usable fetch time).

    A published time is the feed's word. A wrong time zone or a post dated next week would
    otherwise move the stream's clock ahead (every usual producer then looks silent until
    real time catches up) and make :func:`add` drop the key's history as too old.
    Without a usable published time the article counts when it was fetched."""
    fetched = _epoch(fetched_at)
    latest = now if fetched is None else min(fetched, now)
    published_at = _epoch(published)
    return latest if published_at is None else min(published_at, latest + skew)


def window_of(ts: float, policy: TrendPolicy) -> int:
    return int(ts // policy.window_seconds) * policy.window_seconds


def add(state: dict[str, Any], ts: float, score: float, policy: TrendPolicy) -> int:
    """Count one article in ``state`` (``{"w": {start: [n, sum]}}``); return its window."""
    w = window_of(ts, policy)
    buckets: dict[str, list[float]] = state.setdefault("w", {})
    n, total = buckets.get(str(w), [0, 0.0])
    buckets[str(w)] = [n + 1, total + score]
    oldest = w - (policy.baseline + 1) * policy.window_seconds
    for k in [k for k in buckets if int(k) < oldest]:
        del buckets[k]
    return w


def _baseline(state: dict[str, Any], w: int, policy: TrendPolicy) -> tuple[list[float], list[int]]:
    buckets = state.get("w", {})
    idx, vol = [], []
    for i in range(1, policy.baseline + 1):
        n, total = buckets.get(str(w - i * policy.window_seconds), [0, 0.0])
        idx.append(total / 100)
        vol.append(int(n))
    return idx, vol


def spike(key: str, state: dict[str, Any], w: int, policy: TrendPolicy,
          now: float | None = None) -> dict[str, Any] | None:
    """A spike record if window ``w`` of ``key`` spikes and has not been reported yet.

    With the stream's time ``now``, only the current and the previous window can spike:
    late articles (a feed's first poll brings days of items) still count in their own
    windows, and so in later baselines, but a window long past is not news."""
    n, total = state.get("w", {}).get(str(w), [0, 0.0])
    if n < policy.min_volume or state.get("spiked") == w:
        return None
    if now is not None and w < window_of(now, policy) - policy.window_seconds:
        return None
    history, _ = _baseline(state, w, policy)
    mean = sum(history) / len(history)
    std = max(policy.min_std, math.sqrt(sum((x - mean) ** 2 for x in history) / len(history)))
    value = total / 100
    z = (value - mean) / std
    if z < policy.z:
        return None
    state["spiked"] = w
    return _record("spike", key, w, policy, value=value, baseline_mean=mean, baseline_std=std,
                   z=z, articles=int(n))


def silence(key: str, state: dict[str, Any], now: float, policy: TrendPolicy
            ) -> dict[str, Any] | None:
    """A silence record if the last window that ended ``grace`` seconds before ``now`` was
    empty for ``key``."""
    last_complete = window_of(now - policy.grace, policy) - policy.window_seconds
    n, _ = state.get("w", {}).get(str(last_complete), [0, 0.0])
    if n or state.get("silenced") == last_complete:
        return None
    _, volumes = _baseline(state, last_complete, policy)
    usual = sum(volumes) / len(volumes)
    if usual < policy.min_volume:
        return None
    state["silenced"] = last_complete
    return _record("silence", key, last_complete, policy, value=0.0, baseline_mean=usual,
                   baseline_std=0.0, z=0.0, articles=0)


def _record(kind: str, key: str, w: int, policy: TrendPolicy, **fields: Any) -> dict[str, Any]:
    aid = hashlib.sha256(f"{kind}\x00{key}\x00{w}".encode()).hexdigest()[:32]
    return {"schema_version": SCHEMA_VERSION, "alert_id": aid, "kind": kind, "key": key,
            "countries": key.split("|"), "window_start": w,
            "window_seconds": policy.window_seconds, **fields, "created_at": utcnow_iso()}
