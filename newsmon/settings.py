"""Runtime settings: one immutable value object, read from the environment.

Every setting has a default that works on one machine; the environment
(``NEWSMON_*``, plus the standard ``KAFKA_BOOTSTRAP_SERVERS``) overrides it,
and the CLI overrides the environment.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """A setting that cannot work: not a number, or out of its range. The message
    names the field, and the environment variable when it came from one."""

    def __init__(self, message: str, field_name: str | None = None) -> None:
        super().__init__(message)
        self.field_name = field_name


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
    notify_delivered: str = "news.notify.delivered"
    notify_deadletter: str = "news.notify.deadletter"


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
    # changelog). An article's bands spread over every bands partition, and each costs
    # it a probe, an answer and a membership record, while one partition's lookups cost
    # little beside the analysis (0.06 ms per article). Raise it only when one worker's
    # band lookups are the bound. An existing bands topic keeps its count; the worker
    # uses that (newsmon.topics).
    band_partitions: int = 1
    app_id: str = "newsmon"
    alert_threshold: int = 60
    dedup_window_hours: float = 72.0
    lexicon_file: Path | None = None
    rules_file: Path | None = None
    trend_window_seconds: int = 3600
    sweep_seconds: float = 30.0
    session_timeout: float = 30.0
    # One analysis process per usable CPU: spaCy runs there, beside the event loop, so
    # the analysis uses every core; each process holds the model (~160 MB).
    analysis_processes: int = field(default_factory=usable_cpus)
    # Niceness added to the analysis processes (os.nice), so the event loop and a local
    # broker run first when the cores are busy: their work per record is short, the
    # analysis's long, and every hop of an article otherwise waits behind analysis time
    # slices. 0 (the default) leaves them at the worker's priority: where the analysis is
    # the bound, lower-priority analysis falls behind (10 on the 2-core machine: raw ->
    # alert p99 1.8 s at 35/s).
    analysis_nice: int = 0
    trend_baseline_windows: int = 24
    trend_z: float = 3.0
    trend_min_volume: int = 5
    ner_lead_chars: int = 200  # = newsmon.analysis.entities.DEFAULT_LEAD_CHARS
    # Retention of the topics newsmon creates that people and replays read (raw, articles,
    # alerts, trend alerts, dead letters): `newsmon replay` reaches back this far.
    retention_days: float = 14.0
    metrics_host: str = "127.0.0.1"
    connector_metrics_port: int = 9464
    worker_metrics_port: int = 9465
    notify_metrics_port: int = 9466
    notify_group: str = "newsmon-notify"
    feeds_file: Path = Path("deploy/feeds.yml")
    poll_interval: float = 300.0
    data_dir: Path = Path("var")
    kafka_security: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Refuse values that would only fail later, far from their cause (a negative
        # niceness cannot be honoured; 0 partitions would fail inside topic creation).
        checks: list[tuple[str, bool, str]] = [
            ("partitions", self.partitions >= 1, "at least 1"),
            ("band_partitions", self.band_partitions >= 1, "at least 1"),
            ("alert_threshold", 0 <= self.alert_threshold <= 100, "0-100"),
            ("dedup_window_hours", self.dedup_window_hours > 0, "above 0"),
            ("trend_window_seconds", self.trend_window_seconds > 0, "above 0"),
            ("sweep_seconds", self.sweep_seconds > 0, "above 0"),
            ("session_timeout", self.session_timeout > 0, "above 0"),
            ("analysis_processes", self.analysis_processes >= 0,
             "0 (analysis in a thread) or more"),
            # Niceness *added* (os.nice): an unprivileged process can only lower its
            # priority, so a negative value could never be honoured.
            ("analysis_nice", 0 <= self.analysis_nice <= 19, "0-19"),
            ("trend_baseline_windows", self.trend_baseline_windows >= 1, "at least 1"),
            ("trend_min_volume", self.trend_min_volume >= 0, "0 or more"),
            ("ner_lead_chars", self.ner_lead_chars >= 0, "0 (the whole text) or more"),
            ("retention_days", 0 < self.retention_days <= 3650, "more than 0, at most 3650"),
            ("poll_interval", self.poll_interval > 0, "above 0"),
            ("connector_metrics_port", 0 <= self.connector_metrics_port <= 65535, "0-65535"),
            ("worker_metrics_port", 0 <= self.worker_metrics_port <= 65535, "0-65535"),
            ("notify_metrics_port", 0 <= self.notify_metrics_port <= 65535, "0-65535"),
        ]
        for name, ok, wanted in checks:
            if not ok:
                raise SettingsError(f"{name} must be {wanted}, not {getattr(self, name)!r}",
                                    name)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Defaults overridden by the environment. :class:`SettingsError` names the
        variable that is not a number or is out of range."""
        env = os.environ if env is None else env
        d = cls()

        def num(name: str, conv: Callable[[str], Any], default: float) -> Any:
            raw = env.get(name)
            if raw is None:
                return default
            try:
                return conv(raw)
            except ValueError:
                kind = "an integer" if conv is int else "a number"
                raise SettingsError(f"{name}={raw!r} is not {kind}") from None

        security = {k[len("KAFKA_"):].lower(): v for k, v in env.items()
                    if k in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM",
                             "KAFKA_SASL_PLAIN_USERNAME", "KAFKA_SASL_PLAIN_PASSWORD",
                             "KAFKA_SSL_CAFILE")}
        lexicon, rules = env.get("NEWSMON_LEXICON"), env.get("NEWSMON_RULES_FILE")
        try:
            return cls(
                bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS") or None,
                # NEWSMON_TOPIC_RAW, NEWSMON_TOPIC_TREND_ALERTS, ...: one per field
                topics=Topics(**{f.name: env.get(f"NEWSMON_TOPIC_{f.name.upper()}",
                                                 getattr(d.topics, f.name))
                                 for f in fields(Topics)}),
                partitions=num("NEWSMON_PARTITIONS", int, d.partitions),
                band_partitions=num("NEWSMON_BAND_PARTITIONS", int, d.band_partitions),
                app_id=env.get("NEWSMON_APP_ID", d.app_id),
                alert_threshold=num("NEWSMON_ALERT_THRESHOLD", int, d.alert_threshold),
                dedup_window_hours=num("NEWSMON_DEDUP_WINDOW_HOURS", float, d.dedup_window_hours),
                metrics_host=env.get("NEWSMON_METRICS_HOST", d.metrics_host),
                connector_metrics_port=num("NEWSMON_CONNECTOR_METRICS_PORT", int,
                                           d.connector_metrics_port),
                worker_metrics_port=num("NEWSMON_WORKER_METRICS_PORT", int, d.worker_metrics_port),
                notify_metrics_port=num("NEWSMON_NOTIFY_METRICS_PORT", int, d.notify_metrics_port),
                notify_group=env.get("NEWSMON_NOTIFY_GROUP", d.notify_group),
                feeds_file=Path(env.get("NEWSMON_FEEDS_FILE", str(d.feeds_file))),
                poll_interval=num("NEWSMON_POLL_INTERVAL", float, d.poll_interval),
                data_dir=Path(env.get("NEWSMON_DATA_DIR", str(d.data_dir))),
                lexicon_file=Path(lexicon) if lexicon else None,
                rules_file=Path(rules) if rules else None,
                trend_window_seconds=num("NEWSMON_TREND_WINDOW_SECONDS", int,
                                         d.trend_window_seconds),
                trend_baseline_windows=num("NEWSMON_TREND_BASELINE_WINDOWS", int,
                                           d.trend_baseline_windows),
                trend_z=num("NEWSMON_TREND_Z", float, d.trend_z),
                sweep_seconds=num("NEWSMON_SWEEP_SECONDS", float, d.sweep_seconds),
                session_timeout=num("NEWSMON_SESSION_TIMEOUT", float, d.session_timeout),
                analysis_processes=num("NEWSMON_ANALYSIS_PROCESSES", int, d.analysis_processes),
                analysis_nice=num("NEWSMON_ANALYSIS_NICE", int, d.analysis_nice),
                trend_min_volume=num("NEWSMON_TREND_MIN_VOLUME", int, d.trend_min_volume),
                ner_lead_chars=num("NEWSMON_NER_LEAD_CHARS", int, d.ner_lead_chars),
                retention_days=num("NEWSMON_RETENTION_DAYS", float, d.retention_days),
                kafka_security=security,
            )
        except SettingsError as exc:
            # Name the variable when the bad value came from one.
            var = f"NEWSMON_{(exc.field_name or '').upper()}"
            if exc.field_name and var in env:
                raise SettingsError(f"{var}: {exc}", exc.field_name) from None
            raise

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
