"""`newsmon notify` on real parts: Kafka broker, HTTP receivers, an SMTP server.

* killed with SIGKILL in the middle of a delivery and restarted: every alert reaches
  every sink, none is accepted twice by the same sink; poison records go to the
  dead-letter topic and delivery goes on; a hostile title arrives escaped everywhere;
* retries (500, timeout, 429 with Retry-After) end in one delivery; a sink that keeps
  failing, or refuses, dead-letters with its answer; no secret reaches the logs;
* a burst beyond a sink's rate limit is folded into a digest, and a digest route sends
  one message listing its alerts.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from newsmon.records import dumps
from tests.integration.notify_receivers import HttpReceiver, http_receiver, smtp_server
from tests.integration.procs import isolated_env, metric_value, metrics_text, read_topic, worker
from tests.notify_support import HOSTILE_TITLE, hostile_alert, make_alert
from tests.schemas import assert_valid

pytestmark = [pytest.mark.integration,
              # the test SMTP server takes a login without TLS, on 127.0.0.1
              pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")]

HOOK_SECRET = "hook-secret-5f1c9e"
SMTP_PASSWORD = "smtp-pass-8d2a77"
SLACK_TOKEN = "T0000/B0000/slacktoken3c4d"


def produce(bootstrap: str, topic: str, values: list[bytes], partitions: int) -> None:
    """Create ``topic`` with ``partitions`` and spread ``values`` over them in turn."""

    async def run() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, partitions, 1)])
            for _ in range(50):
                described = await admin.describe_topics([topic])
                if all(p.get("leader", -1) >= 0 for p in described[0].get("partitions") or [{}]):
                    break
                await asyncio.sleep(0.2)
        finally:
            await admin.close()
        p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
        await p.start()
        try:
            for i, v in enumerate(values):
                await p.send_and_wait(topic, v, key=str(i).encode(), partition=i % partitions)
        finally:
            await p.stop()

    asyncio.run(run())


def notify(env: dict[str, str], config: Path, log: Path
           ) -> AbstractContextManager[subprocess.Popen[bytes]]:
    """``newsmon notify`` at debug level, its output appended to ``log`` across restarts."""
    return worker(env, log, args=["--log-level", "debug", "notify", "--config", str(config)],
                  append=True)


def topic_config(bootstrap: str, topic: str, name: str) -> str | None:
    async def run() -> str | None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            responses = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, topic, {name: None})])
        finally:
            await admin.close()
        for resp in responses:
            for resource in resp.resources:
                for entry in resource[4]:
                    if entry[0] == name:
                        return str(entry[1])
        return None

    return asyncio.run(run())


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def sink_yaml(name: str, kind: str, lines: str) -> str:
    return f"  {name}:\n    type: {kind}\n" + "".join(
        f"    {line}\n" for line in lines.strip().splitlines())


def test_crash_restart_delivers_every_alert_once_per_sink(kafka_bootstrap: str,
                                                          tmp_path: Path) -> None:
    # a short session: the restarted consumer need not wait long for the killed one's
    env = isolated_env(kafka_bootstrap, tmp_path, NEWSMON_PARTITIONS="2",
                       NEWSMON_SESSION_TIMEOUT="6",
                       NEWSMON_TEST_HOOK_SECRET=HOOK_SECRET,
                       NEWSMON_TEST_SLACK_URL="", NEWSMON_TEST_TEAMS_URL="")
    alerts = [make_alert(i) for i in range(8)] + [hostile_alert(99)]
    ids = {a["alert_id"] for a in alerts}
    poison = [b"not json at all", dumps({"schema_version": 1, "alert_id": "nope"})]
    # alerts in both partitions, the poison records among them
    produce(kafka_bootstrap, env["NEWSMON_TOPIC_ALERTS"],
            [dumps(a) for a in alerts[:3]] + poison + [dumps(a) for a in alerts[3:]], 2)
    receiver = HttpReceiver(secrets={"/hook": HOOK_SECRET})
    # the hook sink's 4th request is held until the notify process is killed
    receiver.script["/hook"] = [200, 200, 200, "hold"]
    with http_receiver(receiver), smtp_server({"newsmon": SMTP_PASSWORD}) as (box, port):
        env["NEWSMON_TEST_SLACK_URL"] = f"{receiver.url}/slack"
        env["NEWSMON_TEST_TEAMS_URL"] = f"{receiver.url}/teams"
        (tmp_path / "smtp").write_text(SMTP_PASSWORD)
        config = tmp_path / "notify.yml"
        config.write_text(
            "sinks:\n"
            + sink_yaml("hook", "webhook", f"url: {receiver.url}/hook\n"
                        "secret_env: NEWSMON_TEST_HOOK_SECRET\ntimeout_seconds: 30\n"
                        "backoff_seconds: 0.05")
            + sink_yaml("chat", "slack", "url_env: NEWSMON_TEST_SLACK_URL")
            + sink_yaml("msteams", "teams", "url_env: NEWSMON_TEST_TEAMS_URL")
            + sink_yaml("push", "ntfy", f"url: {receiver.url}/ntfy")
            + sink_yaml("mail", "email", f"host: 127.0.0.1\nport: {port}\ntls: none\n"
                        f"username: newsmon\npassword_file: {tmp_path / 'smtp'}\n"
                        "sender: newsmon@example.org\nrecipients: [desk@example.org]")
            + "routes:\n  - name: all\n    sinks: [hook, chat, msteams, push, mail]\n")
        log = tmp_path / "notify.log"
        with notify(env, config, log) as proc:
            wait_for(receiver.holding.is_set, 120, "the held webhook request")
            time.sleep(1.0)  # the other sinks of that alert finish and record
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        receiver.release.set()
        held = len(receiver.by_path("/hook"))
        with notify(env, config, log):
            def all_delivered() -> bool:
                hook = {r.json()["alert_id"] for r in receiver.by_path("/hook", True)}
                return hook >= ids and set(box.alert_ids()) >= ids and all(
                    len(receiver.by_path(p, True)) >= len(ids)
                    for p in ("/slack", "/teams", "/ntfy"))

            wait_for(all_delivered, 120, "every alert at every sink")
            time.sleep(2.0)  # anything sent twice would arrive now
            dead = read_topic(kafka_bootstrap, env["NEWSMON_TOPIC_NOTIFY_DEADLETTER"],
                              lambda recs: len(recs) >= 2, timeout=30)
        log_text = log.read_text(errors="replace")

    # every alert accepted exactly once by each sink; the held one was sent again
    hook_ids = Counter(r.json()["alert_id"] for r in receiver.by_path("/hook", True))
    assert set(hook_ids) == ids and max(hook_ids.values()) == 1, hook_ids
    assert held == 3 and len(receiver.by_path("/hook", False)) == 1  # the held request
    assert len(receiver.by_path("/hook")) == len(ids) + 1
    assert all(r.headers["x-newsmon-alert-ids"] == r.json()["alert_id"]
               for r in receiver.by_path("/hook", True))
    assert_valid("alert", [r.json() for r in receiver.by_path("/hook", True)])
    for path in ("/slack", "/teams", "/ntfy"):
        assert len(receiver.by_path(path, True)) == len(ids), path
    mail_ids = Counter(box.alert_ids())
    assert set(mail_ids) == ids and max(mail_ids.values()) == 1, mail_ids

    assert topic_config(kafka_bootstrap, env["NEWSMON_TOPIC_NOTIFY_DELIVERED"],
                        "cleanup.policy") == "compact"

    # the poison records went to the dead-letter topic, and delivery went on
    assert len(dead) == 2, dead
    assert_valid("dead-letter", dead)
    assert {d["stage"] for d in dead} == {"notify"} and {d["sink"] for d in dead} == {None}
    assert any("invalid JSON" in d["error"] for d in dead)
    assert any("not a valid alert" in d["error"] for d in dead)

    # the hostile title arrives escaped and truncated in every format
    hostile_id = hostile_alert(99)["alert_id"]
    hook = next(r for r in receiver.by_path("/hook", True) if r.json()["alert_id"] == hostile_id)
    assert hook.json()["title"] == HOSTILE_TITLE  # the record itself, JSON-encoded
    slack = next(r.json() for r in receiver.by_path("/slack", True)
                 if "script" in r.body.decode())
    slack_text = slack["text"] + slack["blocks"][0]["text"]["text"]
    assert "<!channel>" not in slack_text and "<@U123>" not in slack_text
    assert "<http" not in slack_text and "@here" not in slack_text
    assert len(slack_text) < 2500
    teams = next(r.body.decode() for r in receiver.by_path("/teams", True)
                 if "script" in r.body.decode())
    assert "[click](" not in teams and "Action.OpenUrl" not in teams and len(teams) < 4000
    ntfy = next(r for r in receiver.by_path("/ntfy", True) if "script" in r.headers["title"])
    assert ntfy.headers["title"].isascii() and len(ntfy.headers["title"]) <= 250
    assert "x-injected" not in ntfy.headers and "click" not in ntfy.headers
    mail = next(m for m in box.messages if str(m["X-Newsmon-Alert-Ids"]) == hostile_id)
    html = mail.get_body(("html",)).get_content()
    assert "<script>" not in html and "<b>" not in html and "&lt;script&gt;" in html
    assert "href=" not in html and len(html) < 5000  # the javascript: link is dropped
    assert mail["X-Injected"] is None

    assert HOOK_SECRET not in log_text and SMTP_PASSWORD not in log_text


def test_retries_dead_letters_rate_limit_and_digest(kafka_bootstrap: str,
                                                    tmp_path: Path) -> None:
    env = isolated_env(kafka_bootstrap, tmp_path, NEWSMON_PARTITIONS="1",
                       NEWSMON_TEST_HOOK_SECRET=HOOK_SECRET)
    retry = make_alert(1, rule="retry")
    burst = [make_alert(10 + i, rule="burst") for i in range(6)]
    produce(kafka_bootstrap, env["NEWSMON_TOPIC_ALERTS"], [dumps(a) for a in [retry, *burst]], 1)
    receiver = HttpReceiver(secrets={"/flaky": HOOK_SECRET, "/dead": HOOK_SECRET})
    receiver.script["/flaky"] = [500, ("sleep", 2.0),
                                 ("status", 429, {"Retry-After": "1"}, b"slow down")]
    receiver.default.update({"/dead": ("status", 502, {}, b"upstream exploded " * 50),
                             "/refused": ("status", 403, {}, b"forbidden"),
                             f"/slack/{SLACK_TOKEN}": 500})
    common = "backoff_seconds: 0.05\nbackoff_max_seconds: 0.2\ntimeout_seconds: 0.5"
    with http_receiver(receiver), smtp_server({"newsmon": "the-right-one"}) as (box, port):
        env["NEWSMON_TEST_SLACK_URL"] = f"{receiver.url}/slack/{SLACK_TOKEN}"
        (tmp_path / "smtp").write_text(SMTP_PASSWORD)  # not the server's: refused
        config = tmp_path / "notify.yml"
        config.write_text(
            "sinks:\n"
            + sink_yaml("flaky", "webhook", f"url: {receiver.url}/flaky\n"
                        f"secret_env: NEWSMON_TEST_HOOK_SECRET\nretries: 4\n{common}")
            + sink_yaml("dead", "webhook", f"url: {receiver.url}/dead\n"
                        f"secret_env: NEWSMON_TEST_HOOK_SECRET\nretries: 2\n{common}")
            + sink_yaml("refused", "ntfy", f"url: {receiver.url}/refused\n{common}")
            + sink_yaml("chat", "slack", f"url_env: NEWSMON_TEST_SLACK_URL\nretries: 1\n{common}")
            + sink_yaml("mail", "email", f"host: 127.0.0.1\nport: {port}\ntls: none\n"
                        f"username: newsmon\npassword_file: {tmp_path / 'smtp'}\n"
                        "sender: newsmon@example.org\nrecipients: [desk@example.org]\n"
                        "timeout_seconds: 5\nbackoff_seconds: 0.05")
            + sink_yaml("burst", "slack", "url_env: NEWSMON_TEST_BURST_URL\n"
                        "rate_limit: {messages: 2, per_seconds: 3}")
            + sink_yaml("digest", "ntfy", f"url: {receiver.url}/digest")
            + "routes:\n"
            "  - {name: retry, rules: [retry], sinks: [flaky, dead, refused, chat, mail]}\n"
            "  - {name: burst, rules: [burst], sinks: [burst]}\n"
            "  - {name: burst-digest, rules: [burst], digest_minutes: 0.05, sinks: [digest]}\n")
        env["NEWSMON_TEST_BURST_URL"] = f"{receiver.url}/burst"
        log = tmp_path / "notify.log"
        with notify(env, config, log) as proc:
            dead = read_topic(kafka_bootstrap, env["NEWSMON_TOPIC_NOTIFY_DEADLETTER"],
                              lambda recs: len(recs) >= 4, timeout=90)
            wait_for(lambda: len(receiver.by_path("/flaky", True)) >= 1
                     and len(receiver.by_path("/burst", True)) >= 3
                     and len(receiver.by_path("/digest", True)) >= 1, 60, "deliveries")
            time.sleep(1.0)
            text = metrics_text(int(env["NEWSMON_NOTIFY_METRICS_PORT"]))
        log_text = log.read_text(errors="replace")
    assert proc.returncode == 0, "SIGTERM stops notify cleanly"

    # 500, timeout, 429 (Retry-After: 1), then accepted: once
    flaky = receiver.by_path("/flaky")
    assert len(flaky) == 4 and {500, 429} <= {r.status for r in flaky}
    # the timed-out request may still land after the client gave up on it
    assert len(receiver.by_path("/flaky", True)) in (1, 2)
    assert metric_value(text, 'newsmon_notify_retries_total{sink="flaky"}') == 3
    assert metric_value(text, 'newsmon_notify_delivered_total{sink="flaky"}') == 1

    by_sink = {d["sink"]: d for d in dead}
    assert set(by_sink) == {"dead", "refused", "chat", "mail"}, by_sink
    assert_valid("dead-letter", dead)
    assert by_sink["dead"]["answer"]["status"] == 502 and by_sink["dead"]["attempts"] == 3
    assert by_sink["dead"]["answer"]["body"].startswith("upstream exploded")
    assert len(by_sink["dead"]["answer"]["body"]) <= 200
    assert len(receiver.by_path("/dead")) == 3
    assert by_sink["refused"]["answer"]["status"] == 403 and by_sink["refused"]["attempts"] == 1
    assert by_sink["mail"]["answer"]["status"] == 535 and by_sink["mail"]["attempts"] == 1
    assert metric_value(text, 'newsmon_notify_failed_total{sink="dead"}') == 1
    assert not box.messages

    # burst: 2 immediately, the other 4 folded into one digest message; nothing dropped
    burst_msgs = receiver.by_path("/burst", True)
    assert len(burst_msgs) == 3, [r.body for r in burst_msgs]
    assert "4 newsmon alerts (burst)" in burst_msgs[2].json()["text"]
    digest = receiver.by_path("/digest", True)
    assert len(digest) == 1 and digest[0].headers["title"] == "6 newsmon alerts (burst-digest)"
    assert digest[0].body.decode().count("\n") == 5

    for secret in (HOOK_SECRET, SMTP_PASSWORD, SLACK_TOKEN, "slacktoken"):
        assert secret not in log_text, secret
        assert secret not in text
        assert all(secret not in str(d) for d in dead)
