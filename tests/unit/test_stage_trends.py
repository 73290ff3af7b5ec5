"""The trends stage: points per country and pair, spikes and silences over a dict
(no broker)."""

import copy
from typing import Any

from newsmon.stages.trends import observe, points, silences
from newsmon.trends import TrendPolicy


class Table(dict[str, Any]):
    """Like a Faust table: a value read is a copy, so only what is written back stays."""

    def get(self, key: str, default: Any = None) -> Any:
        return copy.deepcopy(super().get(key, default))


P = TrendPolicy(window_seconds=3600, baseline=6, z=3.0, min_volume=3, min_std=0.5)


def test_points_per_country_and_pair_at_the_event_time() -> None:
    art = {"countries": ["UA", "RU"], "tension": {"score": 42},
           "published": "2026-01-01T00:00:00Z", "fetched_at": "2026-01-01T00:05:00Z"}
    pts = points(art, now=1e10)
    assert [p["key"] for p in pts] == ["RU", "UA", "RU|UA"]
    assert {p["score"] for p in pts} == {42} and len({p["ts"] for p in pts}) == 1


def test_observe_spikes_once_and_advances_the_clock() -> None:
    windows = Table()
    clock: dict[str, float] = {}
    for h in range(6):
        for _ in range(3):
            assert observe(windows, {"key": "UA", "ts": h * 3600 + 60, "score": 20}, P,
                           clock) is None
    recs = [observe(windows, {"key": "UA", "ts": 6 * 3600 + 60, "score": 90}, P, clock)
            for _ in range(10)]
    spikes = [r for r in recs if r is not None]
    assert len(spikes) == 1 and spikes[0]["kind"] == "spike"
    assert clock["now"] == 6 * 3600 + 60
    assert set(windows) == {"UA"}


def test_silences_only_after_a_point_and_only_for_the_keys_given() -> None:
    windows = Table()
    clock: dict[str, float] = {}
    assert silences(windows, [], P, clock) == []
    for h in range(6):
        for _ in range(4):
            for key in ("UA", "FR"):
                observe(windows, {"key": key, "ts": h * 3600 + 60, "score": 10}, P, clock)
    clock["now"] = 7 * 3600 + 700  # hour 6 ended empty
    recs = silences(windows, ["UA"], P, clock)
    assert [(r["kind"], r["key"]) for r in recs] == [("silence", "UA")]
    assert silences(windows, ["UA"], P, clock) == []  # reported once
    assert windows["FR"].get("silenced") is None
