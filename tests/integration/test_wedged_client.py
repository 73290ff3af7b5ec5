"""A worker whose Kafka client wedges (commits that never finish) re-executes itself in
place and loses nothing (streams.delivery, guard 3)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from newsmon.settings import Settings
from newsmon.topics import ensure_topics
from tests.integration.procs import (
    isolated_env,
    metric_value,
    metrics_text,
    produce_raws,
    read_topic,
    worker,
)
from tests.integration.test_crash import articles

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def test_a_wedged_worker_reexecutes_itself_and_loses_nothing(kafka_bootstrap: str,
                                                              tmp_path: Path) -> None:
    env = isolated_env(kafka_bootstrap, tmp_path, NEWSMON_WEDGED_AFTER="5",
                       NEWSMON_ANALYSIS_PROCESSES="1")
    env["PYTHONPATH"] = str(ROOT)
    asyncio.run(ensure_topics(Settings.from_env(env)))
    raws = articles(60, seed=7)
    log_path = tmp_path / "worker.log"
    with worker(env, log_path, module="tests.integration.wedged_worker") as proc:
        asyncio.run(produce_raws(kafka_bootstrap, env["NEWSMON_TOPIC_RAW"], raws))
        out = read_topic(kafka_bootstrap, env["NEWSMON_TOPIC_ARTICLES"],
                         lambda r: proc.poll() is not None
                         or {a["id"] for a in r} >= {x.id for x in raws}, timeout=240)
        assert proc.poll() is None, "the worker exited instead of restarting in place"
        text = metrics_text(int(env["NEWSMON_WORKER_METRICS_PORT"]))
    missing = {x.id for x in raws} - {a["id"] for a in out}
    assert not missing, f"{len(missing)} of {len(raws)} articles lost"
    logged = log_path.read_text("utf-8", "replace")
    assert logged.count("the client is wedged") == 1, logged[-3000:]
    assert metric_value(text, "newsmon_worker_reexecs") == 1
