"""The whole pipeline on the real broker: HTTP feeds -> connector -> Kafka -> worker -> alerts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.parse import parse_feed
from tests.helpers import DATA, Item, feed_file_routes, http_server, rss, seed_items
from tests.integration.procs import (
    isolated_env,
    metric_value,
    metrics_text,
    newsmon,
    read_all,
    read_topic,
    worker,
)
from tests.schemas import assert_valid

pytestmark = pytest.mark.integration

REAL_FEEDS = [
    DATA / "feeds/real/rss-parser/guardian.rss",
    DATA / "feeds/real/rss-parser/heise.atom",
    DATA / "feeds/real/rss-parser/uolNoticias.rss",
    DATA / "feeds/real/feedjira/TechCrunch.xml",
    DATA / "feeds/real/feedjira/json_feed.json",
]
EXPECTED_PEOPLE = {"Antony Blinken", "Sergei Lavrov", "Liz Truss", "Dmitri Peskov"}
EXPECTED_PLACES = {"Russia", "Ukraine"}


def test_seed_article_becomes_exactly_one_alert(kafka_bootstrap: str, tmp_path: Path) -> None:
    main, teasers = seed_items()
    assert len(teasers) >= 5
    tracked = Item(main.title, main.url + "?utm_source=twitter&utm_medium=social&fbclid=x1",
                   main.summary, main.content, guid="wire-copy-of-seed")
    other = Item("Markets steady ahead of central bank decision",
                 "https://wire.example.com/markets", "Shares were little changed.")
    routes = {
        "/seed.xml": (200, {"Content-Type": "application/rss+xml"}, rss([main, *teasers])),
        "/wire.xml": (200, {"Content-Type": "application/rss+xml"}, rss([other, tracked])),
        "/broken.xml": (500, {}, b"oops"),
        **feed_file_routes(REAL_FEEDS),
    }
    with http_server(routes) as base:
        urls = [f"{base}{path}" for path in routes]
        feeds = tmp_path / "feeds.yml"
        feeds.write_text("allow_private_addresses: [127.0.0.1/32]\nfeeds:\n"
                         + "".join(f"  - url: {u}\n" for u in urls))
        expected_ids = set()
        for path, (status, headers, body) in routes.items():
            if status == 200:
                expected_ids |= {e.id for e in parse_feed(body, base + path, "t", headers).entries}
        env = isolated_env(kafka_bootstrap, tmp_path, NEWSMON_FEEDS_FILE=str(feeds),
                           NEWSMON_ANALYSIS_PROCESSES="2")

        # The connector polls twice, as two processes: the feed state it saves between them
        # keeps the second poll from republishing anything.
        for _ in range(2):
            res = newsmon("connector", "--once", env=env)
            assert res.returncode == 0, res.stderr[-3000:]
            assert "Traceback" not in res.stderr
        assert "broken.xml" in res.stderr  # the failing feed is logged; the others went on

        raw = read_all(kafka_bootstrap, env["NEWSMON_TOPIC_RAW"])
        seed_id = next(r["id"] for r in raw if r["url"] == main.url)
        assert sum(r["id"] == seed_id for r in raw) == 2  # the seed and its tracked copy
        assert {r["id"] for r in raw} == expected_ids

        with worker(env, tmp_path / "worker.log") as proc:
            articles = read_topic(
                kafka_bootstrap, env["NEWSMON_TOPIC_ARTICLES"],
                lambda recs: proc.poll() is not None or {r["id"] for r in recs} >= expected_ids,
                timeout=240)
            log_tail = (tmp_path / "worker.log").read_text()[-3000:]
            assert {a["id"] for a in articles} == expected_ids, log_tail
            assert len(articles) == len(expected_ids)  # every exact duplicate was dropped
            alerts = read_all(kafka_bootstrap, env["NEWSMON_TOPIC_ALERTS"])
            worker_metrics = metrics_text(int(env["NEWSMON_WORKER_METRICS_PORT"]))
            assert proc.poll() is None
        log = (tmp_path / "worker.log").read_text()
        assert "Traceback" not in log, log[-3000:]

    # Every record this run produced keeps the published contract.
    assert_valid("raw-article", raw)
    assert_valid("enriched-article", articles)
    assert_valid("alert", alerts)

    seed_alerts = [a for a in alerts if a["article_id"] == seed_id]
    assert len(seed_alerts) == 1, [a["title"] for a in alerts]
    alert = seed_alerts[0]
    names = {e["canonical"] for e in alert["entities"]}
    assert names >= EXPECTED_PEOPLE | EXPECTED_PLACES, names
    phrases = {e["matched"].lower() for e in alert["evidence"]}
    assert {"armed hostilities", "serious consequences"} <= phrases, phrases
    assert alert["score"] >= alert["threshold"]
    assert all(e["sentence"] for e in alert["evidence"])
    assert len({a["alert_id"] for a in alerts}) == len(alerts)

    assert metric_value(worker_metrics, "newsmon_articles_duplicates_total") == len(raw) - len(
        expected_ids)
    assert metric_value(worker_metrics, "newsmon_articles_enriched_total") == len(expected_ids)
    assert metric_value(worker_metrics, 'newsmon_alerts_total{rule="tension-threshold"}') == len(
        alerts)
    assert "newsmon_faust_messages_received_total" in worker_metrics

    # The offline command runs the same code: same entities and score for the seed record.
    seed_raw = next(r for r in raw if r["id"] == seed_id)
    seed_raw.pop("_key")
    (tmp_path / "seed.jsonl").write_text(json.dumps(seed_raw) + "\n")
    res = newsmon("analyze", str(tmp_path / "seed.jsonl"), env=env)
    assert res.returncode == 0, res.stderr
    offline = json.loads(res.stdout)
    assert offline["tension"]["score"] == alert["score"]
    assert [(e["canonical"], e["type"]) for e in offline["entities"]] == [
        (e["canonical"], e["type"]) for e in alert["entities"]]
