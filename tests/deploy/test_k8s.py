"""deploy/k8s: every manifest is valid against the Kubernetes schemas (offline, with
kubernetes-validate, installed by the test extra), and it says what newsmon reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from connectors.config import load_feed_list
from newsmon.rules import load_rules
from newsmon.settings import Settings
from tests.helpers import ROOT

K8S = ROOT / "deploy/k8s"
KUBE_VERSION = "1.30.0"


def _kustomization() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return data


def _resources() -> list[dict[str, Any]]:
    docs = []
    for name in _kustomization()["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]
    return docs


def _generated() -> list[dict[str, Any]]:
    """The ConfigMaps kustomize generates, as kustomize writes them (before name hashing)."""
    out = []
    for gen in _kustomization()["configMapGenerator"]:
        data = {}
        for spec in gen.get("files", []):
            key, _, path = spec.partition("=")
            data[key] = (K8S / path).read_text()
        for lit in gen.get("literals", []):
            key, _, value = lit.partition("=")
            data[key] = value
        out.append({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": gen["name"], "namespace": "newsmon"}, "data": data})
    return out


@pytest.mark.parametrize("doc", _resources() + _generated(),
                         ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_manifest_is_valid_kubernetes(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def test_an_invalid_manifest_is_refused() -> None:
    """The validator is really checking: a misspelt field fails."""
    deployment = next(d for d in _resources() if d["kind"] == "Deployment")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["replica"] = broken["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBE_VERSION, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    listed = set(_kustomization()["resources"])
    generated = {spec.partition("=")[2] for g in _kustomization()["configMapGenerator"]
                 for spec in g.get("files", [])}
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk
    assert generated == {p.name for p in K8S.glob("*.yml")}


def test_feeds_and_rules_are_the_deploy_files_and_load() -> None:
    for name in ("feeds.yml", "rules.yml", "notify.yml"):
        assert (K8S / name).read_text() == (ROOT / "deploy" / name).read_text(), (
            f"deploy/k8s/{name} must equal deploy/{name}: copy it after editing")
    assert load_feed_list(K8S / "feeds.yml").feeds
    assert load_rules(K8S / "rules.yml")


def test_environment_is_what_settings_read_and_ports_match_probes() -> None:
    env = next(g for g in _generated() if g["metadata"]["name"] == "newsmon-env")["data"]
    settings = Settings.from_env(env)
    assert str(settings.feeds_file).startswith("/etc/newsmon/feeds/")
    assert settings.rules_file is not None
    ports = {"connector": settings.connector_metrics_port, "worker": settings.worker_metrics_port,
             "notify": settings.notify_metrics_port}
    for doc in _resources():
        if doc["kind"] != "Deployment":
            continue
        component = doc["metadata"]["labels"]["app.kubernetes.io/component"]
        pod = doc["spec"]["template"]
        (container,) = pod["spec"]["containers"]
        assert container["ports"][0]["containerPort"] == ports[component]
        assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(ports[component])
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        if component == "notify":
            config = container["args"][container["args"].index("--config") + 1]
            assert str(Path(config).parent) in mounts and "/run/secrets" in mounts
            continue
        wanted = Path(settings.feeds_file if component == "connector"
                      else settings.rules_file).parent
        assert str(wanted) in mounts


def test_the_notify_secret_holds_what_notify_yml_names() -> None:
    config = yaml.safe_load((K8S / "notify.yml").read_text())
    secret = next(d for d in _resources()
                  if d["kind"] == "Secret" and d["metadata"]["name"] == "newsmon-notify")
    named = {v for sink in config["sinks"].values() for k, v in sink.items()
             if k.endswith("_env")}
    files = {v for sink in config["sinks"].values() for k, v in sink.items()
             if k.endswith("_file")}
    assert named <= set(secret["stringData"]), named - set(secret["stringData"])
    assert files == {"/run/secrets/smtp"} and "smtp" in secret["stringData"]
