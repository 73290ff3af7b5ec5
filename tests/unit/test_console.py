"""`newsmon run`'s console: alerts always, the status line only on a terminal."""

from __future__ import annotations

import io

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from newsmon.supervisor import Console, parse_status


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _expositions() -> tuple[str, str]:
    connector, worker = CollectorRegistry(), CollectorRegistry()
    Gauge("newsmon_feeds_configured", "", registry=connector).set(3)
    fetches = Counter("newsmon_feed_fetches", "", ["outcome"], registry=connector)
    fetches.labels("ok").inc(5)
    fetches.labels("timeout").inc(2)
    Counter("newsmon_articles_published", "", registry=connector).inc(40)
    Counter("newsmon_articles_duplicates", "", ["kind"], registry=worker).labels("exact").inc(6)
    Counter("newsmon_articles_enriched", "", registry=worker).inc(30)
    Counter("newsmon_alerts", "", ["rule"], registry=worker).labels("default").inc(2)
    return generate_latest(connector).decode(), generate_latest(worker).decode()


def test_status_sums_both_processes_metrics() -> None:
    status = parse_status(*_expositions())
    assert (status.feeds, status.polls, status.articles, status.duplicates, status.alerts) == (
        3, 7, 40, 6, 2)
    assert status.queued == 4
    assert status.line() == ("feeds 3 · polls 7 · articles in 40 · duplicates 6 · alerts 2 · "
                             "queued 4")


def test_piped_console_prints_alerts_only() -> None:
    out = io.StringIO()
    console = Console(out)
    console.update("feeds 1")
    console.alert("ALERT 80 severe x")
    console.close()
    assert out.getvalue() == "ALERT 80 severe x\n"


def test_terminal_console_redraws_the_status_below_alerts() -> None:
    out = _Tty()
    console = Console(out)
    console.update("feeds 1")
    console.alert("ALERT 80 severe x")
    console.close()
    assert out.getvalue() == "\r\x1b[Kfeeds 1\r\x1b[KALERT 80 severe x\nfeeds 1\n"


def test_the_alert_line_lists_matched_phrases_not_item_level_entries() -> None:
    from newsmon.supervisor import format_alert

    line = format_alert({"score": 71, "level": "high", "title": "t", "source": "s",
                         "entities": [], "evidence": [
                             {"matched": "", "phrase": "headline and lead read as conflict: x"},
                             {"matched": "Armed hostilities", "phrase": "armed hostilities"}]})
    assert line.endswith('why="armed hostilities"'), line


def test_follow_parent_stops_the_child_when_its_parent_is_gone() -> None:
    import os
    import subprocess
    import sys

    from newsmon.supervisor import PARENT_ENV, follow_parent

    # outside `newsmon run` it does nothing
    os.environ.pop(PARENT_ENV, None)
    assert follow_parent() is None
    # a child that was told a parent it does not have stops itself with SIGTERM at once;
    # the variable stays for a re-executed worker (same pid, same parent)
    code = ("import os, time; from newsmon.supervisor import follow_parent, PARENT_ENV; "
            "follow_parent(0.05); assert PARENT_ENV in os.environ; time.sleep(30)")
    res = subprocess.run([sys.executable, "-c", code], env={**os.environ, PARENT_ENV: "1"},
                         timeout=20, check=False, capture_output=True)
    assert res.returncode == -15, res.stderr
    # a child whose parent lives on keeps running
    code = ("import os, time; from newsmon.supervisor import follow_parent; "
            "follow_parent(0.05); time.sleep(0.5); print('ran')")
    res = subprocess.run([sys.executable, "-c", code],
                         env={**os.environ, PARENT_ENV: str(os.getpid())},
                         timeout=20, check=False, capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == "ran", res.stderr
