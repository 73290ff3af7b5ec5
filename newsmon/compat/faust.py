"""Private internals of faust-streaming that newsmon uses, and their start-up check.

* ``App._new_consumer`` / ``App._new_producer``: where the transport consumer and
  producer are made; :class:`HookedApp` turns them into public hooks.
* The transport consumer's ``_committed_offset``, ``_is_changelog_tp`` and ``_add_gap``
  (the at-least-once guards of :mod:`streams.delivery`), and its ``_thread`` with the
  thread's ``_create_consumer`` (where the aiokafka consumer is made).
* The aiokafka driver producer's ``_producer``: its ``AIOKafkaProducer``.
* ``PrometheusMonitor._metrics``, ``_stream_label`` and
  ``_clear_partition_related_metrics`` (:mod:`streams.sensors`);
  :class:`PrometheusMonitorBase` gives them public names.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import faust
from faust.sensors.prometheus import PrometheusMonitor
from faust.types import TP, ConsumerT, ProducerT, StreamT

DISTRIBUTION = "faust-streaming"

AddGap = Callable[[TP, int, int], Awaitable[None]]


class HookedApp(faust.App):
    """``faust.App`` with public hooks on the consumer and producer it makes."""

    def consumer_created(self, consumer: ConsumerT) -> ConsumerT:
        return consumer

    def producer_created(self, producer: ProducerT) -> ProducerT:
        return producer

    def _new_consumer(self) -> ConsumerT:
        return self.consumer_created(super()._new_consumer())

    def _new_producer(self) -> ProducerT:
        return self.producer_created(super()._new_producer())


class PrometheusMonitorBase(PrometheusMonitor):
    """``PrometheusMonitor`` with its private parts under public names."""

    @property
    def metrics(self) -> Any:
        """The ``FaustMetrics`` this monitor updates."""
        return self._metrics

    def stream_label(self, stream: StreamT[Any]) -> str:
        return str(self._stream_label(stream))

    def on_partition_metrics_cleared(self) -> None:
        """Called after faust dropped its topic/partition series (after a rebalance)."""

    def _clear_partition_related_metrics(self) -> None:
        super()._clear_partition_related_metrics()
        self.on_partition_metrics_cleared()


def app_metrics(app: faust.App) -> Any:
    """The ``FaustMetrics`` of the monitor ``setup_prometheus_sensors`` installed."""
    return app.monitor._metrics  # type: ignore[attr-defined]


def committed_offsets(consumer: ConsumerT) -> Mapping[TP, int | None]:
    return consumer._committed_offset  # type: ignore[attr-defined, no-any-return]


def is_changelog_tp(consumer: ConsumerT, tp: TP) -> bool:
    return bool(consumer._is_changelog_tp(tp))  # type: ignore[attr-defined]


def wrap_add_gap(consumer: ConsumerT, wrap: Callable[[AddGap], AddGap]) -> None:
    """Replace the consumer's gap bookkeeping (offsets it treats as acknowledged) with
    ``wrap`` of it."""
    consumer._add_gap = wrap(consumer._add_gap)  # type: ignore[attr-defined]


def wrap_create_consumer(consumer: ConsumerT,
                         wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Replace how the consumer's thread makes its ``AIOKafkaConsumer`` with ``wrap`` of it."""
    thread = consumer._thread  # type: ignore[attr-defined]
    thread._create_consumer = wrap(thread._create_consumer)


def kafka_producer(producer: ProducerT) -> Any:
    """The driver producer's ``AIOKafkaProducer`` (None before it started)."""
    return producer._producer  # type: ignore[attr-defined]


def check() -> None:
    """Verify every private name this module relies on; raise CompatError if one is gone."""
    from faust.transport import consumer as base
    from faust.transport.drivers import aiokafka as driver

    from newsmon.compat import _verify

    d = DISTRIBUTION
    _verify.methods(d, faust.App, ["_new_consumer", "_new_producer"])
    _verify.assigned(d, base.Consumer.__init__, ["_committed_offset"])
    _verify.methods(d, driver.Consumer, ["_is_changelog_tp", "_add_gap"])
    _verify.parameters(d, driver.Consumer._add_gap, ["tp", "offset_from", "offset_to"])
    _verify.assigned(d, base.ThreadDelegateConsumer.__init__, ["_thread"])
    _verify.methods(d, driver.AIOKafkaConsumerThread, ["_create_consumer"])
    _verify.parameters(d, driver.AIOKafkaConsumerThread._create_consumer, ["loop"])
    _verify.attributes(d, driver.Producer, ["_producer"])
    _verify.assigned(d, PrometheusMonitor.__init__, ["_metrics"])
    _verify.methods(d, PrometheusMonitor, ["_stream_label", "_clear_partition_related_metrics"])
