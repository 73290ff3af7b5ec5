"""The trends stage: an article's points per country (and pair), each point counted in
its key's windows, spikes as they happen and silences on sweeps. Pure logic over
:mod:`newsmon.trends`.

``windows`` maps a key (``"UA"``, ``"RU|UA"``) to its window state (a Faust table keyed
by country in the worker); ``clock`` holds the stream's time (``"now"``: the latest
event time seen), which silence is judged against.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from newsmon import trends
from newsmon.trends import TrendPolicy


def points(article: Mapping[str, Any], now: float) -> list[dict[str, Any]]:
    """The points ``article`` adds: one per country and pair key, at its event time."""
    ts = trends.event_time(article.get("published"), article.get("fetched_at"), now)
    score = article["tension"]["score"]
    return [{"key": k, "ts": ts, "score": score}
            for k in trends.keys_for(article.get("countries", []))]


def observe(windows: MutableMapping[str, Any], point: Mapping[str, Any], policy: TrendPolicy,
            clock: MutableMapping[str, float]) -> dict[str, Any] | None:
    """Count ``point`` in its key's windows; the spike record it causes, if any."""
    k = point["key"]
    state = windows.get(k) or {}
    w = trends.add(state, float(point["ts"]), float(point["score"]), policy)
    now = clock["now"] = max(clock.get("now", 0.0), float(point["ts"]))
    rec = trends.spike(k, state, w, policy, now)
    windows[k] = state
    return rec


def silences(windows: MutableMapping[str, Any], keys: Iterable[str], policy: TrendPolicy,
             clock: Mapping[str, float]) -> list[dict[str, Any]]:
    """The silence records of ``keys`` at the stream's time (none before any point)."""
    now = clock.get("now")
    if now is None:
        return []
    out = []
    for k in list(keys):
        state = windows.get(k)
        if state is None:
            continue
        rec = trends.silence(k, state, now, policy)
        if rec is not None:
            windows[k] = state
            out.append(rec)
    return out
