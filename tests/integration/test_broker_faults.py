"""The broker SIGKILLed and restarted, then SIGSTOPped past the client timeouts, while a
connector polls a growing feed and a worker enriches it: both recover by themselves,
nothing is lost, and the retries show in their metrics."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from newsmon.kafka_local import LocalKafka
from newsmon.settings import Settings
from newsmon.topics import ensure_topics
from tests.helpers import Item, http_server, rss
from tests.integration.procs import (
    isolated_env,
    metric_value,
    metrics_text,
    read_topic,
    worker,
)
from tests.integration.test_crash import articles

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_broker_killed_and_paused(tmp_path: Path) -> None:
    kafka = LocalKafka(data_dir=tmp_path / "kafka")
    kafka.start()
    raws = articles(300, seed=5)
    items = [Item(r.title, r.url, r.summary or "") for r in raws]
    feed = {"/grow.xml": (200, {"Content-Type": "application/rss+xml"}, rss(items[:100]))}

    def grow(n: int) -> None:  # the feed gains entries while the broker is away
        feed["/grow.xml"] = (200, {"Content-Type": "application/rss+xml"}, rss(items[:n]))

    try:
        with http_server(feed) as base:
            bootstrap = kafka.bootstrap_servers
            feeds = tmp_path / "feeds.yml"
            feeds.write_text("allow_private_addresses: [127.0.0.1/32]\nmin_interval: 1\n"
                             f"feeds:\n  - url: {base}/grow.xml\n    interval: 1\n")
            env = isolated_env(bootstrap, tmp_path, NEWSMON_FEEDS_FILE=str(feeds))
            asyncio.run(ensure_topics(Settings.from_env(env)))
            ports = {"connector": int(env["NEWSMON_CONNECTOR_METRICS_PORT"]),
                     "worker": int(env["NEWSMON_WORKER_METRICS_PORT"])}
            with worker(env, tmp_path / "worker.log") as wproc, \
                    worker(env, tmp_path / "connector.log", "connector") as cproc:
                read_topic(bootstrap, env["NEWSMON_TOPIC_ARTICLES"], lambda r: len(r) >= 20,
                           timeout=180)
                kafka.kill()  # mid-stream
                grow(200)
                time.sleep(5)
                kafka.start()
                time.sleep(5)
                assert kafka.proc is not None
                os.killpg(kafka.proc.pid, signal.SIGSTOP)  # longer than the request timeouts
                grow(300)
                time.sleep(45)
                os.killpg(kafka.proc.pid, signal.SIGCONT)
                out = read_topic(bootstrap, env["NEWSMON_TOPIC_ARTICLES"],
                                 lambda r: wproc.poll() is not None or cproc.poll() is not None
                                 or {a["id"] for a in r} >= {x.id for x in raws}, timeout=400)
                assert wproc.poll() is None, "the worker died instead of recovering"
                assert cproc.poll() is None, "the connector died instead of recovering"
                seen = {name: metrics_text(port) for name, port in ports.items()}
        missing = {x.id for x in raws} - {a["id"] for a in out}
        assert not missing, f"{len(missing)} of {len(raws)} articles lost"
        retries = {name: metric_value(text, "newsmon_kafka_client_warnings_total")
                   for name, text in seen.items()}
        unacked = metric_value(seen["connector"], "newsmon_publish_errors_total")
        # A worker that re-executed itself (wedged client) counts afresh from then on.
        reexecs = metric_value(seen["worker"], "newsmon_worker_reexecs")
        assert retries["connector"] > 0 and (retries["worker"] > 0 or reexecs > 0), (
            retries, reexecs)
        print(f"\nbroker killed and paused: {len(raws)} articles through connector and "
              f"worker, none lost, {len(out) - len({a['id'] for a in out})} redelivered; "
              f"client retries logged: {retries}; records Kafka did not acknowledge "
              f"(re-sent): {unacked:.0f}; worker re-executions: {reexecs:.0f}")
    finally:
        kafka.stop()
