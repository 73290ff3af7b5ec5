"""The notify file: one-line errors naming file, line and field; secrets from outside."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from newsmon.notify.config import NotifyConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
GOOD = """\
topics: [news.alerts.ukraine]
sinks:
  hook:
    type: webhook
    url: https://hooks.example/newsmon
    secret_env: TEST_HOOK_SECRET
    rate_limit: {messages: 5, per_seconds: 60}
  mail:
    type: email
    host: smtp.example
    port: 587
    username: newsmon
    password_file: PWFILE
    sender: newsmon@example.org
    recipients: [ops@example.org]
routes:
  - name: everything
    sinks: [hook]
  - name: critical-mail
    severities: [critical]
    countries: [ua]
    digest_minutes: 15
    sinks: [mail]
"""


def _write(tmp_path: Path, text: str) -> Path:
    pw = tmp_path / "pw"
    pw.write_text("hunter2\n")
    path = tmp_path / "notify.yml"
    path.write_text(text.replace("PWFILE", str(pw)))
    return path


def test_good_file_loads_with_secrets_from_env_and_file(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, GOOD), env={"TEST_HOOK_SECRET": "k3y"})
    assert cfg.sinks["hook"].secret == "k3y" and cfg.sinks["mail"].password == "hunter2"
    assert cfg.routes[1].countries == frozenset({"UA"}) and cfg.routes[1].digest_minutes == 15
    assert cfg.topics == ("news.alerts.ukraine",) and cfg.dedup_window_days == 7.0
    assert "k3y" not in repr(cfg) and "hunter2" not in repr(cfg)


@pytest.mark.parametrize("old,new,message", [
    ("    url: https://hooks.example/newsmon\n",
     "    url: https://hooks.example/newsmon\n    colour: red\n",
     ":6: sinks.hook.colour: unknown field for a sink of type webhook"),
    ("  - name: everything\n", "  - name: everything\n    severity: [critical]\n",
     ":18: routes[0].severity: unknown field"),
    ("    sinks: [hook]\n", "    sinks: [hok]\n", ":18: routes[0].sinks: no sink named 'hok'"),
    ("    secret_env: TEST_HOOK_SECRET\n", "    secret_env: TEST_UNSET_SECRET\n",
     ":6: sinks.hook.secret_env: environment variable TEST_UNSET_SECRET is not set"),
    ("    url: https://hooks.example/newsmon\n", "    url: javascript:alert(1)\n",
     ":5: sinks.hook.url: expected an http:// or https:// URL"),
    ("    port: 587\n", "    port: 587\n    password: hunter2\n",
     ":12: sinks.mail.password: unknown field for a sink of type email"),
    ("    severities: [critical]\n", "    severities: [urgent]\n",
     ":20: routes[1].severities: expected any of info, warning, critical"),
])
def test_mistakes_are_one_line_with_file_line_and_field(tmp_path: Path, old: str, new: str,
                                                        message: str) -> None:
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(NotifyConfigError) as exc:
        load_config(path, env={"TEST_HOOK_SECRET": "k3y"})
    assert str(exc.value) == f"{path}{message}" or str(exc.value).startswith(f"{path}{message}")
    assert "\n" not in str(exc.value)


def test_top_level_mistakes_name_the_field(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("topics: [news.alerts.ukraine]",
                                         "topics: [news.alerts.ukraine]\ndedup_window_days: -1"))
    with pytest.raises(NotifyConfigError) as exc:
        load_config(path, env={"TEST_HOOK_SECRET": "k3y"})
    assert str(exc.value) == f"{path}:2: dedup_window_days: expected a number >= 0.001"
    path = _write(tmp_path, GOOD.replace("sinks:\n  hook:", "sinks:\n  hook:\n"
                                         "    timeout_seconds: 1000", 1))
    with pytest.raises(NotifyConfigError, match=r":4: sinks.hook.timeout_seconds: .*at most"):
        load_config(path, env={"TEST_HOOK_SECRET": "k3y"})


def test_duplicate_keys_and_bad_yaml_name_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("    url: https://hooks.example/newsmon\n",
                                         "    url: https://hooks.example/newsmon\n"
                                         "    url: https://other.example/\n", 1))
    with pytest.raises(NotifyConfigError) as exc:
        load_config(path, env={"TEST_HOOK_SECRET": "k3y"})
    assert str(exc.value) == f"{path}:6: not valid YAML: duplicate key 'url'"
    path.write_text("sinks: [\n")
    with pytest.raises(NotifyConfigError, match=r"notify.yml:2: not valid YAML: expected"):
        load_config(path)


def test_slack_url_in_the_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "n.yml"
    path.write_text("sinks:\n  chat:\n    type: slack\n    url: https://hooks.slack.com/x\n"
                    "routes:\n  - {name: r, sinks: [chat]}\n")
    with pytest.raises(NotifyConfigError, match=r":4: sinks.chat.url: .*secret"):
        load_config(path, env={})


def test_cli_check_exits_2_with_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("    sinks: [hook]\n", "    sinks: [nope]\n"))
    res = subprocess.run([sys.executable, "-m", "newsmon.cli", "notify", "--config", str(path),
                          "--check"], capture_output=True, text=True, cwd=ROOT,
                         env={"PATH": "/usr/bin:/bin", "TEST_HOOK_SECRET": "k",
                              "PYTHONPATH": str(ROOT)}, check=False)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        f"newsmon notify: {path}:18: routes[0].sinks: no sink named 'nope'"]


def test_example_file_in_deploy_loads(tmp_path: Path) -> None:
    pw = tmp_path / "smtp"
    pw.write_text("x")
    text = (ROOT / "deploy" / "notify.yml").read_text().replace("/run/secrets/smtp", str(pw))
    path = tmp_path / "notify.yml"
    path.write_text(text)
    cfg = load_config(path, env={"NEWSMON_WEBHOOK_SECRET": "s", "NEWSMON_SLACK_URL":
                                 "https://hooks.slack.com/services/T/B/X",
                                 "NEWSMON_TEAMS_URL": "https://example.webhook.office.com/x"})
    assert set(cfg.sinks) >= {"webhook", "slack", "teams", "email", "ntfy"}


def test_cli_without_a_reachable_kafka_says_what_to_check(tmp_path: Path) -> None:
    path = tmp_path / "n.yml"
    path.write_text("sinks:\n  p:\n    type: ntfy\n    url: http://127.0.0.1:9/x\n"
                    "routes:\n  - {name: r, sinks: [p]}\n")
    res = subprocess.run([sys.executable, "-m", "newsmon.cli", "--bootstrap-servers",
                          "127.0.0.1:1", "notify", "--config", str(path), "--metrics-port", "0"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}, check=False)
    assert res.returncode == 1
    assert res.stderr.strip().splitlines()[-1].startswith(
        "newsmon notify: cannot reach Kafka at 127.0.0.1:1 (")
