"""Real processes and real Kafka reads for the integration tests."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from newsmon.kafka_local import free_port
from newsmon.records import RawArticle, dumps, loads


def isolated_env(bootstrap: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """Environment for newsmon processes with topics and group of their own."""
    uid = uuid.uuid4().hex[:8]
    env = dict(os.environ)
    env.update({
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "NEWSMON_APP_ID": f"newsmon-test-{uid}",
        "NEWSMON_TOPIC_RAW": f"t{uid}.raw",
        "NEWSMON_TOPIC_UNIQUE": f"t{uid}.unique",
        "NEWSMON_TOPIC_BANDS": f"t{uid}.bands",
        "NEWSMON_TOPIC_BANDHITS": f"t{uid}.bandhits",
        "NEWSMON_TOPIC_ANALYZE": f"t{uid}.analyze",
        "NEWSMON_TOPIC_STORIES": f"t{uid}.stories",
        "NEWSMON_TOPIC_COUNTRIES": f"t{uid}.countries",
        "NEWSMON_TOPIC_TREND_ALERTS": f"t{uid}.trends",
        "NEWSMON_TOPIC_SWEEPS": f"t{uid}.sweeps",
        "NEWSMON_TOPIC_ARTICLES": f"t{uid}.articles",
        "NEWSMON_TOPIC_ALERTS": f"t{uid}.alerts",
        "NEWSMON_TOPIC_DEADLETTER": f"t{uid}.deadletter",
        "NEWSMON_TOPIC_NOTIFY_DELIVERED": f"t{uid}.notify.delivered",
        "NEWSMON_TOPIC_NOTIFY_DEADLETTER": f"t{uid}.notify.deadletter",
        "NEWSMON_NOTIFY_GROUP": f"newsmon-notify-test-{uid}",
        "NEWSMON_NOTIFY_METRICS_PORT": str(free_port()),
        "NEWSMON_DATA_DIR": str(tmp_path / "data"),
        "NEWSMON_WORKER_METRICS_PORT": str(free_port()),
        "NEWSMON_CONNECTOR_METRICS_PORT": str(free_port()),
        "NEWSMON_PARTITIONS": "4",
        # One analysis process per worker (the default is one per CPU): several
        # workers, the broker and the test share the machine. test_e2e runs two.
        "NEWSMON_ANALYSIS_PROCESSES": "1",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def newsmon(*args: str, env: dict[str, str],
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsmon.cli", *args], env=env, text=True,
                          capture_output=True, timeout=timeout, check=False)


@contextmanager
def worker(env: dict[str, str], log_path: Path, command: str = "worker",
           module: str = "newsmon.cli", args: Sequence[str] | None = None,
           append: bool = False) -> Iterator[subprocess.Popen[bytes]]:
    """A ``newsmon worker`` (or other long-running ``command``, or the whole argument
    list ``args``; ``module`` runs instead of the CLI) process, stopped with SIGTERM at
    the end; its output goes to ``log_path`` (appended to with ``append``)."""
    argv = list(args) if args is not None else [command]
    with log_path.open("ab" if append else "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", module, *argv], env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)


def metrics_text(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        return str(resp.read().decode())


def metric_value(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def read_topic(bootstrap: str, topic: str, done: Callable[[list[Any]], bool],
               timeout: float = 180.0) -> list[dict[str, Any]]:
    """Read ``topic`` from the beginning until ``done(records)`` or the timeout."""

    async def run() -> list[dict[str, Any]]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        out: list[dict[str, Any]] = []
        try:
            deadline = time.monotonic() + timeout
            parts: set[int] = set()
            while not parts and time.monotonic() < deadline:
                parts = consumer.partitions_for_topic(topic) or set()
                if not parts:
                    await consumer._client.force_metadata_update()
                    await asyncio.sleep(0.5)
            consumer.assign([TopicPartition(topic, p) for p in parts])
            while time.monotonic() < deadline and not done(out):
                batch = await consumer.getmany(timeout_ms=500)
                for msgs in batch.values():
                    for m in msgs:
                        rec = loads(m.value)
                        rec["_key"] = m.key.decode() if m.key else None
                        rec["_partition"], rec["_offset"] = m.partition, m.offset
                        out.append(rec)
        finally:
            await consumer.stop()
        return out

    return asyncio.run(run())


def read_all(bootstrap: str, topic: str, settle: float = 3.0) -> list[dict[str, Any]]:
    """Everything currently in ``topic`` (reads until nothing new for ``settle`` s)."""
    state = {"n": -1, "t": time.monotonic()}

    def done(recs: list[Any]) -> bool:
        if len(recs) != state["n"]:
            state["n"], state["t"] = len(recs), time.monotonic()
        return time.monotonic() - state["t"] > settle

    return read_topic(bootstrap, topic, done, timeout=60)


def committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int | None]:
    """The group's committed offset per partition of ``topic`` (diagnostics)."""

    async def run() -> dict[int, int | None]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                    enable_auto_commit=False)
        await consumer.start()
        try:
            return {p: await consumer.committed(TopicPartition(topic, p))
                    for p in range(partitions)}
        finally:
            await consumer.stop()

    return asyncio.run(run())


async def produce_raws(bootstrap: str, topic: str, raws: list[RawArticle]) -> None:
    """Publish raw articles keyed by id, as the connector does (idempotent, acks=all)."""
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all",
                         linger_ms=5, request_timeout_ms=60000)
    await p.start()
    try:
        futs = [await p.send(topic, dumps(r.to_dict()), key=r.id.encode()) for r in raws]
        await asyncio.gather(*futs)
    finally:
        await p.stop()
