"""The broker SIGKILLed and restarted, then SIGSTOPped past the client timeouts: the worker
recovers by itself and nothing acknowledged is lost."""

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
from tests.integration.procs import isolated_env, produce_raws, read_topic, worker
from tests.integration.test_crash import articles

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_broker_killed_and_paused(tmp_path: Path) -> None:
    kafka = LocalKafka(data_dir=tmp_path / "kafka")
    kafka.start()
    try:
        bootstrap = kafka.bootstrap_servers
        env = isolated_env(bootstrap, tmp_path)
        asyncio.run(ensure_topics(Settings.from_env(env)))
        raws = articles(300, seed=5)
        parts = [raws[:100], raws[100:200], raws[200:]]
        with worker(env, tmp_path / "worker.log") as proc:
            asyncio.run(produce_raws(bootstrap, env["NEWSMON_TOPIC_RAW"], parts[0]))
            read_topic(bootstrap, env["NEWSMON_TOPIC_ARTICLES"], lambda r: len(r) >= 20,
                       timeout=180)
            kafka.kill()  # mid-stream
            time.sleep(5)
            kafka.start()
            asyncio.run(produce_raws(bootstrap, env["NEWSMON_TOPIC_RAW"], parts[1]))
            assert kafka.proc is not None
            os.killpg(kafka.proc.pid, signal.SIGSTOP)  # longer than the request timeouts
            time.sleep(45)
            os.killpg(kafka.proc.pid, signal.SIGCONT)
            asyncio.run(produce_raws(bootstrap, env["NEWSMON_TOPIC_RAW"], parts[2]))
            out = read_topic(bootstrap, env["NEWSMON_TOPIC_ARTICLES"],
                             lambda r: proc.poll() is not None
                             or {a["id"] for a in r} >= {x.id for x in raws}, timeout=400)
            assert proc.poll() is None, "the worker died instead of recovering"
        missing = {x.id for x in raws} - {a["id"] for a in out}
        assert not missing, f"{len(missing)} of {len(raws)} articles lost"
        print(f"\nbroker killed and paused: {len(raws)} articles, none lost, "
              f"{len(out) - len({a['id'] for a in out})} redelivered")
    finally:
        kafka.stop()
