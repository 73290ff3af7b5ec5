"""`newsmon replay` on a stream the real worker produced: the same rules reproduce the
alerts sent; a changed threshold and a new watchlist rule give the expected difference;
replay commits no offsets and writes nothing."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from newsmon.records import RawArticle
from tests.integration.procs import (
    isolated_env,
    newsmon,
    produce_raws,
    read_all,
    read_topic,
    worker,
)

pytestmark = pytest.mark.integration

CONFLICT = [
    ("Artillery shelling kills 12 as troops mass on Ukraine border",
     "Russian forces shelled villages overnight and massed troops near the border, "
     "officials said, warning of a full-scale invasion."),
    ("Air strikes and heavy fighting in Sahel town after ceasefire collapses",
     "Government troops launched air strikes and a ground offensive; dozens were killed "
     "in clashes as the truce collapsed."),
    ("Missile attack on port city, armed hostilities spread",
     "A missile attack hit the port; armed hostilities spread as the army mobilised "
     "reservists and shelled rebel positions."),
    ("Rebels attack army post near the border",  # alerts, but scores lower than the others
     "Two soldiers were wounded, officials said."),
]
CALM = [
    ("Leaders sign trade agreement at summit", "The two governments signed a trade deal."),
    ("Local team wins cup final", "Fans celebrated in the streets after the match."),
]


async def _groups(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {g[0] for g in await admin.list_consumer_groups()}
    finally:
        await admin.close()


def test_replay_reproduces_and_diffs(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = isolated_env(kafka_bootstrap, tmp_path)
    raws = [RawArticle(id=f"r{i}", title=t, summary=s, url=f"https://news.example.com/{i}",
                       source="test") for i, (t, s) in enumerate(CONFLICT + CALM)]
    start = time.time() - 1
    asyncio.run(produce_raws(kafka_bootstrap, env["NEWSMON_TOPIC_RAW"], raws))
    with worker(env, tmp_path / "worker.log") as proc:
        read_topic(kafka_bootstrap, env["NEWSMON_TOPIC_ARTICLES"],
                   lambda recs: proc.poll() is not None or len(recs) >= len(raws), timeout=240)
        time.sleep(3)  # the alerts follow their articles
    sent = read_all(kafka_bootstrap, env["NEWSMON_TOPIC_ALERTS"])
    assert sent, (tmp_path / "worker.log").read_text()[-3000:]
    groups_before = asyncio.run(_groups(kafka_bootstrap))
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start - 60))

    same = newsmon("replay", "--since", since, "--json", "--fail-on-diff", env=env)
    assert same.returncode == 0, same.stdout + same.stderr[-3000:]
    report = json.loads(same.stdout)
    assert report["articles"] == len(raws)
    assert report["alerts_sent"] == len(sent) == report["alerts_replayed"]
    assert report["changes"] == []

    # A threshold raised above the weakest alert's score removes it; a watchlist rule on
    # "border" adds an alert for each article that says it.
    scores = sorted({a["score"] for a in sent})
    assert len(scores) > 1, scores  # the items are chosen to score apart
    rules = tmp_path / "rules.yml"
    rules.write_text("rules:\n"
                     f"  - name: tension-threshold\n    version: 1\n    min_score: {scores[-1]}\n"
                     "  - name: border-watch\n    version: 1\n    min_score: 0\n"
                     "    keywords: [border]\n")
    diff = newsmon("replay", "--since", since, "--rules", str(rules), "--json",
                   "--fail-on-diff", env=env)
    assert diff.returncode == 1, diff.stdout + diff.stderr[-3000:]
    changes = json.loads(diff.stdout)["changes"]
    removed = {c["article_id"] for c in changes if c["change"] == "removed"}
    added = {(c["rule"], c["article_id"]) for c in changes if c["change"] == "added"}
    assert removed == {a["article_id"] for a in sent if a["score"] < scores[-1]}
    assert added == {("border-watch", "r0"), ("border-watch", "r3")}

    table = newsmon("replay", "--since", since, "--rules", str(rules), env=env)
    assert table.returncode == 0
    assert "+ added   border-watch" in table.stdout and "- removed" in table.stdout

    # Replay reads with no consumer group and writes no alerts.
    assert asyncio.run(_groups(kafka_bootstrap)) == groups_before
    assert len(read_all(kafka_bootstrap, env["NEWSMON_TOPIC_ALERTS"])) == len(sent)
