"""The trends stage: per-country (and pair) tumbling windows, keyed by country;
spikes as they happen, silences on sweeps (``newsmon.stages.trends``)."""

from __future__ import annotations

from typing import Any

import faust

from newsmon import metrics
from newsmon.records import dumps, loads
from newsmon.stages import trends
from newsmon.trends import TrendPolicy
from streams.frames import Frames
from streams.topology import Topology


def install(topo: Topology, frames: Frames) -> None:
    s = topo.settings
    policy = TrendPolicy(s.trend_window_seconds, s.trend_baseline_windows, s.trend_z,
                         s.trend_min_volume)
    windows = topo.country_windows
    clock: dict[str, float] = {}  # the stream's time: the latest event time seen

    async def send(rec: dict[str, Any], kind: str) -> None:
        await topo.trend_alerts.send(key=rec["alert_id"].encode(), value=dumps(rec))
        metrics.alerts.labels(kind).inc()

    async def silence(part: int) -> None:
        mine = [k for k in windows if topo.mine(k, part)]
        for rec in trends.silences(windows, mine, policy, clock):
            await send(rec, "trend-silence")

    async def one(key: bytes, value: bytes, event: Any) -> None:
        rec = trends.observe(windows, loads(value), policy, clock)
        if rec is not None:
            await send(rec, "trend-spike")

    @topo.app.agent(topo.countries, name="trends")
    async def agent(stream: faust.StreamT[bytes]) -> None:
        await frames.each_record(stream, "trends", one, silence)
