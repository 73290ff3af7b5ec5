"""Private internals of aiokafka that newsmon uses, and their start-up check.

* ``AIOKafkaConsumer._fetcher`` (made by ``start()``) and ``Fetcher._prefetch_backoff``:
  how long aiokafka holds back fetches to a broker while fetched records of one of its
  partitions wait to be taken, 0.1 s and not a consumer option
  (:func:`streams.delivery.prompt_fetches` shortens it).
* ``AIOKafkaProducer.client``: the producer's cluster client, asked to fetch a topic's
  metadata (:func:`streams.delivery.steady_partitions`).
"""

from __future__ import annotations

from typing import Any

DISTRIBUTION = "aiokafka"


def set_prefetch_backoff(consumer: Any, seconds: float) -> None:
    """Set the fetch hold-back of a started ``AIOKafkaConsumer``."""
    consumer._fetcher._prefetch_backoff = seconds


def request_metadata(producer: Any, topic: str) -> None:
    """Have an ``AIOKafkaProducer`` fetch ``topic``'s metadata with its next update."""
    producer.client.add_topic(topic)


def check() -> None:
    """Verify every private name this module relies on; raise CompatError if one is gone."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.client import AIOKafkaClient
    from aiokafka.consumer.fetcher import Fetcher

    from newsmon.compat import _verify

    _verify.assigned(DISTRIBUTION, AIOKafkaConsumer.start, ["_fetcher"])
    _verify.assigned(DISTRIBUTION, Fetcher.__init__, ["_prefetch_backoff"])
    _verify.parameters(DISTRIBUTION, Fetcher.__init__, ["prefetch_backoff"],
                       {"prefetch_backoff": 0.1})
    _verify.assigned(DISTRIBUTION, AIOKafkaProducer.__init__, ["client"])
    _verify.methods(DISTRIBUTION, AIOKafkaClient, ["add_topic"])
