"""Every Prometheus metric newsmon exports, in one place.

Names follow Prometheus conventions: ``newsmon_`` prefix, base units
(seconds, bytes), ``_total`` for counters, and only bounded label values
(stage and outcome names from fixed sets, never a URL or a feed name).
"""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics, start_http_server

disable_created_metrics()  # type: ignore[no-untyped-call]

STAGES = ("fetch", "parse", "publish", "decode", "dedup", "neardup", "enrich")
FETCH_OUTCOMES = ("ok", "not_modified", "client_error", "server_error", "rate_limited", "gone",
                  "redirect_error", "network_error", "timeout", "too_large", "parse_error",
                  "parse_timeout", "refused", "publish_error")
#: Why a feed item was skipped while the rest of its feed was kept (connectors.parse).
ITEM_SKIP_REASONS = ("date", "type", "size", "malformed")

feed_fetches = Counter("newsmon_feed_fetches_total", "Feed fetch attempts by outcome",
                       ["outcome"])
articles_fetched = Counter("newsmon_articles_fetched_total",
                           "Entries parsed from fetched feeds")
articles_published = Counter("newsmon_articles_published_total",
                             "Raw articles acknowledged by Kafka")
publish_errors = Counter("newsmon_publish_errors_total", "Raw articles Kafka did not acknowledge")
duplicates = Counter("newsmon_articles_duplicates_total", "Articles dropped as duplicates",
                     ["kind"])
articles_enriched = Counter("newsmon_articles_enriched_total", "Enriched articles published")
alerts = Counter("newsmon_alerts_total", "Alerts published", ["rule"])
deadletters = Counter("newsmon_deadletter_total", "Records sent to the dead-letter topic",
                      ["stage"])
