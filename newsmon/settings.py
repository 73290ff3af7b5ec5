"""Runtime settings: one immutable value object, read from the environment.

Every setting has a default that works on one machine; the environment
(``NEWSMON_*``, plus the standard ``KAFKA_BOOTSTRAP_SERVERS``) overrides it,
and the CLI overrides the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Topics:
    raw: str = "news.raw"
    unique: str = "news.unique"
    bands: str = "news.bands"
    bandhits: str = "news.bandhits"
    analyze: str = "news.analyze"
    stories: str = "news.stories"
    countries: str = "news.countries"
    trend_alerts: str = "news.alerts.trends"
    sweeps: str = "news.sweeps"
    articles: str = "news.articles"
    alerts: str = "news.alerts"
    deadletter: str = "news.deadletter"


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class Settings:
    bootstrap_servers: str | None = None
    topics: Topics = field(default_factory=Topics)
    partitions: int = 4
    # The LSH band index's own partition count (topic news.bands and the lsh-memberships
    # changelog). An article's 20 bands spread over every bands partition, and each costs
    # it a probe, an answer and a membership record: 1 partition is 3 records per article
    # instead of 12 with 4. The lookup itself is 0.06 ms per article, so one partition's
    # stage costs little beside the analysis. Raise it only when one worker's band
    # lookups are the bound. An existing bands topic keeps its count; the worker uses
    # that (newsmon.topics).
    band_partitions: int = 1
    app_id: str = "newsmon"
    alert_threshold: int = 60
    dedup_window_hours: float = 72.0
    lexicon_file: Path | None = None
    rules_file: Path | None = None
    trend_window_seconds: int = 3600
    sweep_seconds: float = 30.0
    session_timeout: float = 30.0
    # One analysis process per usable CPU: spaCy runs there, beside the event loop.
    # On the 2-core machine 2 processes moved 53-55 full-text articles/s end to end
    # against 42-47 for 1 (docs/benchmarks.md); each holds the model (~160 MB).
    analysis_processes: int = field(default_factory=usable_cpus)
    # Niceness added to the analysis processes (os.nice), so the event loop and a local
    # broker run first when the cores are busy: their work per record is short, the
    # analysis's long, and every hop of an article otherwise waits behind analysis time
    # slices. 0 (the default) leaves them at the worker's priority: with 10 on the 2-core
    # machine, where the analysis is the bound, raw -> alert p99 at 35/s was 1,798 ms
    # (docs/benchmarks.md, ninth session).
    analysis_nice: int = 0
    trend_baseline_windows: int = 24
    trend_z: float = 3.0
    trend_min_volume: int = 5
    ner_lead_chars: int = 200  # = newsmon.analysis.entities.DEFAULT_LEAD_CHARS
    metrics_host: str = "127.0.0.1"
    connector_metrics_port: int = 9464
    worker_metrics_port: int = 9465
    feeds_file: Path = Path("deploy/feeds.yml")
    poll_interval: float = 300.0
    data_dir: Path = Path("var")
    kafka_security: Mapping[str, str] = field(default_factory=dict)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        d = cls()
        security = {k[len("KAFKA_"):].lower(): v for k, v in env.items()
                    if k in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM",
                             "KAFKA_SASL_PLAIN_USERNAME", "KAFKA_SASL_PLAIN_PASSWORD",
                             "KAFKA_SSL_CAFILE")}
        return cls(
            bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS") or None,
            topics=Topics(
                raw=env.get("NEWSMON_TOPIC_RAW", d.topics.raw),
                unique=env.get("NEWSMON_TOPIC_UNIQUE", d.topics.unique),
                bands=env.get("NEWSMON_TOPIC_BANDS", d.topics.bands),
                bandhits=env.get("NEWSMON_TOPIC_BANDHITS", d.topics.bandhits),
                analyze=env.get("NEWSMON_TOPIC_ANALYZE", d.topics.analyze),
                stories=env.get("NEWSMON_TOPIC_STORIES", d.topics.stories),
                countries=env.get("NEWSMON_TOPIC_COUNTRIES", d.topics.countries),
                trend_alerts=env.get("NEWSMON_TOPIC_TREND_ALERTS", d.topics.trend_alerts),
                sweeps=env.get("NEWSMON_TOPIC_SWEEPS", d.topics.sweeps),
                articles=env.get("NEWSMON_TOPIC_ARTICLES", d.topics.articles),
                alerts=env.get("NEWSMON_TOPIC_ALERTS", d.topics.alerts),
                deadletter=env.get("NEWSMON_TOPIC_DEADLETTER", d.topics.deadletter),
            ),
            partitions=int(env.get("NEWSMON_PARTITIONS", d.partitions)),
            band_partitions=int(env.get("NEWSMON_BAND_PARTITIONS", d.band_partitions)),
            app_id=env.get("NEWSMON_APP_ID", d.app_id),
            alert_threshold=int(env.get("NEWSMON_ALERT_THRESHOLD", d.alert_threshold)),
            dedup_window_hours=float(env.get("NEWSMON_DEDUP_WINDOW_HOURS",
                                             d.dedup_window_hours)),
            metrics_host=env.get("NEWSMON_METRICS_HOST", d.metrics_host),
            connector_metrics_port=int(env.get("NEWSMON_CONNECTOR_METRICS_PORT",
                                               d.connector_metrics_port)),
            worker_metrics_port=int(env.get("NEWSMON_WORKER_METRICS_PORT", d.worker_metrics_port)),
            feeds_file=Path(env.get("NEWSMON_FEEDS_FILE", str(d.feeds_file))),
            poll_interval=float(env.get("NEWSMON_POLL_INTERVAL", d.poll_interval)),
            data_dir=Path(env.get("NEWSMON_DATA_DIR", str(d.data_dir))),
            lexicon_file=Path(env["NEWSMON_LEXICON"]) if env.get("NEWSMON_LEXICON") else None,
            rules_file=Path(env["NEWSMON_RULES_FILE"]) if env.get("NEWSMON_RULES_FILE") else None,
            trend_window_seconds=int(env.get("NEWSMON_TREND_WINDOW_SECONDS",
                                             d.trend_window_seconds)),
            trend_baseline_windows=int(env.get("NEWSMON_TREND_BASELINE_WINDOWS",
                                               d.trend_baseline_windows)),
            trend_z=float(env.get("NEWSMON_TREND_Z", d.trend_z)),
            sweep_seconds=float(env.get("NEWSMON_SWEEP_SECONDS", d.sweep_seconds)),
            session_timeout=float(env.get("NEWSMON_SESSION_TIMEOUT", d.session_timeout)),
            analysis_processes=int(env.get("NEWSMON_ANALYSIS_PROCESSES",
                                           d.analysis_processes)),
            analysis_nice=int(env.get("NEWSMON_ANALYSIS_NICE", d.analysis_nice)),
            trend_min_volume=int(env.get("NEWSMON_TREND_MIN_VOLUME", d.trend_min_volume)),
            ner_lead_chars=int(env.get("NEWSMON_NER_LEAD_CHARS", d.ner_lead_chars)),
            kafka_security=security,
        )

    def kafka_client_kwargs(self) -> dict[str, Any]:
        """aiokafka keyword arguments for bootstrap and SASL/TLS pass-through."""
        kw: dict[str, Any] = {"bootstrap_servers": self.bootstrap_servers}
        sec = dict(self.kafka_security)
        if "security_protocol" in sec:
            kw["security_protocol"] = sec["security_protocol"]
        if "sasl_mechanism" in sec:
            kw["sasl_mechanism"] = sec["sasl_mechanism"]
        if "sasl_plain_username" in sec:
            kw["sasl_plain_username"] = sec["sasl_plain_username"]
            kw["sasl_plain_password"] = sec.get("sasl_plain_password", "")
        if "ssl_cafile" in sec:
            from aiokafka.helpers import create_ssl_context

            kw["ssl_context"] = create_ssl_context(cafile=sec["ssl_cafile"])
        return kw
