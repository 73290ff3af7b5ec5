import asyncio
import os
import subprocess
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from newsmon.kafka_local import LocalKafka, ensure_kafka

pytestmark = pytest.mark.integration


def java_pids() -> set[int]:
    out = subprocess.run(["pgrep", "-f", "kafka.Kafka"], capture_output=True, text=True)
    return {int(p) for p in out.stdout.split()}


async def round_trip(bootstrap: str) -> bytes:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    await producer.send_and_wait("smoke", b"hello", key=b"k")
    await producer.stop()
    consumer = AIOKafkaConsumer("smoke", bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    try:
        msg = await asyncio.wait_for(consumer.getone(), 30)
    finally:
        await consumer.stop()
    return bytes(msg.value)


def test_local_broker_starts_serves_and_stops_without_orphans(tmp_path: Path) -> None:
    before = java_pids()
    kafka = LocalKafka(data_dir=tmp_path / "k")
    with kafka:
        assert kafka.proc is not None
        pid = kafka.proc.pid
        assert pid in java_pids()
        assert kafka.bootstrap_servers.startswith("127.0.0.1:")
        assert asyncio.run(round_trip(kafka.bootstrap_servers)) == b"hello"
    assert pid not in java_pids()
    assert java_pids() <= before
    # The data dir is kept and reused (same cluster id) on the next start.
    with LocalKafka(data_dir=tmp_path / "k") as again:
        assert asyncio.run(round_trip(again.bootstrap_servers)) == b"hello"


def test_a_broker_left_running_on_the_data_dir_is_stopped_first(tmp_path: Path) -> None:
    # `newsmon run` killed with SIGKILL leaves its broker running; the next start on
    # the same data directory stops it instead of failing on the locked log directory
    left = LocalKafka(data_dir=tmp_path / "k").start()
    assert left.proc is not None
    try:
        with LocalKafka(data_dir=tmp_path / "k") as again:
            assert left.proc.poll() is not None
            assert asyncio.run(round_trip(again.bootstrap_servers)) == b"hello"
    finally:
        left.stop()


def test_configured_bootstrap_starts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "10.255.255.1:9092")
    before = java_pids()
    with ensure_kafka() as bootstrap:
        assert bootstrap == "10.255.255.1:9092"
        assert java_pids() == before
    assert os.environ["KAFKA_BOOTSTRAP_SERVERS"] == "10.255.255.1:9092"
