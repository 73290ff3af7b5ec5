"""A real single-node Apache Kafka (KRaft) assembled from Maven Central jars.

No Docker and no Apache download mirror are needed: Maven resolves
``org.apache.kafka:kafka_2.13`` plus a logging backend into a cached ``lib/``
folder, the storage is formatted once, and ``kafka.Kafka`` runs in combined
broker+controller mode on 127.0.0.1 with free ports.

    with LocalKafka() as kafka:
        print(kafka.bootstrap_servers)   # "127.0.0.1:NNNNN"

When ``KAFKA_BOOTSTRAP_SERVERS`` is set, :func:`ensure_kafka` starts nothing and
returns that address instead.

The jar cache lives in ``$NEWSMON_CACHE_DIR`` (default ``~/.cache/newsmon``); a
second run does not download again, and a missing cache is simply rebuilt.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

KAFKA_VERSION = "3.9.1"
_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>newsmon</groupId><artifactId>kafka-local</artifactId>
  <version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{version}</version></dependency>
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId>
      <version>1.2.25</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId>
      <version>1.7.36</version></dependency>
  </dependencies>
</project>
"""
_LOG4J = """log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.controller=WARN
log4j.logger.kafka.log.LogCleaner=WARN
"""


class KafkaStartError(RuntimeError):
    """The local broker could not be assembled or did not become ready."""


def cache_dir() -> Path:
    return Path(os.environ.get("NEWSMON_CACHE_DIR", Path.home() / ".cache" / "newsmon"))


def ensure_jars(version: str = KAFKA_VERSION) -> Path:
    """Return a folder holding the broker's runtime jars, downloading them once."""
    home = cache_dir() / f"kafka-{version}"
    lib = home / "lib"
    marker = home / ".complete"
    if marker.exists() and any(lib.glob("kafka_2.13-*.jar")):
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaStartError("Maven ('mvn') is needed to fetch the Kafka jars; install it first")
    home.mkdir(parents=True, exist_ok=True)
    pom = home / "pom.xml"
    pom.write_text(_POM.format(version=version))
    tmp_lib = home / "lib.tmp"
    shutil.rmtree(tmp_lib, ignore_errors=True)
    log.info("fetching Apache Kafka %s jars from Maven Central into %s", version, lib)
    proc = subprocess.run(
        [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
         "-DincludeScope=runtime", f"-DoutputDirectory={tmp_lib.resolve()}"],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise KafkaStartError(
            f"mvn failed ({proc.returncode}): {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    shutil.rmtree(lib, ignore_errors=True)
    tmp_lib.rename(lib)
    marker.write_text(version)
    return lib


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie, left for its parent to reap, has an
    empty command line)."""
    try:
        return not Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class LocalKafka:
    """One KRaft broker+controller process on 127.0.0.1.

    ``data_dir`` keeps the log directory between runs (the cluster id is stored
    beside it); without it a temporary folder is used and removed on stop.
    """

    def __init__(self, data_dir: Path | None = None, port: int | None = None,
                 heap: str = "-Xms256m -Xmx512m", start_timeout: float = 90.0) -> None:
        self._own_dir = data_dir is None
        self.data_dir = (Path(data_dir) if data_dir
                         else Path(tempfile.mkdtemp(prefix="newsmon-kafka-")))
        self.port = port or free_port()
        self.controller_port = free_port()
        self.heap = heap
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir / "broker.log"

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _write_config(self) -> Path:
        logs = self.data_dir / "logs"
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(logs),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
            "log.retention.hours": "168",
        }
        cfg = self.data_dir / "server.properties"
        cfg.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.data_dir / "log4j.properties").write_text(_LOG4J)
        return cfg

    def _java(self, lib: Path, main: str, *args: str) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise KafkaStartError("Java 17 ('java') is needed to run the local Kafka broker")
        return [java, *self.heap.split(), "-XX:+UseG1GC", "-Djava.awt.headless=true",
                f"-Dlog4j.configuration=file:{self.data_dir / 'log4j.properties'}",
                "-cp", f"{lib}/*", main, *args]

    def _stop_stale(self, timeout: float = 30.0) -> None:
        """Stop a broker that a killed run left on this data directory (its pid in
        ``broker.pid``, its command line naming this directory's configuration): two
        brokers cannot share a log directory. Linux only (``/proc``)."""
        try:
            pid = int((self.data_dir / "broker.pid").read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if str(self.data_dir / "server.properties").encode() not in cmdline:
            return
        log.warning("stopping the local Kafka broker (pid %d) that a previous run left "
                    "running on %s", pid, self.data_dir)
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if _gone(pid):
                    return
                time.sleep(0.2)

    def start(self) -> LocalKafka:
        lib = ensure_jars()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._stop_stale()
        cfg = self._write_config()
        id_file = self.data_dir / "cluster.id"
        if not id_file.exists():
            id_file.write_text(_cluster_id())
        fmt = subprocess.run(
            # "--cluster-id=ID": a random id may start with "-", which argparse
            # would otherwise take for an option.
            self._java(lib, "kafka.tools.StorageTool", "format",
                       f"--cluster-id={id_file.read_text().strip()}",
                       "-c", str(cfg), "--ignore-formatted"),
            capture_output=True, text=True, check=False,
        )
        if fmt.returncode != 0:
            raise KafkaStartError(f"storage format failed: {fmt.stdout}{fmt.stderr}")
        out = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self._java(lib, "kafka.Kafka", str(cfg)),
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        out.close()
        (self.data_dir / "broker.pid").write_text(str(self.proc.pid))
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        log.info("local Kafka %s ready at %s", KAFKA_VERSION, self.bootstrap_servers)
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise KafkaStartError(
                    f"broker exited with {self.proc.returncode}:\n{self.tail_log()}")
            if (_port_open(self.port) and "Kafka Server started" in self.tail_log(200_000)
                    and _metadata_ok(self.bootstrap_servers)):
                return
            time.sleep(0.3)
        raise KafkaStartError(f"broker not ready after {self.start_timeout}s:\n{self.tail_log()}")

    def tail_log(self, n: int = 4000) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-n:].decode("utf-8", "replace")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker: SIGTERM for a clean shutdown, SIGKILL after ``timeout``."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL the broker (for crash tests); :meth:`start` may be called again."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def __enter__(self) -> LocalKafka:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _cluster_id() -> str:
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _metadata_ok(bootstrap: str) -> bool:
    """True when a Kafka client can fetch cluster metadata from ``bootstrap``."""
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.describe_cluster()
            return True
        except Exception:  # noqa: BLE001 - any failure means "not ready yet"
            return False
        finally:
            with contextlib.suppress(Exception):
                await admin.close()

    try:
        return asyncio.run(probe())
    except RuntimeError:  # already inside a running loop: trust the log line and port
        return True


@contextlib.contextmanager
def ensure_kafka(bootstrap: str | None = None, data_dir: Path | None = None) -> Iterator[str]:
    """Yield a bootstrap address: the configured cluster, or a local broker we start."""
    configured = bootstrap or os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    with LocalKafka(data_dir=data_dir) as kafka:
        yield kafka.bootstrap_servers
