"""Grafana provisioning: dashboards parse, every query names metrics newsmon really exports,
and the provisioning files carry the fields Grafana requires. (Grafana cannot run here.)"""

from __future__ import annotations

import json
import re

import yaml
from prometheus_client import CollectorRegistry

from tests.helpers import ROOT

G = ROOT / "deploy/grafana"
METRIC = re.compile(r"\b(newsmon(?:_[a-z0-9_]+|:[a-z0-9_:]+))")
SUFFIXES = ("", "_total", "_bucket", "_count", "_sum")


def exported_names() -> set[str]:
    from faust.sensors.prometheus import FaustMetrics
    from prometheus_client import REGISTRY

    import newsmon.metrics  # noqa: F401 - registers newsmon's metrics

    faust_registry = CollectorRegistry()
    FaustMetrics.create(faust_registry, "newsmon_faust")
    names = set()
    for registry in (REGISTRY, faust_registry):
        for family in registry.collect():
            names.update(family.name + s for s in SUFFIXES)
    rules = yaml.safe_load((ROOT / "deploy/prometheus/rules.yml").read_text())
    names.update(r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r)
    return names


def referenced(expr: str) -> set[str]:
    return set(METRIC.findall(expr))


def test_dashboards_parse_and_reference_real_metrics() -> None:
    exported = exported_names()
    files = sorted((G / "dashboards").glob("*.json"))
    assert {f.stem for f in files} >= {"pipeline", "feeds", "tension", "alerts"}
    uids = set()
    for f in files:
        dash = json.loads(f.read_text())
        assert dash["uid"] and dash["title"] and dash["uid"] not in uids
        uids.add(dash["uid"])
        assert dash["panels"], f
        ids = [p["id"] for p in dash["panels"]]
        assert len(ids) == len(set(ids)), f"{f}: duplicate panel ids"
        exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
        exprs += [a["expr"] for a in dash["annotations"]["list"] if "expr" in a]
        for p in dash["panels"]:
            assert p["datasource"]["uid"] == "newsmon-prometheus", (f, p["title"])
            assert {"x", "y", "w", "h"} <= set(p["gridPos"]) and p["targets"]
        for expr in exprs:
            names = referenced(expr)
            assert names, f"{f}: {expr} names no newsmon metric"
            missing = names - exported
            assert not missing, f"{f}: {expr} references {missing}, which newsmon does not export"


def test_tension_dashboard_has_alert_annotations() -> None:
    dash = json.loads((G / "dashboards/tension.json").read_text())
    assert any("newsmon_alerts_total" in a["expr"] for a in dash["annotations"]["list"])


def test_provisioning_files_have_required_fields() -> None:
    ds = yaml.safe_load((G / "provisioning/datasources/prometheus.yml").read_text())
    assert ds["apiVersion"] == 1
    (source,) = ds["datasources"]
    assert {"name", "type", "url", "uid", "access"} <= set(source)
    assert source["type"] == "prometheus" and source["uid"] == "newsmon-prometheus"
    prov = yaml.safe_load((G / "provisioning/dashboards/newsmon.yml").read_text())
    (provider,) = prov["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]

    alerting = yaml.safe_load((G / "provisioning/alerting/newsmon-rules.yml").read_text())
    assert alerting["apiVersion"] == 1
    exported = exported_names()
    titles = set()
    for group in alerting["groups"]:
        assert {"orgId", "name", "folder", "interval", "rules"} <= set(group)
        for rule in group["rules"]:
            assert {"uid", "title", "condition", "data", "for"} <= set(rule)
            refs = {d["refId"] for d in rule["data"]}
            assert rule["condition"] in refs
            for d in rule["data"]:
                assert d["datasourceUid"] in ("newsmon-prometheus", "__expr__")
                if d["datasourceUid"] == "newsmon-prometheus":
                    assert not referenced(d["model"]["expr"]) - exported, d["model"]["expr"]
            titles.add(rule["title"])
    prom = yaml.safe_load((ROOT / "deploy/prometheus/rules.yml").read_text())
    prom_alerts = {r["alert"] for g in prom["groups"] for r in g["rules"] if "alert" in r}
    # Every Prometheus alert that watches the pipeline has its Grafana-managed twin.
    assert prom_alerts - {"NewsmonRulesFileRejected"} <= titles


def test_prometheus_rules_reference_real_metrics() -> None:
    exported = exported_names()
    prom = yaml.safe_load((ROOT / "deploy/prometheus/rules.yml").read_text())
    for g in prom["groups"]:
        for r in g["rules"]:
            assert not referenced(r["expr"]) - exported, r["expr"]


def test_a_wrong_metric_name_would_be_caught() -> None:
    assert "newsmon_no_such_metric_total" not in exported_names()
    assert referenced("rate(newsmon_no_such_metric_total[5m])") == {"newsmon_no_such_metric_total"}


