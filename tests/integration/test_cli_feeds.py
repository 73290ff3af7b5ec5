"""`newsmon feeds ...` as a user runs it, against a real local HTTP server."""

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import DATA, http_server


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsmon.cli", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=120)


def test_feeds_check_import_export(tmp_path: Path) -> None:
    body = (DATA / "feeds/real/rss-parser/guardian.rss").read_bytes()
    routes = {"/g.rss": (200, {"Content-Type": "application/rss+xml"}, body)}
    with http_server(routes) as base:
        feeds = tmp_path / "feeds.yml"
        feeds.write_text(f"allow_private_addresses: [127.0.0.1/32]\nfeeds:\n"
                         f"  - url: {base}/g.rss\n    name: G\n  - url: {base}/missing\n")
        res = run("feeds", "--feeds", str(feeds), "check", "--all", "--json", cwd=tmp_path)
        reports = [json.loads(line) for line in res.stdout.splitlines()]
        assert res.returncode == 1  # one of the two failed
        ok = next(r for r in reports if r["url"].endswith("/g.rss"))
        assert ok["outcome"] == "ok" and ok["items"] > 10 and ok["format"].startswith("rss")
        assert next(r for r in reports if r["url"].endswith("/missing"))["outcome"] == \
            "client_error"
        # Without the allow-list, loopback is refused.
        plain = tmp_path / "plain.yml"
        plain.write_text(f"feeds:\n  - url: {base}/g.rss\n")
        res = run("feeds", "--feeds", str(plain), "check", "--all", cwd=tmp_path)
        assert res.returncode == 1 and "refused" in res.stdout

    res = run("feeds", "--feeds", str(feeds), "export", cwd=tmp_path)
    assert res.returncode == 0 and "xmlUrl" in res.stdout
    (tmp_path / "x.opml").write_text(res.stdout)
    fresh = tmp_path / "new.yml"
    res = run("feeds", "--feeds", str(fresh), "import", str(tmp_path / "x.opml"), cwd=tmp_path)
    assert res.returncode == 0 and "imported 2 new feeds" in res.stdout
    res = run("feeds", "--feeds", str(fresh), "import", str(tmp_path / "x.opml"), cwd=tmp_path)
    assert "imported 0 new feeds (2 already listed)" in res.stdout

    bad = tmp_path / "bad.yml"
    bad.write_text("feeds:\n  - url: https://a.com\n    interval: fast\n")
    res = run("feeds", "--feeds", str(bad), "export", cwd=tmp_path)
    assert res.returncode == 2 and f"{bad}:3: feeds[0].interval" in res.stderr
