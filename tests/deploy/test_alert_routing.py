"""Where alerts go: Alertmanager's example routes (checked with amtool, Debian's
prometheus-alertmanager package, installed by scripts/test) and Grafana's contact
points and notification policies."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import ROOT

AM = ROOT / "deploy/alertmanager/alertmanager.yml"
GRAFANA = ROOT / "deploy/grafana/provisioning/alerting"


def _amtool() -> str:
    exe = shutil.which("amtool")
    assert exe, "amtool (Debian package prometheus-alertmanager) is installed by scripts/test"
    return exe


def _prometheus_alerts() -> list[dict[str, Any]]:
    rules = yaml.safe_load((ROOT / "deploy/prometheus/rules.yml").read_text())
    return [r for g in rules["groups"] for r in g["rules"] if "alert" in r]


def test_alertmanager_config_checks() -> None:
    res = subprocess.run([_amtool(), "check-config", str(AM)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_amtool_refuses_a_route_to_a_missing_receiver(tmp_path: Path) -> None:
    broken = tmp_path / "am.yml"
    broken.write_text(AM.read_text().replace("receiver: news-desk", "receiver: nobody"))
    res = subprocess.run([_amtool(), "check-config", str(broken)], capture_output=True, text=True)
    assert res.returncode != 0


@pytest.mark.parametrize("rule", _prometheus_alerts(), ids=lambda r: r["alert"])
def test_every_prometheus_alert_reaches_its_receiver(rule: dict[str, Any]) -> None:
    labels = {"alertname": rule["alert"], **rule.get("labels", {})}
    if rule["alert"] == "NewsmonTensionSpike":
        want = "news-desk"
    elif labels.get("severity") == "critical":
        want = "oncall-page"
    else:
        want = "team-email"
    res = subprocess.run([_amtool(), "config", "routes", "test", f"--config.file={AM}",
                          *(f"{k}={v}" for k, v in labels.items())],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == [want]


def _notifications() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((GRAFANA / "newsmon-notifications.yml").read_text())
    return data


def test_grafana_policies_name_defined_contact_points_and_templates() -> None:
    data = _notifications()
    assert data["apiVersion"] == 1
    points = {cp["name"]: cp for cp in data["contactPoints"]}
    uids = [r["uid"] for cp in data["contactPoints"] for r in cp["receivers"]]
    assert len(uids) == len(set(uids))
    for cp in data["contactPoints"]:
        for receiver in cp["receivers"]:
            assert receiver["type"] in {"webhook", "email", "slack", "teams", "pagerduty"}
            assert receiver["settings"]

    def receivers(policy: dict[str, Any]) -> set[str]:
        out = {policy["receiver"]} if "receiver" in policy else set()
        for child in policy.get("routes", []):
            out |= receivers(child)
        return out

    (policy,) = data["policies"]
    assert receivers(policy) <= set(points)
    defined = set(re.findall(r'define "([^"]+)"', data["templates"][0]["template"]))
    used = set(re.findall(r'template "([^"]+)"', yaml.safe_dump(data["contactPoints"])))
    assert used and used <= defined


def test_grafana_critical_rules_have_their_own_route_and_env_is_passed() -> None:
    data = _notifications()
    (policy,) = data["policies"]
    routed = {tuple(m) for r in policy["routes"] for m in r.get("object_matchers", [])}
    rules = yaml.safe_load((GRAFANA / "newsmon-rules.yml").read_text())
    severities = {r["labels"]["severity"] for g in rules["groups"] for r in g["rules"]}
    assert severities <= {"critical", "warning"}
    assert ("severity", "=", "critical") in routed
    # Every ${VAR} the provisioning reads is passed to Grafana by docker-compose.
    wanted = set(re.findall(r"\$\{(\w+)\}", (GRAFANA / "newsmon-notifications.yml").read_text()))
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert wanted <= set(compose["services"]["grafana"]["environment"])
