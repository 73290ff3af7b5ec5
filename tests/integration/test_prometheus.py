"""A real Prometheus server scrapes a running worker; queries return newsmon's series."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from newsmon.kafka_local import free_port
from newsmon.records import RawArticle, dumps
from newsmon.settings import Settings
from newsmon.topics import ensure_topics
from tests.helpers import ROOT, seed_items
from tests.integration.procs import isolated_env, read_topic, worker

pytestmark = pytest.mark.integration


def query(port: int, expr: str) -> list[dict]:  # type: ignore[type-arg]
    url = f"http://127.0.0.1:{port}/api/v1/query?query={urllib.parse.quote(expr)}"
    with urllib.request.urlopen(url, timeout=5) as resp:
        data = json.loads(resp.read())
    assert data["status"] == "success"
    return list(data["data"]["result"])


def test_prometheus_scrapes_the_worker(kafka_bootstrap: str, tmp_path: Path) -> None:
    prometheus = shutil.which("prometheus")
    assert prometheus, "the prometheus server (Debian package) is installed by scripts/test"
    env = isolated_env(kafka_bootstrap, tmp_path)
    asyncio.run(ensure_topics(Settings.from_env(env)))
    wport, pport = int(env["NEWSMON_WORKER_METRICS_PORT"]), free_port()
    cfg = tmp_path / "prometheus.yml"
    shutil.copy(ROOT / "deploy/prometheus/rules.yml", tmp_path / "rules.yml")
    cfg.write_text(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
scrape_configs:
  - job_name: newsmon-worker
    static_configs:
      - targets: ["127.0.0.1:{wport}"]
""")
    main, _ = seed_items()
    raw = RawArticle(id="prom-seed", title=main.title, url=main.url, content=main.content)

    async def produce() -> None:
        p = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await p.start()
        await p.send_and_wait(env["NEWSMON_TOPIC_RAW"], dumps(raw.to_dict()), key=b"prom-seed")
        await p.stop()

    with worker(env, tmp_path / "worker.log") as proc:
        asyncio.run(produce())
        read_topic(kafka_bootstrap, env["NEWSMON_TOPIC_ALERTS"],
                   lambda r: len(r) >= 1 or proc.poll() is not None, timeout=120)
        prom = subprocess.Popen(
            [prometheus, f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{pport}"],
            stdout=subprocess.DEVNULL, stderr=(tmp_path / "prom.log").open("wb"))
        try:
            deadline = time.monotonic() + 60
            enriched: list = []  # type: ignore[type-arg]
            while time.monotonic() < deadline:
                try:
                    enriched = query(pport, "newsmon_articles_enriched_total")
                    index = query(pport, 'newsmon_tension_index{country="UA"}')
                    rate = query(pport, "newsmon:articles_enriched:rate5m")
                    if enriched and index and rate:
                        break
                except OSError:
                    pass
                time.sleep(1)
            assert enriched and float(enriched[0]["value"][1]) >= 1, \
                (tmp_path / "prom.log").read_text()[-2000:]
            assert float(index[0]["value"][1]) > 50
            assert rate, "recording rules are evaluated"
            up = query(pport, 'up{job="newsmon-worker"}')
            assert up and up[0]["value"][1] == "1"
            assert query(pport, 'newsmon_alerts_total{rule="tension-threshold"}')
            assert query(pport, "newsmon_faust_messages_received_total")
            # series the cached sensor hooks keep (streams/sensors.py); the lag rules read
            # the end offsets
            assert query(pport, "newsmon_faust_topic_partition_end_offset")
            assert query(pport, 'newsmon_faust_table_operations_total{operation="keys_updated"}')
            assert query(pport, "newsmon_faust_total_events_per_stream_total")
        finally:
            prom.terminate()
            prom.wait(20)
