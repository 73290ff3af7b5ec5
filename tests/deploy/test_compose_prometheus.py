"""Deployment files: docker-compose parses and references what exists; Prometheus configs check."""

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_docker_compose_config_is_valid() -> None:
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose (Debian package) is installed by scripts/test"
    res = subprocess.run([exe, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert {"kafka", "connector", "worker", "prometheus", "grafana"} <= set(compose["services"])
    for svc in compose["services"].values():
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            if src.startswith("./"):
                assert (ROOT / src).exists(), src
        if "build" in svc:
            assert (ROOT / svc["build"] / "Dockerfile").exists()
    dockerfile = (ROOT / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (ROOT / src).exists(), src


def test_prometheus_rules_check_and_unit_tests() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian package prometheus) is installed by scripts/test"
    d = ROOT / "deploy/prometheus"
    res = subprocess.run([promtool, "check", "rules", str(d / "rules.yml")],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    res = subprocess.run([promtool, "test", "rules", "rules_test.yml"], cwd=d,
                         capture_output=True, text=True)
    assert res.returncode == 0 and "SUCCESS" in res.stdout, res.stdout + res.stderr


def test_prometheus_scrape_configs_check() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian package prometheus) is installed by scripts/test"
    for name in ("prometheus.yml", "prometheus.docker.yml"):
        res = subprocess.run([promtool, "check", "config", str(ROOT / "deploy/prometheus" / name)],
                             capture_output=True, text=True)
        assert res.returncode == 0, res.stdout + res.stderr