stage_seconds = Histogram(
    "newsmon_stage_duration_seconds", "Time spent per record (or per feed) in each stage",
    ["stage"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

for _o in FETCH_OUTCOMES:
    feed_fetches.labels(_o)
for _s in STAGES:
    stage_seconds.labels(_s)
duplicates.labels("exact")
duplicates.labels("near")


kafka_client_warnings = Counter(
    "newsmon_kafka_client_warnings_total",
    "Warnings and errors the Kafka client libraries logged: each failed connection, "
    "request or commit they retry (aiokafka warnings and up, faust errors and up)",
    ["library", "level"])


class _ClientLogCounter(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        library = record.name.split(".", 1)[0]
        kafka_client_warnings.labels(library, record.levelname.lower()).inc()


def count_kafka_client_warnings() -> None:
    """Count what aiokafka and faust log about failures (bounded labels); idempotent."""
    for name, level in (("aiokafka", logging.WARNING), ("faust", logging.ERROR)):
        logger = logging.getLogger(name)
        if not any(isinstance(h, _ClientLogCounter) for h in logger.handlers):
            handler = _ClientLogCounter(level)
            logger.addHandler(handler)


def serve(host: str, port: int) -> None:
    """Serve ``/metrics`` from the default registry on ``host:port`` (a daemon thread)."""
    start_http_server(port, addr=host)

feed_bytes = Counter("newsmon_feed_bytes_total", "Bytes received from feeds (on the wire)")
feed_fetch_seconds = Histogram(
    "newsmon_feed_fetch_duration_seconds", "Feed fetch latency, all redirect hops included",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
feed_items = Counter("newsmon_feed_items_total", "Feed entries seen by the connector",
                     ["state"])
feeds_due = Gauge("newsmon_feeds_due", "Feeds whose next poll time has passed")
feeds_overdue = Gauge("newsmon_feeds_overdue", "Feeds due for more than 60 seconds")
feeds_disabled = Gauge("newsmon_feeds_disabled", "Feeds disabled (410 Gone)")
feeds_configured = Gauge("newsmon_feeds_configured", "Feeds in this connector's shard")
feed_fetches_by_feed = Counter(
    "newsmon_feed_fetches_by_feed_total",
    "Feed fetches by configured feed name and outcome (only with per_feed_metrics: true)",
    ["feed", "outcome"],
)
fulltext_fetches = Counter("newsmon_fulltext_fetches_total", "Article page fetches for full text",
                           ["outcome"])
for _st in ("new", "seen"):
    feed_items.labels(_st)
feed_items_skipped = Counter(
    "newsmon_feed_items_skipped_total",
    "Feed items that could not be converted (a date outside the calendar, a wrong JSON type, "
    "an oversized link or id) and were skipped; the rest of the feed was kept", ["reason"])
for _r in ITEM_SKIP_REASONS:
    feed_items_skipped.labels(_r)
parse_worker_restarts = Counter(
    "newsmon_parse_worker_restarts_total",
    "Parse worker processes killed at the parse deadline or lost, and replaced")

tension_index = Gauge(
    "newsmon_tension_index",
    "Exponentially weighted mean tension score (0-100) of recent articles naming the country "
    "(ISO 3166-1 alpha-2), per worker",
    ["country"],
)
country_articles = Counter("newsmon_country_articles_total",
                           "Enriched articles naming the country (ISO 3166-1 alpha-2)", ["country"])
rules_loaded = Gauge("newsmon_rules_loaded", "Watchlist rules in force")
rules_reload_errors = Counter("newsmon_rules_reload_errors_total",
                              "Rules-file edits rejected (the last good rules stay in force)")
partition_fallbacks = Counter(
    "newsmon_worker_partition_fallbacks_total",
    "Table writes whose changelog partition the worker computed itself because the Kafka "
    "client had no metadata for the topic yet (streams.delivery)")
worker_reexecs = Gauge(
    "newsmon_worker_reexecs",
    "Times this worker process re-executed itself because its Kafka client was wedged "
    "(an offset commit waiting for the producer past streams.delivery.WEDGED_AFTER)")
consumer_rewinds = Counter(
    "newsmon_worker_consumer_rewinds_total",
    "Records the worker's consumer will read again rather than skip (streams.delivery): "
    "a batch cut at a seek, or a record skipped in a shutdown or rebalance", ["reason"])
neardup_parked = Gauge("newsmon_neardup_parked",
                       "Records parked in this worker waiting for their LSH band answers")
neardup_parked_oldest = Gauge("newsmon_neardup_parked_oldest_seconds",
                              "Age of the oldest record parked for its band answers")
neardup_reprobes = Counter(
    "newsmon_neardup_reprobes_total",
    "Parked records whose missing band answers were asked for again")
_EWMA_ALPHA = 0.1
_ewma: dict[str, float] = {}


def observe_tension(countries: list[str], score: float) -> None:
    """Update the per-country tension index; label values are ISO codes only (bounded)."""
    for c in countries:
        if len(c) != 2 or not c.isalpha():
            continue
        prev = _ewma.get(c)
        value = score if prev is None else prev + _EWMA_ALPHA * (score - prev)
        _ewma[c] = value
        tension_index.labels(c).set(round(value, 2))
        country_articles.labels(c).inc()

# newsmon notify (label values: sink names from the notify configuration file)
notify_delivered = Counter("newsmon_notify_delivered_total",
                           "Alerts a sink accepted (each alert of a digest counts)", ["sink"])
notify_retries = Counter("newsmon_notify_retries_total",
                         "Sends to a sink retried after a timeout, connection error, 5xx or 429",
                         ["sink"])
notify_failed = Counter("newsmon_notify_failed_total",
                        "Alerts dead-lettered for a sink (retries exhausted or refused)",
                        ["sink"])
notify_seconds = Histogram(
    "newsmon_notify_delivery_duration_seconds",
    "Time from the first send to the sink's final answer, retries included", ["sink"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
notify_digest_backlog = Gauge("newsmon_notify_digest_backlog",
                              "Alerts held for a sink's next digest", ["sink"])
notify_poison = Counter("newsmon_notify_poison_total",
                        "Alert records notify could not decode or validate (dead-lettered)")
