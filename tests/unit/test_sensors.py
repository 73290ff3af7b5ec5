"""The cached Prometheus sensor exports what faust's own exports, rebalances included."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP
from prometheus_client import CollectorRegistry

from streams.sensors import CachedPrometheusMonitor


class Owner:
    pass


class FakeStream:
    def __init__(self, label: str) -> None:
        self.shortlabel = f"Stream: {label}"
        self.task_owner = Owner()

    def __str__(self) -> str:
        return self.shortlabel


def samples(reg: CollectorRegistry) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    return {(s.name, tuple(sorted(s.labels.items())), s.value)
            for metric in reg.collect() for s in metric.samples
            if not s.name.endswith("_created")}


def traffic(mon: Any, streams: list[FakeStream], round_: int) -> None:
    table = SimpleNamespace(name="seen-ids")
    for i in range(30):
        tp = TP(f"news.t{i % 3}", i % 4)
        mon.on_message_in(tp, 100 * round_ + i, SimpleNamespace())
        mon.on_stream_event_in(tp, i, streams[i % 2], None)
        mon.on_table_get(table, b"k")
        if i % 2:
            mon.on_table_set(table, b"k", b"v")
        else:
            mon.on_table_del(table, b"k")
        mon.on_send_initiated(None, f"news.out{i % 2}", None, 1, 1)
        mon.track_tp_end_offset(tp, 1000 * round_ + i)


def test_same_series_as_faust_before_and_after_a_rebalance_clears_them() -> None:
    regs = [CollectorRegistry(), CollectorRegistry()]
    mons = [PrometheusMonitor(metrics=FaustMetrics.create(regs[0], "t")),
            CachedPrometheusMonitor(metrics=FaustMetrics.create(regs[1], "t"))]
    streams = [FakeStream("dedup"), FakeStream("bands")]
    for round_ in range(3):
        for mon in mons:
            traffic(mon, streams, round_)
        got, want = samples(regs[1]), samples(regs[0])
        assert got == want
        assert ("t_topic_partition_end_offset",
                (("partition", "3"), ("topic", "news.t0")), 1000 * round_ + 27) in got
        for mon in mons:  # what faust does when a rebalance ends
            mon._clear_partition_related_metrics()
        assert samples(regs[1]) == samples(regs[0])
