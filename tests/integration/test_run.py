"""`newsmon run` killed with SIGKILL: its connector and worker stop by themselves."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.procs import isolated_env


def children(pid: int) -> list[int]:
    """Live (not zombie) processes whose parent is ``pid``."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            if int(ppid) == pid and state != "Z":
                out.append(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_children_stop_when_run_is_killed(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = isolated_env(kafka_bootstrap, tmp_path)
    log = open(tmp_path / "run.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "newsmon.cli", "run", "--sample"], env=env,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    kids: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(kids) < 2 and proc.poll() is None:
            time.sleep(0.5)
            kids = children(proc.pid)
        assert len(kids) == 2, (tmp_path / "run.log").read_text()[-3000:]
        time.sleep(3)  # the children are past their start-up
        assert all(alive(k) for k in kids)

        os.kill(proc.pid, signal.SIGKILL)  # no chance to stop its children
        proc.wait(10)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and any(alive(k) for k in kids):
            time.sleep(0.5)
        assert not any(alive(k) for k in kids), (tmp_path / "data" / "logs" / "newsmon.log"
                                                 ).read_text()[-3000:]
        text = (tmp_path / "data" / "logs" / "newsmon.log").read_text()
        assert "is gone; stopping" in text
    finally:
        for pid in [proc.pid, *kids]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        proc.wait(10)
        log.close()
